"""The pure and the compiled build (issue 16) raise the same typed errors for bad node ids.

A compiled (mypyc) function enforces its annotations on entry: a bool would pass for an int
(``t.delete(True)`` deleting node 1) and a str would raise a plain ``TypeError``.  These tests
run in both builds (``.ci/run`` runs the suite on each): every public entry point that takes a
node id gets bool, str, float, None and other bad ids, and must raise a ``BotreeError``; and
the outcome of every call must be the one the pure-Python sources give, computed in a
subprocess that imports ``botree`` with extension modules refused.  In the pure build the
second check compares the pure build with itself; in the compiled build it is the real check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import partial
from typing import Any, Callable, Dict, List, Tuple

import botree
from botree import Database, OrderIndex, Tree
from botree.errors import BotreeError

BAD_IDS: List[Any] = [True, False, "1", "0", 1.0, 0.0, 1.5, None, (1,), [1], b"1", 2**70, -1]
TWO_ARGS = {"is_descendant", "is_ancestor", "is_sibling", "is_child", "is_parent", "is_before_pre",
            "is_before_post", "is_preceding", "is_following", "compare", "lca", "distance",
            "move_before", "move_after"}
QUERIES = ["data", "level", "parent", "size", "rank", "post_rank", "is_leaf", "is_root", "height", "path",
           "key_of", "children", "children_reversed", "ancestors", "descendants", "siblings", "leaves",
           "level_order", "preorder", "postorder", "events", *sorted(TWO_ARGS - {"move_before", "move_after"})]
UPDATES = ["delete", "unwrap", "move", "move_inner", "move_before", "move_after", "set_data", "insert_before",
           "insert_after", "insert_child", "insert_parent", "copy", "insert_subtree", "move_range",
           "reorder_children", "sort_children"]


def _small() -> Tuple[Tree, int, int, int]:
    t = Tree(key="k")
    t, a = t.insert_child(None, {"k": "a"})
    t, b = t.insert_child(a, {"k": "b"})
    t, c = t.insert_child(a, {"k": "c"})
    return t, a, b, c


def _call(target: Any, name: str, bad: Any, b: int, c: int) -> Any:
    method = getattr(target, name)
    if name in TWO_ARGS:
        return method(bad, b)
    if name in ("move", "move_inner", "copy"):
        return method(bad, None)
    if name == "set_data":
        return method(bad, {"k": "z"})
    if name == "insert_subtree":
        return method(bad, [({"k": "x"}, True), (None, False)])
    if name == "move_range":
        return method(bad, c, None)
    if name == "reorder_children":
        return method(bad, [])
    if name == "insert_child":
        return method(bad, {"k": "x"})
    return method(bad)


def _outcome(call: Callable[..., Any], *args: Any) -> str:
    """'ok' or the class name of what ``call(*args)`` raised (iterators are run out)."""
    try:
        result = call(*args)
        if hasattr(result, "__next__"):
            list(result)
        return "ok"
    except Exception as exc:
        return type(exc).__name__


def outcomes() -> Dict[str, str]:
    """What every entry point does with every bad id: ``{"call(arg)": outcome}``."""
    t, a, b, c = _small()
    results: Dict[str, str] = {}
    for bad in BAD_IDS:
        for name in QUERIES + UPDATES:
            results[f"Tree.{name}({bad!r})"] = _outcome(_call, t, name, bad, b, c)
        with t.transaction() as tx:
            for name in UPDATES:
                results[f"Transaction.{name}({bad!r})"] = _outcome(_call, tx, name, bad, b, c)
        ix = t.order_index
        for name in ("data", "level", "enclosing", "require", "open_position", "child_walk", "delete_pair"):
            results[f"OrderIndex.{name}({bad!r})"] = _outcome(getattr(ix, name), bad)
        results[f"OrderIndex.inside({bad!r})"] = _outcome(ix.inside, bad, b)
        results[f"OrderIndex.set_data({bad!r})"] = _outcome(ix.set_data, bad, 1)
        for is_open in (True, False, 1, 0, None):
            bound = (bad, is_open)
            for name in ("rank", "bound_level", "next_bound", "prev_bound", "position", "bounds"):
                results[f"OrderIndex.{name}({bound!r})"] = _outcome(getattr(ix, name), bound)
            results[f"OrderIndex.insert_pair({bound!r})"] = _outcome(ix.insert_pair, None, bound)
            results[f"OrderIndex.relocate({bound!r})"] = _outcome(ix.relocate, bound, (b, False), None)
        results[f"OrderIndex(block_size={bad!r})"] = _outcome(OrderIndex, bad)
        results[f"Tree(key={bad!r})"] = _outcome(partial(Tree, key=bad))
    return results


# The same outcomes from the pure-Python sources: a path hook placed first refuses extension
# modules inside the botree package, so its .py files are imported even beside compiled ones.
PURE = """
import importlib.machinery as m, json, os, sys
loaders = [(m.SourceFileLoader, m.SOURCE_SUFFIXES), (m.SourcelessFileLoader, m.BYTECODE_SUFFIXES)]
pure = m.FileFinder.path_hook(*loaders)
def hook(path):
    if os.path.basename(path) == "botree" or os.sep + "botree" + os.sep in path + os.sep:
        return pure(path)
    raise ImportError(path)
sys.path_hooks.insert(0, hook)
sys.path_importer_cache.clear()
sys.path.insert(0, sys.argv[1])
import botree.core.index
assert botree.core.index.__file__.endswith(".py"), botree.core.index.__file__
from tests.test_builds import outcomes
print(json.dumps(outcomes()))
"""


def test_bad_ids_raise_the_librarys_typed_errors() -> None:
    results = outcomes()
    allowed = {"ok"}  # None is a valid parent (insert_child, children, ...); -1 and 2**70 are ints
    wrong = {call: what for call, what in results.items()
             if what not in allowed and not issubclass(getattr(botree.errors, what, Exception), BotreeError)}
    assert not wrong, f"plain Python errors instead of typed ones: {wrong}"
    for call, what in results.items():  # a bool never names a node: never taken as node 0 or 1
        if "(True" in call or "(False" in call:
            assert what != "ok", call


def test_both_builds_answer_bad_ids_alike() -> None:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", PURE, root], capture_output=True, text=True, timeout=300, cwd=root)
    assert done.returncode == 0, done.stderr
    pure = json.loads(done.stdout)
    here = outcomes()
    assert here.keys() == pure.keys()
    differ = {call: (here[call], pure[call]) for call in here if here[call] != pure[call]}
    assert not differ, f"(this build, pure build) differ: {differ}"


def test_a_database_transaction_refuses_a_bool_id() -> None:
    t, a, b, c = _small()
    db = Database(t)
    for bad in (True, False, "1", 1.0, None):
        try:
            with db.transaction() as tx:
                tx.delete(bad)
        except BotreeError:
            pass
        assert db.version == 0 and len(db.tree) == 3
