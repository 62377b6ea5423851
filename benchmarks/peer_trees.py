"""The trees of the peer comparison and the random arguments shared by every library.

A tree is a parent array: ``parents[0] == -1`` is the single root, ``parents[i] < i``
for every other node, and a node's children are ordered by index.  Every library is
built from the same array, and every operation draws its arguments (canonical indices)
from one ``Workload`` per tree, chosen once.
"""

from __future__ import annotations

import ast
import os
import random
import sysconfig
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

SMALL_SUBTREE_MAX = 8  # a "small" subtree has at most this many nodes
DEEP_DEPTH = 10**4  # the deep tree's spine: its depth
# Standard-library modules whose ASTs make the "ast" tree, taken in this order until the
# node count is reached (module paths relative to the stdlib directory).
AST_MODULES = (
    "argparse.py",
    "typing.py",
    "inspect.py",
    "dataclasses.py",
    "pathlib.py",
    "functools.py",
    "difflib.py",
    "enum.py",
    "ast.py",
    "subprocess.py",
    "tarfile.py",
    "zipfile.py",
    "datetime.py",
    "pydoc.py",
    "_pydecimal.py",
    "turtle.py",
    "mailbox.py",
    "configparser.py",
    "collections/__init__.py",
    "json/decoder.py",
    "json/encoder.py",
    "logging/__init__.py",
    "email/message.py",
    "email/_header_value_parser.py",
    "unittest/case.py",
    "asyncio/base_events.py",
    "http/client.py",
    "urllib/request.py",
    "shutil.py",
    "tempfile.py",
    "threading.py",
    "random.py",
)


@dataclass
class TreeSpec:
    """One tree: its family ("random", "deep", ...), a label, and the parent array."""

    family: str
    label: str
    parents: List[int]
    source: str = ""  # how it was made (for the report)

    @property
    def n(self) -> int:
        return len(self.parents)


# -- shapes -------------------------------------------------------------------------------


def random_tree(n: int, seed: int) -> TreeSpec:
    """Node i (i >= 1) is the last child of a uniformly random earlier node."""
    rng = random.Random(seed)
    parents = [-1] + [rng.randrange(i) for i in range(1, n)]
    return TreeSpec("random", f"random {n:,}", parents, "random recursive tree")


def deep_tree(depth: int, seed: int) -> TreeSpec:
    """A path of ``depth`` + 1 nodes (depth ``depth``) where a quarter of the nodes carry one extra leaf."""
    rng = random.Random(seed)
    parents = [-1]
    spine = 0
    for _ in range(depth):
        if rng.random() < 0.25:
            parents.append(spine)  # a leaf twig, first child of the spine node
        parents.append(spine)
        spine = len(parents) - 1
    n = len(parents)
    return TreeSpec("deep", f"deep {n:,}", parents, f"path of depth {depth:,}, a leaf on ~1/4 of its nodes")


def wide_tree(children: int) -> TreeSpec:
    """One root with ``children`` leaf children."""
    return TreeSpec("wide", f"wide {children + 1:,}", [-1] + [0] * children, f"one root, {children:,} leaves")


def directory_tree(limit: Optional[int] = None) -> TreeSpec:
    """The directory tree of the Python installation (sysconfig's stdlib path).

    Walked depth-first without recursion, entries sorted by name, symlinks not followed
    (a symlink is a leaf).  ``limit`` stops after that many nodes (the walk order keeps
    parents before children, so the prefix is a tree).
    """
    top = sysconfig.get_paths()["stdlib"]
    parents = [-1]
    stack: List[Tuple[str, int]] = [(top, 0)]
    while stack and (limit is None or len(parents) < limit):
        path, me = stack.pop()
        try:
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        dirs = []
        for entry in entries:
            if limit is not None and len(parents) >= limit:
                break
            parents.append(me)
            try:
                if entry.is_dir(follow_symlinks=False):
                    dirs.append((entry.path, len(parents) - 1))
            except OSError:
                pass
        stack.extend(reversed(dirs))
    # A directory's entries get consecutive numbers when it is listed, so parents come
    # before children and siblings are in name order: a valid parent array as it is.
    return TreeSpec("dirs", f"dirs {len(parents):,}", parents, f"directory tree of {top}")


