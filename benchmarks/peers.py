"""One adapter per library compared: botree and its peers, behind the same operations.

Every operation method takes its arguments already translated to the library's own
node handles (``handles``) and returns ``(seconds, units)``: the time spent in the
operations themselves and how many operations (or nodes) that covers.  Updates on a
mutable peer are timed one by one and undone untimed right after, so each runs on the
tree as built; botree's persistent updates all start from the same base ``Tree``.
An operation a library cannot answer raises ``NotSupported``.
"""

from __future__ import annotations

import copy
import importlib
import math
import sqlite3
import time
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from . import peer_trees

perf = time.perf_counter
Result = Tuple[float, int]

# Deadline (perf_counter value) of the call in progress; the SQLite progress handler aborts
# a statement that runs past it (a Python signal cannot interrupt a running statement).
DEADLINE = [math.inf]


class NotSupported(Exception):
    """The library has no way to answer this operation."""


@dataclass
class Inputs:
    """Everything a build reads, prepared once per tree outside the timings."""

    parents: List[int]
    keys: List[int]  # node keys 0..n-1 (pre-made objects, shared)
    names: List[str]  # str keys for bigtree, whose nodes need string names
    rows: List[Tuple[int, Optional[int]]]  # (id, parent id or None)
    events: List[Tuple[None, bool]]  # from_events input, no user data
    salaries: List[int]  # the search benchmarks' indexed field, one value per node

    @classmethod
    def make(cls, parents: List[int]) -> "Inputs":
        keys = list(range(len(parents)))
        rows = [(i, p if p >= 0 else None) for i, p in enumerate(parents)]
        salaries = peer_trees.salaries(len(parents), len(parents))
        return cls(parents, keys, [str(i) for i in keys], rows, peer_trees.events(parents), salaries)


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


class Peer:
    """The common interface; subclasses implement what their library can do."""

    n = 0  # nodes built
    fresh = 0  # keys handed out by _id since the build
    name = ""
    title = ""
    module = ""  # imported when the adapter is made, so no timing pays for the import

    def __new__(cls, *args: Any, **kwargs: Any) -> "Peer":
        if cls.module:
            importlib.import_module(cls.module)
        return super().__new__(cls)

    def version(self) -> str:
        return version(self.module) if self.module else ""

    def build(self, inp: Inputs) -> Result:
        raise NotImplementedError

    def build_bare(self, inp: Inputs) -> Any:
        """A structure without user data, for the memory measurement (caller keeps it alive)."""
        raise NotSupported

    def memory_bytes(self) -> Optional[float]:
        """Bytes of the built structure when tracemalloc cannot see it (SQLite), else None."""
        return None

    def handle(self, i: int) -> Any:
        return i

    def reset(self) -> None:
        """Drop the built structure."""

    def _id(self) -> int:
        """A key no built node has (for inserts): counts on from ``n``; ``reset`` zeroes ``fresh``."""
        self.fresh += 1
        return self.n + self.fresh

    # Operations (all optional).
    def is_descendant(self, pairs: Sequence[Tuple[Any, Any]]) -> Result:
        raise NotSupported

    def level(self, nodes: Sequence[Any]) -> Result:
        raise NotSupported

    def parent(self, nodes: Sequence[Any]) -> Result:
        raise NotSupported

    def children(self, nodes: Sequence[Any]) -> Result:
        raise NotSupported

    def size(self, nodes: Sequence[Any]) -> Result:
        raise NotSupported

    def rank(self, nodes: Sequence[Any]) -> Result:
        raise NotSupported

    def insert(self, parents: Sequence[Any]) -> Result:
        raise NotSupported

    def delete(self, nodes: Sequence[Any]) -> Result:
        raise NotSupported

    def move(self, pairs: Sequence[Tuple[Any, Any]]) -> Result:
        raise NotSupported

    def wrap(self, nodes: Sequence[Any]) -> Result:
        raise NotSupported

    def preorder(self, _: Any = None) -> Result:
        raise NotSupported

    def snapshot(self, _: Any = None) -> Result:
        raise NotSupported

    # Traversal and search (the peers with data prepare it untimed on first use).
    def lca(self, pairs: Sequence[Tuple[Any, Any]]) -> Result:
        raise NotSupported

    def range_find(self, ranges: Sequence[Tuple[int, int]]) -> Result:
        raise NotSupported

    def scoped_find(self, queries: Sequence[Tuple[Any, int, int]]) -> Result:
        raise NotSupported


def timed_copy(make: Callable[[], Any]) -> Result:
    """Time one call of ``make`` (a copy); the copy is dropped untimed."""
    t0 = perf()
    dup = make()
    elapsed = perf() - t0
    del dup
    return elapsed, 1


def timed_loop(fn: Callable[..., Any], args: Sequence[Any]) -> Result:
    t0 = perf()
    for a in args:
        fn(a)
    return perf() - t0, len(args)


