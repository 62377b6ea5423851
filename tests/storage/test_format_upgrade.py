"""Format botree-1 (botree 0.1) databases: refused with the upgrade command, upgraded in place exactly."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3

import pytest

from botree import Database, JsonNode
from botree.db import upgrade
from botree.errors import CorruptDatabase, OutdatedFormat
from botree.storage.format import FORMAT
from tests import ROOT

FIXTURE = os.path.join(ROOT, "tests", "data", "format-botree-1.db")
EXPECTED = os.path.join(ROOT, "tests", "data", "format-botree-1.json")


@pytest.fixture()
def old_db(tmp_path: object) -> str:
    path = os.path.join(str(tmp_path), "old.db")
    shutil.copyfile(FIXTURE, path)
    return path


def snapshot(db: Database, version: int) -> list:
    tree = db.as_of(version)
    return [[n, tree.parent(n), repr(tree.data(n))] for n in tree.preorder()]


def test_opening_a_botree_1_database_names_the_upgrade_command(old_db: str) -> None:
    before = open(old_db, "rb").read()
    with pytest.raises(OutdatedFormat) as caught:
        Database(old_db)
    assert f"botree upgrade {old_db}" in str(caught.value) and "botree-1" in str(caught.value)
    assert open(old_db, "rb").read() == before  # refusing changed nothing


def test_upgrade_keeps_every_version_exactly(old_db: str) -> None:
    assert upgrade(old_db) == ("botree-1", FORMAT)
    expected = json.load(open(EXPECTED))
    with Database(old_db) as db:
        assert db.version == 3
        for version, nodes in expected.items():
            assert snapshot(db, int(version)) == nodes
        root = next(db.tree.roots())
        assert db.tree.data(root)["nested"] == [1, [2, (3, None)], {"k": True}]  # the tuple came back a tuple
        assert any(type(db.tree.data(n)) is JsonNode for n in db.tree.preorder())
        assert [c.message for c in db.history()] == ["initial", "org", "reorg", "layoff"]
        assert db.history()[1].meta == {"user": "ann", "n": 1}
        assert len(db.tree.find(name="Engineering")) == 1  # the field index works after the upgrade
        db.verify()
        assert db.changes(1, 2) == db.as_of(1).diff(db.as_of(2))
        with db.transaction(message="after upgrade") as tx:  # and it goes on working
            tx.insert_child(root, {"name": "new"})
    with Database(old_db) as db:
        assert db.version == 4 and db.history()[-1].message == "after upgrade"
        db.verify()
    assert upgrade(old_db) == (FORMAT, FORMAT)  # a second upgrade has nothing to do


def test_a_damaged_botree_1_database_is_not_half_upgraded(old_db: str) -> None:
    conn = sqlite3.connect(old_db)
    conn.execute("UPDATE nodes SET crc = crc + 1 WHERE rowid = (SELECT max(rowid) FROM nodes)")
    conn.commit()
    conn.close()
    with pytest.raises(CorruptDatabase):
        upgrade(old_db)
    with pytest.raises(OutdatedFormat):  # still the old format, untouched by the failed rewrite
        Database(old_db)


def test_the_cli_upgrades_and_then_reads(old_db: str) -> None:
    from tests.cli.test_cli import run

    failed = run("ls", old_db, code=1)
    assert f"botree upgrade {old_db}" in failed.stderr and "Traceback" not in failed.stderr
    assert "upgraded from format botree-1 to botree-3" in run("upgrade", old_db).stdout
    assert "already in format botree-3" in run("upgrade", old_db).stdout
    assert "Engineering" in run("ls", old_db).stdout


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE commits SET message = 'reor' WHERE version = 2",
        "UPDATE commits SET time = time + 1 WHERE version = 1",
        "UPDATE commits SET parent = 0 WHERE version = 3",
        "UPDATE commits SET meta = CAST(replace(CAST(meta AS TEXT), 'ann', 'anl') AS BLOB) WHERE version = 1",
        "UPDATE commits SET crc = crc + 1 WHERE version = 1",
    ],
)
def test_a_damaged_botree_1_commit_row_is_refused_not_upgraded_into_a_valid_one(old_db: str, damage: str) -> None:
    # The upgrade re-encoded commit rows without checking their botree-1 checksum, so a
    # damaged message, time, parent or meta came out with a new, valid checksum.
    conn = sqlite3.connect(old_db)
    assert conn.execute(damage).rowcount == 1
    conn.commit()
    conn.close()
    with pytest.raises(CorruptDatabase, match="commit"):
        upgrade(old_db)
    with pytest.raises(OutdatedFormat):
        Database(old_db)


def test_a_botree_1_state_without_its_vector_lengths_is_corrupt(old_db: str) -> None:
    import marshal

    from botree.storage import legacy

    with pytest.raises(CorruptDatabase):
        legacy.decode_state(marshal.dumps({"root": 0}), "state")
    with pytest.raises(CorruptDatabase):
        legacy.decode_state(
            marshal.dumps({k: 0 for k in ("root", "height", "block_size", "fields", "block_ids", "node_ids")}
                          | {"lengths": [1, "x", 2]}),
            "state",
        )
