"""Traversals (level order, level groups, leaves, lca, height, distance, path,
depth-limited descendants) against a parent-pointer model, and work counts for the
ones that must not scan: ``lca`` (a range-minimum query over the order index) and
``descendants(max_depth=...)`` (deeper subtrees jumped over).
"""

from __future__ import annotations

import itertools
import random
from collections import deque
from typing import Any, Dict, List, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botree import OrderIndex, Tree
from botree.errors import InvalidArgument, InvalidOperation, NodeNotFound
from botree.nodetable import ChunkedVector
from botree.nodetable import vector as vector_module

FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Model:
    """A forest as parent pointers and ordered child lists."""

    def __init__(self) -> None:
        self.parent: Dict[int, Optional[int]] = {}
        self.kids: Dict[Optional[int], List[int]] = {None: []}

    def add(self, node: int, parent: Optional[int]) -> None:
        self.parent[node] = parent
        self.kids[node] = []
        self.kids[parent].append(node)

    def level(self, n: int) -> int:
        d = 0
        p = self.parent[n]
        while p is not None:
            d += 1
            p = self.parent[p]
        return d

    def up(self, n: int) -> List[int]:
        """n and its ancestors, nearest first."""
        out = [n]
        while self.parent[out[-1]] is not None:
            out.append(self.parent[out[-1]])  # type: ignore[arg-type]
        return out

    def preorder(self, n: Optional[int]) -> List[int]:
        out: List[int] = []
        stack = list(reversed(self.kids[n])) if n is None else [n]
        while stack:
            x = stack.pop()
            out.append(x)
            stack.extend(reversed(self.kids[x]))
        return out

    def bfs(self, n: Optional[int]) -> List[int]:
        out: List[int] = []
        queue = deque(self.kids[None] if n is None else [n])
        while queue:
            x = queue.popleft()
            out.append(x)
            queue.extend(self.kids[x])
        return out

    def lca(self, a: int, b: int) -> Optional[int]:
        ups = set(self.up(a))
        return next((x for x in self.up(b) if x in ups), None)


def build(parents: List[Optional[int]], block_size: int = 4, fields: tuple = ()) -> tuple[Tree, Model, List[int]]:
    """A tree where node i's parent is the node made at step parents[i] (None: top level)."""
    model = Model()
    ids: List[int] = []
    with Tree(block_size=block_size, fields=fields).transaction() as tx:
        for i, p in enumerate(parents):
            parent = None if p is None else ids[p]
            node = tx.insert_child(parent, {"i": i})
            ids.append(node)
            model.add(node, parent)
    assert tx.tree is not None
    return tx.tree, model, ids


@st.composite
def forests(draw: Any, max_size: int = 60) -> List[Optional[int]]:
    """Parent choices: uniform, chains (parent = previous) and new top-level trees, mixed."""
    n = draw(st.integers(1, max_size))
    chain = draw(st.floats(0, 1))
    parents: List[Optional[int]] = []
    for i in range(n):
        r = draw(st.floats(0, 1))
        if i == 0 or r < 0.08:
            parents.append(None)
        elif r < chain:
            parents.append(i - 1)
        else:
            parents.append(draw(st.integers(0, i - 1)))
    return parents


@FAST
@given(forests(), st.data())
def test_traversals_against_the_model(parents: List[Optional[int]], data: st.DataObject) -> None:
    t, m, ids = build(parents)
    t.check()
    assert list(t.level_order()) == m.bfs(None)
    groups = [[x for x in m.preorder(None) if m.level(x) == d] for d in range(max(map(m.level, ids)) + 1)]
    assert t.level_groups() == groups
    assert t.level_groups(zigzag=True) == [g[::-1] if d % 2 else g for d, g in enumerate(groups)]
    assert list(t.leaves()) == [x for x in m.preorder(None) if not m.kids[x]]
    for _ in range(6):
        a = data.draw(st.sampled_from(ids))
        b = data.draw(st.sampled_from(ids))
        sub = m.preorder(a)
        assert list(t.level_order(a)) == m.bfs(a)
        assert t.level_groups(a) == [[x for x in sub if m.level(x) == m.level(a) + d] for d in range(t.height(a) + 1)]
        assert list(t.leaves(a)) == [x for x in sub if not m.kids[x]]
        assert t.height(a) == max(m.level(x) for x in sub) - m.level(a)
        assert t.path(a) == m.up(a)[::-1]
        assert t.lca(a, b) == m.lca(a, b) == t.lca(b, a)
        c = m.lca(a, b)
        if c is None:
            with pytest.raises(InvalidOperation):
                t.distance(a, b)
        else:
            assert t.distance(a, b) == m.level(a) + m.level(b) - 2 * m.level(c)
        k = data.draw(st.integers(0, 5))
        assert list(t.descendants(a, max_depth=k)) == [x for x in sub[1:] if m.level(x) - m.level(a) <= k]


