"""Each node's row keeps its parent: every update keeps it right, and rows without one still answer.

``check()`` compares every stored parent with the true one; these tests also compare
``enclosing`` (the row) with ``enclosing_by_levels`` (computed from the index) for every
node, and cover rows decoded from files that predate the parent field (``UNKNOWN``).
"""

from __future__ import annotations

import random
from typing import List, Optional, Tuple

import msgpack
import pytest

from botree import OrderIndex, Tree
from botree.nodetable import TOP, UNKNOWN, Row
from botree.storage.codec import decode_leaf, encode_leaf
from botree.tree.queries import sibling_walk
from tests.core.test_order_index import build

Bound = Tuple[int, bool]


def parents_agree(idx: OrderIndex) -> None:
    idx.check()
    for node in idx.nodes.ids():
        assert idx.enclosing(node) == idx.enclosing_by_levels(node), node


def children_agree(idx: OrderIndex) -> None:
    for node in [None, *idx.nodes.ids()]:
        assert list(idx.child_walk(node)) == list(sibling_walk(idx, node)), node
        assert list(idx.child_walk(node))[::-1] == list(sibling_walk(idx, node, False)), node


@pytest.mark.parametrize("block_size", [4, 8, 64])
def test_random_updates_keep_row_parents(block_size: int) -> None:
    rnd = random.Random(block_size)
    idx, _, _ = build(block_size, 300, seed=block_size)
    parents_agree(idx)
    for step in range(300):
        nodes = list(idx.nodes.ids())
        node = rnd.choice(nodes)
        kind = rnd.choice(["insert", "insert_before", "move", "move_run", "delete_pair", "delete_range"])
        if kind == "insert":
            idx = idx.insert_pair(step, (node, False))[0]
        elif kind == "insert_before":
            idx = idx.insert_pair(step, (node, True))[0]
        elif kind == "delete_pair":
            idx = idx.delete_pair(node)
        elif kind == "delete_range" and len(nodes) > 50:
            idx = idx.delete_range((node, True), (node, False))
        elif kind in ("move", "move_run"):
            last = node
            if kind == "move_run":  # a run of up to 5 siblings starting at node
                for _ in range(rnd.randrange(5)):
                    nxt = idx.next_bound((last, False))
                    if nxt is None or not nxt[1]:
                        break
                    last = nxt[0]
            target = rnd.choice(nodes)
            before: Optional[Bound] = rnd.choice([(target, True), (target, False), None])
            if before is not None and (
                target in (node, last)
                or idx.before((node, True), (target, True)) and idx.before((target, True), (last, False))
            ):
                continue  # a target inside the moved run
            idx = idx.relocate((node, True), (last, False), before)
        if step % 25 == 0:
            parents_agree(idx)
    parents_agree(idx)
    children_agree(idx)


def test_tree_updates_keep_row_parents() -> None:
    t = Tree()
    t, a = t.insert_child(None, "a")
    t, b = t.insert_child(a, "b")
    t, c = t.insert_child(a, "c")
    t, d = t.insert_child(c, "d")
    t, w = t.insert_parent(b, "w", c)  # wrap a run of two siblings: two rows change
    assert (t.parent(b), t.parent(c), t.parent(w)) == (w, w, a)
    t2 = t.unwrap(w)  # b and c move back up
    assert (t2.parent(b), t2.parent(c), t2.parent(d)) == (a, a, c)
    assert (t.parent(b), t.parent(c)) == (w, w)  # the old version keeps its rows
    t3, r = t2.insert_root("r")  # every top-level node gets the new root
    assert t3.parent(a) == r and t3.parent(r) is None and t2.parent(a) is None
    t4 = t3.move(d, None, 0)
    assert t4.parent(d) is None and t3.parent(d) == c
    for tree in (t, t2, t3, t4):
        parents_agree(tree.order_index)
        children_agree(tree.order_index)


def _forget_parents(idx: OrderIndex) -> OrderIndex:
    """The index as read from a file written before rows kept their parent: every parent UNKNOWN."""
    batch = idx.transient()
    for node in list(idx.nodes.ids()):
        batch.nodes.writable(node).parent = UNKNOWN  # type: ignore[attr-defined]
    return batch.persistent()


def test_rows_without_a_stored_parent_compute_it_and_updates_store_it() -> None:
    idx, _, nodes = build(8, 200, seed=3)
    old = _forget_parents(idx)
    old.check()  # UNKNOWN is allowed
    assert all(old.nodes.row(n).parent == UNKNOWN and old.nodes.row(n).parent_id == -2 for n in nodes)
    for n in nodes:
        assert old.enclosing(n) == idx.enclosing(n)
    # Updates on such rows store the parents they set, and stay right for the rest.
    rnd = random.Random(4)
    for step in range(100):
        node = rnd.choice(list(old.nodes.ids()))
        if step % 3 == 0:
            old, new = old.insert_pair(step, (node, True))
            true = old.enclosing_by_levels(new)
            assert old.nodes.row(new).parent_id == (-1 if true is None else true)
        elif step % 3 == 1:
            old = old.delete_pair(node)
        else:
            target = rnd.choice(list(old.nodes.ids()))
            if target == node or old.inside(target, node):
                continue
            old = old.relocate((node, True), (node, False), (target, False))
            assert old.nodes.row(node).parent_id == target
    parents_agree(old)


def test_codec_writes_the_parent_and_reads_rows_without_it() -> None:
    rows = [Row(1, 2, 3, 4, {"x": 1}, None, 7 << 1), None, Row(5, 6, 7, 8, "top", None, TOP)]
    back = decode_leaf("nodes", encode_leaf("nodes", rows), 3, "test")
    assert [None if r is None else r.parent for r in back] == [7 << 1, None, TOP]
    assert [None if r is None else r.parent_id for r in back] == [7, None, -1]
    assert msgpack.unpackb(encode_leaf("nodes", rows))[0][5] == 7  # stored as the parent id
    unknown = Row(1, 2, 3, 4, None, None, UNKNOWN)
    assert decode_leaf("nodes", encode_leaf("nodes", [unknown]), 1, "test")[0].parent == UNKNOWN
    # A leaf written by an older botree: five fields per row.
    old = msgpack.packb([[1, 2, 3, 4, "data"], None])
    back = decode_leaf("nodes", old, 2, "test")
    assert back[0].parent == UNKNOWN and back[0].data == "data" and back[1] is None


def test_a_deep_path_keeps_parents() -> None:
    events: List[Tuple[object, bool]] = [(i, True) for i in range(20_000)] + [(None, False)] * 20_000
    t = Tree.from_events(events)
    assert t.parent(19_999) == 19_998 and t.parent(0) is None
    t2 = t.move(10_000, None)
    assert t2.parent(10_000) is None and t2.parent(10_001) == 10_000 and t.parent(10_000) == 9_999
    t2.check()


def test_check_catches_a_wrong_row_parent() -> None:
    from botree.errors import InvariantError

    idx, _, nodes = build(8, 50, seed=5)
    batch = idx.transient()
    node = nodes[-1]
    batch.nodes.writable(node).parent = node << 1  # type: ignore[attr-defined]
    with pytest.raises(InvariantError, match="row parent"):
        batch.persistent().check()
