"""The package's architecture, read from the source with ``ast`` (nothing is imported).

* Imports: the module graph has no cycle, and no module imports one on a higher floor
  (``errors``/``version`` < ``nodetable`` < ``core`` < ``interchange`` < ``tree`` <
  ``storage`` < ``db`` < ``cli``; the facade ``botree/__init__.py`` and ``__main__`` sit on
  top, may import anything, and nothing imports the facade).
* Private names: a module reads ``obj._name`` (obj not ``self``/``cls``/``super()``) only
  if ``_name`` is defined in that module or in a module defining one of its classes'
  base classes; no module imports a ``_private`` name from another.

``python -m tests.test_layers`` prints the module floors (longest import path below each
module), the cycles and the violations.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from typing import Container, Dict, Iterable, List, Optional, Set, Tuple

from tests import ROOT

PACKAGE = "botree"
# Floors of the layers, bottom to top; modules of one subpackage share a floor.
LAYERS: Dict[str, int] = {
    "botree.errors": 0,
    "botree.version": 0,
    "botree.renamed": 0,
    "botree.nodetable": 1,
    "botree.core": 2,
    "botree.interchange": 3,
    "botree.tree": 4,
    "botree.storage": 5,
    "botree.db": 6,
    "botree.cli": 7,
}
FACADE = {"botree", "botree.__main__"}


@dataclass
class Module:
    name: str
    is_package: bool
    tree: ast.Module
    imports: Set[str] = field(default_factory=set)  # botree modules it names, resolved


def read_package(root: str = os.path.join(ROOT, PACKAGE), package: str = PACKAGE) -> Dict[str, Module]:
    """Every module of the package under ``root``, parsed, with its imports resolved."""
    sources: Dict[str, Tuple[bool, str]] = {}
    for folder, _, files in os.walk(root):
        for file in files:
            if not file.endswith(".py"):
                continue
            parts = os.path.relpath(os.path.join(folder, file), root)[: -len(".py")].split(os.sep)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            with open(os.path.join(folder, file), encoding="utf-8") as f:
                sources[".".join([package, *parts])] = (is_package, f.read())
    return parse_modules(sources)


def parse_modules(sources: Dict[str, Tuple[bool, str]]) -> Dict[str, Module]:
    """Modules from ``{name: (is_package, source)}``, with their imports resolved among them."""
    modules = {name: Module(name, is_pkg, ast.parse(src)) for name, (is_pkg, src) in sources.items()}
    for module in modules.values():
        module.imports = {target for target, _ in imported_names(module, modules)} - {module.name}
    return modules


def _base_of(module: Module, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` reads from."""
    if not node.level:
        return node.module or ""
    package = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join(package + ([node.module] if node.module else []))


def _known(name: str, modules: Container[str]) -> Optional[str]:
    """The longest prefix of the dotted ``name`` that is one of ``modules``."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def imported_names(module: Module, modules: Dict[str, Module]) -> Iterable[Tuple[str, Optional[str]]]:
    """(the module an import names, the name taken from it or None), for every import anywhere in ``module``.

    ``from pkg import name`` names the submodule ``pkg.name`` if there is one, else ``pkg``.
    """
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _known(alias.name, modules)
                if target is not None:
                    yield target, None
        elif isinstance(node, ast.ImportFrom):
            base = _base_of(module, node)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in modules:
                    yield sub, None
                else:
                    target = _known(base, modules)
                    if target is not None:
                        yield target, alias.name


def cycles(modules: Dict[str, Module]) -> List[List[str]]:
    """One cycle ``[a, b, ..., a]`` through each strongly connected set of modules (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(modules[v].imports):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(_cycle_in(v, component, modules))

    for name in sorted(modules):
        if name not in index:
            visit(name)
    return found


def _cycle_in(start: str, component: Set[str], modules: Dict[str, Module]) -> List[str]:
    """A path start -> ... -> start inside the strongly connected ``component`` (breadth-first)."""
    previous: Dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(modules[v].imports & component):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start] if len(path) > 1 else [start, v, start]
                if w not in previous:
                    previous[w] = v
                    nxt.append(w)
        frontier = nxt
    raise AssertionError("not a cycle")  # pragma: no cover


def floors(modules: Dict[str, Module]) -> Dict[str, int]:
    """Each module's floor: the length of the longest import path below it (0: imports no module).

    Only meaningful without cycles; a module on a cycle is counted once along each path.
    """
    memo: Dict[str, int] = {}

    def floor(name: str, seen: Tuple[str, ...]) -> int:
        if name not in memo:
            below = [floor(w, (*seen, name)) for w in modules[name].imports if w not in seen]
            memo[name] = 1 + max(below) if below else 0
        return memo[name]

    return {name: floor(name, ()) for name in sorted(modules)}