def timed_loop2(fn: Callable[..., Any], pairs: Sequence[Tuple[Any, Any]]) -> Result:
    t0 = perf()
    for a, b in pairs:
        fn(a, b)
    return perf() - t0, len(pairs)


# -- botree ----------------------------------------------------------------------------------


class BotreePeer(Peer):
    name = "botree"
    title = "botree"
    module = "botree"

    def __init__(self) -> None:
        self.t: Any = None
        self.ids: List[int] = []
        self.inp: Any = None
        self.searchable: Any = None

    def version(self) -> str:
        import botree

        return botree.__version__

    def reset(self) -> None:
        self.t = None
        self.ids = []
        self.searchable = None

    def build(self, inp: Inputs) -> Result:
        """``load_parent_table`` (= ``Tree.from_parent_table``, plus the id mapping) on the (id, parent) rows."""
        from botree import load_parent_table

        self.reset()
        t0 = perf()
        tree, mapping = load_parent_table(inp.rows, id=0, parent=1)
        elapsed = perf() - t0
        self.t = tree
        self.ids = [mapping[k] for k in inp.keys]
        self.inp = inp
        self.searchable = None
        return elapsed, len(inp.keys)

    def lca(self, pairs: Sequence[Tuple[Any, Any]]) -> Result:
        return timed_loop2(self.t.lca, pairs)

    def _searchable(self) -> Any:
        """The same tree with ``{"salary": s}`` data and ``salary`` indexed (built untimed, once)."""
        if self.searchable is None:
            from botree import load_parent_table

            inp = self.inp
            rows = [(i, p, {"salary": s}) for (i, p), s in zip(inp.rows, inp.salaries)]
            tree, mapping = load_parent_table(rows, id=0, parent=1, data=2, fields=("salary",))
            assert all(mapping[k] == self.ids[k] for k in inp.keys[:100])  # preorder ids, as the plain build
            self.searchable = tree
        return self.searchable

    def range_find(self, ranges: Sequence[Tuple[int, int]]) -> Result:
        from botree import Range

        find = self._searchable().find
        t0 = perf()
        for lo, hi in ranges:
            find(salary=Range(lo, hi))
        return perf() - t0, len(ranges)

    def scoped_find(self, queries: Sequence[Tuple[Any, int, int]]) -> Result:
        from botree import Range

        find = self._searchable().find
        t0 = perf()
        for under, lo, hi in queries:
            find(under=under, salary=Range(lo, hi))
        return perf() - t0, len(queries)

    def build_events(self, inp: Inputs) -> Result:
        """``Tree.from_events`` on ready-made (None, is_open) events (the tree is discarded)."""
        from botree import Tree

        t0 = perf()
        tree = Tree.from_events(inp.events)
        elapsed = perf() - t0
        del tree
        return elapsed, len(inp.keys)

    def build_tx(self, inp: Inputs) -> Result:
        """``insert_child`` node by node inside one transaction, then commit (discarded)."""
        from botree import Tree

        parents = inp.parents
        ids = [0] * len(parents)
        t0 = perf()
        with Tree().transaction() as tx:
            ins = tx.insert_child
            ids[0] = ins(None)
            for i in range(1, len(parents)):
                ids[i] = ins(ids[parents[i]])
        elapsed = perf() - t0
        del tx
        return elapsed, len(parents)

    def build_bare(self, inp: Inputs) -> Any:
        from botree import Tree

        return Tree.from_events(inp.events)

    def handle(self, i: int) -> Any:
        return self.ids[i]

    def is_descendant(self, pairs: Sequence[Tuple[Any, Any]]) -> Result:
        return timed_loop2(self.t.is_descendant, pairs)

    def level(self, nodes: Sequence[Any]) -> Result:
        return timed_loop(self.t.level, nodes)

    def parent(self, nodes: Sequence[Any]) -> Result:
        return timed_loop(self.t.parent, nodes)

    def children(self, nodes: Sequence[Any]) -> Result:
        kids = self.t.children
        t0 = perf()
        for x in nodes:
            list(kids(x))
        return perf() - t0, len(nodes)

    def size(self, nodes: Sequence[Any]) -> Result:
        return timed_loop(self.t.size, nodes)

    def rank(self, nodes: Sequence[Any]) -> Result:
        return timed_loop(self.t.rank, nodes)

    def insert(self, parents: Sequence[Any]) -> Result:
        """Persistent ``t.insert_child(p, None)``, each from the same base tree."""
        return timed_loop(self.t.insert_child, parents)

    def insert_tx(self, parents: Sequence[Any]) -> Result:
        """``insert_child`` inside one transaction, commit included."""
        t0 = perf()
        tx = self.t.transaction()
        ins = tx.insert_child
        for p in parents:
            ins(p)
        tx.commit()
        return perf() - t0, len(parents)

    def delete(self, nodes: Sequence[Any]) -> Result:
        return timed_loop(self.t.delete, nodes)

    def move(self, pairs: Sequence[Tuple[Any, Any]]) -> Result:
        return timed_loop2(self.t.move, pairs)

    def wrap(self, nodes: Sequence[Any]) -> Result:
        return timed_loop(self.t.insert_parent, nodes)

    def preorder(self, _: Any = None) -> Result:
        count = 0
        t0 = perf()
        for _node in self.t.preorder():
            count += 1
        return perf() - t0, count

    def snapshot(self, _: Any = None) -> Result:
        """Keeping a version: ``versions.append(t)`` (a Tree is immutable; this is the whole cost)."""
        versions: List[Any] = []
        keep = versions.append
        t = self.t
        reps = 1000
        t0 = perf()
        for _i in range(reps):
            keep(t)
        return perf() - t0, reps


