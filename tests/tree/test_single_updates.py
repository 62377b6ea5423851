"""Single persistent updates without a batch (``OrderIndex.single_*``, issue 16 session 5).

``Tree.delete(node)``, ``Tree.insert_child(parent, data)`` and ``Tree.move(node, parent)``
(index -1) first try their leaf-local form, which builds the new index from frozen parts
(new blocks share the lists they do not change; the block and row vectors are path-copied
by ``ChunkedVector.written``) and changes only counts above the leaves; anything else
falls back to the registry's update on a one-update batch.  Here every step is run both
ways -- on the ``Tree`` and on a ``Transaction`` of the same tree (the batch form) -- and the
two results must be equal trees (same shape, same node ids, same data), match the
parent-pointer model and pass ``check()`` (which verifies counts and minimum levels); every
earlier version is re-verified at the end (persistence).  Plain, keyed and field-indexed
trees are drawn (the node table's one-update forms go through a batch for the last two).
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botree import Tree
from botree.core import index as index_module
from botree.core.index import OrderIndex
from botree.errors import BotreeError, DuplicateKey

from .test_fast_paths import assert_versions, chain_forest
from .test_tree_stateful import Model, assert_matches

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
# Spies replace methods of ``OrderIndex``; compiled classes refuse that, so the spying assertions
# run on the pure build only (the same code); the results are checked on both.
PURE = index_module.__file__.endswith(".py")


def _tree(kind: str, block_size: int) -> Tree:
    if kind == "keyed":
        return Tree(block_size=block_size, key="k")
    if kind == "fields":
        return Tree(block_size=block_size, fields=("k",))
    return Tree(block_size=block_size)


def _both(t: Tree, run: Callable[[Any], Any]) -> Tuple[Any, Any, Any, Any]:
    """``run`` on the tree and inside a transaction of it: (tree result, its error, batch result, its error)."""
    try:
        mine: Any = run(t)
        error: Any = None
    except BotreeError as exc:
        mine, error = None, exc
    tx = t.transaction()
    try:
        out = run(tx)
        batch: Any = (Tree.from_order_index(tx.order_index.persistent()), out)
        batch_error: Any = None
    except BotreeError as exc:
        batch, batch_error = None, exc
    return mine, error, batch, batch_error


@SETTINGS
@given(
    block_size=st.sampled_from([4, 6, 8, 16, 64]),
    kind=st.sampled_from(["plain", "plain", "keyed", "fields"]),
    size=st.integers(1, 60),
    data=st.data(),
)
def test_single_updates_equal_the_batch_form_and_the_model(
    block_size: int, kind: str, size: int, data: st.DataObject
) -> None:
    draw = data.draw
    t = _tree(kind, block_size)
    m = Model()
    versions: List[Tuple[Tree, Model]] = []
    key = 0
    for step in range(size + draw(st.integers(0, 40))):
        what = "insert" if step < size or not m.parent else draw(st.sampled_from(["insert", "delete", "move", "bad"]))
        new: Optional[int] = None
        if what == "insert":
            parent = None if not m.parent else draw(st.sampled_from([None, *m.nodes(), *m.nodes()]))
            key += 1
            value = {"k": key} if kind != "plain" else key
            if kind == "keyed" and m.parent and draw(st.integers(0, 9)) == 0:
                value = {"k": m.data[draw(st.sampled_from(m.nodes()))]["k"]}  # a key some node holds
            mine, error, batch, batch_error = _both(t, lambda q, p=parent, v=value: q.insert_child(p, v))
            if error is not None:
                assert isinstance(error, DuplicateKey) and type(batch_error) is type(error)
                assert str(error) == str(batch_error)
                continue
            (t2, new) = mine
            assert batch is not None and batch[1] == new
            args: tuple = (parent, value, -1)
            name = "insert_child"
        elif what == "delete":
            node = draw(st.sampled_from(m.nodes()))
            mine, error, batch, batch_error = _both(t, lambda q, n=node: q.delete(n))
            t2, args, name = mine, (node,), "delete"
        elif what == "move":
            node = draw(st.sampled_from(m.nodes()))
            inside = set(m.subtree(node))
            outside = [n for n in m.nodes() if n not in inside]
            if not outside:
                continue
            parent = draw(st.sampled_from(outside))
            mine, error, batch, batch_error = _both(t, lambda q, n=node, p=parent: q.move(n, p))
            t2, args, name = mine, (node, parent, -1), "move"
        else:
            # Refused updates: the same error both ways, nothing changes.
            node = draw(st.sampled_from(m.nodes()))
            inner = draw(st.sampled_from(m.subtree(node)))  # node itself or a descendant
            gone = max(m.nodes()) + 1 + draw(st.integers(0, 100))
            bad = draw(
                st.sampled_from(
                    [
                        lambda q, n=node, i=inner: q.move(n, i),
                        lambda q, g=gone: q.delete(g),
                        lambda q: q.delete(True),
                        lambda q: q.delete(-1),
                        lambda q, g=gone, n=node: q.move(g, n),
                        lambda q, g=gone: q.insert_child(g, None),
                        lambda q: q.insert_child("x", None),
                    ]
                )
            )
            mine, error, batch, batch_error = _both(t, bad)
            assert error is not None and type(batch_error) is type(error) and str(error) == str(batch_error)
            t.check()
            assert_matches(t, m, full=False)
            continue
        assert error is None and batch_error is None
        assert t2 == batch[0]  # same forest, node ids and data as the batch form
        m.apply(name, args, new)
        t = t2
        t.check()
        assert_matches(t, m, full=step % 4 == 0)
        versions.append((t, m.copy()))
    assert_versions(versions)


def _spy_singles(monkeypatch: pytest.MonkeyPatch) -> List[str]:
    """Records which single forms returned a new index (not None)."""
    done: List[str] = []
    for name in ("single_delete", "single_insert_last_child", "single_move_last_child"):
        real = getattr(OrderIndex, name)

        def spy(self: OrderIndex, *args: Any, _real: Any = real, _name: str = name) -> Any:
            out = _real(self, *args)
            if out is not None:
                done.append(_name)
            return out

        monkeypatch.setattr(OrderIndex, name, spy)
    return done


@pytest.mark.skipif(not PURE, reason="spies on OrderIndex methods: pure build only")
def test_leaf_local_updates_make_no_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The leaf-local delete, insert and move never open a transient index; others fall back to one."""
    done = _spy_singles(monkeypatch)
    batches: List[int] = []
    real = OrderIndex.transient

    def transient(self: OrderIndex, fresh_ids: bool = False) -> Any:
        batches.append(1)
        return real(self, fresh_ids)

    monkeypatch.setattr(OrderIndex, "transient", transient)
    t, tops = chain_forest(2000)
    assert t.order_index.height >= 1
    kid = list(t.children(tops[700]))[0]
    moved = t.move(tops[100], tops[1500])  # different leaves, far apart
    deleted = t.delete(tops[700])
    grown, new = t.insert_child(tops[900], "x")
    assert batches == []
    assert sorted(done) == ["single_delete", "single_insert_last_child", "single_move_last_child"]
    for tree in (moved, deleted, grown):
        tree.check()
    assert moved.parent(tops[100]) == tops[1500] and list(moved.children(tops[1500]))[-1] == tops[100]
    assert tops[700] not in deleted and kid not in deleted and len(deleted) == len(t) - 2
    assert grown.parent(new) == tops[900] and list(grown.children(tops[900]))[-1] == new
    # Not leaf-local (a move to the top level, an insert as first child, a move within a leaf):
    # the batch form runs.
    t.move(tops[5], None)
    t.insert_child(tops[5], "y", 0)
    t.move(kid, tops[701])
    assert len(batches) == 3
    t.check()  # the base is unchanged
    assert t.parent(tops[100]) is None and len(t) == 4000 and tops[700] in t