def layer_of(name: str) -> Optional[int]:
    """The declared floor of a module (its subpackage's), or None for the facade."""
    if name in FACADE:
        return None
    known = _known(name, LAYERS)
    if known is None:
        raise AssertionError(f"{name} is in no layer: add it to LAYERS")
    return LAYERS[known]


def upward_imports(modules: Dict[str, Module]) -> List[str]:
    """Imports of a higher layer by a lower one, and any import of the facade."""
    wrong = []
    for name, module in sorted(modules.items()):
        for target in sorted(module.imports):
            if target == PACKAGE:
                wrong.append(f"{name} imports the facade {PACKAGE}")
                continue
            here, there = layer_of(name), layer_of(target)
            if here is not None and there is not None and there > here:
                wrong.append(f"{name} (floor {here}) imports {target} (floor {there})")
    return wrong


# -- private names ----------------------------------------------------------------------------


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def defined_names(module: Module) -> Set[str]:
    """Names a module defines: functions, classes, assigned names, ``__slots__`` strings, ``self._x =``."""
    names: Set[str] = set()
    for node in ast.walk(module.tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and _is_own(node.value):
            names.add(node.attr)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__slots__" for t in targets) and node.value is not None:
                names.update(c.value for c in ast.walk(node.value)
                             if isinstance(c, ast.Constant) and isinstance(c.value, str))
    return names


def _is_own(value: ast.expr) -> bool:
    """``self``, ``cls`` or ``super()``."""
    if isinstance(value, ast.Name):
        return value.id in ("self", "cls")
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "super"


def _where_defined(module: Module, name: str, modules: Dict[str, Module], seen: Set[str]) -> Optional[str]:
    """The module defining the class ``name`` as seen from ``module``, following imports and re-exports."""
    if module.name in seen:
        return None
    seen.add(module.name)
    for node in module.tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return module.name
    for target, taken in imported_names(module, modules):
        if taken == name:
            return _where_defined(modules[target], name, modules, seen)
    return None


def base_modules(module: Module, modules: Dict[str, Module]) -> Set[str]:
    """The modules defining the base classes of ``module``'s classes, transitively."""
    found: Set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        aliases = {a.asname or a.name: _known(a.name, modules)
                   for n in ast.walk(current.tree) if isinstance(n, ast.Import) for a in n.names}
        for node in ast.walk(current.tree):
            if not isinstance(node, ast.ClassDef):
                continue
            for base in node.bases:
                where = None
                if isinstance(base, ast.Name):
                    where = _where_defined(current, base.id, modules, set())
                elif isinstance(base, ast.Attribute):
                    dotted = ast.unparse(base.value)
                    owner = aliases.get(dotted) or _known(dotted, modules)
                    if owner is not None:
                        where = _where_defined(modules[owner], base.attr, modules, set())
                if where is not None and where not in found and where != module.name:
                    found.add(where)
                    todo.append(modules[where])
    return found


def private_access(modules: Dict[str, Module]) -> List[str]:
    """Every ``obj._name`` whose ``_name`` is foreign to the module, and every ``from x import _name``."""
    defined = {name: defined_names(module) for name, module in modules.items()}
    wrong = []
    for name, module in sorted(modules.items()):
        allowed = set(defined[name]).union(*(defined[b] for b in base_modules(module, modules)))
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Attribute) and is_private(node.attr) and not _is_own(node.value):
                if node.attr not in allowed:
                    wrong.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if is_private(alias.name):
                        wrong.append(f"{name}:{node.lineno}: imports {alias.name} from {_base_of(module, node)}")
    return wrong


# -- the tests ----------------------------------------------------------------------------------


def test_the_package_is_read_whole() -> None:
    modules = read_package()
    assert {"botree", "botree.__main__", "botree.errors", "botree.core.index", "botree.db.durable"} <= set(modules)
    assert all(layer_of(name) is not None or name in FACADE for name in modules)
    assert "botree.core.index" in modules["botree"].imports


def test_no_import_cycles() -> None:
    found = cycles(read_package())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_no_layer_imports_a_higher_one_or_the_facade() -> None:
    wrong = upward_imports(read_package())
    assert not wrong, "\n".join(wrong)


def test_no_module_reads_another_modules_private_names() -> None:
    wrong = private_access(read_package())
    assert not wrong, "\n".join(wrong)


# -- the checkers catch what they should (synthetic packages) ---------------------------------


def synthetic(**sources: str) -> Dict[str, Module]:
    """Modules from keyword sources: ``botree__core__x="..."`` is ``botree.core.x``, ``botree__core__init``
    the package ``botree.core``; packages not given are added empty.
    """
    parsed: Dict[str, Tuple[bool, str]] = {}
    for key, src in sources.items():
        parts = key.split("__")
        is_package = parts[-1] == "init"
        if is_package:
            parts = parts[:-1]
        parsed[".".join(parts)] = (is_package, src)
        for end in range(1, len(parts)):
            parsed.setdefault(".".join(parts[:end]), (True, ""))
    return parse_modules(parsed)