# -- anytree ---------------------------------------------------------------------------------


class AnytreePeer(Peer):
    name = "anytree"
    title = "anytree"
    module = "anytree"

    def __init__(self) -> None:
        self.nodes: List[Any] = []
        self.fresh = 0
        self.salaries: List[int] = []
        self.searchable = False

    # Hooks: bigtree differs from anytree only in these and in size/preorder/snapshot.
    def _node_class(self) -> Any:
        from anytree import Node

        return Node

    def _labels(self, inp: Inputs) -> Sequence[Any]:
        return inp.keys

    def _new_label(self) -> Any:
        return None

    def reset(self) -> None:
        self.nodes = []

    def _make(self, inp: Inputs) -> List[Any]:
        Node = self._node_class()
        parents = inp.parents
        keys = self._labels(inp)
        nodes = [Node(keys[0])]
        append = nodes.append
        for i in range(1, len(parents)):
            append(Node(keys[i], parent=nodes[parents[i]]))
        return nodes

    def build(self, inp: Inputs) -> Result:
        self.reset()
        t0 = perf()
        nodes = self._make(inp)
        elapsed = perf() - t0
        self.nodes = nodes
        self.salaries = inp.salaries
        self.searchable = False
        return elapsed, len(nodes)

    def _search_ready(self) -> None:
        """Give every node its ``salary`` attribute (untimed, once)."""
        if not self.searchable:
            for node, salary in zip(self.nodes, self.salaries):
                node.salary = salary
            self.searchable = True

    def lca(self, pairs: Sequence[Tuple[Any, Any]]) -> Result:
        from anytree.util import commonancestors

        t0 = perf()
        for a, b in pairs:
            commonancestors(a, b)[-1:]
        return perf() - t0, len(pairs)

    def _findall(self, node: Any, test: Callable[[Any], bool]) -> Any:
        from anytree.search import findall

        return findall(node, filter_=test)

    def range_find(self, ranges: Sequence[Tuple[int, int]]) -> Result:
        self._search_ready()
        root = self.nodes[0]
        t0 = perf()
        for lo, hi in ranges:
            self._findall(root, lambda x, lo=lo, hi=hi: lo <= x.salary < hi)
        return perf() - t0, len(ranges)

    def scoped_find(self, queries: Sequence[Tuple[Any, int, int]]) -> Result:
        self._search_ready()
        t0 = perf()
        for under, lo, hi in queries:
            self._findall(under, lambda x, lo=lo, hi=hi, under=under: x is not under and lo <= x.salary < hi)
        return perf() - t0, len(queries)

    def build_bare(self, inp: Inputs) -> Any:
        return self._make(inp)[0]  # the root keeps every node alive; the list of nodes is not counted

    def handle(self, i: int) -> Any:
        return self.nodes[i]

    def is_descendant(self, pairs: Sequence[Tuple[Any, Any]]) -> Result:
        t0 = perf()
        for a, b in pairs:
            b in a.ancestors  # noqa: B015
        return perf() - t0, len(pairs)

    def level(self, nodes: Sequence[Any]) -> Result:
        t0 = perf()
        for x in nodes:
            x.depth  # noqa: B018
        return perf() - t0, len(nodes)

    def parent(self, nodes: Sequence[Any]) -> Result:
        t0 = perf()
        for x in nodes:
            x.parent  # noqa: B018
        return perf() - t0, len(nodes)

    def children(self, nodes: Sequence[Any]) -> Result:
        t0 = perf()
        for x in nodes:
            list(x.children)
        return perf() - t0, len(nodes)

    def size(self, nodes: Sequence[Any]) -> Result:
        t0 = perf()
        for x in nodes:
            x.size  # noqa: B018
        return perf() - t0, len(nodes)

    def insert(self, parents: Sequence[Any]) -> Result:
        Node = self._node_class()
        total = 0.0
        for p in parents:
            label = self._new_label()
            t0 = perf()
            new = Node(label, parent=p)
            total += perf() - t0
            new.parent = None
        return total, len(parents)

    def delete(self, nodes: Sequence[Any]) -> Result:
        total = 0.0
        for x in nodes:
            old = x.parent
            t0 = perf()
            x.parent = None
            total += perf() - t0
            x.parent = old
        return total, len(nodes)

    def move(self, pairs: Sequence[Tuple[Any, Any]]) -> Result:
        total = 0.0
        for x, target in pairs:
            old = x.parent
            t0 = perf()
            x.parent = target
            total += perf() - t0
            x.parent = old
        return total, len(pairs)

    def wrap(self, nodes: Sequence[Any]) -> Result:
        Node = self._node_class()
        total = 0.0
        for x in nodes:
            old = x.parent
            label = self._new_label()
            t0 = perf()
            w = Node(label, parent=old)
            x.parent = w
            total += perf() - t0
            x.parent = old
            w.parent = None
        return total, len(nodes)

    def preorder(self, _: Any = None) -> Result:
        from anytree import PreOrderIter

        count = 0
        t0 = perf()
        for _node in PreOrderIter(self.nodes[0]):
            count += 1
        return perf() - t0, count

    def snapshot(self, _: Any = None) -> Result:
        return timed_copy(lambda: copy.deepcopy(self.nodes[0]))


