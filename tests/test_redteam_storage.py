"""Regression tests for the bugs a red-team pass found in durable storage (all fixed).

SQLite tests use ``tmp_path``; PostgreSQL tests get a fresh schema (``conftest.py``).
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from typing import Iterator

import pytest
from conftest import PG, pg_schema_url

from botree import Database, Tree
from botree.errors import (
    BotreeError,
    ConflictError,
    CorruptDatabase,
    InvalidArgument,
    NodeNotFound,
    StorageError,
    VersionNotFound,
)


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from pg_schema_url()


# -- 1. rebase: set_data conflicts spuriously across Database objects -----------------


def test_set_data_does_not_conflict_with_a_change_to_another_node_of_the_same_leaf(target: str) -> None:
    # In memory this commits; stored, the other object's commit rewrites the 64-row leaf,
    # the refreshed head decodes fresh data objects and `_rebase` compares data by identity.
    a = Database(target)
    with a.transaction() as tx:
        root = tx.insert_root({"name": "root"})
        x = tx.insert_child(root, {"name": "x"})
        y = tx.insert_child(root, {"name": "y"})
    b = Database(target)
    tb = b.transaction()
    tb.set_data(x, {"name": "x2"})
    with a.transaction() as tx:
        tx.set_data(y, {"name": "y2"})  # a different node
    tb.commit()  # ConflictError: "node 1's data was changed by a concurrent commit"
    assert b.tree.data(x) == {"name": "x2"} and b.tree.data(y) == {"name": "y2"}
    a.close()
    b.close()


# -- 2. compaction: old trees lie, stale caches, pending transactions ------------------


def _two_objects_then_compact(path: str):  # type: ignore[no-untyped-def]
    a = Database(path)
    with a.transaction() as tx:
        root = tx.insert_root("root")
        kids = [tx.insert_child(root, {"i": i}) for i in range(200)]
    b = Database(path)  # opens at version 1, loads no leaf
    old = b.tree
    with a.transaction() as tx:
        tx.set_data(kids[100], {"i": -1})
    with a.transaction() as tx:
        tx.set_data(kids[0], {"i": -1})
    a.compact(1)
    return a, b, old, root, kids


def test_old_tree_after_compaction_does_not_claim_its_nodes_do_not_exist(tmp_path: object) -> None:
    # The leaf load raises VersionNotFound, a KeyError, which reader._row turns into
    # NodeNotFound: a wrong answer ("node 0 does not exist") instead of an error about the version.
    a, b, old, root, kids = _two_objects_then_compact(os.path.join(str(tmp_path), "t.db"))
    for read in (lambda: old.data(kids[100]), lambda: list(old.children(root)), lambda: old.parent(kids[100])):
        with pytest.raises(BotreeError) as info:
            read()
        assert not isinstance(info.value, NodeNotFound), f"wrong answer: {info.value}"
    a.close()
    b.close()


def test_as_of_a_compacted_version_through_another_object_is_refused(tmp_path: object) -> None:
    a, b, old, root, kids = _two_objects_then_compact(os.path.join(str(tmp_path), "t.db"))
    with pytest.raises(VersionNotFound):
        a.as_of(1)
    assert b.version == 3
    with pytest.raises(VersionNotFound):  # b still has version 1's state cached and builds a tree
        b.as_of(1)
    a.close()
    b.close()


def test_transaction_begun_before_compact_commits_or_conflicts(tmp_path: object) -> None:
    # In memory, compact keeps the log and the transaction rebases; stored, its commit
    # raises VersionNotFound (not a ConflictError a caller would retry on).
    path = os.path.join(str(tmp_path), "t.db")
    for db in (Database(), Database(path)):
        with db.transaction() as tx:
            root = tx.insert_root("root")
        pending = db.transaction()
        pending.insert_child(root, "late")
        for i in range(3):
            with db.transaction() as tx:
                tx.insert_child(root, i)
        db.compact(1)
        try:
            pending.commit()
        except ConflictError:
            continue
        assert [db.tree.data(c) for c in db.tree.children(root)] == [0, 1, 2, "late"]


# -- 3. holes in the block id allocator ---------------------------------------------------


def test_check_and_verify_pass_after_reopen_with_more_than_256_freed_blocks(tmp_path: object) -> None:
    # codec keeps the newest 256 freed ids and counts the rest as holes; check.py's block
    # id accounting ignores alloc.holes, so a healthy database fails check() and verify().
    path = os.path.join(str(tmp_path), "t.db")
    db = Database(path, block_size=4)
    with db.transaction() as tx:
        root = tx.insert_root("r")
        kids = [tx.insert_child(root, i) for i in range(400)]
    with db.transaction() as tx:
        for kid in kids:
            tx.delete(kid)
    db.tree.check()
    db.close()
    db = Database(path)
    db.tree.check()  # InvariantError: block ids leak
    db.verify()  # CorruptDatabase on a healthy file
    db.close()


# -- 4. errors: bare exceptions and wrong classes ------------------------------------------


def test_as_of_a_huge_version_is_version_not_found(tmp_path: object) -> None:
    db = Database(os.path.join(str(tmp_path), "t.db"))
    with pytest.raises(VersionNotFound):
        db.as_of(2**63)  # OverflowError: Python int too large to convert to SQLite INTEGER
    with pytest.raises(VersionNotFound):
        db.changes(0, 10**30)
    db.close()


def test_using_a_closed_sqlite_database_is_not_reported_as_corruption(tmp_path: object) -> None:
    # sqlite3.ProgrammingError("Cannot operate on a closed database") is mapped to
    # CorruptDatabase; PostgreSQL reports a StorageError ("the connection is closed").
    path = os.path.join(str(tmp_path), "t.db")
    db = Database(path)
    with db.transaction() as tx:
        tx.insert_root("x")
    db.close()
    with pytest.raises(StorageError) as info:
        _ = db.tree
    assert not isinstance(info.value, CorruptDatabase), info.value
    Database(path).verify()  # the file is fine


def test_message_with_a_lone_surrogate_is_invalid_argument(target: str) -> None:
    db = Database(target)
    with pytest.raises(InvalidArgument):  # bare UnicodeEncodeError from the driver
        db.replace(Tree(), message="\ud800")
    assert db.version == 0
    db.close()


def test_message_with_nul_on_postgres_is_not_corruption(pg_url: str) -> None:
    # SQLite and the in-memory Database store "a\x00b"; PostgreSQL TEXT cannot, and the
    # DataError is reported as CorruptDatabase.  Store it (e.g. as BYTEA) or refuse it up front.
    db = Database(pg_url)
    try:
        version = db.replace(Tree(), message="a\x00b")
    except InvalidArgument:
        assert db.version == 0
    else:
        assert db.history()[version].message == "a\x00b"
    db.close()


def test_search_path_to_a_missing_schema_is_not_corruption() -> None:
    schema = "x_missing_" + uuid.uuid4().hex[:8]
    sep = "&" if "?" in PG else "?"
    with pytest.raises(StorageError) as info:
        Database(f"{PG}{sep}options=-csearch_path%3D{schema}")
    assert not isinstance(info.value, CorruptDatabase), info.value


# -- 5. damaged SQLite files ------------------------------------------------------------------


def _stored(path: str, message: str = "m") -> None:
    db = Database(path)
    for i in range(4):
        with db.transaction(message=message) as tx:
            tx.insert_root(i)
    db.close()


@pytest.mark.parametrize(
    "find, offset, byte",
    [
        # Python cannot decode SQLite's "malformed schema" message: bare UnicodeDecodeError.
        (b"CREATE TABLE commits", 7, 0xC5),
        # One bit (y -> x) renames a column: "no such column: payload" is an OperationalError,
        # reported as a plain StorageError, not CorruptDatabase.
        (b"CREATE TABLE nodes (leaf BIGINT NOT NULL, version BIGINT NOT NULL, payload", 69, ord("x")),
    ],
)
def test_damaged_schema_text_is_corrupt(tmp_path: object, find: bytes, offset: int, byte: int) -> None:
    path = os.path.join(str(tmp_path), "t.db")
    _stored(path)
    data = bytearray(open(path, "rb").read())
    pos = data.find(find)
    assert pos > 0
    data[pos + offset] = byte
    with open(path, "wb") as f:
        f.write(data)
    with pytest.raises(CorruptDatabase):
        Database(path).verify()


def test_undecodable_commit_message_is_corrupt(tmp_path: object) -> None:
    # A flipped byte in a message: "Could not decode to UTF-8 column 'message'" is an
    # sqlite3.OperationalError, reported as a plain StorageError, not CorruptDatabase.
    path = os.path.join(str(tmp_path), "t.db")
    _stored(path, message="caf\u00e9")
    data = bytearray(open(path, "rb").read())
    pos = data.find(b"caf\xc3\xa9")
    assert pos > 0
    while pos >= 0:
        data[pos + 4] = 0x29
        pos = data.find(b"caf\xc3\xa9", pos + 1)
    with open(path, "wb") as f:
        f.write(data)
    with pytest.raises(CorruptDatabase):
        Database(path).verify()


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE commits SET state = 'not a blob' WHERE version = 4",  # TypeError in _commit_row
        "UPDATE commits SET crc = 'x' WHERE version = 4",  # ValueError in _commit_row
        "UPDATE nodes SET crc = 'x'",  # ValueError in Store.cell / Store.cells
        "UPDATE nodes SET payload = -1",  # ValueError: negative count (bytes(-1))
    ],
)
def test_column_of_the_wrong_type_is_corrupt(tmp_path: object, damage: str) -> None:
    # SQLite stores any type in any column: a flipped bit in a record header turns a BLOB
    # into TEXT or an integer (random bit flips hit this).  Store._commit_row / cell /
    # cells convert with bytes() / int() unchecked, so bare TypeError / ValueError escape.
    path = os.path.join(str(tmp_path), "t.db")
    _stored(path)
    conn = sqlite3.connect(path)
    conn.execute(damage)
    conn.commit()
    conn.close()
    with pytest.raises(CorruptDatabase):
        db = Database(path)
        try:
            db.verify()
            db.tree.to_parent_table()
        finally:
            db.close()


def test_verify_reports_a_missing_commit_row_as_corrupt(tmp_path: object) -> None:
    # verify() promises CorruptDatabase ("commits ... are not contiguous"), but _commits
    # raises VersionNotFound before that check runs.
    path = os.path.join(str(tmp_path), "t.db")
    _stored(path)
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM commits WHERE version = 2")
    conn.commit()
    conn.close()
    db = Database(path)
    with pytest.raises(CorruptDatabase):
        db.verify()
    db.close()
