"""Red-team session 7b: bad input to the branch API and damage read through the new refresh path.

Each test failed on the code it was written against; see the commit that fixed it.
"""

from __future__ import annotations

import pytest

from botree import Database
from botree.errors import CorruptDatabase, InvalidArgument
from tests.storage.test_damage import _sql  # edits the store behind botree's back

_SURROGATE = "b\ud800"  # a lone surrogate: no UTF-8 encoding, so no stored name can hold it


def test_a_branch_name_that_is_not_valid_unicode_is_invalid_argument_and_changes_nothing(target: str) -> None:
    """``branch`` with a lone surrogate in the name raised CorruptDatabase on SQLite (bad input reported
    as damage) and a raw UnicodeEncodeError on PostgreSQL.  Commit messages already refuse such text
    (``check_message``): branch names must too, before anything is stored."""
    with Database(target) as db:
        with db.transaction() as tx:
            tx.insert_root("r")
        with pytest.raises(InvalidArgument):
            db.branch(_SURROGATE)
        assert db.branches() == {"main": 1} and db.version == 1
    with Database(target) as again:
        assert again.branches() == {"main": 1} and again.version == 1
        again.verify()


def _two_branches(target: str) -> None:
    """Version 1 (main), then branch x: version 2 on main, 3 on x."""
    with Database(target) as db:
        with db.transaction() as tx:
            tx.insert_root("r")
        x = db.branch("x")
        with db.transaction() as tx:
            tx.insert_child(None, "m")
        with x.transaction() as tx:
            tx.insert_child(None, "x")
        assert db.branches() == {"main": 2, "x": 3}


@pytest.mark.parametrize("damage", [
    "UPDATE branches SET version = 99 WHERE name = 'x'",  # a head past the newest commit
    "UPDATE branches SET version = -1 WHERE name = 'x'",  # before the oldest kept version
    "DELETE FROM meta WHERE key = 'id_mark'",  # the branch tables' marker: branch x silently vanished
    "UPDATE meta SET value = 'abc' WHERE key = 'id_mark'",  # every later branch commit fails on it
    "UPDATE lineage SET merged = 99 WHERE version = 3",  # merged a version that never existed
], ids=["head-past-newest", "head-before-oldest", "id-mark-missing", "id-mark-text", "merged-unknown"])
def test_verify_reports_damaged_branch_tables(target: str, damage: str) -> None:
    """``verify()`` ("check every stored record") read nothing of the branch tables: with a branch
    row naming a version that does not exist, the branch tables' marker gone (branch x no longer
    listed) or unreadable, or a lineage row naming an unknown merged version, it passed."""
    _two_branches(target)
    _sql(target, damage)
    with pytest.raises(CorruptDatabase):
        with Database(target) as db:  # (reported on opening, now, for a missing or unreadable marker)
            db.verify()


def test_a_missing_main_branch_row_is_corrupt_not_branch_not_found(target: str) -> None:
    """``main`` cannot be deleted (``delete_branch`` refuses it), so a branch table without its row is
    damage; opening the database raised BranchNotFound ("deleted?")."""
    _two_branches(target)
    _sql(target, "DELETE FROM branches WHERE name = 'main'")
    with pytest.raises(CorruptDatabase):
        with Database(target) as db:
            db.verify()


def test_branch_tables_without_their_marker_do_not_open_as_an_unbranched_database(target: str) -> None:
    """With ``meta.id_mark`` gone, the branch tables went unread: ``Database(target)`` listed main alone
    and served the head row's version (branch x's commit) as main's tree, and commits went on from it."""
    _two_branches(target)
    _sql(target, "DELETE FROM meta WHERE key = 'id_mark'")
    with pytest.raises(CorruptDatabase, match="id_mark"):
        Database(target)


def test_merging_a_branch_handle_of_another_database_is_refused(target: str) -> None:
    """``merge(source)`` with a ``Database`` used only ``source.branch_name``: a handle of another
    database (here an in-memory one) merged this database's branch of the same name, silently,
    ignoring the data of the branch the caller passed."""
    with Database(target) as db:
        with db.transaction() as tx:
            root = tx.insert_root("r")
        mine = db.branch("x")
        with mine.transaction() as tx:
            tx.insert_child(root, "mine on x")
        other = Database()
        with other.transaction() as tx:
            theirs_root = tx.insert_root("other")
        theirs = other.branch("x")
        with theirs.transaction() as tx:
            tx.insert_child(theirs_root, "theirs on x")
        version = db.version
        with pytest.raises(InvalidArgument):
            db.merge(theirs)
        assert db.version == version and [db.tree.data(n) for n in db.tree.preorder()] == ["r"]
        with Database(target) as again:  # a handle of this database opened separately is fine
            assert db.merge(again.on("x")) == db.version > version
        assert [db.tree.data(n) for n in db.tree.preorder()] == ["r", "mine on x"]
