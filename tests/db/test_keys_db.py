"""Keys in a ``Database``, in memory and stored (SQLite and PostgreSQL through the ``target`` fixture).

Covers: the key and fields surviving reopen, a cold key lookup loading one leaf,
``set_key`` / ``add_index`` / ``drop_index`` as commits of their own, ``replace``
keeping the configuration, concurrent duplicate keys, damaged key cells, and a
botree-2 file written before keys existed (no ``keys`` table) opening unchanged.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any, List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botree import Database, DuplicateKey, InvalidKey, Tree, UnknownKey
from botree.errors import ConflictError, CorruptDatabase, InvalidArgument, InvalidOperation, NotIndexed
from tests.storage.test_damage import _sql

N = 5000


def fill(db: Database, n: int = N) -> None:
    with db.transaction(message="fill") as tx:
        root = tx.insert_root({"id": "root", "name": "root"})
        for i in range(n):
            tx.insert_child(root, {"id": i, "name": f"n{i % 100}"})


def tables(target: str) -> List[str]:
    if "://" in target:
        import psycopg

        with psycopg.connect(target, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            ).fetchall()
    else:
        conn = sqlite3.connect(target)
        try:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        finally:
            conn.close()
    return sorted(r[0] for r in rows)


def count(target: str, query: str) -> int:
    if "://" in target:
        import psycopg

        with psycopg.connect(target, autocommit=True) as conn:
            row = conn.execute(query).fetchone()
    else:
        conn = sqlite3.connect(target)
        try:
            row = conn.execute(query).fetchone()
        finally:
            conn.close()
    assert row is not None
    return int(row[0])


def test_memory_database_keys_and_configuration() -> None:
    db = Database(key="id", fields=("name",))
    assert db.key == "id" and db.fields == ("name",)
    fill(db, 50)
    assert db.tree.node_of(7) == 8 and db.tree.find(name="n7") == [8]
    with pytest.raises(DuplicateKey):
        with db.transaction() as tx:
            tx.insert_root({"id": "x"})
            tx.insert_root({"id": 3})
    assert db.version == 1 and not db.tree.has_key("x")
    with pytest.raises(InvalidKey):
        with db.transaction() as tx:
            tx.insert_root({"name": "no id"})
    assert db.version == 1
    # A tree given to the constructor is re-keyed to the key asked for.
    t = Tree.from_parent_table([{"id": 1, "parent": None}, {"id": 2, "parent": 1}])
    assert Database(t, key="id").tree.node_of(2) == 1
    assert Database(t).key is None


def test_stored_key_survives_reopen_and_a_cold_lookup_loads_one_leaf(target: str) -> None:
    with Database(target, key="id") as db:
        assert db.key == "id" and db.fields == ()
        fill(db)
        version = db.version
    with Database(target) as db:
        assert db.key == "id" and db.version == version
        tree = db.tree
        before = db.leaf_stats["loads"]
        assert tree.node_of(N - 1) == N
        assert db.leaf_stats["loads"] == before + 1  # one bucket leaf: no row, block or other bucket
        assert tree.node_of("root") == 0 and not tree.has_key("nope") and not tree.has_key(N)
        with pytest.raises(UnknownKey):
            tree.node_of(-1)
        assert tree.key_of(N) == N - 1
        # Keys are unique in the stored database too, and survive further commits.
        with pytest.raises(DuplicateKey):
            with db.transaction() as tx:
                tx.insert_root({"id": 17})
        with db.transaction() as tx:
            tx.set_data(tree.node_of(17), {"id": "seventeen"})
            tx.delete(tree.node_of(18))
        db.verify()
    with Database(target, key="id") as db:  # the same key: fine
        assert db.tree.node_of("seventeen") == 18 and not db.tree.has_key(17) and not db.tree.has_key(18)
        db.tree.check()
        db.compact(1)  # superseded key cells go too; the kept version reads all it needs
        db.verify()
    with Database(target) as db:
        assert db.tree.node_of("seventeen") == 18 and db.tree.node_of(N - 1) == N
    with pytest.raises(InvalidArgument, match="key field"):
        Database(target, key="name")


def test_set_key_add_index_drop_index_are_commits_of_their_own(target: str) -> None:
    with Database(target) as db:
        fill(db, 300)
        v = db.version
        assert db.key is None
        assert db.add_index("name") == v + 1 and db.fields == ("name",)
        assert db.set_key("id", message="keyed") == v + 2 and db.key == "id"
        history = db.history()
        assert history[-1].message == "keyed" and history[-1].ops is None
        assert dict(history[-2].meta) == {"configure": "index 'name'"}
        with pytest.raises(InvalidOperation):
            db.add_index("name")
        with pytest.raises(NotIndexed):
            db.drop_index("other")
        with pytest.raises(InvalidKey):
            db.set_key("missing")  # no node has it: refused, nothing committed
        with pytest.raises(DuplicateKey):
            db.set_key("name")  # n0 .. n99 repeat
        assert db.version == v + 2
        assert not db.changes(v, v + 2)  # no node changed
        # The unchanged rows are shared: changing the key or an index writes no row, block or link.
        for table in ("nodes", "blocks", "links"):
            assert count(target, f"SELECT count(*) FROM {table} WHERE version > {v}") == 0
        assert count(target, f"SELECT count(*) FROM keys WHERE version = {v + 2} AND leaf >= 0") == 2  # 300/4/64
    with Database(target) as db:
        assert db.key == "id" and db.fields == ("name",)
        assert sorted(db.tree.find(name="n5")) == [6, 106, 206]
        assert db.tree.node_of(299) == 300
        assert db.drop_index("name") == db.version and db.fields == ()
        db.set_key(None)
        assert db.key is None
        db.verify()
    with Database(target) as db:
        assert db.key is None and db.fields == ()
        with pytest.raises(InvalidArgument, match="add_index"):
            Database(target, fields=("name",))


def test_replace_keeps_the_configuration_unless_told(target: str) -> None:
    with Database(target, key="id", fields=("name",), block_size=8) as db:
        fill(db, 100)
        plain = Tree.from_events([({"id": i, "name": "x"}, True) for i in range(10)] + [(None, False)] * 10)
        assert plain.key is None and plain.block_size == 64
        db.replace(plain)
        assert db.key == "id" and db.fields == ("name",) and db.block_size == 8
        assert db.tree.node_of(9) == 9 and len(db.tree.find(name="x")) == 10
        db.tree.check()
        v = db.version
        with pytest.raises(InvalidKey):
            db.replace(Tree.from_events([({"name": "no id"}, True), (None, False)]))
        assert db.version == v
        db.replace(plain, key=None, fields=(), block_size=16)
        assert db.key is None and db.fields == () and db.block_size == 16
    with Database(target) as db:
        assert db.key is None and db.block_size == 16


def test_concurrent_duplicate_keys_the_later_commit_conflicts(target: str) -> None:
    with Database(target, key="id") as one, Database(target) as two:
        fill(one, 10)
        a = one.transaction()
        b = two.transaction()
        a.insert_root({"id": "new"})
        b.insert_root({"id": "new"})
        b.insert_root({"id": "other"})
        a.commit()
        v = one.version
        with pytest.raises(ConflictError) as caught:
            b.commit()
        assert isinstance(caught.value.__cause__, DuplicateKey)
        assert two.version == v and not two.tree.has_key("other")
        assert len([n for n in two.tree.preorder() if two.tree.key_of(n) == "new"]) == 1


def test_damaged_key_cells_are_corrupt(target: str) -> None:
    with Database(target, key="id") as db:
        fill(db, 300)
    _sql(target, "UPDATE keys SET crc = crc + 1 WHERE leaf >= 0")
    with Database(target) as db:
        with pytest.raises(CorruptDatabase):
            db.tree.node_of(5)
        with pytest.raises(CorruptDatabase):
            db.verify()


def test_a_key_index_that_disagrees_with_the_rows_fails_verify(tmp_path: Any) -> None:
    # Well-formed, correctly checksummed key cells that map a key to the wrong node.
    path = os.path.join(str(tmp_path), "k.db")
    with Database(path, key="id") as db:
        with db.transaction() as tx:
            tx.insert_root({"id": 1})
            tx.insert_root({"id": 2})
    from botree.storage import codec

    conn = sqlite3.connect(path)
    leaf, version, payload = conn.execute("SELECT leaf, version, payload FROM keys WHERE leaf = 0").fetchall()[-1]
    flat = [[x for k, n in zip(b[::2], b[1::2]) for x in (k, 1 - n)] for b in codec.unpack(payload)]
    new = codec.pack(flat)
    conn.execute(
        "UPDATE keys SET payload = ?, crc = ? WHERE leaf = 0 AND version = ?",
        (new, codec.checksum(new, "keys", 0, version), version),
    )
    conn.commit()
    conn.close()
    with Database(path) as db:
        with pytest.raises(CorruptDatabase, match="key"):
            db.verify()


def test_a_file_without_a_keys_table_opens_reads_and_gets_one_when_keyed(target: str) -> None:
    # A botree-2 database written before keys existed has no ``keys`` table.
    with Database(target, fields=("name",)) as db:
        fill(db, 200)
    _sql(target, "DROP TABLE keys")
    assert "keys" not in tables(target)
    with Database(target) as db:
        assert db.key is None and len(db.tree) == 201 and db.tree.find(name="n3") == [4, 104]
        db.verify()
        with db.transaction() as tx:  # an unkeyed commit writes no key cells: no table either
            tx.insert_root({"id": "late", "name": "late"})
        db.compact(1)
        db.verify()
    assert "keys" not in tables(target)  # reading, verifying, committing, compacting: no schema change
    with Database(target) as db:
        db.set_key("id")
        assert db.tree.node_of("late") == 201
    assert "keys" in tables(target)
    with Database(target) as db:
        assert db.key == "id" and db.tree.node_of(150) == 151
        db.verify()


def test_bad_keys_change_nothing_in_a_stored_database(target: str) -> None:
    with Database(target, key="id") as db:
        fill(db, 20)
        v = db.version
        for bad in (True, 1.5, None, [1], {"a": 1}, b"x"):
            with pytest.raises(InvalidKey):
                with db.transaction() as tx:
                    tx.insert_root({"id": bad})
            with pytest.raises(InvalidKey):
                with db.transaction() as tx:
                    tx.set_data(1, {"id": bad})
        assert db.version == v
        db.verify()


def test_rebase_rechecks_uniqueness_in_memory() -> None:
    db = Database(key="id")
    with db.transaction() as tx:
        a = tx.insert_root({"id": "a"})
    first = db.transaction()
    second = db.transaction()
    third = db.transaction()
    first.set_data(a, {"id": "z"})  # frees "a", takes "z"
    second.insert_root({"id": "z"})
    third.insert_root({"id": "y"})
    first.commit()
    with pytest.raises(ConflictError, match="no longer applies") as caught:
        second.commit()
    assert isinstance(caught.value.__cause__, DuplicateKey)
    third.commit()  # rebased: "y" is still free
    tree = db.tree
    assert tree.node_of("z") == a and tree.key_of(tree.node_of("y")) == "y" and len(tree) == 2
    assert not tree.has_key("a")
    tree.check()
    assert db.replay() == tree


def test_memory_replace_and_reconfiguration() -> None:
    db = Database(key="id", fields=("name",), block_size=8)
    fill(db, 40)
    plain = Tree.from_events([({"id": i, "name": "x"}, True) for i in range(10)] + [(None, False)] * 10)
    db.replace(plain)
    assert (db.key, db.fields, db.block_size) == ("id", ("name",), 8)
    db.tree.check()
    v = db.add_index("id")
    assert db.fields == ("name", "id") and db.version == v
    db.drop_index("name")
    db.set_key(None)
    assert (db.key, db.fields) == (None, ("id",))
    assert db.tree.find(id=3) == [3] and db.replay() == db.tree
    with pytest.raises(InvalidArgument):
        db.set_key("")
    with pytest.raises(InvalidArgument):
        db.replace(plain, block_size=3)


def test_a_file_written_before_keys_opens_unchanged_and_can_be_keyed(tmp_path: Any) -> None:
    # tests/data/format-botree-2-before-keys.db: written by the library before this change
    # (commit 3a9e988): 101 nodes, fields ("name",), two commits, no keys table.
    import shutil

    from tests import ROOT

    path = os.path.join(str(tmp_path), "old.db")
    shutil.copy(os.path.join(ROOT, "tests", "data", "format-botree-2-before-keys.db"), path)
    before = open(path, "rb").read()
    with Database(path) as db:
        assert db.version == 2 and db.key is None and db.fields == ("name",)
        tree = db.tree
        assert len(tree) == 100 and tree.data(5) == {"id": "five", "name": "p5"} and 7 not in tree
        assert sorted(tree.find(name="p3")) == [4, 11, 18, 25, 32, 39, 46, 53, 60, 67, 74, 81, 88, 95]
        assert [c.message for c in db.history()] == ["initial", "setup", "edit"]
        db.verify()
        with pytest.raises(InvalidOperation):
            tree.node_of(3)
    assert open(path, "rb").read() == before  # opening, reading and verifying changed nothing
    assert "keys" not in tables(path)
    with Database(path) as db:
        db.set_key("id")
        assert db.tree.node_of("five") == 5 and db.tree.node_of(3) == 4 and not db.tree.has_key(6)
    with Database(path, key="id") as db:
        assert db.tree.node_of("acme") == 0
        db.verify()
    assert "keys" in tables(path)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(keys=st.lists(st.one_of(st.integers(), st.text()), unique_by=lambda k: (type(k), k), max_size=300))
def test_any_int_or_str_key_round_trips_through_storage(tmp_path_factory: Any, keys: List[Any]) -> None:
    # Big ints (beyond 64 bits), negative ints, any unicode text (lone surrogates too).
    path = os.path.join(str(tmp_path_factory.mktemp("keys")), "k.db")
    with Database(path, key="k") as db:
        with db.transaction() as tx:
            made = [tx.insert_root({"k": k}) for k in keys]
    with Database(path) as db:
        tree = db.tree
        for node, k in zip(made, keys):
            assert tree.node_of(k) == node and tree.key_of(node) == k and type(tree.key_of(node)) is type(k)
        for k in keys:
            other = str(k) if type(k) is int else None
            if other is not None and not any(type(x) is str and x == other for x in keys):
                assert not tree.has_key(other)
        db.verify()
