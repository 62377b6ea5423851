"""The head read also says whether branch tables exist (``Store.head``), and brings the new commit
rows (``Store.head_and_commits``): one statement, not four.

A refresh after another process's commit used to ask ``meta`` twice more (once for the
handle's branch check, once for the lineage of the commits it read), then read the commits.  These tests count
the statements, and check that a branch another handle creates without moving the head
is still seen: by reads, and by a commit on main, which must then move main's branch row.
"""

from __future__ import annotations

import os
from typing import Any, List

from botree import Database
from botree.storage.sqlite import SQLiteStore


def _traced(db: Database) -> List[str]:
    """Every statement ``db``'s SQLite connection runs from now on."""
    store = db._store  # type: ignore[attr-defined]
    assert isinstance(store, SQLiteStore)
    seen: List[str] = []
    store._conn.set_trace_callback(seen.append)
    return seen


def test_a_refresh_after_another_commit_reads_head_and_branching_in_one_statement(tmp_path: Any) -> None:
    path = os.path.join(str(tmp_path), "t.db")
    a, b = Database(path), Database(path)
    with a.transaction() as tx:
        root = tx.insert_root("r")
    assert b.tree.to_parent_table() == a.tree.to_parent_table()
    with a.transaction() as tx:
        tx.insert_child(root, "x")
    seen = _traced(b)
    assert b.tree.to_parent_table() == a.tree.to_parent_table()  # another handle's commit is seen
    assert sum("FROM head" in s for s in seen) == 1
    assert not [s for s in seen if "FROM meta" in s and "(SELECT count(*) FROM meta" not in s]
    # the new commit row came with the head: not read again
    assert not [s for s in seen if "FROM commits" in s and "FROM head" not in s]
    a.close()
    b.close()


def test_a_branch_made_by_another_handle_without_moving_the_head_is_seen(target: str) -> None:
    a, b = Database(target), Database(target)
    with a.transaction() as tx:
        root = tx.insert_root("r")
    head = a.version
    assert b.version == head  # b read the head while there were no branch tables
    a.branch("x")  # makes them; the head does not move
    assert a.version == head
    assert b.branches() == {"main": head, "x": head}
    with b.transaction() as tx:  # a commit on main must now move main's branch row
        tx.insert_child(root, "y")
    fresh = Database(target)
    assert fresh.branches()["main"] == b.version == head + 1
    assert fresh.branches()["x"] == head
    assert fresh.history()[-1].branch == "main"
    assert fresh.branch("z", at=head).tree.to_parent_table() == [{"id": root, "parent": None, "order": 0, "data": "r"}]
    for db in (a, b, fresh):
        db.close()


def test_a_damaged_older_commit_row_is_reported_when_read_not_on_open(tmp_path: Any) -> None:
    """Opening reads the head's own commit row only: an older row's damage surfaces where that version
    is read (``history``, ``as_of``), never as data, and does not make the database unopenable."""
    import sqlite3

    import pytest

    from botree.errors import CorruptDatabase

    path = os.path.join(str(tmp_path), "t.db")
    db = Database(path)
    with db.transaction(message="root") as tx:
        root = tx.insert_root("r")
    for i in range(4):
        with db.transaction(message=f"m{i}") as tx:
            tx.insert_child(root, i)
    damaged = db.version - 2
    expected = db.tree.to_parent_table()
    db.close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE commits SET crc = crc + 1 WHERE version = ?", (damaged,))
    conn.commit()
    conn.close()
    again = Database(path)
    assert again.tree.to_parent_table() == expected
    with pytest.raises(CorruptDatabase):
        again.history()
    with pytest.raises(CorruptDatabase):
        again.as_of(damaged)
    again.close()
