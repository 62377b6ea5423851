"""Issue 12, item 1: a rebased update lands on the node it named or raises ConflictError.

Within one Database a node id never names two nodes in any kept version: commits
(and rebases) never reuse a freed id.
"""

from __future__ import annotations

import itertools
import os
from typing import Any, Dict, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botree import Database, Tree
from botree.errors import ConflictError


def reproduce(db: Database, other: Database, reuse_then_name: bool) -> int:
    """The issue's setup: tx2 deletes P, then names X, which a concurrent commit moved under P.

    ``reuse_then_name``: tx2 also inserts a node (where the old code reused P's id)
    and inserts under X; otherwise it sets X's data.  Returns X.
    """
    with db.transaction() as tx:
        p = tx.insert_child(None, "P")
        x = tx.insert_child(None, "X")
    tx2 = db.transaction()
    tx2.delete(p)
    if reuse_then_name:
        assert tx2.insert_child(None, "new") != p  # a Database transaction does not reuse P's id
        tx2.insert_child(x, "child of X")
    else:
        tx2.set_data(x, "X2")
    with other.transaction() as o:
        o.move(x, p)
    version, tree = db.snapshot()
    with pytest.raises(ConflictError, match=f"node {x}"):
        tx2.commit()
    assert db.snapshot() == (version, tree) and version == 2  # nothing committed
    assert [tree.data(n) for n in tree.preorder()] == ["P", "X"]
    return x


@pytest.mark.parametrize("reuse_then_name", [True, False])
def test_the_issue_reproduction_raises_conflict_and_commits_nothing(reuse_then_name: bool) -> None:
    db = Database()
    reproduce(db, db, reuse_then_name)  # False: the replay deleted X itself, then names it


@pytest.mark.parametrize("reuse_then_name", [True, False])
def test_the_reproduction_on_storage(target: str, reuse_then_name: bool) -> None:
    db = Database(target)
    other = Database(target)
    try:
        reproduce(db, other, reuse_then_name)
    finally:
        other.close()
        db.close()


def test_plain_trees_still_reuse_ids_and_replace_keeps_its_own() -> None:
    t, a = Tree().insert_child(None, "a")
    t = t.delete(a)
    t, b = t.insert_child(None, "b")
    assert b == a  # documented: a plain Tree reuses freed ids
    db = Database()
    with db.transaction() as tx:
        first = tx.insert_child(None, "first")
    db.replace(t)
    assert db.tree.data(b) == "b"  # replace installs the tree's own ids
    with db.transaction() as tx:
        later = tx.insert_child(None, "later")
    assert later not in (first, b)


# -- the property: random concurrent transactions against a model keyed by node identity -----

Model = Tuple[Dict[Optional[int], List[int]], Dict[int, Any]]  # children by uid, value by uid


def model_of(tree: Tree) -> Model:
    children: Dict[Optional[int], List[int]] = {None: []}
    values: Dict[int, Any] = {}
    for node in tree.preorder():
        uid = tree.data(node)["uid"]
        children.setdefault(uid, [])
        parent = tree.parent(node)
        children[None if parent is None else tree.data(parent)["uid"]].append(uid)
        values[uid] = tree.data(node)["v"]
    return children, values


def subtree(children: Dict[Optional[int], List[int]], uid: int) -> List[int]:
    out, stack = [], [uid]
    while stack:
        u = stack.pop()
        out.append(u)
        stack.extend(children[u])
    return out


def apply_model(model: Model, op: Tuple[Any, ...], data_changed: set, own: set) -> bool:
    """Apply one logical op to the model; False when the replay must refuse it."""
    children, values = model
    parent_of = {c: p for p, cs in children.items() for c in cs}
    kind = op[0]
    if kind == "insert":
        _, parent, uid, index = op
        if parent is not None and parent not in values:
            return False
        kids = children[parent]
        kids.insert(len(kids) if index == -1 else 0, uid)
        children[uid] = []
        values[uid] = 0
    elif kind == "delete":
        uid = op[1]
        if uid not in values:
            return False
        children[parent_of[uid]].remove(uid)
        for u in subtree(children, uid):
            del children[u], values[u]
    elif kind == "move":
        _, uid, parent, index = op
        if uid not in values or (parent is not None and parent not in values):
            return False
        if parent is not None and parent in subtree(children, uid):
            return False
        children[parent_of[uid]].remove(uid)
        kids = children[parent]
        kids.insert(len(kids) if index == -1 else 0, uid)
    else:
        _, uid, value = op
        if uid not in values or (uid in data_changed and uid not in own):
            return False
        values[uid] = value
    return True


