"""``Transaction.sync``: a forest made equal to a target by a key field, with only the real differences.

The reference is a model of keyed forests as nested ``(key, data, children)`` lists and,
for what moved, the lead's ``Tree.diff`` (``botree.tree.diff``).  ``tests/db/test_sync.py``
runs the same pairs through databases (memory, SQLite, PostgreSQL).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botree import Transaction, Tree
from botree.errors import DuplicateKey, InvalidArgument, InvalidKey, InvalidOperation
from botree.tree.diff import Changes
from botree.tree.sync import SyncReport
from botree.tree.updates import Update

# Ints and strs that look alike: a key 0 is never the key "0", nor node 0.
KEYS: List[Any] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, "0", "1", "a", "b", "c"]

Nested = List[Tuple[Any, Any, list]]  # type: ignore[type-arg]


def nested(tree: Any, key: str = "id") -> Nested:
    """The forest as ``[(key, data, [children...]), ...]``, built without recursion."""
    top: Nested = []
    kids: Dict[int, Nested] = {}
    for node, parent, _ in tree.places():
        entry: Tuple[Any, Any, Nested] = (tree.data(node)[key], tree.data(node), [])
        kids[node] = entry[2]
        (top if parent is None else kids[parent]).append(entry)
    return top


def from_rows(rows: List[Tuple[Any, Optional[Any], int]]) -> Tree:
    """A forest from (key, parent key, value) rows in input order (parents come first)."""
    return Tree.from_parent_table(
        [{"k": k, "p": p, "d": {"id": k, "v": v}} for k, p, v in rows], id="k", parent="p", data="d"
    )


@st.composite
def forests(draw: st.DrawFn, keys: Optional[List[Any]] = None) -> Tree:
    """A random keyed forest: random keys of KEYS, shape, sibling order and data."""
    chosen = draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=len(KEYS))) if keys is None else keys
    rows: List[Tuple[Any, Optional[Any], int]] = []
    for i, k in enumerate(chosen):
        parent = draw(st.one_of(st.none(), st.sampled_from(chosen[:i]))) if i else None
        rows.append((k, parent, draw(st.integers(0, 2))))
    # Shuffle siblings: from_parent_table keeps input order among siblings, parents need not come first.
    order = draw(st.permutations(range(len(rows))))
    return from_rows([rows[i] for i in order])


@st.composite
def edited(draw: st.DrawFn, base: Tree) -> Tree:
    """``base`` after a few random edits (moves, inserts, deletes, unwraps, data), rebuilt with new node ids."""
    tree = base
    fresh = [k for k in KEYS if k not in {tree.data(n)["id"] for n in tree.preorder()}]
    for _ in range(draw(st.integers(0, 6))):
        nodes = list(tree.preorder())
        kind = draw(st.sampled_from(["move", "insert", "delete", "unwrap", "data", "reorder"]))
        if kind == "insert" and fresh:
            parent = draw(st.one_of(st.none(), st.sampled_from(nodes))) if nodes else None
            size = sum(1 for _ in tree.children(parent))
            tree, _ = tree.insert_child(parent, {"id": fresh.pop(), "v": draw(st.integers(0, 2))},
                                        draw(st.integers(0, size)))
        elif not nodes:
            continue
        elif kind == "delete":
            tree = tree.delete(draw(st.sampled_from(nodes)))
        elif kind == "unwrap":  # its children stay: a deleted key whose children survive
            tree = tree.unwrap(draw(st.sampled_from(nodes)))
        elif kind == "data":
            node = draw(st.sampled_from(nodes))
            tree = tree.set_data(node, {"id": tree.data(node)["id"], "v": draw(st.integers(0, 3))})
        else:
            node = draw(st.sampled_from(nodes))
            parent = tree.parent(node) if kind == "reorder" else draw(st.one_of(st.none(), st.sampled_from(nodes)))
            if parent == node or (parent is not None and tree.is_descendant(parent, node)):
                continue
            size = sum(1 for n in tree.children(parent) if n != node)
            tree = tree.move(node, parent, draw(st.integers(0, size)))
    return Tree.from_events(tree.data_events())


@st.composite
def pairs(draw: st.DrawFn) -> Tuple[Tree, Tree]:
    """(A, B): independent random forests over overlapping keys, or B a few edits away from A."""
    a = draw(forests())
    b = draw(st.one_of(forests(), edited(a)))
    return a, b


# -- the expected differences, from the keyed model --------------------------------------


def _places(tree: Tree) -> Tuple[Dict[Any, Any], Dict[Any, List[Any]], Dict[Any, Any]]:
    """key -> parent key, parent key -> child keys in order, key -> data."""
    parent: Dict[Any, Any] = {}
    kids: Dict[Any, List[Any]] = {}
    data: Dict[Any, Any] = {}
    for node, p, _ in tree.places():
        k = tree.data(node)["id"]
        parent[k] = None if p is None else tree.data(p)["id"]
        kids.setdefault(parent[k], []).append(k)
        data[k] = tree.data(node)
    return parent, kids, data


def _longest_common_order(first: List[Any], second: List[Any]) -> int:
    """Length of a longest common subsequence of two orders of the same keys (quadratic DP)."""
    rows = [[0] * (len(second) + 1) for _ in range(len(first) + 1)]
    for i, x in enumerate(first):
        for j, y in enumerate(second):
            rows[i + 1][j + 1] = rows[i][j] + 1 if x == y else max(rows[i][j + 1], rows[i + 1][j])
    return rows[-1][-1]


def check_changes(a: Tree, b: Tree, old: Tree, new: Tree, changes: Changes) -> None:
    """``changes`` (from ``old``, holding A, to ``new``, holding B) lists exactly the real differences.

    By key: inserted = keys only in B, deleted = keys only in A, data_changed = keys in
    both with unequal data, and moved = keys in both whose parent key differs, plus,
    under each parent, the fewest of the siblings that kept that parent whose
    relative order changed: those outside a longest run kept in order.  Which
    longest run is not unique, so the test asserts the count per parent and that
    the siblings not reported keep their relative order.  Siblings that shift only
    because others were inserted, deleted or moved around them are not reported.
    """
    pa, kids_a, da = _places(a)
    pb, kids_b, db_ = _places(b)
    key_old = {n: old.data(n)["id"] for n in old.preorder()}
    key_new = {n: new.data(n)["id"] for n in new.preorder()}
    assert sorted(map(repr, (key_new[n] for n in changes.inserted))) == sorted(map(repr, set(pb) - set(pa)))
    assert sorted(map(repr, (key_old[n] for n in changes.deleted))) == sorted(map(repr, set(pa) - set(pb)))
    common = set(pa) & set(pb)
    assert {key_old[n] for n in changes.data_changed} == {k for k in common if da[k] != db_[k]}
    moved = {key_old[n] for n in changes.moved}
    assert all(key_new[n] == key_old[n] for n in changes.moved)  # nodes kept their ids
    reparented = {k for k in common if pa[k] != pb[k]}
    assert reparented <= moved
    for parent in {pa[k] for k in common if pa[k] == pb[k]}:
        kept_a = [k for k in kids_a[parent] if k in common and pb[k] == parent]
        kept_b = [k for k in kids_b[parent] if k in common and pa[k] == parent]
        reordered = [k for k in kept_b if k in moved]
        assert len(reordered) == len(kept_b) - _longest_common_order(kept_a, kept_b)
        assert [k for k in kept_a if k not in moved] == [k for k in kept_b if k not in moved]
    assert moved - reparented <= {k for k in common if pa[k] == pb[k]}


def same_report(report: SyncReport, changes: Changes) -> None:
    assert (report.inserted, report.deleted, report.moved, report.changed) == (
        len(changes.inserted), len(changes.deleted), len(changes.moved), len(changes.data_changed)
    )


class Recording(Transaction):
    """A transaction that notes every update it runs (name, arguments)."""

    __slots__ = ("ops",)

    def __init__(self, base: Tree) -> None:
        super().__init__(base, fresh_ids=True)
        self.ops: List[Tuple[str, Tuple[Any, ...]]] = []

    def _apply(self, update: Update, args: Tuple[Any, ...]) -> Any:
        self.ops.append((update.name, args))
        return super()._apply(update, args)


def synced(a: Tree, b: Tree) -> Tuple[Tree, SyncReport, List[Tuple[str, Tuple[Any, ...]]]]:
    tx = Recording(a)
    with tx:
        report = tx.sync(b, key="id")
    assert tx.tree is not None
    return tx.tree, report, tx.ops


# -- properties ---------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs(), st.booleans())
def test_sync_makes_the_forest_equal_to_the_target_with_only_the_real_differences(
    pair: Tuple[Tree, Tree], keyed: bool
) -> None:
    a, b = pair
    if keyed:  # a keyed tree: its key index checks uniqueness at every update of the sync
        a = Tree.from_events(a.data_events(), key="id")
    new, report, ops = synced(a, b)
    new.check()
    assert new.key == ("id" if keyed else None)
    assert nested(new) == nested(b)
    changes = a.diff(new)
    check_changes(a, b, a, new, changes)
    same_report(report, changes)
    # Each update names a node that really changed: moves are the moved nodes, set_data the re-valued ones.
    assert {args[0] for name, args in ops if name in ("move", "move_after")} == set(changes.moved)
    assert sorted(args[0] for name, args in ops if name == "set_data") == changes.data_changed
    assert sum(1 for name, _ in ops if name.startswith("insert")) == len(changes.inserted)
    assert {name for name, _ in ops} <= {"delete", "insert_child", "insert_after", "move", "move_after", "set_data"}
    # Synced again, or with an equal forest built afresh (other node ids), nothing happens.
    again, report2, ops2 = synced(new, Tree.from_events(b.data_events()))
    assert ops2 == [] and not report2 and again == new


@settings(max_examples=100, deadline=None)
@given(forests())
def test_an_equal_forest_yields_no_update(a: Tree) -> None:
    rebuilt = Tree.from_events(a.data_events())
    new, report, ops = synced(a, rebuilt)
    assert ops == [] and report == SyncReport() and new == a


# -- examples --------------------------------------------------------------------------------


def test_a_sibling_before_a_deleted_one_and_a_moved_one_stays_put() -> None:
    a = from_rows([("r", None, 0), (1, "r", 0), (2, "r", 0), (3, "r", 0), (4, "r", 0), (5, 2, 0)])
    # 2 goes (its child 5 moves up first), 4 moves to the front, 1 and 3 keep their order.
    b = from_rows([("r", None, 0), (4, "r", 0), (1, "r", 0), (5, "r", 0), (3, "r", 0)])
    new, report, ops = synced(a, b)
    assert nested(new) == nested(b)
    node = {a.data(n)["id"]: n for n in a.preorder()}
    assert report == SyncReport(inserted=0, deleted=1, moved=2, changed=0)
    assert ops == [("move", (node[4], node["r"], 0)), ("move_after", (node[5], node[1])), ("delete", (node[2],))]


def test_doomed_subtrees_without_survivors_go_first_in_one_delete() -> None:
    a = from_rows([(1, None, 0), (2, 1, 0), (3, 2, 0), (4, 2, 0), (5, None, 0)])
    b = from_rows([(5, None, 0)])
    new, report, ops = synced(a, b)
    assert nested(new) == nested(b) and report == SyncReport(deleted=4)
    assert ops == [("delete", (0,))]


def test_int_and_str_keys_are_different_keys_and_not_node_ids() -> None:
    a = from_rows([(0, None, 0), ("0", None, 0), (1, None, 0)])
    b = from_rows([("0", None, 1), (1, None, 0), (0, None, 0)])
    new, report, _ = synced(a, b)
    assert nested(new) == nested(b)
    assert report == SyncReport(moved=1, changed=1)


def test_an_empty_target_deletes_everything_and_an_empty_forest_gets_everything() -> None:
    a = from_rows([(1, None, 0), (2, 1, 0), (3, None, 0)])
    emptied, report, _ = synced(a, Tree())
    assert len(emptied) == 0 and report == SyncReport(deleted=3)
    filled, report, ops = synced(Tree(), a)
    assert nested(filled) == nested(a) and report == SyncReport(inserted=3)
    assert [name for name, _ in ops] == ["insert_child", "insert_child", "insert_after"]


def test_a_chain_far_deeper_than_the_recursion_limit() -> None:
    depth = 5000
    a = from_rows([(i, i - 1 if i else None, 0) for i in range(depth)])
    b = from_rows([(i, i - 1 if i else None, 1 if i == depth - 1 else 0) for i in range(depth)] + [(-1, None, 0)])
    new, report, _ = synced(a, b)
    assert report == SyncReport(inserted=1, changed=1)
    assert new.size(0) == depth and new.data(new.at_rank(-1))["id"] == -1


def test_sync_reads_the_key_through_the_transaction_it_was_given() -> None:
    a = from_rows([(1, None, 0), (2, None, 0)])
    with a.transaction() as tx:
        tx.delete(1)
        report = tx.sync(from_rows([(1, None, 0), (2, None, 0)]), key="id")
    assert report == SyncReport(inserted=1)
    assert tx.tree is not None and nested(tx.tree) == nested(a)


BAD_TARGETS = [
    ([{"id": 1}, {"name": "no key"}], InvalidKey, "the target's node 1 has no key field 'id'"),
    ([{"id": 1}, {"id": True}], InvalidKey, "must be an int or a str, not bool"),
    ([{"id": 1}, {"id": 2.0}], InvalidKey, "must be an int or a str, not float"),
    ([{"id": 1}, {"id": None}], InvalidKey, "must be an int or a str, not NoneType"),
    ([{"id": 1}, "not a mapping"], InvalidKey, "no key field"),
    ([{"id": 1}, {"id": 1}], DuplicateKey, "the target's nodes 0 and 1 both hold the key id=1"),
]


@pytest.mark.parametrize("datas, error, message", BAD_TARGETS)
def test_bad_keys_in_the_target_raise_before_any_update(datas: List[Any], error: type, message: str) -> None:
    a = from_rows([(1, None, 0), (2, 1, 0)])
    target = Tree()
    for data in datas:
        target, _ = target.insert_child(None, data)
    tx = Recording(a)
    with pytest.raises(error, match=message):
        tx.sync(target, key="id")
    assert tx.ops == [] and tx.commit() == a


@pytest.mark.parametrize("bad", [True, 1.0, None])
def test_a_bad_key_raises_even_when_the_target_equals_the_forest(bad: Any) -> None:
    a = Tree().insert_child(None, {"id": bad})[0]  # {"id": True} == {"id": 1}: equal data, but not a key
    with pytest.raises(InvalidKey, match="must be an int or a str"):
        synced(a, Tree().insert_child(None, {"id": bad})[0])
    with pytest.raises(InvalidKey, match="current tree's node 0"):
        synced(a, Tree().insert_child(None, {"id": 1})[0])


def test_a_repeated_key_raises_even_when_the_target_equals_the_forest() -> None:
    a = from_rows([(1, None, 0)]).insert_child(None, {"id": 1, "v": 0})[0]
    with pytest.raises(DuplicateKey, match="current tree's nodes 0 and 1"):
        synced(a, Tree.from_events(a.data_events()))


def test_bad_keys_in_the_current_forest_raise_before_any_update() -> None:
    a = from_rows([(1, None, 0), (2, 1, 0)])
    a, _ = a.insert_child(None, {"id": 2})
    tx = Recording(a)
    with pytest.raises(DuplicateKey, match="current tree's nodes 1 and 2 both hold the key id=2"):
        tx.sync(from_rows([(1, None, 0)]), key="id")
    assert tx.ops == []


@pytest.mark.parametrize("key", ["", 3, b"id"])
def test_the_key_field_must_be_named(key: Any) -> None:
    with pytest.raises(InvalidArgument, match="key must be a field name"):
        Transaction(Tree()).sync(Tree(), key=key)
    with pytest.raises(InvalidArgument, match="no key field: sync needs one"):
        Transaction(Tree()).sync(Tree())


def test_a_keyed_tree_syncs_by_its_own_key_and_no_other() -> None:
    a = Tree.from_events(from_rows([(1, None, 0), (2, 1, 0), ("x", None, 0)]).data_events(), key="id")
    b = from_rows([("x", None, 1), (1, None, 0), (3, 1, 0)])
    with a.transaction() as tx:
        with pytest.raises(InvalidArgument, match="key field is 'id': it cannot sync by 'v'"):
            tx.sync(b, key="v")
        report = tx.sync(b)
        assert tx.node_of(1) == 0 and tx.node_of("x") == 2 and tx.key_of(tx.node_of(3)) == 3  # survivors keep ids
    assert report == SyncReport(inserted=1, deleted=1, moved=1, changed=1)
    assert tx.tree is not None and tx.tree.key == "id" and nested(tx.tree) == nested(b)
    tx.tree.check()


def test_the_target_must_be_a_tree() -> None:
    with pytest.raises(InvalidArgument, match="needs a target Tree"):
        Transaction(Tree()).sync([{"id": 1}], key="id")  # type: ignore[arg-type]


def test_a_closed_transaction_refuses_to_sync() -> None:
    tx = Transaction(Tree())
    tx.commit()
    with pytest.raises(InvalidOperation, match="already been committed"):
        tx.sync(Tree(), key="id")
