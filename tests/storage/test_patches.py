"""Patch cells (format botree-3): a commit writes the slots a leaf changed, on a whole base cell.

The property: whatever mix of updates, writer objects (each with its own knowledge of
bases), reopens and compactions, every kept version read back by a fresh object equals
the tree the writer committed, passes ``check()``, and ``verify()`` passes.  Then the
damage a patch can suffer: its base gone, its base a patch, a patch's slots out of range.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botree import Database, Tree
from botree.core.blocks import Block
from botree.errors import CorruptDatabase
from botree.storage import codec
from tests.conftest import pg_schema_url

STEP = st.tuples(
    st.sampled_from(["insert", "insert", "delete", "move", "set", "set", "switch", "reopen", "compact"]),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
)


@contextmanager
def fresh_target(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            yield os.path.join(directory, "t.db")
    else:
        yield from pg_schema_url()


def _seeded(target: str, n: int = 400) -> Database:
    db = Database(target)
    with db.transaction() as tx:  # several leaves of every vector
        for i in range(n):
            tx.insert_child(None if i < 3 else (i * 7919) % i, {"i": i})
    return db


def _step(db: Database, op: str, a: int, b: int) -> None:
    tree = db.tree
    nodes = list(tree.preorder())
    with db.transaction() as tx:
        if op == "insert" or not nodes:
            parent = nodes[a % len(nodes)] if nodes else None
            tx.insert_child(parent, {"new": a}, index=b % (len(list(tree.children(parent))) + 1) if nodes else 0)
        elif op == "delete":
            tx.delete(nodes[a % len(nodes)])
        elif op == "set":
            tx.set_data(nodes[a % len(nodes)], [a, str(b), (b, None)])
        else:  # move a node under another that is not inside it
            node, target = nodes[a % len(nodes)], nodes[b % len(nodes)]
            if node != target and not tree.is_descendant(target, node):
                tx.move(node, target)


Shape = List[Tuple[int, Any, Any]]


def shape(tree: Tree) -> Shape:
    """A tree as plain values: (node, parent, data) in preorder (kept after its database closes)."""
    return [(n, tree.parent(n), tree.data(n)) for n in tree.preorder()]


def _check_kept(target: str, committed: Dict[int, Shape]) -> None:
    reader = Database(target)
    try:
        oldest = min(c.version for c in reader.history())
        for version, tree in committed.items():
            if version >= oldest:
                stored = reader.as_of(version)
                stored.check()
                assert shape(stored) == tree, f"version {version} reads back differently"
        reader.verify()
    finally:
        reader.close()


def run_steps(target: str, steps: List[Tuple[str, int, int]]) -> None:
    writers = [_seeded(target), Database(target)]
    committed = {writers[0].version: shape(writers[0].tree)}
    turn = 0
    try:
        for op, a, b in steps:
            if op == "switch":
                turn = 1 - turn
            elif op == "reopen":
                writers[turn].close()
                writers[turn] = Database(target)
            elif op == "compact":
                writers[turn].compact(keep=1 + a % 4)
                _check_kept(target, committed)
            else:
                db = writers[turn]
                _step(db, op, a, b)
                committed[db.version] = shape(db.tree)
        _check_kept(target, committed)
    finally:
        for db in writers:
            db.close()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STEP, min_size=1, max_size=20))
def test_every_kept_version_reads_back_sqlite(steps: List[Tuple[str, int, int]]) -> None:
    with fresh_target("sqlite") as target:
        run_steps(target, steps)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STEP, min_size=1, max_size=15))
def test_every_kept_version_reads_back_postgres(steps: List[Tuple[str, int, int]]) -> None:
    with fresh_target("postgres") as target:
        run_steps(target, steps)


def _cells(path: str, table: str) -> List[Tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT leaf, version, payload, crc, base FROM {table} WHERE leaf >= 0").fetchall()


def test_a_small_commit_writes_patches_of_the_changed_slots(tmp_path: Any) -> None:
    path = os.path.join(str(tmp_path), "t.db")
    db = _seeded(path, 3000)
    before = db.version
    for i in range(20):
        with db.transaction() as tx:
            tx.insert_child(i * 100, {"x": i})
    db.close()
    new = [c for table in ("blocks", "links", "nodes") for c in _cells(path, table) if c[1] > before]
    patches = [c for c in new if c[4] is not None]
    assert patches, "no patch was written"
    assert all(codec.patch_base(c[2]) == c[4] for c in patches)  # the column copies the payload's base
    # An insert changes a slot or two of a leaf: its cells stay small (a whole blocks leaf is ~30 KB).
    assert sum(len(c[2]) for c in new) / 20 < 8000
    _check_kept(path, {})


def _damaged_patch_db(tmp_path: Any) -> Tuple[str, Tuple[Any, ...], Shape]:
    path = os.path.join(str(tmp_path), "t.db")
    db = _seeded(path, 1000)
    with db.transaction() as tx:
        tx.set_data(500, "changed")
    expected = shape(db.tree)
    db.close()
    patch = next(c for c in _cells(path, "nodes") if c[4] is not None)
    return path, patch, expected


def _forge(path: str, leaf: int, version: int, value: Any) -> None:
    """Store ``value`` as nodes cell (leaf, version) with a valid checksum: a bug, not bit rot."""
    forged = codec.pack(value)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE nodes SET payload = ?, crc = ? WHERE leaf = ? AND version = ?",
            (forged, codec.checksum(forged, "nodes", leaf, version), leaf, version),
        )


def test_a_patch_whose_base_is_gone_is_corrupt(tmp_path: Any) -> None:
    path, (leaf, version, _, _, base), _ = _damaged_patch_db(tmp_path)
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM nodes WHERE leaf = ? AND version = ?", (leaf, base))
    with Database(path) as db:
        with pytest.raises(CorruptDatabase):
            list(db.tree.preorder())
            db.tree.data(500)
        with pytest.raises(CorruptDatabase):
            db.verify()


def test_a_patch_on_a_patch_is_corrupt(tmp_path: Any) -> None:
    path, (leaf, version, payload, _, base), _ = _damaged_patch_db(tmp_path)
    # Rewrite the base cell as a patch naming an older version, with a valid checksum (a bug, not bit rot).
    _forge(path, leaf, base, [codec.PATCH, 0, 64, [], []])
    with Database(path) as db:
        with pytest.raises(CorruptDatabase):
            db.tree.data(500)


@pytest.mark.parametrize("shape", [[codec.PATCH, 5, 64, [64], [None]], [codec.PATCH, 5, 64, [3, 2], [None, None]],
                                   [codec.PATCH, 5, 63, [1], [None]], [codec.PATCH, "5", 64, [], []],
                                   [codec.PATCH, 99, 64, [], []]])
def test_a_malformed_patch_is_corrupt(tmp_path: Any, shape: List[Any]) -> None:
    path, (leaf, version, _, _, base), _ = _damaged_patch_db(tmp_path)
    _forge(path, leaf, version, shape)
    with Database(path) as db:
        with pytest.raises(CorruptDatabase):
            [db.tree.data(n) for n in db.tree.preorder()]


def test_compaction_keeps_the_bases_of_kept_patches(tmp_path: Any) -> None:
    path = os.path.join(str(tmp_path), "t.db")
    db = _seeded(path, 2000)
    committed = {db.version: shape(db.tree)}
    for i in range(12):
        with db.transaction() as tx:
            tx.set_data(i * 150, f"v{i}")
        committed[db.version] = shape(db.tree)
    db.compact(keep=3)
    db.close()
    bases = {(c[0], c[4]) for c in _cells(path, "nodes") if c[4] is not None}
    stored = {(c[0], c[1]) for c in _cells(path, "nodes")}
    assert bases and bases <= stored
    _check_kept(path, committed)


def test_a_botree_2_database_takes_whole_cells_until_upgraded(tmp_path: Any) -> None:
    import shutil

    from botree.db import upgrade

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.path.join(str(tmp_path), "old.db")
    shutil.copy(os.path.join(root, "tests", "data", "format-botree-2-before-keys.db"), path)
    with Database(path) as db:
        node = next(iter(db.tree.preorder()))
        for i in range(3):
            with db.transaction() as tx:
                tx.set_data(node, {"n": i})
        expected = shape(db.tree)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone() == ("botree-2",)
        columns = [r[1] for r in conn.execute("PRAGMA table_info(nodes)")]
        assert "base" not in columns
    assert upgrade(path) == ("botree-2", "botree-3")
    with Database(path) as db:
        assert shape(db.tree) == expected
        for i in range(3):
            with db.transaction() as tx:
                tx.set_data(node, {"m": i})
        expected = shape(db.tree)
        db.verify()
    assert any(c[4] is not None for c in _cells(path, "nodes"))
    with Database(path) as db:
        assert shape(db.tree) == expected


def test_verify_finds_a_base_column_that_disagrees_with_its_payload(tmp_path: Any) -> None:
    path, (leaf, version, _, _, base), expected = _damaged_patch_db(tmp_path)
    with sqlite3.connect(path) as conn:  # compaction reads the column: a wrong one could drop a needed base
        conn.execute("UPDATE nodes SET base = ? WHERE leaf = ? AND version = ?", (version, leaf, version))
    with Database(path) as db:
        assert shape(db.tree) == expected  # reads go by the checksummed payload, never the column
        with pytest.raises(CorruptDatabase, match="base column"):
            db.verify()


# -- reusing the packed bytes of blocks --------------------------------------------------

INTS = st.integers(-(2**63), 2**64 - 1)
BLOCK = st.builds(
    lambda keys, items, aux, counts: Block(keys, items, aux, counts, None),
    st.lists(INTS, max_size=40), st.lists(INTS, max_size=40), st.lists(INTS, max_size=40),
    st.none() | st.lists(INTS, max_size=40),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(BLOCK, min_size=1, max_size=12), st.lists(st.lists(st.integers(-1, 11), min_size=1, max_size=70),
                                                          min_size=1, max_size=6))
def test_packed_block_bytes_are_those_of_a_fresh_pack(pool: List[Any], leaves: List[List[int]]) -> None:
    """Whole and patch cells made with the cache of packed blocks are byte for byte the fresh ones.

    Leaves draw their blocks from one pool (the same objects again and again, as a patch
    repeats them), with None slots; one cache serves them all, as it serves one writer.
    """
    packed: codec.Packed = {}
    for picks in leaves:
        leaf = [None if i < 0 else pool[i % len(pool)] for i in picks][:64]
        assert codec.encode_leaf("blocks", leaf, packed) == codec.encode_leaf("blocks", leaf)
        changed = sorted({i for i in range(0, len(leaf), 3)})
        assert codec.encode_patch("blocks", 7, leaf, changed, packed) == codec.encode_patch("blocks", 7, leaf, changed)
        assert codec.decode_cell("blocks", codec.encode_leaf("blocks", leaf, packed), len(leaf), "t") is not None
    assert all(entry[0] is block for block in pool for key, entry in packed.items() if key == id(block))
