"""Review of session 6's commit path (h-rev): the bugs it found in deferred inserts, now fixed.

Each test states what a plain ``Transaction`` does, and a deferring one must do the same.
"""

from __future__ import annotations

import copy
import threading
from typing import Any, List

import pytest

from botree import Database
from botree.errors import VersionNotFound


def _deferring(db: Any, inserts: int) -> Any:
    """A transaction of ``db`` holding ``inserts`` deferred inserts under node 0 (created here)."""
    if len(db.tree) == 0:
        with db.transaction() as tx:
            tx.insert_child(None, "root")
    tx = db.transaction()
    for i in range(inserts):
        tx.insert_child(0, i)
    assert len(tx._pending) == inserts  # deferred: nothing ran on the working copy yet
    return tx


def test_a_copy_of_a_deferring_transaction_reads_what_the_transaction_reads(tmp_path: Any) -> None:
    with Database(str(tmp_path / "t.db")) as db:
        tx = _deferring(db, 2)
        twin = copy.copy(tx)
        # A plain transaction's copy shares the working copy: both read the same forest.
        assert len(twin) == len(tx) == 3
        assert list(twin.children(0)) == list(tx.children(0)) == [1, 2]
        tx.commit()
        assert list(db.tree.children(0)) == [1, 2]


def _read_len(tx: Any, start: threading.Barrier, seen: List[Any]) -> None:
    """Once both readers are there, note ``len(tx)`` (or what it raised) in ``seen``."""
    start.wait()
    try:
        seen.append(len(tx))
    except Exception as exc:  # reported by the test, with the counts
        seen.append(exc)


def test_threads_reading_one_deferring_transaction_all_see_every_insert(tmp_path: Any) -> None:
    """Two threads read one transaction at once; a plain transaction answers both the same."""
    inserts = 3000  # long enough that the interpreter switches threads while they run
    with Database(str(tmp_path / "t.db")) as db:
        for _ in range(20):
            tx = _deferring(db, inserts)
            seen: List[Any] = []
            start = threading.Barrier(2)
            threads = [threading.Thread(target=_read_len, args=(tx, start, seen)) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            tx.rollback()
            assert seen == [inserts + 1, inserts + 1]


def test_a_compaction_after_deferred_inserts_does_not_break_the_transaction(tmp_path: Any) -> None:
    """A plain transaction ran its inserts (loading the snapshot's leaves) before the compaction.
    The deferring one runs them at its first read, when the snapshot's leaves are gone: that read
    raises VersionNotFound (as any read of a compacted snapshot's unloaded leaf does), but the
    transaction stays whole: its inserts are still deferred, and its commit replays them on the
    head as the plain one's would."""
    path = str(tmp_path / "t.db")
    with Database(path) as other:
        with other.transaction() as tx:
            root = tx.insert_child(None, "root")
            for i in range(500):
                tx.insert_child(root, i)
        with Database(path) as db:
            tx = db.transaction()  # its snapshot (version 1) has no leaf loaded yet
            new = tx.insert_child(root, "new")
            assert len(tx._pending) == 1
            with other.transaction() as theirs:  # version 2 rewrites the leaves under root's closing bound
                for i in range(500):
                    theirs.insert_child(root, ("theirs", i))
            other.compact(1)  # only version 2 is kept: version 1's manifests are gone
            with pytest.raises(VersionNotFound):
                len(tx)
            assert len(tx._pending) == 1  # not half run: still deferred, the working copy the snapshot's
            with pytest.raises(VersionNotFound):
                list(tx.children(root))
            tx.commit()
            assert len(db.tree) == 1002 and db.tree.data(tx.ids[new]) == "new"
            db.tree.check()
