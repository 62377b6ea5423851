"""Red-team session 7b: damaged branch tables read back.

The lineage rows (which branch made a commit, which version it merged) are read on every history
or refresh that crosses commits made with branch tables.  A value of the wrong type there is damage:
``CorruptDatabase``, never a raw exception and never served converted.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

import pytest

from botree import Database
from botree.errors import CorruptDatabase


def _branched(path: str) -> None:
    """Versions 1 (main), 2 (main), 3 (branch x), 4 (main, merging x): lineage rows for 2..4 (main: 2, 4)."""
    with Database(path) as db:
        with db.transaction() as tx:
            tx.insert_root("r")
        x = db.branch("x")
        with db.transaction() as tx:
            tx.insert_child(None, "m")
        with x.transaction() as tx:
            tx.insert_child(None, "x")
        db.merge("x")
        assert [(c.version, c.branch, c.merged) for c in db.history()[2:]] == [(2, "main", None), (4, "main", 3)]


@pytest.mark.parametrize("damage", [
    "UPDATE lineage SET merged = 'three' WHERE version = 4",  # was a raw ValueError from int()
    "UPDATE lineage SET merged = 3.5 WHERE version = 4",  # was served as merged=3
    "UPDATE lineage SET branch = X'6D61696E' WHERE version = 2",  # a blob: was served as the branch "b'main'"
], ids=["merged-text", "merged-real", "branch-blob"])
def test_a_lineage_row_of_the_wrong_type_is_corrupt(tmp_path: Any, damage: str) -> None:
    path = os.path.join(str(tmp_path), "t.db")
    _branched(path)
    with sqlite3.connect(path) as conn:
        conn.execute(damage)
    conn.close()
    with pytest.raises(CorruptDatabase, match="lineage"):
        with Database(path) as db:  # opening reads the head's commit row, and its lineage
            db.history()


def _sql(target: str, statement: str) -> None:
    if "://" in target:
        import psycopg

        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute(statement)
    else:
        conn = sqlite3.connect(target)
        try:
            conn.execute(statement)
            conn.commit()
        finally:
            conn.close()


def test_compaction_does_not_destroy_a_patch_base_because_the_base_column_was_damaged(target: str) -> None:
    """A patch cell's ``base`` column (outside the cell checksum) set to NULL: every read still serves the
    right tree (the payload names its base), so nothing reports the damage, and ``compact`` trusted the
    column, dropped the whole cell the patches apply to, and left the head unreadable ("the cell is
    missing").  Committed data was lost to damage that reads never reported.  Compaction must either
    refuse (CorruptDatabase) or keep what the head needs."""
    with Database(target) as db:
        with db.transaction() as tx:
            root = tx.insert_root("r")
            for i in range(200):
                tx.insert_child(root, i)
        for k in range(3):  # small changes to leaf 0 of the node table: patches on version 1's cell
            with db.transaction() as tx:
                tx.set_data(list(db.tree.children(root))[k * 7], ["v", k])
        want = [db.tree.data(n) for n in db.tree.preorder()]
    _sql(target, "UPDATE nodes SET base = NULL WHERE version > 1")
    with Database(target) as db:
        assert [db.tree.data(n) for n in db.tree.preorder()] == want  # reads are right: the payload knows
        try:
            db.compact(1)
        except CorruptDatabase:
            pass  # refusing to compact over the damage is a right answer too
    with Database(target) as db:
        assert [db.tree.data(n) for n in db.tree.preorder()] == want
