"""The field index is stored (cell table ``fields``): a reopened database answers ``find`` from it,
loading a few leaves instead of rebuilding from every row; damage is ``CorruptDatabase``."""

from __future__ import annotations

import os
import shutil
import sqlite3
from typing import Any, Dict

import pytest

from botree import Database, Range
from botree.errors import CorruptDatabase
from botree.storage import codec
from tests import ROOT
from tests.db.test_keys_db import tables
from tests.storage.test_damage import _sql

N = 10_000


def fill(db: Database, n: int = N) -> None:
    with db.transaction(message="fill") as tx:
        root = tx.insert_root({"name": "root", "size": -1})
        for i in range(n):
            tx.insert_child(root, {"name": f"n{i}", "size": i % 97, "kind": ("a", "b", "c")[i % 3]})


def total_leaves(db: Database) -> int:
    """Leaves of every stored vector of the head (what rebuilding from the rows would touch, and more)."""
    ix = db.tree.order_index
    vecs = codec.vectors(ix)
    return sum((len(v) + 63) // 64 for v in vecs.values())


def test_a_cold_find_loads_few_leaves_after_reopen(target: str) -> None:
    with Database(target, fields=("name", "size")) as db:
        fill(db)
    with Database(target) as db:
        tree = db.tree
        nodes = tree.order_index.nodes
        assert nodes.field_index is not None  # stored: nothing to rebuild
        before = db.leaf_stats["loads"]
        assert nodes.find_ids("name", "n1234") == [1235]
        index_loads = db.leaf_stats["loads"] - before
        assert index_loads <= 4  # one path of the tree: its inner nodes share leaves
        assert tree.find(name="n4321") == [4322]
        cold = db.leaf_stats["loads"] - before
        assert cold <= 12, cold
        assert total_leaves(db) > 10 * cold  # far fewer than all (rows alone are 157 leaves)
        assert db.leaf_stats["loaded"] is not None and db.leaf_stats["loaded"] < 40
        before = db.leaf_stats["loads"]
        got = nodes.find_ids("size", Range(10, 12))
        assert sorted(got) == [i + 1 for i in range(N) if 10 <= i % 97 < 12]
        # O(log n + k): a tree leaf split by inserts holds >= 8 entries, and each may sit in its own vector leaf
        assert db.leaf_stats["loads"] - before <= 4 + len(got) // 8 + 2


def test_updates_keep_the_stored_index_and_reopen_agrees(target: str) -> None:
    with Database(target, fields=("name",)) as db:
        fill(db, 500)
    with Database(target) as db:
        with db.transaction() as tx:
            tx.set_data(11, {"name": "eleven"})
            tx.set_data(12, {"name": 12})
            tx.set_data(13, {"other": 1})
            tx.delete(14)
            tx.insert_root({"name": ("t", 1)})
        db.verify()
        expect: Dict[Any, Any] = {}
        for node in db.tree.order_index.nodes.ids():
            data = db.tree.data(node)
            if "name" in data:
                expect.setdefault(data["name"], []).append(node)
        db.compact(db.version)
        db.verify()
    with Database(target) as db:
        nodes = db.tree.order_index.nodes
        for name, ids in expect.items():
            assert sorted(nodes.find_ids("name", name)) == ids
        assert nodes.find_ids("name", "n10") == [] and nodes.find_ids("name", 12.0) == [12]
        assert list(nodes.range_values("name", Range("n497", "n5"))) == ["n497", "n498", "n499"]
        db.tree.check()


def test_add_and_drop_index_after_reopen_are_stored(target: str) -> None:
    with Database(target) as db:
        fill(db, 2000)
        assert "fields" not in tables(target) or db.tree.order_index.nodes.field_index is not None
    with Database(target) as db:
        v = db.add_index("kind")
        assert db.version == v
    with Database(target) as db:
        assert db.fields == ("kind",)
        before = db.leaf_stats["loads"]
        assert len(db.tree.order_index.nodes.find_ids("kind", "b")) == 667
        assert db.leaf_stats["loads"] - before <= 4  # the ids of one value: a run of its tree's leaves
        db.add_index("size")
        db.drop_index("kind")
        db.verify()
    with Database(target) as db:
        assert db.fields == ("size",)
        assert sorted(db.tree.find(size=5)) == [i + 1 for i in range(2000) if i % 97 == 5]
        db.drop_index("size")
    with Database(target) as db:
        assert db.fields == () and codec.vectors(db.tree.order_index).keys() == {"blocks", "links", "nodes"}
        db.verify()


def test_damaged_field_cells_are_corrupt(target: str) -> None:
    with Database(target, fields=("name",)) as db:
        fill(db, 300)
    _sql(target, "UPDATE fields SET crc = crc + 1 WHERE leaf >= 0")
    with Database(target) as db:
        with pytest.raises(CorruptDatabase):
            db.tree.find(name="n5")
        with pytest.raises(CorruptDatabase):
            db.verify()


def test_a_field_index_that_disagrees_with_the_rows_fails_verify(tmp_path: Any) -> None:
    # Well-formed, correctly checksummed cells whose index maps a value to the wrong node.
    path = os.path.join(str(tmp_path), "f.db")
    with Database(path, fields=("name",)) as db:
        with db.transaction() as tx:
            tx.insert_root({"name": "a"})
            tx.insert_root({"name": "b"})
    conn = sqlite3.connect(path)
    leaf, version, payload = conn.execute("SELECT leaf, version, payload FROM fields WHERE leaf = 0").fetchall()[-1]
    slots = codec.unpack(payload)
    kind, entries = slots[0]
    slots[0] = (kind, tuple((f, v, 1 - n) for f, v, n in entries))
    new = codec.pack(slots)
    conn.execute(
        "UPDATE fields SET payload = ?, crc = ? WHERE leaf = 0 AND version = ?",
        (new, codec.checksum(new, "fields", 0, version), version),
    )
    conn.commit()
    conn.close()
    with Database(path) as db:
        assert db.tree.find(name="a") == [1]  # wrong, and only verify can tell
        with pytest.raises(CorruptDatabase, match="field"):
            db.verify()


def test_a_file_written_before_stored_fields_opens_unchanged_and_stores_them_on_commit(tmp_path: Any) -> None:
    # tests/data/format-botree-2-before-keys.db: fields ("name",), no keys or fields table.
    path = os.path.join(str(tmp_path), "old.db")
    shutil.copy(os.path.join(ROOT, "tests", "data", "format-botree-2-before-keys.db"), path)
    before = open(path, "rb").read()
    with Database(path) as db:
        assert db.tree.order_index.nodes.field_index is None  # not stored: built on first use
        assert sorted(db.tree.find(name="p3")) == [4, 11, 18, 25, 32, 39, 46, 53, 60, 67, 74, 81, 88, 95]
        db.verify()
    assert open(path, "rb").read() == before
    assert "fields" not in tables(path)
    with Database(path) as db:
        with db.transaction() as tx:
            tx.set_data(4, {"id": "four", "name": "p4"})
        db.verify()
    assert "fields" in tables(path)
    with Database(path) as db:
        assert db.tree.order_index.nodes.field_index is not None
        assert sorted(db.tree.find(name="p3")) == [11, 18, 25, 32, 39, 46, 53, 60, 67, 74, 81, 88, 95]
        assert 4 in db.tree.find(name="p4")
        db.verify()
        old = db.as_of(2)  # a version before the first stored index: still built from its rows
        assert 4 in old.find(name="p3")
