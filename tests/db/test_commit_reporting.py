"""Issue 12, items 5 and 6: listeners never make a commit look failed; compacted versions; rollback reads."""

from __future__ import annotations

import logging
from typing import Any, List

import pytest

from botree import Database
from botree.errors import ConflictError, InvalidOperation, VersionNotFound


def _raising_setup(db: Database) -> List[str]:
    calls: List[str] = []

    def first(version: int, changes: Any) -> None:
        calls.append("first")
        raise RuntimeError("listener bug")

    def second(version: int, changes: Any) -> None:
        calls.append("second")

    db.subscribe(first)
    db.subscribe(second)
    return calls


def _check_listeners(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    calls = _raising_setup(db)
    with caplog.at_level(logging.ERROR, logger="botree"):
        with db.transaction() as tx:
            node = tx.insert_child(None, "x")
    assert tx.tree is not None and tx.tree.data(node) == "x"
    assert db.version == 1 and calls == ["first", "second"]
    assert any("version 1 was committed" in r.getMessage() for r in caplog.records)
    runs: List[int] = []

    def fn(tx: Any) -> None:
        runs.append(1)
        tx.insert_child(None, "y")

    db.transact(fn)
    assert runs == [1] and db.version == 2 and len(db.tree) == 2  # not retried, not applied twice
    assert calls == ["first", "second"] * 2
    db.replace(db.tree)  # replace notifies too, and reports its version
    assert db.version == 3 and calls == ["first", "second"] * 3


def test_a_raising_listener_does_not_make_the_commit_look_failed(caplog: pytest.LogCaptureFixture) -> None:
    _check_listeners(Database(), caplog)


def test_a_raising_listener_on_storage(target: str, caplog: pytest.LogCaptureFixture) -> None:
    db = Database(target)
    try:
        _check_listeners(db, caplog)
    finally:
        db.close()


def test_as_of_and_changes_refuse_compacted_versions_in_memory() -> None:
    db = Database()
    for i in range(4):
        with db.transaction() as tx:
            tx.insert_child(None, i)
    db.compact(2)
    for bad in (0, 1, 2):
        with pytest.raises(VersionNotFound):
            db.as_of(bad)
        with pytest.raises(VersionNotFound):
            db.changes(bad, 4)
    assert db.changes(3, 4).inserted


def test_as_of_the_head_another_handle_compacted_away(target: str) -> None:
    a = Database(target)
    with a.transaction() as tx:
        tx.insert_child(None, "one")
    seen = a.version  # the head this handle last saw
    assert a.as_of(seen) == a.tree
    b = Database(target)
    for i in range(3):
        with b.transaction() as tx:
            tx.insert_child(None, i)
    b.compact(1)
    with pytest.raises(VersionNotFound):
        a.as_of(seen)
    with pytest.raises(VersionNotFound):
        a.changes(seen, b.version)
    assert a.as_of(b.version) == b.tree
    a.close()
    b.close()


def test_reads_after_rollback_see_the_starting_tree() -> None:
    db = Database()
    with db.transaction() as tx:
        a = tx.insert_child(None, "a")
    tx = db.transaction()
    tx.set_data(a, "changed")
    b = tx.insert_child(a, "b")
    tx.rollback()
    assert tx.data(a) == "a" and b not in tx and len(tx) == 1
    with pytest.raises(InvalidOperation):
        tx.insert_child(None, "z")
    with pytest.raises(RuntimeError):
        with db.transaction() as tx2:
            tx2.delete(a)
            raise RuntimeError("abort")
    assert a in tx2 and tx2.data(a) == "a" and tx2.tree is None
    with pytest.raises(InvalidOperation):
        tx2.set_data(a, "no")
    assert db.version == 1


def test_conflict_is_still_retried_by_transact() -> None:
    db = Database()
    with db.transaction() as tx:
        a = tx.insert_child(None, 0)
    runs: List[int] = []

    def bump(tx: Any) -> None:
        runs.append(1)
        if len(runs) == 1:
            with db.transaction() as other:
                other.set_data(a, 10)
        tx.set_data(a, tx.data(a) + 1)

    db.transact(bump)
    assert runs == [1, 1] and db.tree.data(a) == 11
    with pytest.raises(ConflictError):
        db.transact(lambda tx: (db.transact(lambda t: t.set_data(a, 0)), tx.set_data(a, 1)), retries=0)
