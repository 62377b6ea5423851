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