# -- bigtree ---------------------------------------------------------------------------------


class BigtreePeer(AnytreePeer):
    """The same parent-pointer idioms as anytree; bigtree needs unique string names."""

    name = "bigtree"
    title = "bigtree"
    module = "bigtree"

    def _node_class(self) -> Any:
        from bigtree import Node

        return Node

    def _labels(self, inp: Inputs) -> Sequence[Any]:
        return inp.names

    def _new_label(self) -> Any:
        self.fresh += 1
        return f"new{self.fresh}"

    def size(self, nodes: Sequence[Any]) -> Result:
        t0 = perf()
        for x in nodes:
            sum(1 for _ in x.descendants) + 1
        return perf() - t0, len(nodes)

    def preorder(self, _: Any = None) -> Result:
        from bigtree import preorder_iter

        count = 0
        t0 = perf()
        for _node in preorder_iter(self.nodes[0]):
            count += 1
        return perf() - t0, count

    def snapshot(self, _: Any = None) -> Result:
        return timed_copy(lambda: self.nodes[0].copy())

    def lca(self, pairs: Sequence[Tuple[Any, Any]]) -> Result:
        from bigtree import get_common_ancestors

        t0 = perf()
        for a, b in pairs:
            get_common_ancestors([a, b])[:1]
        return perf() - t0, len(pairs)

    def _findall(self, node: Any, test: Callable[[Any], bool]) -> Any:
        from bigtree import findall

        return findall(node, test)


# -- treelib ---------------------------------------------------------------------------------


class TreelibPeer(Peer):
    name = "treelib"
    title = "treelib"
    module = "treelib"

    def __init__(self) -> None:
        self.tree: Any = None
        self.fresh = 0
        self.n = 0

    def reset(self) -> None:
        self.tree = None

    def _make(self, inp: Inputs) -> Any:
        from treelib import Tree

        tree = Tree()
        create = tree.create_node
        parents = inp.parents
        keys = inp.keys
        create(identifier=keys[0])
        for i in range(1, len(parents)):
            create(identifier=keys[i], parent=keys[parents[i]])
        return tree

    def build(self, inp: Inputs) -> Result:
        self.reset()
        t0 = perf()
        tree = self._make(inp)
        elapsed = perf() - t0
        self.tree = tree
        self.n = len(inp.keys)
        return elapsed, len(inp.keys)

    def build_bare(self, inp: Inputs) -> Any:
        return self._make(inp)

    def is_descendant(self, pairs: Sequence[Tuple[Any, Any]]) -> Result:
        is_ancestor = self.tree.is_ancestor
        t0 = perf()
        for a, b in pairs:
            is_ancestor(b, a)
        return perf() - t0, len(pairs)

    def level(self, nodes: Sequence[Any]) -> Result:
        return timed_loop(self.tree.level, nodes)

    def parent(self, nodes: Sequence[Any]) -> Result:
        return timed_loop(self.tree.parent, nodes)

    def children(self, nodes: Sequence[Any]) -> Result:
        return timed_loop(self.tree.children, nodes)

    def size(self, nodes: Sequence[Any]) -> Result:
        expand = self.tree.expand_tree
        t0 = perf()
        for x in nodes:
            sum(1 for _ in expand(x, sorting=False))
        return perf() - t0, len(nodes)

    def insert(self, parents: Sequence[Any]) -> Result:
        tree = self.tree
        total = 0.0
        for p in parents:
            new = self._id()
            t0 = perf()
            tree.create_node(identifier=new, parent=p)
            total += perf() - t0
            tree.remove_node(new)
        return total, len(parents)

    def delete(self, nodes: Sequence[Any]) -> Result:
        tree = self.tree
        total = 0.0
        for x in nodes:
            saved = [(nid, tree.parent(nid).identifier) for nid in tree.expand_tree(x, sorting=False)]
            t0 = perf()
            tree.remove_node(x)
            total += perf() - t0
            for nid, parent in saved:  # put the subtree back (as the last child)
                tree.create_node(identifier=nid, parent=parent)
        return total, len(nodes)

    def move(self, pairs: Sequence[Tuple[Any, Any]]) -> Result:
        tree = self.tree
        total = 0.0
        for x, target in pairs:
            old = tree.parent(x).identifier
            t0 = perf()
            tree.move_node(x, target)
            total += perf() - t0
            tree.move_node(x, old)
        return total, len(pairs)

    def wrap(self, nodes: Sequence[Any]) -> Result:
        tree = self.tree
        total = 0.0
        for x in nodes:
            old = tree.parent(x).identifier
            w = self._id()
            t0 = perf()
            tree.create_node(identifier=w, parent=old)
            tree.move_node(x, w)
            total += perf() - t0
            tree.move_node(x, old)
            tree.remove_node(w)
        return total, len(nodes)

    def preorder(self, _: Any = None) -> Result:
        count = 0
        t0 = perf()
        for _node in self.tree.expand_tree(sorting=False):
            count += 1
        return perf() - t0, count

    def snapshot(self, _: Any = None) -> Result:
        from treelib import Tree

        return timed_copy(lambda: Tree(self.tree, deep=True))


