"""``upgrade(target)``: rewrite a stored database of an older format in place, keeping every version.

Format ``botree-2`` had whole cells only: upgrading it adds the ``base`` column each cell
table needs for patch cells (``botree-3``) and moves the tag; nothing else changes.

Format ``botree-1`` (botree 0.1) stored ``marshal`` payloads, read a leaf as "its newest
cell at or before the version", and took the oldest kept version from the commits
index.  Upgrading to ``botree-2`` happens in one write transaction (all of it or
nothing): every cell and commit payload is decoded and encoded again as MessagePack
with a new checksum, manifests are written so that every kept version pins the exact
cells it reads, the head row gains the oldest kept version; then the ``botree-2`` step.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Set, Tuple

from ..errors import CorruptDatabase, StorageError
from ..storage import codec, legacy
from ..storage.codec import checksum
from ..storage.format import FORMAT, OPTIONAL_TABLES, TABLES, UPGRADABLE, WHOLE_CELLS_ONLY
from ..storage.store import COMMIT_COLUMNS, Cell, CommitRow, Store, commit_row
from .durable import open_store


def upgrade(target: "str | os.PathLike[str]") -> Tuple[str, str]:
    """Upgrade the database at ``target`` to the current format in place; (old format, new format).

    A database already in the current format is left alone.  Raises
    ``CorruptDatabase`` for an unknown format or a record that fails its checksum;
    nothing changes then.  O(stored size).
    """
    store = open_store(os.fspath(target))
    try:
        found = store.format()
        if found == FORMAT:
            return FORMAT, FORMAT
        if found not in UPGRADABLE and found not in WHOLE_CELLS_ONLY:
            raise CorruptDatabase(f"{store.target} has format {found!r}: not one this library can upgrade")
        with store.rewriting():
            if found in UPGRADABLE:
                _from_botree_1(store)
            _from_botree_2(store)
        return found, FORMAT
    finally:
        store.close()


def _from_botree_1(store: Store) -> None:
    """Rewrite a ``botree-1`` database as ``botree-2`` (inside the caller's write transaction)."""
    where = store.target
    store.execute("ALTER TABLE head ADD COLUMN oldest BIGINT NOT NULL DEFAULT 0")
    commits = [
        _checked_commit(row, where)
        for row in store.execute(f"SELECT {COMMIT_COLUMNS} FROM commits ORDER BY version")
    ]
    if not commits:
        raise CorruptDatabase(f"{where}: no commits to upgrade")
    oldest = int(commits[0][0])
    store.execute("UPDATE head SET oldest = ? WHERE id = 0", (oldest,))
    written = {table: _rewrite_cells(store, table) for table in TABLES}
    latest: Dict[str, Dict[int, int]] = {table: {} for table in TABLES}  # leaf -> newest cell version so far
    pins: Dict[str, List[int]] = {table: [] for table in TABLES}
    pending = {table: sorted(written[table].items()) for table in TABLES}
    for version, parent, when, message, meta, state, ops, deleted, _ in commits:
        at = f"{where}: commit {version}"
        old_state = legacy.decode_state(state, at)
        for table, length in zip(TABLES, old_state["lengths"]):
            touched: Set[int] = set()
            while pending[table] and pending[table][0][0] <= version:
                cell_version, leaves = pending[table].pop(0)  # ascending: the newest cell wins
                for leaf in leaves:
                    latest[table][leaf] = cell_version
                    touched.add(leaf >> 6)
            groups = codec.group_count(length)
            if version == oldest:
                touched = set(range(groups))
            touched |= set(range(len(pins[table]), groups))
            pins[table] = pins[table][:groups] + [version] * max(0, groups - len(pins[table]))
            cells = [_manifest_cell(table, group, version, length, latest[table], at) for group in sorted(touched)]
            for group in touched:
                pins[table][group] = version
            store.insert_cells(table, version, cells)
        new_state = dict(old_state)
        new_state["block_ids"] = list(old_state["block_ids"])
        new_state["node_ids"] = list(old_state["node_ids"])
        new_state["fields"] = list(old_state["fields"])
        new_state["lengths"] = list(old_state["lengths"])
        new_state["manifests"] = {table: list(pins[table]) for table in TABLES}
        state_b = codec.pack_state(new_state)
        meta_b = codec.encode_meta(legacy.decode_value(meta, at))
        ops_b = codec.encode_ops(legacy.decode_ops(ops, at))
        deleted_b = codec.encode_deleted(set(legacy.decode_value(deleted, at)))
        crc = codec.commit_checksum(version, parent, when, message, meta_b, state_b, ops_b, deleted_b)
        store.execute(
            "UPDATE commits SET meta = ?, state = ?, ops = ?, deleted = ?, crc = ? WHERE version = ?",
            (meta_b, state_b, ops_b, deleted_b, crc, version),
        )


def _from_botree_2(store: Store) -> None:
    """A ``botree-2`` database (whole cells only) becomes ``botree-3``: each cell table gains ``base``. O(tables)."""
    present = store.tables()
    for table in (*TABLES, *(t for t in OPTIONAL_TABLES if t in present)):
        store.execute(f"ALTER TABLE {table} ADD COLUMN base BIGINT")
    store.execute("UPDATE meta SET value = ? WHERE key = ?", (FORMAT, "format"))


def _checked_commit(row: Tuple[Any, ...], where: str) -> CommitRow:
    """A ``botree-1`` commit row with its columns' types and its checksum checked (the same as ``botree-2``'s).

    Without this check a damaged message, time, parent or meta would be re-encoded
    with a new, valid checksum: the damage would become the upgraded history.
    """
    checked = commit_row(row, where)
    version, parent, when, message, meta, state, ops, deleted, crc = checked
    if codec.commit_checksum(version, parent, when, message, meta, state, ops, deleted) != crc:
        raise CorruptDatabase(f"{where}: commit {version}: bad checksum")
    return checked


def _rewrite_cells(store: Store, table: str) -> Dict[int, List[int]]:
    """Re-encode every cell of ``table``; version -> the leaves it has cells for."""
    written: Dict[int, List[int]] = {}
    for leaf, version, payload, crc, _ in list(store.cells(table)):
        at = f"{store.target}: {table} leaf {leaf} version {version}"
        if checksum(payload, table, leaf, version) != crc:
            raise CorruptDatabase(f"{at}: bad checksum")
        slots = legacy.decode_leaf(table, payload, at)
        new = codec.encode_leaf(table, slots)
        store.execute(
            f"UPDATE {table} SET payload = ?, crc = ? WHERE leaf = ? AND version = ?",
            (new, checksum(new, table, leaf, version), leaf, version),
        )
        written.setdefault(version, []).append(leaf)
    return written


def _manifest_cell(table: str, group: int, version: int, length: int, latest: Dict[int, int], at: str) -> Cell:
    """The manifest of ``group`` as of ``version``, from the newest cell of each of its leaves."""
    leaves = codec.group_leaves(length, group)
    versions: List[Any] = []
    for number in range(group << 6, (group << 6) + leaves):
        cell = latest.get(number, -1)
        if cell < 0:
            raise CorruptDatabase(f"{at}: {table} leaf {number} has no cell")
        versions.append(cell)
    payload = codec.encode_manifest(versions)
    leaf = -(group + 1)
    return leaf, payload, checksum(payload, table, leaf, version), None


__all__ = ["upgrade", "StorageError"]  # StorageError: what a missing file or server raises
