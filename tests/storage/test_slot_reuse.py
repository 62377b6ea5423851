"""Decoding only what changed (``codec.SlotReuse``): a cell of a leaf this process decoded (or
wrote) before takes the decoded object of every slot whose bytes are identical and decodes
the rest.

The property: over random leaves of every table and random sequences of whole cells and
patches of one leaf (slots changed, added, freed; cells decoded out of order, as a patch's
base is after the patch; cells this process wrote mixed in), every decode through the
reuse equals a fresh ``decode_cell`` of the same payload, slot by slot, in type and value.
Damaged payloads give the same outcome as a fresh decode (``CorruptDatabase`` for damage a
decode sees) and never change what later decodes give; through a stored database a
damaged cell is ``CorruptDatabase`` even where its slot bytes equal the remembered ones.
The memory stays within its bound, and a one-slot change decodes one slot.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botree import Database
from botree.core.blocks import Block
from botree.errors import CorruptDatabase
from botree.nodetable import UNKNOWN, Row
from botree.storage import codec
from tests.tree.test_values import accepted, same

TABLES = ("blocks", "links", "nodes", "keys", "fields")
ints = st.integers(-(2**40), 2**40)
small = st.integers(0, 2**30)


def _block() -> st.SearchStrategy[Any]:
    lists = st.lists(small, max_size=70)  # up to a full block of 64 and more: slots of every size
    return st.builds(lambda k, i, a, leaf, c: Block(k, i, a, None if leaf else c, None), lists, lists, lists,
                     st.booleans(), lists)


def _row() -> st.SearchStrategy[Any]:
    parent = st.one_of(st.just(UNKNOWN), st.integers(-1, 10**6).map(lambda p: p << 1))
    return st.builds(lambda a, b, c, d, data, p: Row(a, b, c, d, data, None, p), small, small, small, small,
                     accepted, parent)


def _bucket() -> st.SearchStrategy[Any]:
    pairs = st.lists(st.tuples(st.one_of(ints, st.text(max_size=6)), small), max_size=6)
    return pairs.map(lambda ps: tuple(x for p in ps for x in p))


def _tree_node() -> st.SearchStrategy[Any]:
    entry = st.one_of(
        st.tuples(st.integers(0, 2), st.one_of(ints, st.text(max_size=5)), small),
        st.tuples(st.just(3), ints, small, accepted),
    )
    leaf = st.lists(entry, max_size=16).map(lambda es: (0, tuple(es)))
    inner = st.lists(entry, max_size=15).flatmap(
        lambda es: st.lists(small, min_size=len(es) + 1, max_size=len(es) + 1).map(lambda cs: (1, tuple(es), tuple(cs)))
    )
    free = small.map(lambda n: (2, n))
    return st.one_of(leaf, inner, free)


SLOTS = {
    "blocks": st.one_of(st.none(), _block()),
    "links": st.one_of(st.none(), st.tuples(small, small, st.integers(-5, 5))),
    "nodes": st.one_of(st.none(), _row()),
    "keys": _bucket(),
    "fields": _tree_node(),
}


def plain(table: str, slot: Any) -> Any:
    """A slot as plain values with its type's name, for ``same``."""
    if type(slot) is Block:
        return ("Block", slot.keys, slot.items, slot.aux, slot.counts, slot.owner)
    if isinstance(slot, Row):
        return (type(slot).__name__, slot.open_leaf, slot.open_key, slot.close_leaf, slot.close_key, slot.data,
                slot.parent, slot.owner)
    return slot


def outcome(table: str, decode: Any, *args: Any) -> Any:
    """What ``decode(*args)`` gives as plain values: ("whole", slots), ("patch", base, numbers, slots) or the error."""
    try:
        cell = decode(*args)
    except Exception as exc:  # compared by type: a fresh decode and the reuse must agree
        return ("error", type(exc))
    if isinstance(cell, codec.Patch):
        return ("patch", cell.base, list(cell.changed), [plain(table, s) for s in cell.slots])
    return ("whole", [plain(table, s) for s in cell])