# -- networkx --------------------------------------------------------------------------------


class NetworkxPeer(Peer):
    name = "networkx"
    title = "networkx"
    module = "networkx"

    def __init__(self) -> None:
        self.g: Any = None
        self.fresh = 0
        self.n = 0

    def reset(self) -> None:
        self.g = None

    def _make(self, inp: Inputs) -> Any:
        import networkx as nx

        g = nx.DiGraph()
        keys = inp.keys
        parents = inp.parents
        g.add_node(keys[0])
        g.add_edges_from((keys[parents[i]], keys[i]) for i in range(1, len(parents)))
        return g

    def build(self, inp: Inputs) -> Result:
        self.reset()
        t0 = perf()
        g = self._make(inp)
        elapsed = perf() - t0
        self.g = g
        self.n = len(inp.keys)
        return elapsed, len(inp.keys)

    def build_bare(self, inp: Inputs) -> Any:
        return self._make(inp)

    def _parent(self, x: Any) -> Any:
        return next(iter(self.g.pred[x]), None)

    def is_descendant(self, pairs: Sequence[Tuple[Any, Any]]) -> Result:
        import networkx as nx

        g = self.g
        t0 = perf()
        for a, b in pairs:
            b in nx.ancestors(g, a)  # noqa: B015
        return perf() - t0, len(pairs)

    def level(self, nodes: Sequence[Any]) -> Result:
        import networkx as nx

        g = self.g
        t0 = perf()
        for x in nodes:
            len(nx.ancestors(g, x))
        return perf() - t0, len(nodes)

    def parent(self, nodes: Sequence[Any]) -> Result:
        pred = self.g.predecessors
        t0 = perf()
        for x in nodes:
            next(pred(x), None)
        return perf() - t0, len(nodes)

    def children(self, nodes: Sequence[Any]) -> Result:
        succ = self.g.successors
        t0 = perf()
        for x in nodes:
            list(succ(x))
        return perf() - t0, len(nodes)

    def size(self, nodes: Sequence[Any]) -> Result:
        import networkx as nx

        g = self.g
        t0 = perf()
        for x in nodes:
            len(nx.descendants(g, x)) + 1
        return perf() - t0, len(nodes)

    def insert(self, parents: Sequence[Any]) -> Result:
        g = self.g
        total = 0.0
        for p in parents:
            new = self._id()
            t0 = perf()
            g.add_edge(p, new)
            total += perf() - t0
            g.remove_node(new)
        return total, len(parents)

    def delete(self, nodes: Sequence[Any]) -> Result:
        import networkx as nx

        g = self.g
        total = 0.0
        for x in nodes:
            saved = [(self._parent(x), x), *nx.dfs_edges(g, x)]
            t0 = perf()
            gone = nx.descendants(g, x)
            gone.add(x)
            g.remove_nodes_from(gone)
            total += perf() - t0
            g.add_edges_from(saved)
        return total, len(nodes)

    def _move(self, x: Any, target: Any) -> None:
        import networkx as nx

        g = self.g
        if target == x or x in nx.ancestors(g, target):  # a DiGraph does not stop cycles: the app must
            raise ValueError("cannot move a node into its own subtree")
        old = next(iter(g.pred[x]))
        g.remove_edge(old, x)
        g.add_edge(target, x)

    def move(self, pairs: Sequence[Tuple[Any, Any]]) -> Result:
        g = self.g
        total = 0.0
        for x, target in pairs:
            old = self._parent(x)
            t0 = perf()
            self._move(x, target)
            total += perf() - t0
            g.remove_edge(target, x)
            g.add_edge(old, x)
        return total, len(pairs)

    def wrap(self, nodes: Sequence[Any]) -> Result:
        g = self.g
        total = 0.0
        for x in nodes:
            w = self._id()
            t0 = perf()
            old = next(iter(g.pred[x]))
            g.remove_edge(old, x)
            g.add_edge(old, w)
            g.add_edge(w, x)
            total += perf() - t0
            g.remove_node(w)
            g.add_edge(old, x)
        return total, len(nodes)

    def preorder(self, _: Any = None) -> Result:
        import networkx as nx

        count = 0
        t0 = perf()
        for _node in nx.dfs_preorder_nodes(self.g, 0):
            count += 1
        return perf() - t0, count

    def snapshot(self, _: Any = None) -> Result:
        return timed_copy(lambda: self.g.copy())


