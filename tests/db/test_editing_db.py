"""copy, graft, sort_children and reorder_children through a Database: logged, replayed, rebased, stored."""

from __future__ import annotations

import random
from typing import List

import pytest

from botree import Database, Tree
from botree.errors import ConflictError, InvalidArgument
from tests.db.test_database import editing_update, random_update

SOURCE = Tree.from_events([("g", True), ("g1", True), (None, False), ("g2", True), (None, False), (None, False)])


def start(db: Database) -> List[int]:
    with db.transaction() as tx:
        a = tx.insert_child(None, {"n": "a"})
        b = tx.insert_child(a, {"n": "b"})
        c = tx.insert_child(a, {"n": "c"})
        d = tx.insert_child(None, {"n": "d"})
    return [a, b, c, d]


def check_db(db: Database) -> None:
    db.tree.check()
    assert db.replay() == db.tree
    for v1 in range(db.version + 1):
        for v2 in range(v1, db.version + 1):
            assert db.changes(v1, v2) == db.as_of(v1).diff(db.as_of(v2)), (v1, v2)


def test_the_logs_hold_storable_forms() -> None:
    db = Database()
    a, b, c, d = start(db)
    with db.transaction() as tx:
        root = tx.copy(a, d)
        grafted = tx.graft(SOURCE, 0, None, 0)
        tx.sort_children(a, key=lambda data: data["n"], reverse=True)
    names = [(name, result) for name, _, result in db.history()[-1].ops or ()]
    assert [n for n, _ in names] == ["insert_subtree", "insert_subtree", "reorder_children"]
    assert names[0][1] == list(db.tree.preorder(root)) and names[1][1] == list(db.tree.preorder(grafted))
    assert db.history()[-1].ops[2][1] == (a, [c, b])  # type: ignore[index]
    assert tx.ids == {n: n for n in [*names[0][1], *names[1][1]]}
    check_db(db)
    with pytest.raises(InvalidArgument):  # data a database cannot store: refused before any change
        with db.transaction() as tx2:
            tx2.graft(Tree().insert_child(None, object())[0], 0, None)


def test_a_copy_rebased_over_a_concurrent_commit_maps_every_copied_id() -> None:
    db = Database()
    a, b, c, d = start(db)
    tx = db.transaction()
    root = tx.copy(a, d, 0)
    copied_b, copied_c = list(tx.children(root))
    tx.set_data(copied_c, {"n": "c2"})
    tx.insert_child(copied_b, {"n": "under b copy"})
    tx.sort_children(root, key="n", reverse=True)
    with db.transaction() as other:  # concurrent: takes the ids the copy used, and changes the source
        taken = [other.insert_child(None, {"n": f"x{i}"}) for i in range(4)]
        other.set_data(b, {"n": "b changed"})
        other.insert_child(d, {"n": "d's new child"}, 0)
    assert set(taken) & {root, copied_b, copied_c}  # the same ids: only the mapping tells them apart
    tree = tx.commit()
    new_root = tx.ids[root]
    assert set(tx.ids) >= {root, copied_b, copied_c} and new_root not in taken
    assert list(tree.children(d))[:2] == [new_root, list(tree.children(d))[1]]
    # the copy is what the transaction copied (snapshot isolation), its later updates landed on it
    assert [tree.data(n)["n"] for n in tree.children(new_root)] == ["c2", "b"]
    assert tree.data(tx.ids[copied_c]) == {"n": "c2"}
    assert [tree.data(n)["n"] for n in tree.children(tx.ids[copied_b])] == ["under b copy"]
    check_db(db)


def test_a_rebased_reorder_keeps_concurrent_children_and_conflicts_on_deleted_ones() -> None:
    db = Database()
    a, b, c, d = start(db)
    tx = db.transaction()
    tx.sort_children(a, key="n", reverse=True)
    with db.transaction() as other:
        e = other.insert_child(a, {"n": "e"}, 1)
    tree = tx.commit()
    assert list(tree.children(a)) == [c, e, b]  # c and b swapped their places; e kept its own
    check_db(db)
    tx2 = db.transaction()
    tx2.reorder_children(a, [b, c])
    with db.transaction() as other:
        other.delete(b)
    with pytest.raises(ConflictError, match=f"node {b}"):
        tx2.commit()
    tx3 = db.transaction()
    tx3.reorder_children(a, [e, c])
    with db.transaction() as other:
        other.move(e, d)
    with pytest.raises(ConflictError, match="reorder_children"):
        tx3.commit()
    check_db(db)


def random_history(db: Database, seed: int, rounds: int) -> None:
    rnd = random.Random(seed)
    counter = [0]
    for _ in range(rounds):
        with db.transaction() as tx:
            for _ in range(rnd.randint(1, 4)):
                nodes = list(tx.preorder())
                if nodes and rnd.random() < 0.5:
                    editing_update(tx, rnd, counter, nodes, rnd.choice(nodes))
                else:
                    random_update(tx, rnd, counter)


def test_random_editing_histories_replay_and_diff_in_memory() -> None:
    db = Database(block_size=4)
    random_history(db, 11, 60)
    check_db(db)


def test_stored_editing_history_reopens_equal(target: str) -> None:
    db = Database(target, block_size=4)
    try:
        a, b, c, d = start(db)
        tx = db.transaction()
        root = tx.copy(a, None)
        tx.graft(SOURCE, 0, root)
        tx.sort_children(None, key=lambda data: data["n"] if type(data) is dict else "")
        with db.transaction() as other:
            other.insert_child(b, {"n": "concurrent"})
        tx.commit()
        random_history(db, 5, 15)
        tree, history = db.tree, [(c.version, c.ops) for c in db.history()]
        check_db(db)
    finally:
        db.close()
    again = Database(target)
    try:
        assert again.tree == tree
        assert [(c.version, c.ops) for c in again.history()] == history
        assert again.replay() == tree
        assert again.changes(0, again.version) == again.as_of(0).diff(tree)
    finally:
        again.close()


def test_rebased_copy_of_a_concurrently_deleted_source_still_lands() -> None:
    db = Database()
    a, b, c, d = start(db)
    tx = db.transaction()
    root = tx.copy(b, d)
    with db.transaction() as other:
        other.delete(a)
    tree = tx.commit()
    assert tree.data(tx.ids[root]) == {"n": "b"} and b not in tree
    check_db(db)