def test_single_updates_keep_keys_and_indexed_fields() -> None:
    """In keyed and field-indexed trees the node table's one-update forms keep both indexes."""
    events: List[Tuple[Any, bool]] = []
    for i in range(500):
        events += [({"k": i, "f": i % 7}, True), ({"k": 1000 + i, "f": 0}, True), (None, False), (None, False)]
    t = Tree.from_events(events, key="k", fields=("f",))
    tops = list(t.children(None))
    t2 = t.delete(tops[10])
    assert not t2.has_key(10) and not t2.has_key(1010) and t.has_key(10)
    t3, new = t2.insert_child(tops[20], {"k": 10, "f": 3})  # the freed key is free again
    assert t3.node_of(10) == new and t3.parent(new) == tops[20]
    assert new in t3.find(f=3) and new not in t2.find(f=3)
    with pytest.raises(DuplicateKey):
        t3.insert_child(tops[30], {"k": 20, "f": 1})
    t4 = t3.move(tops[40], tops[400])
    assert t4.node_of(40) == tops[40] and t4.parent(tops[40]) == tops[400]
    for tree in (t, t2, t3, t4):
        tree.check()
    assert t == Tree.from_events(events, key="k", fields=("f",))


@pytest.mark.parametrize("keyed", [False, True])
def test_updates_of_a_database_tree_hand_out_copies(keyed: bool) -> None:
    """A database's tree hands out copies of its data (``NodeTable.copy_out``); so does every tree a
    persistent update makes from it, whichever form ran (single or batch): mutating what such a
    tree hands out never changes the database (before, a one-update batch's freeze dropped it)."""
    from botree import Database

    db = Database(key="k") if keyed else Database()
    with db.transaction() as tx:
        root = tx.insert_child(None, {"k": 1, "a": [1]})
        kids = [tx.insert_child(root, {"k": 10 + i, "b": [i]}) for i in range(4)]
    t = db.tree
    made = [
        t.delete(kids[0]),
        t.insert_child(root, {"k": 99, "b": []})[0],
        t.move(kids[1], kids[2]),
        t.insert_child(root, {"k": 98}, 0)[0],  # batch forms
        t.move(kids[3], None),
        t.unwrap(kids[2]),
    ]
    for tree in made:
        tree.data(root)["a"].append("changed")
    assert db.tree.data(root) == {"k": 1, "a": [1]}
    assert all(tree.data(root) == {"k": 1, "a": [1]} for tree in made)