# -- SQLite ----------------------------------------------------------------------------------


def _progress() -> int:
    """Abort the running statement once the call's deadline has passed."""
    return 1 if perf() > DEADLINE[0] else 0


class SqlitePeer(Peer):
    """Shared by both SQLite layouts: an in-memory database in autocommit mode.

    Updates run inside one transaction, each between ``SAVEPOINT`` and an untimed
    ``ROLLBACK TO``, so every update starts from the tree as built.
    """

    def __init__(self) -> None:
        self.db: Optional[sqlite3.Connection] = None
        self.n = 0
        self.fresh = 0

    def version(self) -> str:
        return "SQLite " + sqlite3.sqlite_version

    def reset(self) -> None:
        if self.db is not None:
            self.db.close()
        self.db = None

    def _connect(self) -> sqlite3.Connection:
        self.reset()
        db = sqlite3.connect(":memory:", isolation_level=None)
        db.set_progress_handler(_progress, 20_000)
        return db

    def memory_bytes(self) -> Optional[float]:
        assert self.db is not None
        pages = self.db.execute("PRAGMA page_count").fetchone()[0]
        size = self.db.execute("PRAGMA page_size").fetchone()[0]
        return float(pages * size)

    def _one(self, sql: str, args: Tuple[Any, ...]) -> Any:
        assert self.db is not None
        row = self.db.execute(sql, args).fetchone()
        return None if row is None else row[0]

    def _queries(self, sql: str, args: Sequence[Tuple[Any, ...]], fetch_all: bool = False) -> Result:
        assert self.db is not None
        ex = self.db.execute
        t0 = perf()
        if fetch_all:
            for a in args:
                ex(sql, a).fetchall()
        else:
            for a in args:
                ex(sql, a).fetchone()
        return perf() - t0, len(args)

    def _updates(self, op: Callable[[Any], None], args: Sequence[Any]) -> Result:
        db = self.db
        assert db is not None
        total = 0.0
        db.execute("BEGIN")
        try:
            for a in args:
                db.execute("SAVEPOINT op")
                t0 = perf()
                op(a)
                total += perf() - t0
                db.execute("ROLLBACK TO op")
                db.execute("RELEASE op")
        finally:
            DEADLINE[0] = math.inf  # the rollback itself must not be interrupted
            db.execute("ROLLBACK")
        return total, len(args)

    def snapshot(self, _: Any = None) -> Result:
        assert self.db is not None
        dest = sqlite3.connect(":memory:")
        t0 = perf()
        self.db.backup(dest)
        elapsed = perf() - t0
        dest.close()
        return elapsed, 1

    def insert(self, parents: Sequence[Any]) -> Result:
        return self._updates(self._insert, parents)

    def delete(self, nodes: Sequence[Any]) -> Result:
        return self._updates(self._delete, nodes)

    def move(self, pairs: Sequence[Tuple[Any, Any]]) -> Result:
        return self._updates(lambda p: self._move(*p), pairs)

    def wrap(self, nodes: Sequence[Any]) -> Result:
        return self._updates(self._wrap, nodes)

    def _insert(self, p: Any) -> None:
        raise NotSupported

    def _delete(self, x: Any) -> None:
        raise NotSupported

    def _move(self, x: Any, target: Any) -> None:
        raise NotSupported

    def _wrap(self, x: Any) -> None:
        raise NotSupported


