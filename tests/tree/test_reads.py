"""The hot reads (issue 16) against a parent-pointer model: children, parent, level,
is_descendant, preorder, postorder and events, on random forests with small blocks, after
random moves (which leave level deltas on blocks and subtrees spread over many leaves),
with wide nodes (more children than ``child_walk`` lists at the call) and on deep paths.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from botree import Tree
from botree.core.reader import CHILD_BATCH
from botree.errors import InvalidArgument, NodeNotFound
from tests.tree.test_traversals import FAST, Model, build, forests
from tests.tree.test_tree_stateful import Model as StatefulModel


def events_of(m: Model, n: Optional[int]) -> List[Tuple[int, bool]]:
    """(node, is_open) of ``n``'s subtree (None: the forest), without recursion: the stateful
    tests' model method, which reads the same ``kids`` lists."""
    return StatefulModel.events(m, n)  # type: ignore[arg-type]


def move(m: Model, node: int, parent: Optional[int], index: int) -> None:
    """The model's side of ``Tree.move(node, parent, index)``."""
    m.kids[m.parent[node]].remove(node)
    kids = m.kids[parent]
    kids.insert(len(kids) if index == -1 else index, node)
    m.parent[node] = parent


def reads_agree(t: Tree, m: Model, nodes: List[int], others: List[int]) -> None:
    """Every read of the issue's list on ``nodes``, against the model."""
    assert list(t.children(None)) == m.kids[None]
    assert list(t.preorder()) == m.preorder(None)
    evs = events_of(m, None)
    assert list(t.events()) == evs
    assert list(t.postorder()) == [x for x, is_open in evs if not is_open]
    for x in nodes:
        assert list(t.children(x)) == m.kids[x], x
        assert t.parent(x) == m.parent[x]
        assert t.level(x) == m.level(x)
        sub = events_of(m, x)
        assert list(t.events(x)) == sub
        assert list(t.preorder(x)) == [y for y, is_open in sub if is_open]
        assert list(t.postorder(x)) == [y for y, is_open in sub if not is_open]
        ups = set(m.up(x)[1:])
        for y in others:
            assert t.is_descendant(x, y) == (y in ups), (x, y)


@FAST
@given(forests(), st.sampled_from([4, 6, 8]), st.data())
def test_reads_against_the_model_after_moves(
    parents: List[Optional[int]], block_size: int, data: st.DataObject
) -> None:
    t, m, ids = build(parents, block_size)
    t.check()
    reads_agree(t, m, ids, ids[:12])
    for _ in range(data.draw(st.integers(0, 6))):
        node = data.draw(st.sampled_from(ids))
        below = set(m.preorder(node))
        target = data.draw(st.sampled_from([None, *(x for x in ids if x not in below)]))
        index = data.draw(st.integers(-1, len(m.kids[target]) - (m.parent[node] == target)))
        t = t.move(node, target, index)
        move(m, node, target, index)
        t.check()
        sample = data.draw(st.lists(st.sampled_from(ids), max_size=15))
        reads_agree(t, m, sample, data.draw(st.lists(st.sampled_from(ids), max_size=8)))
    reads_agree(t, m, ids, ids)


@pytest.mark.parametrize("block_size", [4, 16, 64])
def test_wide_nodes_list_every_child_across_batches(block_size: int) -> None:
    """More children than the first batch (and many top-level nodes), some with subtrees."""
    wide = 3 * CHILD_BATCH + 7
    parents: List[Optional[int]] = [None]
    for i in range(wide):
        parents.append(0)
        if i % 5 == 0:
            parents.append(len(parents) - 1)  # a grandchild under every fifth child
    parents += [None] * (CHILD_BATCH + 3)
    t, m, ids = build(parents, block_size)
    t.check()
    assert len(m.kids[ids[0]]) == wide
    reads_agree(t, m, ids[:40], ids[:5])
    assert list(t.children(None)) == m.kids[None]
    walk = t.children(ids[0])
    assert next(walk) == m.kids[ids[0]][0]  # lazily consumable, like any iterator
    assert list(walk) == m.kids[ids[0]][1:]
    # A transaction reads its own state.
    with t.transaction() as tx:
        tx.move(ids[1], None)
        assert list(tx.children(ids[0])) == m.kids[ids[0]][1:]
        assert list(tx.children(None))[-1] == ids[1]


def test_deep_path_reads_without_recursion() -> None:
    depth = 12_000
    t, m, ids = build([None] + list(range(depth - 1)) + [depth // 2] * 3, block_size=8)
    bottom = ids[depth - 1]
    assert t.level(bottom) == depth - 1
    assert t.is_descendant(bottom, ids[0]) and not t.is_descendant(ids[0], bottom)
    assert list(t.children(ids[depth // 2])) == m.kids[ids[depth // 2]]
    assert list(t.preorder(ids[depth - 100])) == ids[depth - 100 : depth]
    assert list(t.postorder(ids[0]))[:3] == [bottom, ids[depth - 2], ids[depth - 3]]
    assert sum(1 for _ in t.events()) == 2 * len(ids)
    moved = 2 * depth // 3
    t2 = t.move(ids[moved], ids[-1])  # a deep subtree under a leaf: deltas on the moved blocks
    t2.check()
    move(m, ids[moved], ids[-1], -1)
    sample = [ids[i] for i in (0, 5, depth // 2, moved - 1, moved, moved + 1, depth - 1, len(ids) - 1)]
    reads_agree(t2, m, sample, sample)


def test_bad_ids_raise_typed_errors() -> None:
    t, _, ids = build([None, 0, 0], 4)
    for bad in (True, "1", 1.5, (1,)):
        with pytest.raises(InvalidArgument):
            list(t.children(bad))  # type: ignore[arg-type]
        with pytest.raises(InvalidArgument):
            list(t.preorder(bad))  # type: ignore[arg-type]
        with pytest.raises(InvalidArgument):
            list(t.events(bad))  # type: ignore[arg-type]
    for missing in (-1, 99, 2**70):
        with pytest.raises(NodeNotFound):
            list(t.children(missing))
        with pytest.raises(NodeNotFound):
            list(t.postorder(missing))
        with pytest.raises(NodeNotFound):
            t.level(missing)
        with pytest.raises(NodeNotFound):
            t.is_descendant(ids[0], missing)
