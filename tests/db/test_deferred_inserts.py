"""Deferred inserts (``DbTransaction._defer``): a transaction of a grouping store logs its leading
``insert_child`` calls without running them, and runs them the moment anything reads the working
copy or another update comes.  Nothing of this may be visible: the ids returned, the errors raised,
every read and the committed tree are those of a plain ``Transaction`` on the same snapshot.
"""

from __future__ import annotations

import os
import random
import tempfile
from typing import Any, List, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botree import Database, Tree
from botree.tree.tree import Transaction

STEP = st.tuples(
    st.sampled_from(["insert", "insert", "insert", "insert_new", "insert_bad", "insert_at", "read", "delete", "set"]),
    st.integers(0, 10**6),
)


def _base_tree(seed: int) -> Tree:
    rng = random.Random(seed)
    tree = Tree()
    with tree.transaction() as tx:
        nodes = [tx.insert_child(None, "r")]
        for i in range(40):
            nodes.append(tx.insert_child(rng.choice(nodes), i))
        tx.delete(nodes[7])  # a freed id: a deferred insert must refuse it as a parent too
    assert tx.tree is not None
    return tx.tree


def _step(tx: Any, kind: str, pick: int, node: int, made: List[int]) -> Any:
    """One step of a run: an update or a read of ``tx``."""
    if kind == "insert":
        return tx.insert_child(node, {"p": pick})
    if kind == "insert_new":  # under a node this transaction inserted, if any
        return tx.insert_child(made[pick % len(made)] if made else node, pick)
    if kind == "insert_bad":
        return tx.insert_child([-1, 10**9, True, "x", None, 7, 2.0][pick % 7], pick)
    if kind == "insert_at":
        return tx.insert_child(node, pick, 0)
    if kind == "read":
        return len(tx), list(tx.children(node)), tx.data(node)
    if kind == "delete":
        return tx.delete(node)
    return tx.set_data(node, [pick])


def _run(tx: Any, steps: List[Tuple[str, int]], made: List[int], base_ids: List[int]) -> List[Tuple[str, Any]]:
    """Each step's outcome: ("ok", result) or (exception class, message), the same on both sides."""
    out: List[Tuple[str, Any]] = []
    for kind, pick in steps:
        ids = base_ids + made
        try:
            result: Tuple[str, Any] = ("ok", _step(tx, kind, pick, ids[pick % len(ids)], made))
        except Exception as exc:
            result = (type(exc).__name__, str(exc))
        if result[0] == "ok" and kind.startswith("insert") and isinstance(result[1], int):
            made.append(result[1])
        out.append(result)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 3), st.lists(STEP, min_size=1, max_size=25))
def test_a_deferring_transaction_is_a_plain_transaction(seed: int, steps: List[Tuple[str, int]]) -> None:
    base = _base_tree(seed)
    base_ids = sorted(base.preorder())
    with tempfile.TemporaryDirectory() as directory:
        with Database(os.path.join(directory, "t.db")) as db:
            db.replace(base)
            tx = db.transaction()
            deferred_at_first = None
            mine = _run(tx, steps[:1], made_db := [], base_ids)
            deferred_at_first = len(tx._pending)
            mine += _run(tx, steps[1:], made_db, base_ids)
            plain = Transaction(db.tree, fresh_ids=True)
            theirs = _run(plain, steps, [], base_ids)
            assert mine == theirs
            if steps[0][0] == "insert" and mine[0][0] == "ok":
                assert deferred_at_first == 1  # the first valid insert was deferred, not run
            expected = plain.commit().to_parent_table()
            stored = tx.commit()
            assert stored.to_parent_table() == expected
            assert tx.ids == {n: n for n in made_db}
            stored.check()
        with Database(os.path.join(directory, "t.db")) as again:
            assert again.tree.to_parent_table() == expected


def _two_deferred(db: Database) -> Tuple[Any, int, Tuple[int, int]]:
    """A committed root, then an open transaction holding two deferred inserts: x under the root, y under x."""
    with db.transaction() as tx:
        root = tx.insert_child(None, "root")
    tx = db.transaction()
    x = tx.insert_child(root, "x")
    y = tx.insert_child(x, "y")
    assert len(tx._pending) == 2
    return tx, root, (x, y)


def test_reads_run_the_deferred_inserts_first_and_rollback_drops_them(tmp_path: Any) -> None:
    with Database(str(tmp_path / "t.db")) as db:
        tx, root, (a, b) = _two_deferred(db)
        assert list(tx.children(root)) == [a] and tx.data(b) == "y" and tx.parent(b) == a
        assert tx._pending == []
        c = tx.insert_child(root, "c")  # after a read: run at once
        assert tx._pending == [] and list(tx.children(root)) == [a, c]
        tx2 = db.transaction()
        d = tx2.insert_child(root, "d")
        assert len(tx2._pending) == 1
        tx2.rollback()
        assert len(tx2) == 1 and d not in tx2
        tx.commit()
        assert list(db.tree.children(root)) == [a, c]


@pytest.mark.parametrize("config", [{"key": "k"}, {"fields": ("f",)}])
def test_keyed_and_indexed_trees_do_not_defer(tmp_path: Any, config: Any) -> None:
    with Database(str(tmp_path / "t.db"), **config) as db:
        with db.transaction() as tx:
            root = tx.insert_child(None, {"k": 1, "f": 1})
        with db.transaction() as tx:
            tx.insert_child(root, {"k": 2, "f": 2})
            assert tx._pending == []
        assert len(db.tree) == 2


def test_a_deferred_transaction_served_by_another_writer_maps_its_ids(tmp_path: Any) -> None:
    """A transaction whose inserts never ran here: another object's group stores it, ids mapped."""
    path = str(tmp_path / "t.db")
    with Database(path) as db, Database(path) as other:
        mine, root, (x, y) = _two_deferred(db)
        with other.transaction() as theirs:  # takes the ids x and y would have had
            taken = [theirs.insert_child(root, ("t", i)) for i in range(3)]
        assert x in taken
        mine.commit()
        assert len(mine._pending) == 2  # replayed on the newer head, never run on the snapshot
        new_x, new_y = mine.ids[x], mine.ids[y]
        tree = db.tree
        assert tree.data(new_x) == "x" and tree.parent(new_y) == new_x and tree.data(new_y) == "y"
        assert sorted(tree.children(root)) == sorted([*taken, new_x])
        tree.check()