class NestedSetPeer(SqlitePeer):
    """Nested sets: ns(id, lft, rgt, level); lft/rgt are dense bound ranks 0..2n-1.

    Indexes on lft, on rgt and on (level, lft): the last answers parent and children.
    """

    name = "sqlite_nested"
    title = "SQLite nested set"

    def build(self, inp: Inputs) -> Result:
        db = self._connect()
        t0 = perf()
        lft, rgt, level = peer_trees.nested_numbers(inp.parents)
        db.execute("CREATE TABLE ns (id INTEGER PRIMARY KEY, lft INTEGER, rgt INTEGER, level INTEGER)")
        db.execute("BEGIN")
        db.executemany("INSERT INTO ns VALUES (?, ?, ?, ?)", zip(inp.keys, lft, rgt, level))
        db.execute("CREATE INDEX ns_lft ON ns (lft)")
        db.execute("CREATE INDEX ns_rgt ON ns (rgt)")
        db.execute("CREATE INDEX ns_level ON ns (level, lft)")
        db.execute("COMMIT")
        elapsed = perf() - t0
        self.db = db
        self.n = len(inp.keys)
        return elapsed, self.n

    def is_descendant(self, pairs: Sequence[Tuple[Any, Any]]) -> Result:
        sql = "SELECT a.lft > b.lft AND a.rgt < b.rgt FROM ns a, ns b WHERE a.id = ? AND b.id = ?"
        return self._queries(sql, pairs)

    def level(self, nodes: Sequence[Any]) -> Result:
        return self._queries("SELECT level FROM ns WHERE id = ?", [(x,) for x in nodes])

    PARENT = (
        "SELECT p.id FROM ns c, ns p WHERE c.id = ? AND p.level = c.level - 1 AND p.lft < c.lft"
        " ORDER BY p.lft DESC LIMIT 1"
    )

    def parent(self, nodes: Sequence[Any]) -> Result:
        return self._queries(self.PARENT, [(x,) for x in nodes])

    CHILDREN = (
        "SELECT c.id FROM ns p, ns c WHERE p.id = ? AND c.level = p.level + 1 AND c.lft > p.lft"
        " AND c.lft < p.rgt ORDER BY c.lft"
    )

    def children(self, nodes: Sequence[Any]) -> Result:
        return self._queries(self.CHILDREN, [(x,) for x in nodes], fetch_all=True)

    def size(self, nodes: Sequence[Any]) -> Result:
        return self._queries("SELECT (rgt - lft + 1) / 2 FROM ns WHERE id = ?", [(x,) for x in nodes])

    def rank(self, nodes: Sequence[Any]) -> Result:
        # Bounds before the opening bound: opens + closes = lft, opens - closes = level.
        return self._queries("SELECT (lft + level) / 2 FROM ns WHERE id = ?", [(x,) for x in nodes])

    def _insert(self, p: Any) -> None:
        assert self.db is not None
        ex = self.db.execute
        r, lvl = ex("SELECT rgt, level FROM ns WHERE id = ?", (p,)).fetchone()
        ex("UPDATE ns SET rgt = rgt + 2 WHERE rgt >= ?", (r,))
        ex("UPDATE ns SET lft = lft + 2 WHERE lft > ?", (r,))
        ex("INSERT INTO ns VALUES (?, ?, ?, ?)", (self._id(), r, r + 1, lvl + 1))

    def _delete(self, x: Any) -> None:
        assert self.db is not None
        ex = self.db.execute
        lo, hi = ex("SELECT lft, rgt FROM ns WHERE id = ?", (x,)).fetchone()
        width = hi - lo + 1
        ex("DELETE FROM ns WHERE lft BETWEEN ? AND ?", (lo, hi))
        ex("UPDATE ns SET lft = lft - ? WHERE lft > ?", (width, hi))
        ex("UPDATE ns SET rgt = rgt - ? WHERE rgt > ?", (width, hi))

    MOVE = (
        "UPDATE ns SET"
        " lft = CASE WHEN lft BETWEEN :l AND :r THEN lft + :dm WHEN lft BETWEEN :a AND :b THEN lft + :ds ELSE lft END,"
        " rgt = CASE WHEN rgt BETWEEN :l AND :r THEN rgt + :dm WHEN rgt BETWEEN :a AND :b THEN rgt + :ds ELSE rgt END,"
        " level = CASE WHEN lft BETWEEN :l AND :r THEN level + :dl ELSE level END"
        " WHERE lft BETWEEN :lo AND :hi OR rgt BETWEEN :lo AND :hi"
    )

    def _move(self, x: Any, target: Any) -> None:
        """x's subtree becomes the last child of target: one UPDATE over the bounds between."""
        assert self.db is not None
        ex = self.db.execute
        lo, r, lvl = ex("SELECT lft, rgt, level FROM ns WHERE id = ?", (x,)).fetchone()
        tl, p, tlvl = ex("SELECT lft, rgt, level FROM ns WHERE id = ?", (target,)).fetchone()
        if lo <= tl <= r:
            raise ValueError("cannot move a node into its own subtree")
        width = r - lo + 1
        if p > r:  # moving right: the bounds r+1 .. p-1 shift left by the width
            args = {"l": lo, "r": r, "dm": p - 1 - r, "a": r + 1, "b": p - 1, "ds": -width, "lo": lo, "hi": p - 1}
        else:  # moving left: the bounds p .. l-1 shift right by the width
            args = {"l": lo, "r": r, "dm": p - lo, "a": p, "b": lo - 1, "ds": width, "lo": p, "hi": r}
        args["dl"] = tlvl + 1 - lvl
        ex(self.MOVE, args)

    def _wrap(self, x: Any) -> None:
        assert self.db is not None
        ex = self.db.execute
        lo, r, lvl = ex("SELECT lft, rgt, level FROM ns WHERE id = ?", (x,)).fetchone()
        ex("UPDATE ns SET rgt = rgt + 2 WHERE rgt > ?", (r,))
        ex("UPDATE ns SET lft = lft + 2 WHERE lft > ?", (r,))
        ex("UPDATE ns SET lft = lft + 1, rgt = rgt + 1, level = level + 1 WHERE lft BETWEEN ? AND ?", (lo, r))
        ex("INSERT INTO ns VALUES (?, ?, ?, ?)", (self._id(), lo, r + 2, lvl))

    def preorder(self, _: Any = None) -> Result:
        assert self.db is not None
        count = 0
        t0 = perf()
        for _row in self.db.execute("SELECT id FROM ns ORDER BY lft"):
            count += 1
        return perf() - t0, count