def test_imports_of_every_form_are_resolved() -> None:
    modules = synthetic(
        botree__init="from .tree import tree\n",
        botree__core__index="import botree.errors\n",
        botree__core__reader="from . import index\n",
        botree__core__bulk="def f():\n    from ..nodetable import table\n",
        botree__nodetable__table="from typing import TYPE_CHECKING\n"
                                 "if TYPE_CHECKING:\n    from botree.core import reader\n",
        botree__tree__init="from ..core import Missing\n",
        botree__tree__tree="",
        botree__errors="",
    )
    assert modules["botree"].imports == {"botree.tree.tree"}
    assert modules["botree.core.index"].imports == {"botree.errors"}  # not the implicit import of botree
    assert modules["botree.core.reader"].imports == {"botree.core.index"}
    assert modules["botree.core.bulk"].imports == {"botree.nodetable.table"}
    assert modules["botree.nodetable.table"].imports == {"botree.core.reader"}
    assert modules["botree.tree"].imports == {"botree.core"}  # a name, not a submodule: the package


def test_a_cycle_is_caught_and_reported() -> None:
    modules = synthetic(
        botree__core__init="from .a import x\n",
        botree__core__a="def f():\n    from . import b\n",
        botree__core__b="from botree.core import a\n",
        botree__errors="",
    )
    assert cycles(modules) == [["botree.core.a", "botree.core.b", "botree.core.a"]]
    modules = synthetic(
        botree__core__init="from .a import x\n",
        botree__core__a="from . import y\n",  # the package's own name y: an edge to botree.core
        botree__errors="",
    )
    assert cycles(modules) == [["botree.core", "botree.core.a", "botree.core"]]
    assert not cycles(synthetic(botree__core__a="import botree.core.b\n", botree__core__b=""))


def test_an_upward_import_and_an_import_of_the_facade_are_caught() -> None:
    modules = synthetic(
        botree__init="from .db import Database\n",
        botree__core__index="from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..tree.tree import Tree\n",
        botree__tree__tree="from ..core import index\n",
        botree__db__init="from .. import Tree\n",
        botree__errors="",
    )
    assert upward_imports(modules) == [
        "botree.core.index (floor 2) imports botree.tree.tree (floor 4)",
        "botree.db imports the facade botree",
    ]


def test_floors_are_the_longest_import_path_below() -> None:
    modules = synthetic(
        botree__init="from . import errors\nfrom .core import index\n",
        botree__core__index="from . import blocks\nfrom .. import errors\n",
        botree__core__blocks="from ..errors import E\n",
        botree__errors="",
    )
    assert floors(modules) == {"botree": 3, "botree.core": 0, "botree.core.blocks": 1, "botree.core.index": 2,
                               "botree.errors": 0}


def test_foreign_private_access_is_caught_and_own_or_inherited_is_not() -> None:
    modules = synthetic(
        botree__core__base="class Base:\n    __slots__ = ('_slot',)\n    def __init__(self):\n        self._attr = 1\n"
                           "def _helper(): pass\n",
        botree__core__index="from .base import Base\nclass Index(Base):\n    def f(self, other):\n"
                            "        return other._slot, other._attr, self._anything, super()._x\n",
        botree__tree__tree="from ..core import index\nfrom ..core.base import _helper\nclass T:\n"
                           "    _own = 1\n    def f(self, ix):\n        return ix._attr, ix._own, type(self)._own\n",
        botree__tree__sub="import botree.core.index as ci\nclass S(ci.Index):\n"
                          "    def f(self, o):\n        return o._slot\n",
        botree__errors="",
    )
    assert private_access(modules) == [
        "botree.tree.tree:2: imports _helper from botree.core.base",
        "botree.tree.tree:6: ix._attr",
    ]


def main() -> None:
    modules = read_package()
    by_floor: Dict[int, List[str]] = {}
    for name, floor in floors(modules).items():
        by_floor.setdefault(floor, []).append(name)
    print(f"{len(modules)} modules on {len(by_floor)} floors (longest import path below each module):")
    for floor in sorted(by_floor):
        print(f"  {floor}: {', '.join(by_floor[floor])}")
    for title, found in (("cycles", [" -> ".join(c) for c in cycles(modules)]),
                         ("upward imports", upward_imports(modules)),
                         ("foreign private names", private_access(modules))):
        print(f"{title}: {len(found)}")
        for line in found:
            print(f"  {line}")


if __name__ == "__main__":
    main()