@pytest.mark.parametrize("block_size", [8, 16])
def test_subtrees_straddling_two_leaves(block_size: int) -> None:
    """Deleting or moving a subtree whose bounds straddle two neighbouring leaves takes the single form
    too (``_delete_across``, ``_move_across``) and equals the batch form; the base never changes."""
    events: List[Tuple[Any, bool]] = []
    for i in range(120):  # small subtrees of 1..4 nodes under one root each
        events += [(i, True)] + [(None, True), (None, False)] * (i % 4) + [(None, False)]
    t = Tree.from_events(events, block_size=block_size)
    before = list(t.events())
    ix = t.order_index
    rows = ix.nodes
    tops = list(t.children(None))
    across = [n for n in tops if rows.row(n).open_leaf != rows.row(n).close_leaf]
    assert len(across) >= 10
    singles = 0
    for node in across:
        target = tops[(tops.index(node) + 60) % len(tops)]
        deleted = ix.single_delete(node)
        moved = ix.single_move_last_child(node, target)
        singles += (deleted is not None) + (moved is not None)
        for run, fast in ((lambda q, n=node: q.delete(n), deleted), (lambda q, n=node, p=target: q.move(n, p), moved)):
            mine, error, batch, batch_error = _both(t, run)
            assert error is None and batch_error is None
            assert mine == batch[0]
            mine.check()
            if fast is not None:
                assert Tree.from_order_index(fast) == mine
    assert singles >= 5  # the single forms ran (others leave a leaf under half full: the batch form)
    assert list(t.events()) == before
    t.check()