# One step of a leaf's life: change these slots (index, new slot) and grow by these, then
# write the leaf as a whole cell or as a patch of the slots changed since the last whole cell.
Step = Tuple[List[Tuple[int, Any]], List[Any], bool]


History = Tuple[str, List[Any], List[Step], List[int], List[bool]]  # table, first leaf, steps, order, seeded


@st.composite
def histories(draw: Any) -> History:
    table = draw(st.sampled_from(TABLES))
    slot = SLOTS[table]
    first = draw(st.lists(slot, min_size=1, max_size=64))
    steps = draw(st.lists(
        st.tuples(
            st.lists(st.tuples(st.integers(0, 63), slot), max_size=4),
            st.lists(slot, max_size=3),
            st.booleans(),
        ),
        max_size=8,
    ))
    cells = len(steps) + 1
    # the order cells are decoded in: mostly forward, with repeats and going back (a base after its patch)
    order = draw(st.lists(st.integers(0, cells - 1), min_size=1, max_size=2 * cells))
    seeded = draw(st.lists(st.booleans(), min_size=cells, max_size=cells))  # cells "this process wrote"
    return table, first, steps, order, seeded


def cells_of(table: str, first: List[Any], steps: List[Step]) -> List[Tuple[int, bytes, Optional[int], Any]]:
    """(version, payload, size to decode with, (numbers, slots) it holds) of each cell of the history."""
    leaf = list(first)
    out = [(1, codec.encode_leaf(table, leaf), None, (range(len(leaf)), list(leaf)))]
    base, since = 1, set()
    for version, (changes, added, whole) in enumerate(steps, start=2):
        for i, new in changes:
            if i < len(leaf):
                leaf[i] = new
                since.add(i)
        for new in added[: 64 - len(leaf)]:
            leaf.append(new)
            since.add(len(leaf) - 1)
        if whole:
            out.append((version, codec.encode_leaf(table, leaf), None, (range(len(leaf)), list(leaf))))
            base, since = version, set()
        else:
            changed = sorted(since)
            payload = codec.encode_patch(table, base, leaf, changed)
            out.append((version, payload, len(leaf), (changed, [leaf[i] for i in changed])))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(histories())
def test_decoding_with_reuse_equals_decoding_fresh(history: History) -> None:
    table, first, steps, order, seeded = history
    cells = cells_of(table, first, steps)
    reuse = codec.SlotReuse(4)
    for k, (version, payload, _, (numbers, slots)) in enumerate(cells):
        if seeded[k]:  # written here: remembered before any decode of it
            reuse.wrote(table, 7, version, payload, numbers, slots)
    for k in order:
        version, payload, size, _ = cells[k]
        fresh = outcome(table, codec.decode_cell, table, payload, size, "cell")
        assert fresh[0] != "error"
        assert same(outcome(table, reuse.decode, table, 7, version, payload, size, "cell"), fresh)


@st.composite
def damaged(draw: Any) -> Tuple[str, List[Any], List[Step], List[Tuple[str, int, int]]]:
    table, first, steps, _, _ = draw(histories())
    damage = draw(st.lists(st.tuples(st.sampled_from(["flip", "cut", "add"]), st.integers(0, 10**6),
                                     st.integers(1, 255)), min_size=1, max_size=3))
    return table, first, steps, damage


