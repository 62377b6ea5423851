"""Red-team session 7b: damaged branch tables read back.

The lineage rows (which branch made a commit, which version it merged) are read on every history
or refresh that crosses commits made with branch tables.  A value of the wrong type there is damage:
``CorruptDatabase``, never a raw exception and never served converted.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any, Iterator

import pytest

from botree import Database
from botree.errors import CorruptDatabase
from tests.db.test_redteam_session7b import _two_branches
from tests.storage.test_damage import _sql  # edits the store behind botree's back


def _branched(path: str) -> None:
    """Versions 1 (main), 2 (main), 3 (branch x), 4 (main, merging x): lineage rows for 2..4 (main: 2, 4)."""
    _two_branches(path)
    with Database(path) as db:
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


@pytest.fixture(scope="module")
def password_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster that refuses connections without the password (scram-sha-256)."""
    from tests.pgcluster import ClusterUnavailable, start_cluster

    try:
        url, stop = start_cluster(password="s3cret", database="postgres")
    except ClusterUnavailable as exc:
        pytest.skip(f"no PostgreSQL cluster with a password: {exc}")
    try:
        yield url
    finally:
        stop()


def test_a_queued_commit_whose_database_was_closed_is_withdrawn_on_a_server_that_needs_a_password(
    password_url: str,
) -> None:
    """Session 7's fix: a queued commit whose ``Database`` another thread closed withdraws its request
    through a store of its own (``DurableDatabase._withdraw``).  That store was opened from
    ``self.target``, the URL with its password removed (for messages), so on a server that wants one
    it could not connect, the request stayed queued, and the next group of another writer stored the
    commit its caller had been told failed."""
    from tests.db.test_redteam_session7 import closed_while_queued

    closed_while_queued(password_url)


@pytest.fixture
def url() -> Iterator[str]:
    from tests.conftest import pg_schema_url

    yield from pg_schema_url()


@pytest.mark.parametrize("extra", ["&password=s3cret", "&password=s3cret&application_name=app@corp"],
                         ids=["password-parameter", "at-sign-in-the-query"])
def test_the_target_shown_in_messages_holds_no_password_given_as_a_parameter(url: str, extra: str) -> None:
    """``target`` is documented as the URL "without password", and it is what every message and
    ``repr`` shows.  Only a password in the userinfo was removed: one given as the libpq
    ``password`` parameter was kept (with an ``@`` later in the query too).  (In a URL without
    userinfo, ``_redact`` also took an ``@`` in the query for the userinfo's and mangled the host:
    ``postgresql://h/db?user=a@b`` became ``postgresql://h@b``; fixed with this.)"""
    with Database(url + extra) as db:
        assert "s3cret" not in db.target and "s3cret" not in repr(db)
        assert db.target.startswith(url.split("?")[0] + "?")  # the user, host and database, as given


@pytest.mark.parametrize("given, shown", [
    ("postgresql://u:pw@h:5432/db?options=x", "postgresql://u@h:5432/db?options=x"),
    ("postgresql://u:p?w@h/db", "postgresql://u@h/db"),  # libpq: the user's part ends at the first @ before a /
    ("postgresql://u:p#w@h/db", "postgresql://u@h/db"),
    ("postgresql://h/db?options=a@b", "postgresql://h/db?options=a@b"),  # an @ after the path is not a user's
    ("postgresql://u@h/db?password=s&x=1", "postgresql://u@h/db?password=***&x=1"),
    ("postgresql://u:pw@[::1]:5/d", "postgresql://u@[::1]:5/d"),
])
def test_a_password_never_survives_redaction_whatever_it_holds(given: str, shown: str) -> None:
    from botree.storage.postgres import _redact

    assert _redact(given) == shown