def test_subtrees_over_three_leaves_take_the_batch_form() -> None:
    """A subtree whose end leaves are not neighbours (a whole leaf of its bounds lies between them) is
    left to the batch form, even when both end leaves would keep half their entries."""
    # Full leaves of 8 bounds: two top-level nodes (bounds 0..3), then node 2 with 7 children (bounds
    # 4..19: the tail of leaf 0, all of leaf 1, the head of leaf 2), then 12 more top-level nodes.
    events: List[Tuple[Any, bool]] = [("a", True), (None, False), ("b", True), (None, False), ("wide", True)]
    events += [(None, True), (None, False)] * 7 + [(None, False)]
    for i in range(12):
        events += [(i, True), (None, False)]
    t = Tree.from_events(events, block_size=8, fill=1.0)
    ix = t.order_index
    wide = 2
    row = ix.nodes.row(wide)
    first, last = ix.blocks[row.open_leaf].items, ix.blocks[row.close_leaf].items
    assert first.index(wide << 1) >= 4 and len(last) - (last.index(wide << 1 | 1) + 1) >= 4  # both keep half
    assert row.open_leaf != row.close_leaf and ix.nodes.row(wide + 4).open_leaf not in (row.open_leaf, row.close_leaf)
    target = list(t.children(None))[-1]
    assert ix.single_delete(wide) is None and ix.single_move_last_child(wide, target) is None
    for run in (lambda q: q.delete(wide), lambda q: q.move(wide, target)):
        mine, error, batch, batch_error = _both(t, run)
        assert error is None and batch_error is None and mine == batch[0]
        mine.check()


def test_a_move_over_three_leaves_with_room_at_the_target_takes_the_batch_form() -> None:
    """The moved run's length is counted in its two end leaves only: a subtree with a whole leaf between
    them must not pass for a straddle even when those counts fit the target leaf."""
    # Leaves of 6 bounds: "a", "b" (bounds 0..3), then node 2 with 4 children (bounds 4..13: two in leaf
    # 0, all of leaf 1, two in leaf 2), then 30 top-level leaves (bounds 14..73).
    events: List[Tuple[Any, bool]] = [("a", True), (None, False), ("b", True), (None, False), ("wide", True)]
    events += [(None, True), (None, False)] * 4 + [(None, False)]
    for i in range(30):
        events += [(i, True), (None, False)]
    t = Tree.from_events(events, block_size=8, fill=0.75)
    tops = list(t.children(None))
    wide = tops[2]
    spare, target = tops[3 + 8], tops[3 + 9]  # bounds 30..33, in leaf 5
    t = t.delete(spare)  # leaf 5 keeps 4 entries: room for the 4 bounds counted in the end leaves
    ix = t.order_index
    row = ix.nodes.row(wide)
    first, last = ix.blocks[row.open_leaf].items, ix.blocks[row.close_leaf].items
    assert first.index(wide << 1) == 4 and last.index(wide << 1 | 1) == 1 and len(last) == 6
    assert len(ix.blocks[ix.nodes.row(target).close_leaf].items) == 4
    assert ix.single_move_last_child(wide, target) is None
    mine, error, batch, batch_error = _both(t, lambda q: q.move(wide, target))
    assert error is None and batch_error is None and mine == batch[0]
    mine.check()
    assert mine.parent(wide) == target


def test_a_transaction_subclass_that_records_sees_every_update() -> None:
    """``Transaction`` runs insert_child, delete and move straight on its working copy only while
    ``_apply`` is its own: a subclass overriding it (a database's transaction logs there) gets them all."""
    from botree.tree.tree import Transaction
    from botree.tree.updates import Update

    class Recording(Transaction):
        __slots__ = ("seen",)

        def __init__(self, base: Tree) -> None:
            super().__init__(base)
            self.seen: List[str] = []

        def _apply(self, update: Update, args: Tuple[Any, ...]) -> Any:
            self.seen.append(update.name)
            return super()._apply(update, args)

    t, tops = chain_forest(300)
    assert Transaction._direct and not Recording._direct
    tx = Recording(t)
    node = tx.insert_child(tops[3], "x")
    tx.move(tops[5], tops[250])
    tx.delete(node)
    tx.insert_child(tops[7], "y", 0)
    assert tx.seen == ["insert_child", "move", "delete", "insert_child"]
    plain = t.transaction()
    plain.insert_child(tops[3], "x")
    plain.move(tops[5], tops[250])
    plain.delete(node)
    plain.insert_child(tops[7], "y", 0)
    assert tx.commit() == plain.commit()