def _damage(payload: bytes, damage: List[Tuple[str, int, int]]) -> bytes:
    data = bytearray(payload)
    for how, at, value in damage:
        at %= max(1, len(data))
        if how == "flip" and data:
            data[at] ^= value
        elif how == "cut":
            del data[at:]
        else:
            data.insert(at, value)
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(damaged())
def test_a_damaged_payload_decodes_as_it_would_fresh_and_spoils_nothing(
    case: Tuple[str, List[Any], List[Step], List[Tuple[str, int, int]]],
) -> None:
    """Without a checksum (the caller checks it first) damage must still be seen or decoded exactly."""
    table, first, steps, damage = case
    cells = cells_of(table, first, steps)
    reuse = codec.SlotReuse(4)
    for version, payload, size, _ in cells[:-1]:  # the leaf's slots are remembered
        reuse.decode(table, 7, version, payload, size, "cell")
    version, payload, size, _ = cells[-1]
    bad = _damage(payload, damage)
    fresh = outcome(table, codec.decode_cell, table, bad, size, "cell")
    got = outcome(table, reuse.decode, table, 7, version + 1, bad, size, "cell")
    if fresh[0] == "error":
        assert got == ("error", CorruptDatabase) or got == fresh
    else:
        assert same(got, fresh)
    # what is remembered is still right: the undamaged cells decode as fresh ones
    for version, payload, size, _ in reversed(cells):
        expected = outcome(table, codec.decode_cell, table, payload, size, "cell")
        assert same(outcome(table, reuse.decode, table, 7, version, payload, size, "cell"), expected)


def test_damage_the_fresh_decoder_reports_is_corrupt_with_reuse_too() -> None:
    blocks = [Block(list(range(i, i + 40)), list(range(40)), [1] * 40, None, None) for i in range(64)]
    payload = codec.encode_leaf("blocks", blocks)
    reuse = codec.SlotReuse(4)
    reuse.decode("blocks", 0, 1, payload, 64, "cell")
    for bad in (payload[:-1], payload + b"\x00", payload[:100], b"\x91" + payload[1:], b"\xc0"):
        with pytest.raises(CorruptDatabase):
            codec.decode_cell("blocks", bad, 64, "cell")
        with pytest.raises(CorruptDatabase):
            reuse.decode("blocks", 0, 2, bad, 64, "cell")
    assert outcome("blocks", reuse.decode, "blocks", 0, 1, payload, 64, "cell") == outcome(
        "blocks", codec.decode_cell, "blocks", payload, 64, "cell")


def test_a_one_slot_change_decodes_one_slot() -> None:
    blocks = [Block(list(range(i, i + 40)), list(range(40)), [1] * 40, [2] * 40, None) for i in range(64)]
    reuse = codec.SlotReuse(4)
    first = reuse.decode("blocks", 0, 1, codec.encode_leaf("blocks", blocks), 64, "cell")
    assert (reuse.decoded, reuse.reused) == (64, 0)
    blocks[17] = Block([5], [6], [7], [8], None)
    cell = reuse.decode("blocks", 0, 2, codec.encode_leaf("blocks", blocks), 64, "cell")
    assert (reuse.decoded, reuse.reused) == (65, 63)
    assert isinstance(cell, list) and all(cell[i] is first[i] for i in range(64) if i != 17)
    assert plain("blocks", cell[17]) == ("Block", [5], [6], [7], [8], None)
    patch = reuse.decode("blocks", 0, 3, codec.encode_patch("blocks", 2, blocks, [17, 30]), 64, "cell")
    assert isinstance(patch, codec.Patch) and patch.slots == [cell[17], cell[30]]  # nothing new: both reused
    assert (reuse.decoded, reuse.reused) == (65, 65)


def test_small_slots_are_decoded_whole_and_not_remembered() -> None:
    reuse = codec.SlotReuse(4)
    links = [(1, i, 0) for i in range(64)]
    reuse.decode("links", 0, 1, codec.encode_leaf("links", links), 64, "cell")
    reuse.wrote("links", 1, 1, codec.encode_leaf("links", links), range(64), links)
    assert len(reuse) == 0 and reuse.decoded == 64


def test_the_memory_stays_within_its_bound() -> None:
    blocks = [Block(list(range(40)), list(range(40)), [1] * 40, None, None) for _ in range(64)]
    payload = codec.encode_leaf("blocks", blocks)
    reuse = codec.SlotReuse(3)
    for number in range(20):
        reuse.decode("blocks", number, 1, payload, 64, "cell")
        reuse.wrote("blocks", 100 + number, 1, payload, range(64), blocks)
        assert len(reuse) <= 3
    reuse.decode("blocks", 19, 2, payload, 64, "cell")  # still remembered: the most recent
    assert reuse.reused == 64