def run_concurrent(db: Database, data: Any, uids: "itertools.count[int]") -> None:
    seen: Dict[int, int] = {}  # node id -> uid, over every committed version

    def note(tree: Tree) -> None:
        tree.check()
        for node in tree.preorder():
            assert seen.setdefault(node, tree.data(node)["uid"]) == tree.data(node)["uid"], "an id was reused"

    with db.transaction() as tx:
        for _ in range(data.draw(st.integers(1, 6), label="initial")):
            nodes = list(tx.preorder())
            parent = data.draw(st.sampled_from([None, *nodes]))
            tx.insert_child(parent, {"uid": next(uids), "v": 0})
    note(db.tree)
    count = data.draw(st.integers(2, 3), label="transactions")
    txs = [db.transaction() for _ in range(count)]
    plans: List[List[Tuple[Any, ...]]] = []
    for tx in txs:
        plan: List[Tuple[Any, ...]] = []
        for _ in range(data.draw(st.integers(1, 5))):
            by_uid = {tx.data(n)["uid"]: n for n in tx.preorder()}
            kind = data.draw(st.sampled_from(["insert", "delete", "move", "set"]) if by_uid else st.just("insert"))
            if kind == "insert":
                parent = data.draw(st.sampled_from([None, *by_uid]))
                uid, index = next(uids), data.draw(st.sampled_from([0, -1]))
                tx.insert_child(None if parent is None else by_uid[parent], {"uid": uid, "v": 0}, index)
                plan.append(("insert", parent, uid, index))
            elif kind == "delete":
                uid = data.draw(st.sampled_from(sorted(by_uid)))
                tx.delete(by_uid[uid])
                plan.append(("delete", uid))
            elif kind == "move":
                uid = data.draw(st.sampled_from(sorted(by_uid)))
                node = by_uid[uid]
                targets = [u for u, n in by_uid.items() if n != node and not tx.is_descendant(n, node)]
                parent = data.draw(st.sampled_from([None, *targets]))
                index = data.draw(st.sampled_from([0, -1]))
                tx.move(node, None if parent is None else by_uid[parent], index)
                plan.append(("move", uid, parent, index))
            else:
                uid = data.draw(st.sampled_from(sorted(by_uid)))
                value = next(uids)
                tx.set_data(by_uid[uid], {"uid": uid, "v": value})
                plan.append(("set", uid, value))
        plans.append(plan)
    order = data.draw(st.permutations(range(count)), label="commit order")
    base = db.version
    data_changed: set = set()
    for i in order:
        version, head = db.snapshot()
        model = model_of(head)
        own = {op[2] for op in plans[i] if op[0] == "insert"}
        fits = all(apply_model(model, op, data_changed if version != base else set(), own) for op in plans[i])
        if fits:
            tree = txs[i].commit()
            assert db.version == version + 1 and db.tree == tree
            assert model_of(tree) == model  # every update landed where it was aimed
            for op in plans[i]:
                if op[0] == "insert" and op[2] in model[1]:  # inserted and still there
                    assert tree.data(txs[i].ids[_local_id(txs[i], op[2])])["uid"] == op[2]
            data_changed |= {op[1] for op in plans[i] if op[0] == "set"}
            note(tree)
        else:
            with pytest.raises(ConflictError):
                txs[i].commit()
            assert db.snapshot()[0] == version and db.tree == head


def _local_id(tx: Any, uid: int) -> int:
    """The id the transaction handed out for the node it inserted with ``uid``."""
    for name, args, result in tx.ops:
        if name == "insert_child" and args[1]["uid"] == uid:
            return int(result)
    raise AssertionError(uid)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_concurrent_transactions_land_where_aimed_or_conflict(data: Any) -> None:
    run_concurrent(Database(), data, itertools.count())


_files = itertools.count()


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_concurrent_transactions_on_sqlite(tmp_path: Any, data: Any) -> None:
    db = Database(os.path.join(str(tmp_path), f"c{next(_files)}.db"))
    try:
        run_concurrent(db, data, itertools.count())
    finally:
        db.close()


def test_ids_are_not_reused_after_compact_within_kept_versions() -> None:
    db = Database()
    seen: Dict[int, str] = {}
    for round_no in range(30):
        with db.transaction() as tx:
            for node in list(tx.roots())[:2]:
                tx.delete(node)
            for k in range(3):
                tx.insert_child(None, f"{round_no}.{k}")
        if round_no % 7 == 6:
            db.compact(3)
        for node in db.tree.preorder():
            assert seen.setdefault(node, db.tree.data(node)) == db.tree.data(node)
    assert db.replay() == db.tree