def test_deep_chain_and_wide_forest() -> None:
    depth = 20_000
    t, m, ids = build([None] + list(range(depth - 1)) + [None] * 50 + [3] * 30, block_size=8)
    bottom = ids[depth - 1]
    assert t.lca(bottom, ids[depth + 60]) == ids[3]
    assert t.distance(bottom, ids[depth + 60]) == depth - 1 - 3 + 1
    assert t.lca(bottom, ids[depth + 10]) is None
    assert t.height(ids[0]) == depth - 1 and t.height(bottom) == 0
    assert t.path(bottom) == ids[:depth]
    assert list(t.leaves(ids[0])) == [bottom] + ids[depth + 50 :]
    assert [len(g) for g in t.level_groups(ids[0])][:6] == [1, 1, 1, 1, 31, 1]
    assert list(t.level_order())[:3] == [ids[0], *ids[depth : depth + 2]]


def test_bad_arguments() -> None:
    t, _, ids = build([None, 0])
    for call in (t.lca, t.distance):
        with pytest.raises(NodeNotFound):
            call(ids[0], 99)
    for one in (t.height, t.path, t.level_order, t.leaves, t.level_groups):
        with pytest.raises(NodeNotFound):
            one(99)  # type: ignore[operator]
    with pytest.raises(InvalidArgument):
        t.level_groups(zigzag=1)  # type: ignore[arg-type]
    for bad in (-1, 1.5, True):
        with pytest.raises(InvalidArgument):
            t.descendants(ids[0], max_depth=bad)  # type: ignore[arg-type]
    assert list(t.level_order()) == ids and t.lca(ids[1], ids[1]) == ids[1] and t.distance(ids[1], ids[1]) == 0
    empty = Tree()
    assert list(empty.level_order()) == [] and empty.level_groups() == [] and list(empty.leaves()) == []


# -- work counting ------------------------------------------------------------------------


# The compiled build (docs/design.md, "Compiled build") refuses interpreted subclasses of its classes:
# the read-counting tests run on the pure build, whose sources are the very same code.
counts_reads = pytest.mark.skipif(
    not vector_module.__file__.endswith(".py"),
    reason="counts reads through a subclass of ChunkedVector, which the compiled build cannot have",
)


class CountingVector(ChunkedVector):
    """A block table that counts block reads through ``[]`` (every reader the tests cover uses it)."""

    reads = 0

    def __getitem__(self, i: int) -> Any:
        CountingVector.reads += 1
        return super().__getitem__(i)


def counted(t: Tree) -> Tree:
    ix = t.order_index
    blocks = CountingVector.from_parts(ix.blocks.chunks, len(ix.blocks))
    return Tree.from_order_index(
        OrderIndex.from_parts(blocks, ix.links, ix.nodes, ix.root, ix.height, ix.block_ids, ix.block_size)
    )


def reads(fn: Any) -> tuple[Any, int]:
    CountingVector.reads = 0
    out = fn()
    return out, CountingVector.reads


@counts_reads
def test_lca_reads_a_few_blocks_per_level_whatever_the_distance() -> None:
    rng = random.Random(5)
    parents: List[Optional[int]] = [None]
    for i in range(1, 100_000):
        parents.append(i - 1 if rng.random() < 0.3 else rng.randrange(i))
    t, m, ids = build(parents, block_size=16)
    ct = counted(t)
    h = t.order_index.height
    assert h >= 3
    worst = 0
    for _ in range(200):
        a, b = rng.choice(ids), rng.choice(ids)
        got, n = reads(lambda a=a, b=b: ct.lca(a, b))
        assert got == m.lca(a, b)
        worst = max(worst, n)
    # locate both bounds, climb two paths, descend one, then one parent search: O(h) block reads
    assert worst <= 6 * (h + 1) + 6, (worst, h)
    ix = ct.order_index
    first, last = ix.first_bound(), ix.last_bound()
    assert first is not None and last is not None
    (_, level), n = reads(lambda: ix.min_level(first, last))
    assert level == 0 and n <= 4 * (h + 1)


@counts_reads
def test_descendants_with_max_depth_jumps_over_deep_subtrees() -> None:
    # a root with 10 children, each above a 10,000-node subtree
    parents: List[Optional[int]] = [None]
    for _ in range(10):
        first = len(parents)
        parents.append(0)
        parents.extend(first + (j // 3) for j in range(9_999))
    t, m, ids = build(parents, block_size=16)
    ct = counted(t)
    kids = m.kids[ids[0]]
    got, limited = reads(lambda: list(ct.descendants(ids[0], max_depth=1)))
    assert got == kids
    _, full = reads(lambda: sum(1 for _ in ct.descendants(ids[0])))
    assert full > 5_000 and limited <= 10 * 4, (limited, full)
    got, two = reads(lambda: list(ct.descendants(ids[0], max_depth=2)))
    assert got == [x for x in m.preorder(ids[0])[1:] if m.level(x) <= 2] and two <= 40 * 4, two


def test_level_groups_on_a_flat_tree() -> None:
    t, _, ids = build([None] + [0] * 1000, block_size=8)
    assert t.level_groups(zigzag=True) == [[ids[0]], ids[:0:-1]]
    assert list(itertools.islice(t.level_order(), 3)) == ids[:3]
