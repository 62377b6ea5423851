"""Durable storage: round trips, lazy opening, append-only commits, integrity, damaged files, driver errors.

Every test that does not depend on a file runs against SQLite and PostgreSQL (the
``target`` fixture in ``conftest.py``).
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import uuid
from typing import Iterator, List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botree import Database, DurableDatabase, JsonNode, Tree
from botree.errors import (
    BotreeError,
    CorruptDatabase,
    InvalidArgument,
    StorageError,
    VersionNotFound,
)
from botree.storage.lazy import LazyLeaf
from tests.conftest import pg_schema_url, server_url
from tests.db.storage_workload import apply_step, run


def loaded_leaves(tree: Tree) -> int:
    """How many vector leaves of ``tree`` have been read from storage (or made in memory)."""
    count = 0
    ix = tree.order_index
    for vec in (ix._blocks, ix._links, ix._nodes.rows):
        for mid in vec.chunks:
            count += sum(1 for leaf in mid if type(leaf) is not LazyLeaf)
    return count


def test_every_version_reads_back_equal_after_reopen(target: str) -> None:
    db = Database(target)
    trees = run(db, 40, seed=1)
    db.close()
    again = Database(target)
    assert isinstance(again, DurableDatabase)
    assert again.version == 40
    for version, expected in enumerate(trees):
        got = again.as_of(version)
        got.check()
        assert got == expected
        assert got.to_parent_table() == expected.to_parent_table()
    history = again.history()
    assert [c.version for c in history] == list(range(41))
    assert [c.message for c in history[1:]] == [f"step {i}" for i in range(40)]
    assert all(c.meta == {"seed": 1} for c in history[1:])
    again.verify()
    again.close()


def test_changes_and_replay_from_storage(target: str) -> None:
    db = Database(target)
    trees = run(db, 25, seed=2)
    db.close()
    db = Database(target)
    rng = random.Random(3)
    for _ in range(15):
        v1 = rng.randrange(26)
        v2 = rng.randrange(v1, 26)
        assert db.changes(v1, v2) == trees[v1].diff(trees[v2])
    assert db.replay() == trees[-1]
    db.close()


def test_open_is_lazy_and_reads_touch_few_leaves(target: str) -> None:
    n = 20_000
    tree = Tree.from_events(_chain_and_fan(n))
    db = Database(target)
    version = db.replace(tree, message="bulk")
    db.close()
    db = Database(target)
    head = db.tree
    assert loaded_leaves(head) == 0  # opening read no leaf
    deep = n - 1
    assert head.level(deep) == tree.level(deep)
    touched = loaded_leaves(head)
    assert 0 < touched <= 40  # a path, not the ~700 leaves of the whole tree
    assert head == tree  # and everything else loads on demand
    assert db.version == version
    db.close()


def _chain_and_fan(n: int) -> Iterator:
    # a root with n // 2 children, then a chain of n // 2 nodes
    yield ({"i": 0}, True)
    for i in range(1, n // 2):
        yield ({"i": i}, True)
        yield (None, False)
    for i in range(n // 2, n):
        yield ({"i": i}, True)
    for _ in range(n // 2, n):
        yield (None, False)
    yield (None, False)


def test_small_commit_writes_few_cells(target: str) -> None:
    db = Database(target)
    db.replace(Tree.from_events(_chain_and_fan(20_000)))
    store = db._store
    before = {t: store.query(f"SELECT count(*) FROM {t}")[0][0] for t in ("blocks", "links", "nodes")}
    with db.transaction() as tx:
        tx.insert_child(5, "new")
        tx.set_data(7, "changed")
    after = {t: store.query(f"SELECT count(*) FROM {t}")[0][0] for t in ("blocks", "links", "nodes")}
    written = sum(after.values()) - sum(before.values())
    assert 1 <= written <= 12, (before, after)
    assert sum(before.values()) > 300
    db.close()


def test_unstorable_data_is_refused_before_writing(target: str) -> None:
    db = Database(target)
    with db.transaction() as tx:
        tx.insert_root("ok")
    with pytest.raises(InvalidArgument, match="cannot be stored"):
        with db.transaction() as tx:
            tx.insert_root(object())
    with pytest.raises(InvalidArgument):
        with db.transaction(meta={"when": object()}) as tx:
            tx.insert_root("x")
    assert db.version == 1 and len(db.tree) == 1
    db.close()
    assert len(Database(target).tree) == 1


def test_json_documents_and_exact_types_round_trip(target: str) -> None:
    doc = {"a": [1, 2.5, None, True, {"b": "text"}], "c": {"d": []}}
    tree = Tree.from_nested(doc)
    db = Database(target)
    db.replace(tree)
    with db.transaction() as tx:
        tx.insert_child(None, {"tuple": (1, 2), 3: frozenset({4}), "bytes": b"\x00\xff", "f": 1.5, "t": True})
    db.close()
    db = Database(target)
    t = db.tree
    roots = list(t.roots())
    assert isinstance(t.data(roots[0]), JsonNode)
    data = t.data(roots[1])
    assert data == {"tuple": (1, 2), 3: frozenset({4}), "bytes": b"\x00\xff", "f": 1.5, "t": True}
    assert type(data["tuple"]) is tuple and type(data["t"]) is bool
    first = db.as_of(1)
    assert json.loads(first.to_json()) == doc
    db.close()


def test_indexed_fields_survive_reopen(target: str) -> None:
    db = Database(target, fields=("name",))
    with db.transaction() as tx:
        root = tx.insert_root({"name": "root"})
        for i in range(100):
            tx.insert_child(root, {"name": f"n{i % 10}"})
    db.close()
    db = Database(target)
    assert len(db.tree.find(name="n3")) == 10
    with db.transaction() as tx:
        tx.insert_child(root, {"name": "n3"})
    assert len(db.tree.find(name="n3")) == 11
    db.close()
    with pytest.raises(InvalidArgument):
        Database(target, fields=("other",))
    with pytest.raises(InvalidArgument):
        Database(target, block_size=8)


def test_freed_ids_are_not_reused_after_reopen(target: str) -> None:
    db = Database(target)
    with db.transaction() as tx:
        root = tx.insert_root("r")
        kids = [tx.insert_child(root, i) for i in range(10)]
    with db.transaction() as tx:
        tx.delete(kids[4])
    db.close()
    db = Database(target)
    with db.transaction() as tx:
        new = tx.insert_child(root, "again")
    assert new not in kids and new != root  # a Database never reuses a freed id (issue 12)
    db.tree.check()
    db.close()


# -- SQLite files: bad input and damage ------------------------------------------------


def test_bad_targets(tmp_path: object) -> None:
    with pytest.raises(InvalidArgument, match="scheme"):
        Database("mysql://localhost/x")
    with pytest.raises(InvalidArgument, match="directory"):
        Database(str(tmp_path))
    with pytest.raises(StorageError, match="cannot connect"):
        Database("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(StorageError):
        Database(os.path.join(str(tmp_path), "no-such-dir", "x.db"))
    with pytest.raises(InvalidArgument):
        Database(os.path.join(str(tmp_path), "k.db"), keep=3)


def test_garbage_and_foreign_files_are_refused(tmp_path: object) -> None:
    garbage = os.path.join(str(tmp_path), "garbage.db")
    with open(garbage, "wb") as f:
        f.write(os.urandom(5000))
    with pytest.raises(CorruptDatabase):
        Database(garbage)
    import sqlite3

    foreign = os.path.join(str(tmp_path), "foreign.db")
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE people (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(CorruptDatabase, match="not a botree database"):
        Database(foreign)


def _make_file(path: str) -> Tree:
    db = Database(path)
    run(db, 8, seed=5)
    db.replace(Tree.from_events(_chain_and_fan(3000)))
    with db.transaction() as tx:
        apply_step(tx, 99)
    tree = db.tree
    db.close()
    return tree


def _read_all(path: str) -> Tree:
    db = Database(path)
    try:
        db.verify()
        tree = db.tree
        for version in range(db.version + 1):
            db.as_of(version).to_parent_table()
        return tree
    finally:
        db.close()


def test_truncated_file_is_corrupt(tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "t.db")
    _make_file(path)
    size = os.path.getsize(path)
    for keep in (size // 2, size - 4096, 100):
        damaged = os.path.join(str(tmp_path), f"cut{keep}.db")
        with open(path, "rb") as src, open(damaged, "wb") as dst:
            dst.write(src.read(keep))
        with pytest.raises(CorruptDatabase):
            _read_all(damaged)


def test_bit_flips_never_give_a_wrong_tree(tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "f.db")
    expected = _make_file(path)
    data = open(path, "rb").read()
    rng = random.Random(7)
    outcomes = {"corrupt": 0, "same": 0}
    for trial in range(60):
        flipped = bytearray(data)
        pos = rng.randrange(100, len(data))  # past the header, which has its own checks
        flipped[pos] ^= 1 << rng.randrange(8)
        damaged = os.path.join(str(tmp_path), f"flip{trial}.db")
        with open(damaged, "wb") as f:
            f.write(flipped)
        try:
            got = _read_all(damaged)
        except CorruptDatabase:
            outcomes["corrupt"] += 1
            continue
        except BotreeError as exc:  # anything else from the library is a bug in the checks
            raise AssertionError(f"flip at {pos}: {type(exc).__name__}: {exc}") from exc
        assert got == expected, f"flip at byte {pos} gave a different tree"
        outcomes["same"] += 1
    assert outcomes["corrupt"] > 0


def test_flipped_payload_is_named(tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "p.db")
    db = Database(path)
    db.replace(Tree().insert_child(None, "a distinctive payload string")[0])  # logs no update: one copy
    db.close()
    data = bytearray(open(path, "rb").read())
    pos = data.find(b"distinctive")
    assert pos > 0 and data.count(b"distinctive") == 1
    data[pos] ^= 0x20
    with open(path, "wb") as f:
        f.write(data)
    db = Database(path)
    with pytest.raises(CorruptDatabase, match="nodes leaf 0 .*checksum"):
        db.tree.to_parent_table()
    db.close()


# -- property: any run of transactions reads back equal, version by version ---------

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seeds=st.lists(st.integers(0, 10**6), min_size=1, max_size=12), block_size=st.sampled_from([4, 8, 64]))
def test_property_round_trip_after_reopen(tmp_path_factory: pytest.TempPathFactory, seeds: List[int],
                                          block_size: int) -> None:
    path = os.path.join(str(tmp_path_factory.mktemp("prop")), "p.db")
    db = Database(path, block_size=block_size)
    memory = Database(Tree(block_size))
    for seed in seeds:
        for target in (db, memory):
            with target.transaction() as tx:
                apply_step(tx, seed)
    db.close()
    db = Database(path)
    for version in range(len(seeds) + 1):
        stored = db.as_of(version)
        stored.check()
        assert stored == memory.as_of(version)
    assert db.changes(0, len(seeds)) == memory.changes(0, len(seeds))
    db.close()


# -- block ids: holes in the allocator survive reopen ------------------------------------------


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


# -- driver errors: mapped to botree errors, and not to corruption -----------------------------


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from pg_schema_url()


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
    server = server_url()
    sep = "&" if "?" in server else "?"
    with pytest.raises(StorageError) as info:
        Database(f"{server}{sep}options=-csearch_path%3D{schema}")
    assert not isinstance(info.value, CorruptDatabase), info.value


# -- damaged SQLite files: schema text, commit messages, column types, missing rows ------------


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


def test_opening_without_create_writes_nothing(tmp_path: object) -> None:
    # A read must not create a schema: a missing or empty file, or an empty PostgreSQL
    # schema, is a StorageError with create=False and stays as it was.
    missing = os.path.join(str(tmp_path), "missing.db")
    with pytest.raises(StorageError, match="no botree database"):
        Database(missing, create=False)
    assert not os.path.exists(missing)
    empty = os.path.join(str(tmp_path), "empty.db")
    open(empty, "wb").close()
    with pytest.raises(StorageError, match="no botree database"):
        Database(empty, create=False)
    assert os.path.getsize(empty) == 0
    for url in pg_schema_url():
        with pytest.raises(StorageError, match="holds no botree database"):
            Database(url, create=False)
        with Database(url) as db:  # the schema was left empty: creating works afterwards
            assert db.version == 0
        with Database(url, create=False) as db:
            assert db.version == 0
    with pytest.raises(InvalidArgument):
        Database(missing, create="no")


def test_the_cli_reads_never_create_a_database(tmp_path: object) -> None:
    from tests.cli.test_cli import run

    empty = os.path.join(str(tmp_path), "empty.db")
    open(empty, "wb").close()
    for verb in (("ls", empty), ("log", empty), ("verify", empty), ("rm", empty, "1")):
        done = run(*verb, code=1)
        assert "no database" in done.stderr
        assert os.path.getsize(empty) == 0
    for url in pg_schema_url():
        done = run("ls", url, code=1)
        assert "holds no botree database" in done.stderr
        import psycopg

        with psycopg.connect(url) as conn:  # no tables were made in the schema
            assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()").fetchone()[0] == 0


def test_sqlite_commits_queue_on_a_lock_file_that_reading_never_creates(tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "org.db")
    db = Database(path)
    assert not os.path.exists(path + "-lock")  # creating the database is not a commit
    db.close()
    reader = Database(path, create=False)
    assert len(reader.tree) == 0 and reader.history()[-1].version == 0
    reader.close()
    assert not os.path.exists(path + "-lock")
    db = Database(path)
    with db.transaction() as tx:
        tx.insert_child(None, "a")
    assert os.path.exists(path + "-lock") and os.path.getsize(path + "-lock") == 0
    db.close()
    again = Database(path)  # the lock file left in place is harmless
    with again.transaction() as tx:
        tx.insert_child(None, "b")
    assert [again.tree.data(n) for n in again.tree.preorder()] == ["a", "b"]
    again.close()