def ast_tree(target: int) -> TreeSpec:
    """ASTs of standard-library modules (``AST_MODULES`` in order until ``target`` nodes) under one root.

    Preorder numbering with ``ast.iter_child_nodes`` and an explicit stack (no recursion).
    """
    top = sysconfig.get_paths()["stdlib"]
    parents = [-1]
    used = []
    for name in AST_MODULES:
        if len(parents) >= target:
            break
        path = os.path.join(top, name)
        try:
            with open(path, encoding="utf-8") as handle:
                module = ast.parse(handle.read(), filename=path)
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue
        used.append(name)
        stack: List[Tuple[ast.AST, int]] = [(module, 0)]
        while stack:
            node, parent = stack.pop()
            parents.append(parent)
            me = len(parents) - 1
            stack.extend((child, me) for child in reversed(list(ast.iter_child_nodes(node))))
    return TreeSpec("ast", f"ast {len(parents):,}", parents, f"ASTs of {len(used)} stdlib modules ({', '.join(used)})")


# -- derived arrays -------------------------------------------------------------------------


def depths(parents: List[int]) -> List[int]:
    d = [0] * len(parents)
    for i in range(1, len(parents)):
        d[i] = d[parents[i]] + 1
    return d


def subtree_sizes(parents: List[int]) -> List[int]:
    sizes = [1] * len(parents)
    for i in range(len(parents) - 1, 0, -1):
        sizes[parents[i]] += sizes[i]
    return sizes


def children_lists(parents: List[int]) -> List[List[int]]:
    kids: List[List[int]] = [[] for _ in parents]
    for i in range(1, len(parents)):
        kids[parents[i]].append(i)
    return kids


def preorder(parents: List[int]) -> List[int]:
    """Canonical indices in preorder (children in index order)."""
    kids = children_lists(parents)
    out: List[int] = []
    stack = [0]
    while stack:
        i = stack.pop()
        out.append(i)
        stack.extend(reversed(kids[i]))
    return out


def nested_numbers(parents: List[int]) -> Tuple[List[int], List[int], List[int]]:
    """(lft, rgt, level) of every node: bound ranks 0 .. 2n-1 in document order (dense)."""
    n = len(parents)
    kids = children_lists(parents)
    lft = [0] * n
    rgt = [0] * n
    level = [0] * n
    counter = 0
    stack: List[Tuple[int, bool]] = [(0, True)]
    while stack:
        i, is_open = stack.pop()
        if is_open:
            lft[i] = counter
            counter += 1
            stack.append((i, False))
            lvl = level[i] + 1
            for c in reversed(kids[i]):
                level[c] = lvl
                stack.append((c, True))
        else:
            rgt[i] = counter
            counter += 1
    return lft, rgt, level


def events(parents: List[int]) -> List[Tuple[None, bool]]:
    """``Tree.from_events`` input without user data: (None, True) / (None, False) in document order."""
    kids = children_lists(parents)
    out: List[Tuple[None, bool]] = []
    stack: List[Tuple[int, bool]] = [(0, True)]
    while stack:
        i, is_open = stack.pop()
        out.append((None, is_open))
        if is_open:
            stack.append((i, False))
            stack.extend((c, True) for c in reversed(kids[i]))
    return out


# -- shared random arguments ------------------------------------------------------------------