# -- through a stored database -----------------------------------------------------------


def _stored(path: str, n: int = 3000) -> List[int]:
    with Database(path) as db:
        with db.transaction() as tx:
            ids = [tx.insert_child(None if i < 3 else (i * 7919) % i, {"i": i}) for i in range(n)]
    return ids


def _shape(db: Database) -> List[Any]:
    tree = db.tree
    return [(n, tree.parent(n), tree.data(n)) for n in tree.preorder()]


def test_a_reader_catching_up_reuses_slots_and_reads_what_the_writer_wrote(tmp_path: Any) -> None:
    path = os.path.join(str(tmp_path), "t.db")
    ids = _stored(path)
    writer, reader = Database(path), Database(path)
    try:
        _shape(reader)  # every leaf loaded, its slots remembered where they are large
        before = reader.leaf_stats
        for step in range(12):
            with writer.transaction() as tx:
                tx.insert_child(ids[(step * 37) % len(ids)], {"step": step})
            assert _shape(reader) == _shape(writer)
        after = reader.leaf_stats
        decoded = after["slots_decoded"] - before["slots_decoded"]
        reused = after["slots_reused"] - before["slots_reused"]
        assert reused > decoded > 0
        for step in range(30):  # both write, each catching up with the other's cells (its own seed the reuse)
            db = (writer, reader)[step % 2]
            with db.transaction() as tx:
                node = ids[(step * 53) % len(ids)]
                if step % 3:
                    tx.insert_child(node, {"both": step})
                else:
                    tx.set_data(node, {"set": step})
            assert _shape(reader) == _shape(writer)
        with Database(path) as fresh:
            assert _shape(fresh) == _shape(reader)
            fresh.verify()
        reader.verify()
    finally:
        writer.close()
        reader.close()


def test_the_reuse_is_bounded_by_the_leaf_cap(tmp_path: Any) -> None:
    path = os.path.join(str(tmp_path), "t.db")
    _stored(path)
    with Database(path, cache_leaves=3) as db:
        assert db._slot_reuse.cap == 3  # type: ignore[attr-defined]
        _shape(db)
        assert len(db._slot_reuse) <= 3  # type: ignore[attr-defined]
    with Database(path) as db:
        assert db._slot_reuse.cap == 256  # type: ignore[attr-defined]


def _newest_blocks_cell(path: str) -> Tuple[int, int, bytes, int]:
    with sqlite3.connect(path) as con:
        return con.execute(
            "SELECT leaf, version, payload, crc FROM blocks WHERE leaf >= 0 ORDER BY version DESC, leaf LIMIT 1"
        ).fetchone()


@pytest.mark.parametrize("damage", ["slot", "crc", "header"])
def test_a_damaged_cell_is_corrupt_even_where_its_slots_are_remembered(tmp_path: Any, damage: str) -> None:
    path = os.path.join(str(tmp_path), "t.db")
    ids = _stored(path)
    writer, reader = Database(path), Database(path)
    try:
        _shape(reader)
        with writer.transaction() as tx:  # a patch of the root path's blocks: most of its slots remembered
            tx.insert_child(ids[5], {"new": 1})
        leaf, version, payload, crc = _newest_blocks_cell(path)
        data = bytearray(payload)
        if damage == "slot":
            data[len(data) // 2] ^= 0x01  # inside a slot (its bytes no longer those remembered)
        elif damage == "header":
            data[2] ^= 0x01  # the base version or slot count: every slot's bytes stay as remembered
        else:
            crc ^= 1  # the payload as it was: every slot's bytes equal the remembered ones
        with sqlite3.connect(path) as con:
            con.execute("UPDATE blocks SET payload = ?, crc = ? WHERE leaf = ? AND version = ?",
                        (bytes(data), crc, leaf, version))
        with pytest.raises(CorruptDatabase):
            _shape(reader)
    finally:
        writer.close()
        reader.close()