class AdjacencyPeer(SqlitePeer):
    """Adjacency list: adj(id, parent) with an index on parent; recursive CTEs for the rest."""

    name = "sqlite_adjacency"
    title = "SQLite adjacency + CTE"

    def build(self, inp: Inputs) -> Result:
        db = self._connect()
        t0 = perf()
        db.execute("CREATE TABLE adj (id INTEGER PRIMARY KEY, parent INTEGER)")
        db.execute("BEGIN")
        db.executemany("INSERT INTO adj VALUES (?, ?)", inp.rows)
        db.execute("CREATE INDEX adj_parent ON adj (parent)")
        db.execute("COMMIT")
        elapsed = perf() - t0
        self.db = db
        self.n = len(inp.keys)
        return elapsed, self.n

    UP = (
        "WITH RECURSIVE up(id) AS (SELECT parent FROM adj WHERE id = ?"
        " UNION ALL SELECT adj.parent FROM adj JOIN up ON adj.id = up.id WHERE adj.parent IS NOT NULL) "
    )
    DOWN = "WITH RECURSIVE down(id) AS (SELECT ? UNION ALL SELECT adj.id FROM adj JOIN down ON adj.parent = down.id) "

    def is_descendant(self, pairs: Sequence[Tuple[Any, Any]]) -> Result:
        return self._queries(self.UP + "SELECT EXISTS (SELECT 1 FROM up WHERE id = ?)", pairs)

    def level(self, nodes: Sequence[Any]) -> Result:
        return self._queries(self.UP + "SELECT COUNT(id) FROM up", [(x,) for x in nodes])

    def parent(self, nodes: Sequence[Any]) -> Result:
        return self._queries("SELECT parent FROM adj WHERE id = ?", [(x,) for x in nodes])

    def children(self, nodes: Sequence[Any]) -> Result:
        return self._queries("SELECT id FROM adj WHERE parent = ?", [(x,) for x in nodes], fetch_all=True)

    def size(self, nodes: Sequence[Any]) -> Result:
        return self._queries(self.DOWN + "SELECT COUNT(*) FROM down", [(x,) for x in nodes])

    def _insert(self, p: Any) -> None:
        assert self.db is not None
        self.db.execute("INSERT INTO adj VALUES (?, ?)", (self._id(), p))

    def _delete(self, x: Any) -> None:
        assert self.db is not None
        self.db.execute("DELETE FROM adj WHERE id IN (" + self.DOWN + "SELECT id FROM down)", (x,))

    def _move(self, x: Any, target: Any) -> None:
        assert self.db is not None
        ex = self.db.execute
        # The cycle check a correct application needs: target must not lie in x's subtree.
        if target == x or ex(self.UP + "SELECT EXISTS (SELECT 1 FROM up WHERE id = ?)", (target, x)).fetchone()[0]:
            raise ValueError("cannot move a node into its own subtree")
        ex("UPDATE adj SET parent = ? WHERE id = ?", (target, x))

    def _wrap(self, x: Any) -> None:
        assert self.db is not None
        ex = self.db.execute
        w = self._id()
        ex("INSERT INTO adj SELECT ?, parent FROM adj WHERE id = ?", (w, x))
        ex("UPDATE adj SET parent = ? WHERE id = ?", (w, x))

    PREORDER = (
        "WITH RECURSIVE under(id, depth) AS (SELECT 0, 0 UNION ALL"
        " SELECT adj.id, under.depth + 1 FROM adj JOIN under ON adj.parent = under.id ORDER BY 2 DESC)"
        " SELECT id FROM under"
    )

    def preorder(self, _: Any = None) -> Result:
        assert self.db is not None
        count = 0
        t0 = perf()
        for _row in self.db.execute(self.PREORDER):
            count += 1
        return perf() - t0, count


PEERS: Dict[str, Callable[[], Peer]] = {
    "botree": BotreePeer,
    "anytree": AnytreePeer,
    "bigtree": BigtreePeer,
    "treelib": TreelibPeer,
    "networkx": NetworkxPeer,
    "sqlite_nested": NestedSetPeer,
    "sqlite_adjacency": AdjacencyPeer,
}