@dataclass
class Workload:
    """Random arguments (canonical indices), chosen once per tree and shared by every library."""

    pairs: List[Tuple[int, int]]  # (a, b) for is_descendant(a, b): half with b an ancestor of a
    nodes: List[int]  # level, parent, children, size, rank
    insert_parents: List[int]
    small: List[int]  # roots of subtrees of <= SMALL_SUBTREE_MAX nodes (not the root)
    small_moves: List[Tuple[int, int]]  # (small subtree root, target outside it)
    half: Optional[int]  # the non-root node whose subtree is closest to n/2 (None if tiny)
    half_size: int
    half_moves: List[Tuple[int, int]]  # (half, target outside it)
    wraps: List[int]  # non-root nodes to wrap in a new parent
    depth: int  # the tree's height
    extra: Dict[str, int] = field(default_factory=dict)
    lca_pairs: List[Tuple[int, int]] = field(default_factory=list)  # uniformly random pairs
    ranges: List[Tuple[int, int]] = field(default_factory=list)  # salary ranges holding ~0.1% of the nodes
    scoped: List[Tuple[int, int, int]] = field(default_factory=list)  # (under, low, high): 1% of salaries


SALARY_MAX = 1_000_000


def salaries(n: int, seed: int) -> List[int]:
    """Every node's ``salary`` for the search benchmarks: uniform in [0, SALARY_MAX)."""
    rng = random.Random(seed)
    return [rng.randrange(SALARY_MAX) for _ in range(n)]


def _inside(x: int, node: int, parents: List[int], dep: List[int]) -> bool:
    """True if x lies in node's subtree (itself included)."""
    while dep[x] > dep[node]:
        x = parents[x]
    return x == node


def make_workload(spec: TreeSpec, queries: int, updates: int, half_moves: int, seed: int) -> Workload:
    parents = spec.parents
    n = len(parents)
    rng = random.Random(seed)
    dep = depths(parents)
    sizes = subtree_sizes(parents)

    def rnd() -> int:
        return rng.randrange(n)

    pairs = []
    for q in range(queries):
        a = rnd()
        if q % 2 == 0 and dep[a] > 0:
            b = a
            for _ in range(rng.randrange(1, dep[a] + 1)):
                b = parents[b]
        else:
            b = rnd()
        pairs.append((a, b))
    nodes = [rnd() for _ in range(queries)]
    insert_parents = [rnd() for _ in range(updates)]
    small_pool = [i for i in range(1, n) if sizes[i] <= SMALL_SUBTREE_MAX]
    small = [rng.choice(small_pool) for _ in range(updates)] if small_pool else []
    small_moves = []
    for x in small:
        while True:
            target = rnd()
            if not _inside(target, x, parents, dep):
                break
        small_moves.append((x, target))
    half: Optional[int] = None
    moves: List[Tuple[int, int]] = []
    if n > 2:
        best = min(range(1, n), key=lambda i: abs(sizes[i] - n / 2))
        if sizes[best] > SMALL_SUBTREE_MAX:  # a real "half of the tree" subtree exists
            half = best
            while len(moves) < half_moves:
                target = rnd()
                if not _inside(target, best, parents, dep):
                    moves.append((best, target))
    wraps = [rng.randrange(1, n) for _ in range(updates)] if n > 1 else []
    lca_pairs = [(rnd(), rnd()) for _ in range(queries)]
    width = SALARY_MAX // 1000
    ranges = [(lo, lo + width) for lo in (rng.randrange(SALARY_MAX - width) for _ in range(queries))]
    # scopes: subtrees of 1% to 10% of the tree ("a department"), else the largest below the root
    pool = [i for i in range(1, n) if n // 100 <= sizes[i] <= n // 10]
    if not pool:
        pool = [max(range(1, n), key=sizes.__getitem__)] if n > 1 else [0]
    wide = SALARY_MAX // 100
    scoped = [(rng.choice(pool), lo, lo + wide) for lo in (rng.randrange(SALARY_MAX - wide) for _ in range(queries))]
    return Workload(
        pairs=pairs,
        nodes=nodes,
        insert_parents=insert_parents,
        small=small,
        small_moves=small_moves,
        half=half,
        half_size=sizes[half] if half is not None else 0,
        half_moves=moves,
        wraps=wraps,
        depth=max(dep),
        lca_pairs=lca_pairs,
        ranges=ranges,
        scoped=scoped,
    )
