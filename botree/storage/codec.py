"""Byte encodings of what a stored version consists of (storage format ``botree-3``).

A version is three id-keyed vectors (blocks, block links, node rows), a fourth for a
keyed tree (the key index's buckets), plus a small state (root, height, block size,
indexed fields, key field, vector lengths, id allocators, and the pins of its
manifests).  Storage keeps vectors leaf by leaf: one *cell* holds the 64 slots of
one leaf as written by one version.  A *manifest* cell per group of 64 leaves lists
the version of the cell each leaf of the group reads, and the version's state
(inside its checksummed commit row) pins the version of every manifest; so a read
names the exact cell it needs, and nothing can substitute another one.

A cell is *whole* (every slot of its leaf) or, from format ``botree-3`` on, a *patch*:
the slots its leaf changed since a whole cell of the same leaf, its *base*, which the
patch names (so the base is as exactly pinned as the patch).  Bases are always whole,
so a read costs at most two cells.  A commit that changes a few slots of a leaf writes
a patch of those slots, not the leaf (an insert changes one block of a 64-block leaf).

Payloads are MessagePack (``msgpack``: a stable, documented binary format any
language reads), with extension types where Python values need more than
MessagePack's own (see ``EXT_*``): exact ``tuple``, ``set``, ``frozenset``, integers
beyond 64 bits and ``JsonNode``.  Which values are storable at all is the value
policy of ``botree.tree.values``; anything else is refused with ``InvalidArgument``
before a commit writes anything.

Every payload is stored with a CRC-32 seeded with where it belongs (table, leaf,
version), so a damaged byte or a record found in the wrong place fails the check and
raises ``CorruptDatabase`` instead of yielding a wrong tree.
"""

from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

import msgpack

from ..core.blocks import Block
from ..core.index import OrderIndex
from ..errors import CorruptDatabase, InvalidArgument
from ..interchange.nested import JsonNode
from ..nodetable import UNKNOWN, ChunkedVector, IdAllocator, NodeTable, Row
from ..nodetable.fieldtree import INNER, LEAF, NO_FIELDS, FieldTrees
from ..nodetable.keyindex import KeyIndex
from ..tree.updates import UPDATES, Op
from ..tree.values import MAX_DEPTH, check_meta, check_values
from .format import FREE_KEPT, OPTIONAL_TABLES, TABLES

# MessagePack extension type codes of format botree-2 (never renumber: they are on disk).
EXT_TUPLE = 1  # payload: a MessagePack array of the items
EXT_SET = 2  # payload: an array of the members
EXT_FROZENSET = 3  # payload: an array of the members
EXT_BIGINT = 4  # payload: the integer's two's-complement bytes, big-endian (outside the 64-bit range)
EXT_JSONNODE = 5  # payload: the array [kind, value]

PATCH = -1  # the first item of a patch cell (botree-3); a whole cell's first item is a slot, never an int

# Errors the MessagePack decoder raises on bytes that are not a valid encoding.
_DECODE_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError, msgpack.UnpackException)


def checksum(payload: bytes, *where: object) -> int:
    """CRC-32 of ``payload`` seeded with its place (e.g. table, leaf, version). O(len)."""
    return zlib.crc32(payload, zlib.crc32(repr(where).encode()))


# -- values -----------------------------------------------------------------------------


class _Unstorable(TypeError):
    """Raised inside the packer for a value outside the policy (turned into ``InvalidArgument``)."""


def _ext(value: Any) -> msgpack.ExtType:
    kind = type(value)
    if kind is tuple:
        return msgpack.ExtType(EXT_TUPLE, pack(list(value)))
    if kind is frozenset:
        return msgpack.ExtType(EXT_FROZENSET, pack(list(value)))
    if kind is set:
        return msgpack.ExtType(EXT_SET, pack(list(value)))
    if kind is int:  # only integers outside the 64-bit range reach this hook
        size = (value.bit_length() + 8) // 8
        return msgpack.ExtType(EXT_BIGINT, value.to_bytes(size, "big", signed=True))
    if kind is JsonNode:
        return msgpack.ExtType(EXT_JSONNODE, pack([value.kind, value.value]))
    raise _Unstorable(f"a {kind.__module__}.{kind.__qualname__} value")


class _Nesting(threading.local):
    depth = 0  # extension values being decoded inside one another, in this thread


_nesting = _Nesting()


def _ext_hook(code: int, data: bytes) -> Any:
    # Each extension value is decoded by a nested decoder call: bound the nesting, or a
    # crafted payload would overflow the C stack (the value policy never writes deeper).
    depth = _nesting.depth
    if depth >= MAX_DEPTH:
        raise ValueError(f"extension values nested more than {MAX_DEPTH} deep")
    _nesting.depth = depth + 1
    try:
        return _ext_value(code, data)
    finally:
        _nesting.depth = depth


def _ext_value(code: int, data: bytes) -> Any:
    if code == EXT_TUPLE:
        return tuple(unpack(data))
    if code == EXT_FROZENSET:
        return frozenset(unpack(data))
    if code == EXT_SET:
        return set(unpack(data))
    if code == EXT_BIGINT:
        return int.from_bytes(data, "big", signed=True)
    if code == EXT_JSONNODE:
        kind, value = unpack(data)
        return JsonNode(kind, value)
    raise ValueError(f"unknown extension type {code}")


def pack(value: Any) -> bytes:
    """MessagePack bytes of a storable value; ``_Unstorable`` (a ``TypeError``) otherwise. O(size)."""
    return msgpack.packb(value, use_bin_type=True, strict_types=True, default=_ext, unicode_errors="surrogatepass")


def unpack(payload: bytes) -> Any:
    """The value of ``pack``'s bytes (raises the decoder's errors on damaged bytes). O(size)."""
    return msgpack.unpackb(
        payload, raw=False, strict_map_key=False, ext_hook=_ext_hook, unicode_errors="surrogatepass"
    )


def _dumps(value: Any, what: str) -> bytes:
    """``pack(value)``, refusing a value outside the policy with ``InvalidArgument`` naming ``what``."""
    try:
        return pack(value)
    except (_Unstorable, ValueError, OverflowError, RecursionError) as exc:
        raise InvalidArgument(f"{what} cannot be stored: {exc} (see the value policy in docs/api.md)") from None


def _loads(payload: bytes, where: str) -> Any:
    """``unpack(payload)``, reporting damaged bytes as ``CorruptDatabase`` at ``where``."""
    try:
        return unpack(payload)
    except _DECODE_ERRORS as exc:
        raise CorruptDatabase(f"{where} does not decode: {exc}") from None


def _expect(ok: bool, where: str, what: str) -> None:
    if not ok:
        raise CorruptDatabase(f"{where} is malformed: {what}")


# -- leaves -----------------------------------------------------------------------


def _encode_slots(table: str, slots: List[Any]) -> List[Any]:
    """The MessagePack form of some slots of ``table``'s vector (values checked for nodes). O(slots + data)."""
    if table == "links":
        return list(slots)
    if table == "keys":  # buckets: flat (key, node, key, node, ...) tuples of int / str keys
        return [list(bucket) for bucket in slots]
    if table == "fields":  # field index tree nodes: tuples of ints and entries (values as stored data)
        return list(slots)
    if table == "blocks":
        return [None if b is None else [b.keys, b.items, b.aux, b.counts] for b in slots]
    # The policy again at the last moment: MessagePack would write a bytearray or a
    # memoryview as bytes, and a value may have been changed in place since it was checked.
    check_values((r.data for r in slots if r is not None), "the data of a node")
    return [
        None if r is None else [r.open_leaf, r.open_key, r.close_leaf, r.close_key, r.data, r.parent_id]
        for r in slots
    ]


def _pack_cell(out: List[Any]) -> bytes:
    try:
        return pack(out)
    except (_Unstorable, ValueError, OverflowError, RecursionError) as exc:
        raise InvalidArgument(f"the data of a node cannot be stored: {exc} (see the value policy)") from None


# ``Packed`` of ``encode_leaf`` / ``encode_patch``: id(block) -> (the block, its MessagePack bytes).
Packed = Dict[int, Tuple[Block, bytes]]


def encode_leaf(table: str, leaf: List[Any], packed: Optional[Packed] = None) -> bytes:
    """The payload of a whole cell: every slot of one leaf of ``table``'s vector. O(64 + data size).

    ``packed`` (blocks only): the bytes of blocks packed before, reused for the very same
    objects and added to for the others (see ``_pack_blocks``).
    """
    if packed is not None and table == "blocks":
        return _pack_blocks(leaf, packed)
    return _pack_cell(_encode_slots(table, leaf))


def encode_patch(table: str, base: int, leaf: List[Any], changed: List[int], packed: Optional[Packed] = None) -> bytes:
    """The payload of a patch cell: leaf = the whole cell written at ``base`` with slots ``changed`` replaced.

    ``changed`` (ascending) must name every slot that differs from the base, and every
    slot past the base's end.  Layout: ``[PATCH, base, size, [slot numbers], [slots]]``;
    a whole cell is a list of slots, none of which is an int, so the leading int tells
    the two apart.  O(changed + their data).  ``packed``: as for ``encode_leaf``.
    """
    if packed is not None and table == "blocks":
        head = _array_header(5) + pack(PATCH) + pack(base) + pack(len(leaf)) + pack(list(changed))
        return head + _pack_blocks([leaf[i] for i in changed], packed)
    return _pack_cell([PATCH, base, len(leaf), list(changed), _encode_slots(table, [leaf[i] for i in changed])])


def _array_header(count: int) -> bytes:
    """MessagePack's header of an array of ``count`` items (fixarray, array 16 or array 32). O(1)."""
    if count < 16:
        return bytes((0x90 | count,))
    if count < 1 << 16:
        return b"\xdc" + count.to_bytes(2, "big")
    return b"\xdd" + count.to_bytes(4, "big")


def _pack_blocks(slots: List[Any], packed: Packed) -> bytes:
    """``pack(_encode_slots("blocks", slots))``, byte for byte, reusing ``packed``'s bytes of the same objects.

    MessagePack is context-free: an array is its header followed by its items' own
    encodings, so a block's bytes do not depend on where it is written.  A patch repeats
    every slot changed since its base, commit after commit: those blocks were packed
    by the commit that changed them.  Sound because a block of a frozen tree is never
    changed in place (a batch copies a block it does not own, and a frozen index's
    blocks are owned by no live batch), and an entry holds its block, so its id is not
    reused while the entry lives.  O(slots + bytes of the blocks not packed before).
    """
    parts = [_array_header(len(slots))]
    for block in slots:
        if block is None:
            parts.append(b"\xc0")
            continue
        known = packed.get(id(block))
        if known is not None and known[0] is block:
            parts.append(known[1])
            continue
        data = _pack_cell([block.keys, block.items, block.aux, block.counts])
        packed[id(block)] = (block, data)
        parts.append(data)
    return b"".join(parts)


class Patch:
    """A decoded patch cell: the whole cell it applies to (``base``) and the slots it replaces."""

    __slots__ = ("base", "changed", "slots")

    def __init__(self, base: int, changed: List[int], slots: List[Any]) -> None:
        self.base = base
        self.changed = changed
        self.slots = slots

    def apply(self, whole: List[Any], size: int, where: str) -> List[Any]:
        """The leaf: a copy of the base's slots (``whole``) with this patch's slots in place. O(64)."""
        leaf = whole[:size]
        if len(leaf) < size:
            leaf.extend([None] * (size - len(leaf)))
            missing = set(range(len(whole), size)) - set(self.changed)
            _expect(not missing, where, f"the patch lacks slots {sorted(missing)[:5]} past its base's end")
        for i, slot in zip(self.changed, self.slots):
            leaf[i] = slot
        return leaf


def decode_cell(table: str, payload: bytes, size: Optional[int], where: str) -> "List[Any] | Patch":
    """A whole cell's slots, or a ``Patch``; ``CorruptDatabase`` if the shape is wrong. O(64).

    ``size``: the slot count the reader expects (None: any whole leaf, 1 to 64 slots,
    as for a patch's base, which may predate the leaf's growth).
    """
    items = _loads(payload, where)
    _expect(type(items) is list, where, "not a cell")
    if items and type(items[0]) is int:
        _expect(
            len(items) == 5 and items[0] == PATCH and type(items[1]) is int and type(items[2]) is int
            and type(items[3]) is list and type(items[4]) is list and len(items[3]) == len(items[4]),
            where,
            "not a patch",
        )
        _, base, length, changed, slots = items
        _check_patch(length, changed, size, where)
        return Patch(base, changed, _decode_slots(table, slots, where))
    _expect(len(items) == size if size is not None else len(items) <= 64, where, f"expected {size} slots")
    return _decode_slots(table, items, where)


def _check_patch(length: int, changed: List[Any], size: Optional[int], where: str) -> None:
    """A patch's slot count is the one expected and its slot numbers ascend inside it (``CorruptDatabase``). O(k)."""
    _expect(size is not None and length == size, where, f"a patch of {length} slots where {size} are expected")
    _expect(
        all(type(i) is int for i in changed) and all(0 <= a < b for a, b in zip(changed, changed[1:]))
        and (not changed or 0 <= changed[0] and changed[-1] < length),
        where,
        "patch slot numbers",
    )


def patch_base(payload: bytes) -> Optional[int]:
    """The base a patch cell names, read from its first items only; None for a whole (or undecodable) cell. O(1)."""
    try:
        unpacker = msgpack.Unpacker(raw=False, ext_hook=_ext_hook, strict_map_key=False)
        unpacker.feed(payload)
        if unpacker.read_array_header() != 5 or unpacker.unpack() != PATCH:
            return None
        base = unpacker.unpack()
    except _DECODE_ERRORS:
        return None
    return base if type(base) is int else None


def decode_leaf(table: str, payload: bytes, size: int, where: str) -> List[Any]:
    """The slots of a whole cell; ``CorruptDatabase`` for another shape (a patch too). O(64)."""
    cell = decode_cell(table, payload, size, where)
    _expect(not isinstance(cell, Patch), where, "a patch where a whole cell is expected")
    assert not isinstance(cell, Patch)
    return cell


def _decode_slots(table: str, items: List[Any], where: str) -> List[Any]:
    try:
        if table == "links":
            return [None if s is None else (int(s[0]), int(s[1]), int(s[2])) for s in items]
        if table == "keys":
            return [_bucket(b, where) for b in items]
        if table == "fields":
            return [_tree_node(s, where) for s in items]
        if table == "blocks":
            return [None if b is None else Block(b[0], b[1], b[2], b[3], None) for b in items]
        # The sixth field is the parent's id (-1: top level).  A row written before rows kept
        # their parent has 5 fields: its parent is UNKNOWN (computed from the order index
        # when asked; see nodetable.rows).
        # ``Row.parent`` is the parent id << 1 (-1: top), UNKNOWN for -2 or a 5-field row; computed inline:
        # a cold load builds 64 rows, and a function call per row was a fifth of it.
        return [
            None if r is None else Row(
                r[0], r[1], r[2], r[3], r[4], None, UNKNOWN if len(r) < 6 or (p := int(r[5])) < -1 else p << 1
            )
            for r in items
        ]
    except (TypeError, IndexError, ValueError) as exc:
        raise CorruptDatabase(f"{where} is malformed: {exc}") from None


class PartialCell:
    """A whole cell whose slots are decoded one at a time, when read (``lazy.Partial``).

    For a cold leaf a process reads one or two slots of (a random node's row): decoding
    all 64 rows costs ~20 µs and leaves 64 objects the garbage collector then walks on
    every full collection; one row costs ~2 µs.  The caller checks the payload's checksum
    before making this; the header is checked here (a whole cell of ``size`` slots), each
    slot's shape when it is decoded, and everything again by ``all`` (``decode_cell``), so
    damage is ``CorruptDatabase`` whichever slot is read.  Not thread-safe: the leaf reads
    it under its fill lock.
    """

    __slots__ = ("table", "payload", "size", "where", "built", "_ends", "_unpacker")

    def __init__(self, table: str, payload: bytes, size: int, where: str) -> None:
        self.table = table
        self.payload = payload
        self.size = size
        self.where = where
        self.built: Dict[int, Any] = {}
        try:
            unpacker = _unpacker(payload)
            count = unpacker.read_array_header()
        except _DECODE_ERRORS as exc:
            raise CorruptDatabase(f"{where} does not decode: {exc}") from None
        _expect(count == size, where, f"expected {size} slots")
        self._unpacker = unpacker
        self._ends = [unpacker.tell()]  # where each slot found so far starts (and, last, where the next does)

    @property
    def count(self) -> int:
        """Slots decoded so far. O(1)."""
        return len(self.built)

    def get(self, i: int) -> Any:
        """Slot ``i`` (negative: from the end), the same object every time; IndexError past the end. O(i)."""
        if i < 0:
            i += self.size
        if not 0 <= i < self.size:
            raise IndexError("list index out of range")
        built = self.built
        if i in built:
            return built[i]
        ends = self._ends
        try:
            while len(ends) <= i + 1:
                self._unpacker.skip()
                ends.append(self._unpacker.tell())
            raw = unpack(self.payload[ends[i] : ends[i + 1]])
        except _DECODE_ERRORS as exc:
            raise CorruptDatabase(f"{self.where} does not decode: {exc}") from None
        _expect(type(raw) is not int, self.where, "not a whole cell")
        slot = built[i] = _decode_slots(self.table, [raw], self.where)[0]
        return slot

    def all(self) -> List[Any]:
        """Every slot, decoded and checked as ``decode_leaf`` does, sharing those ``get`` handed out. O(64)."""
        cell = decode_leaf(self.table, self.payload, self.size, self.where)
        for i, slot in self.built.items():
            cell[i] = slot
        return cell


def _bucket(items: Any, where: str) -> Tuple[Any, ...]:
    """One key-index bucket: pairs of an int or str key and a node id; ``CorruptDatabase`` otherwise. O(bucket)."""
    _expect(type(items) is list and len(items) % 2 == 0, where, "a key bucket is not a list of pairs")
    for i in range(0, len(items), 2):
        _expect(type(items[i]) in (int, str) and type(items[i + 1]) is int, where, f"key bucket item {items[i]!r}")
    return tuple(items)


def _tree_node(item: Any, where: str) -> Tuple[Any, ...]:
    """One slot of ``nodetable.fieldtree`` (leaf, inner node or free), its shape checked. O(F)."""
    _expect(type(item) is tuple and len(item) >= 2 and type(item[0]) is int, where, "a field index slot")
    kind = item[0]
    if kind == LEAF or kind == INNER:
        _expect(type(item[1]) is tuple, where, "a field index node")
        for e in item[1]:
            _expect(
                type(e) is tuple and len(e) in (3, 4) and type(e[0]) is int and type(e[2]) is int,
                where,
                f"field index entry {e!r:.80}",
            )
        if kind == INNER:
            _expect(
                len(item) == 3
                and type(item[2]) is tuple
                and len(item[2]) == len(item[1]) + 1
                and all(type(k) is int and k >= 0 for k in item[2]),
                where,
                "a field index inner node",
            )
        else:
            _expect(len(item) == 2, where, "a field index leaf")
    else:
        _expect(len(item) == 2 and type(item[1]) is int, where, "a free field index slot")
    return item


# -- decoding only what changed ----------------------------------------------------------

# First bytes of a MessagePack int (positive and negative fixint, uint 8-64, int 8-64): a cell
# whose first item starts with one of these is a patch (or malformed), any other a whole cell.
_INT_MARKERS = frozenset((*range(0x00, 0x80), *range(0xE0, 0x100), *range(0xCC, 0xD4)))


def _unpacker(payload: bytes) -> msgpack.Unpacker:
    """A streaming decoder over ``payload`` with ``unpack``'s options and ``unpackb``'s limits."""
    unpacker = msgpack.Unpacker(
        raw=False, strict_map_key=False, ext_hook=_ext_hook, unicode_errors="surrogatepass",
        max_buffer_size=max(len(payload), 1),
    )
    unpacker.feed(payload)
    return unpacker


# A cell whose slot spans are not found yet: (payload, version, slot numbers, their objects).
_Pending = Tuple[bytes, int, Sequence[int], List[Any]]
_PENDING = 2  # most such cells a memo keeps (a patch repeats every slot since its base: the newest covers most)
# Cells whose slots average fewer bytes than this are decoded whole and not remembered: finding a slot's
# bytes and comparing them costs about what decoding a small slot does (a row of a few fields, a link).
_SMALL_SLOT = 64
_FEW = 8  # a memo that knows fewer slots than this is not worth a slot-by-slot pass (a base after its patch)


class _Memo:
    """What the slots of one leaf were decoded from, for ``SlotReuse``; never changed once made.

    ``spans[i]`` is the encoded bytes of slot ``i``, ``slots[i]`` the object decoded
    from them and ``versions[i]`` the version of the cell they came from (None, None,
    -1: not known).  ``pending``: cells whose slot spans are found only if another cell
    of the leaf is decoded (most cold loads never see one): the first cell decoded of
    the leaf, and cells this process wrote, oldest first.
    """

    __slots__ = ("spans", "slots", "versions", "pending", "count")

    def __init__(
        self,
        spans: List[Optional[bytes]],
        slots: List[Any],
        versions: List[int],
        pending: Tuple[_Pending, ...] = (),
        count: int = -1,
    ) -> None:
        self.spans = spans
        self.slots = slots
        self.versions = versions
        self.pending = pending
        # about how many slots it knows (pending cells may overlap): few, and a cell is decoded whole
        self.count = count if count >= 0 else 64 - spans.count(None) + sum([len(cell[2]) for cell in pending])

    def known(self, after: int = -1) -> Tuple[List[Optional[bytes]], List[Any], List[int], Tuple[_Pending, ...]]:
        """Fresh (spans, slots, versions) lists with the spans of the pending cells newer than ``after``
        found, and the pending cells left.  O(64), plus a pass over each payload found.

        A patch on base ``after`` holds slots changed since then: a cell of that version
        or older cannot have their bytes, so its spans are left to find for a later cell.
        """
        spans, slots, versions = list(self.spans), list(self.slots), list(self.versions)
        left = []
        for cell in self.pending:
            payload, version, numbers, objects = cell
            if version <= after:
                left.append(cell)
                continue
            found = _slot_spans(payload, len(numbers))
            if found is None:
                continue
            for i, span, obj in zip(numbers, found, objects):
                if versions[i] <= version:
                    spans[i] = span
                    slots[i] = obj
                    versions[i] = version
        return spans, slots, versions, tuple(left)

    def adding(self, cell: _Pending) -> "_Memo":
        """This memo with one more pending cell (the oldest dropped beyond ``_PENDING``). O(1)."""
        pending = self.pending
        if not pending or pending[-1][1] <= cell[1]:  # the usual order: newer cells come later
            pending = (*pending, cell)
        else:
            pending = tuple(sorted((*pending, cell), key=_version_of))
        if len(pending) <= _PENDING:
            return _Memo(self.spans, self.slots, self.versions, pending, self.count + len(cell[2]))
        return _Memo(self.spans, self.slots, self.versions, pending[-_PENDING:])


def _version_of(cell: _Pending) -> int:
    return cell[1]


_EMPTY = _Memo([None] * 64, [None] * 64, [-1] * 64)


def _slot_spans(payload: bytes, count: int) -> Optional[List[bytes]]:
    """The encoded bytes of each of the ``count`` slots of a cell that decoded (whole or patch). O(size)."""
    try:
        unpacker = _unpacker(payload)
        if unpacker.read_array_header() and payload[unpacker.tell()] in _INT_MARKERS:  # a patch
            for _ in range(4):  # PATCH, base, size, slot numbers
                unpacker.skip()
            unpacker.read_array_header()
        spans = []
        start = unpacker.tell()
        for _ in range(count):
            unpacker.skip()
            end = unpacker.tell()
            spans.append(payload[start:end])
            start = end
    except _DECODE_ERRORS:
        return None
    return spans


class SlotReuse:
    """Decodes cells reusing the slots of the last cells decoded of the same leaf whose bytes are identical.

    A writer catching up with other processes' commits loads new cells of the leaves
    they changed, and most slots of such a cell are byte for byte the slots this process
    decoded last time (a patch repeats every slot changed since its base; a new base
    repeats the unchanged slots).  Each slot's encoding is found in the payload (a
    MessagePack value is self-delimiting, so bytes equal to a known slot's at the
    current offset *are* that slot); a known slot is taken as the object decoded before,
    the others are decoded.  Safe because decoded slots are never changed in place (a
    ``Block`` or ``Row`` from storage has no owner, so a batch copies it first; links,
    buckets and field-index nodes are tuples), exactly as versions in memory share them.
    The caller checks the payload's checksum first.

    Keeps the slots of at most ``cap`` leaves, least recently decoded dropped first.
    ``decoded`` / ``reused`` count slots, ``again`` cells of leaves decoded or written here
    before (none in a process that is the only writer: its own leaves stay in memory, so
    remembering the cells it writes would be wasted).  Thread-safe: a memo is replaced
    whole, never changed.
    """

    __slots__ = ("cap", "decoded", "reused", "again", "_memos", "_lock")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.decoded = 0
        self.reused = 0
        self.again = 0
        self._memos: "OrderedDict[Tuple[str, int], _Memo]" = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._memos)

    def clear(self) -> None:
        """Forget every leaf's slots. O(leaves)."""
        with self._lock:
            self._memos.clear()

    def decode(
        self, table: str, number: int, version: int, payload: bytes, size: Optional[int], where: str
    ) -> "List[Any] | Patch":
        """``decode_cell(table, payload, size, where)`` of cell ``(number, version)``, sharing slots. O(size).

        The slots it shares are those of leaf ``number``'s cells decoded before; each slot
        remembered is the one of the newest cell that had it (a patch's base is decoded
        after the patch, and its older slots must not displace the patch's).
        """
        key = (table, number)
        with self._lock:
            memo = self._memos.get(key)
        again = memo is not None
        reused = 0
        if memo is None or memo.count < _FEW:
            cell = decode_cell(table, payload, size, where)
            if isinstance(cell, Patch):
                numbers: Sequence[int] = cell.changed
                objects = cell.slots
            else:
                numbers = range(len(cell))
                objects = list(cell)
            decoded = len(objects)
            if len(payload) < _SMALL_SLOT * decoded:  # small slots: nothing to gain, nothing kept
                with self._lock:
                    self.decoded += decoded
                    self.again += again
                return cell
            memo = (memo or _EMPTY).adding((payload, version, numbers, objects))
        else:
            cell, memo, reused = _decode_reusing(table, version, payload, size, where, memo)
            decoded = len(cell.slots if isinstance(cell, Patch) else cell) - reused
        with self._lock:
            self.decoded += decoded
            self.reused += reused
            self.again += again
            self._keep(key, memo)
        return cell

    def wrote(
        self, table: str, number: int, version: int, payload: bytes, numbers: Sequence[int], slots: List[Any]
    ) -> None:
        """Remember a cell this process encoded: ``payload`` holds ``slots`` (of a frozen tree) at ``numbers``. O(1).

        The next cell of the leaf decoded here (another process's commit) takes those
        objects for its slots whose bytes are the same; the spans are found only then.
        """
        if len(payload) < _SMALL_SLOT * len(numbers):
            return  # small slots: decoded whole when they come back (see ``decode``)
        key = (table, number)
        with self._lock:
            memo = self._memos.get(key)
            self._keep(key, (memo or _EMPTY).adding((payload, version, numbers, list(slots))))

    def _keep(self, key: Tuple[str, int], memo: _Memo) -> None:
        memos = self._memos  # the caller holds the lock
        memos[key] = memo
        memos.move_to_end(key)
        while len(memos) > self.cap:
            memos.popitem(last=False)


def _decode_reusing(
    table: str, version: int, payload: bytes, size: Optional[int], where: str, memo: _Memo
) -> "Tuple[List[Any] | Patch, _Memo, int]":
    """``decode_cell``'s result, decoding only the slots whose bytes ``memo`` does not know. O(size).

    Returns it with the leaf's new memo and how many slots were reused.  Checks what
    ``decode_cell`` checks; damaged bytes are ``CorruptDatabase``, never reused slots.
    """
    patch: Optional[Tuple[int, List[int]]] = None
    raw: List[Any] = []  # the slots decoded here, as MessagePack values
    raw_at: List[int] = []  # their places in ``out``
    try:
        unpacker = _unpacker(payload)
        count = unpacker.read_array_header()
        if count and payload[unpacker.tell()] in _INT_MARKERS:
            _expect(count == 5, where, "not a patch")
            kind, base, length, changed = (unpacker.unpack() for _ in range(4))
            _expect(
                kind == PATCH and type(kind) is int and type(base) is int and type(length) is int
                and type(changed) is list,
                where,
                "not a patch",
            )
            _check_patch(length, changed, size, where)
            _expect(unpacker.read_array_header() == len(changed), where, "not a patch")
            patch = (base, changed)
            numbers: Sequence[int] = changed
            spans, slots, versions, left = memo.known(base)
        else:
            _expect(count == size if size is not None else count <= 64, where, f"expected {size} slots")
            numbers = range(count)
            spans, slots, versions, left = memo.known()
        out: List[Any] = [None] * len(numbers)
        pos = unpacker.tell()
        skip = 0  # bytes of known slots not yet read past
        for j, i in enumerate(numbers):
            span = spans[i]
            if span is not None and payload.startswith(span, pos):
                out[j] = slots[i]
                pos += len(span)
                skip += len(span)
                if versions[i] < version:
                    versions[i] = version
                continue
            if skip:
                unpacker.read_bytes(skip)
                skip = 0
            raw.append(unpacker.unpack())
            raw_at.append(j)
            end = unpacker.tell()
            if versions[i] <= version:  # an older cell's slot (a patch's base) keeps the newer one
                spans[i] = payload[pos:end]
            pos = end
        _expect(pos == len(payload), where, "bytes after the cell's end")
    except _DECODE_ERRORS as exc:
        raise CorruptDatabase(f"{where} does not decode: {exc}") from None
    if patch is None and raw_at and raw_at[0] == 0 and type(raw[0]) is int:
        raise CorruptDatabase(f"{where} is malformed: not a patch")  # an int that is not a plain MessagePack int
    for j, obj in zip(raw_at, _decode_slots(table, raw, where)):
        out[j] = obj
        i = numbers[j]
        if versions[i] <= version:
            slots[i] = obj
            versions[i] = version
    cell: "List[Any] | Patch" = out if patch is None else Patch(patch[0], patch[1], out)
    return cell, _Memo(spans, slots, versions, left), len(out) - len(raw)


def encode_manifest(versions: List[int]) -> bytes:
    """A manifest: the cell version each leaf of one group reads. O(64)."""
    return pack(versions)


def decode_manifest(payload: bytes, pinned: int, where: str) -> List[int]:
    """The versions of a manifest written at ``pinned``; each is at most ``pinned``. O(64)."""
    versions = _loads(payload, where)
    _expect(type(versions) is list and len(versions) <= 64, where, "not a manifest")
    for v in versions:
        _expect(type(v) is int and 0 <= v <= pinned, where, f"cell version {v!r} outside 0..{pinned}")
    return versions


def vectors(ix: OrderIndex) -> Dict[str, ChunkedVector]:
    """The stored vectors of an index, by table name: three, ``keys`` for a keyed tree, ``fields``
    for indexed fields (once the field index exists: a version loaded without one builds it on first use). O(1)."""
    out = {"blocks": ix.blocks, "links": ix.links, "nodes": ix.nodes.rows}
    keys = ix.nodes.keys
    if keys is not None:
        out["keys"] = keys.buckets
    trees = ix.nodes.field_index
    if trees is not None and trees.fields:
        out["fields"] = trees.slots
    return out


def layout(state: Mapping[str, Any]) -> List[Tuple[str, int]]:
    """(table, vector length) of every vector a version stores (its state decoded). O(1)."""
    out = list(zip(TABLES, state["lengths"]))
    keys = state.get("keys")
    if keys is not None:
        out.append(("keys", keys["length"]))
    trees = state.get("field_index")
    if trees is not None:
        out.append(("fields", trees["length"]))
    return out


# -- state of a version -------------------------------------------------------------

_STATE_KEYS = ("root", "height", "block_size", "fields", "lengths", "block_ids", "node_ids", "manifests")


def _alloc_state(alloc: IdAllocator) -> List[Any]:
    """[next id, top of the free stack, free count]: the arguments of ``IdAllocator.restore``."""
    top: List[int] = []
    for ident in alloc.free_ids():
        if len(top) == FREE_KEPT:
            break
        top.append(ident)
    return [alloc.next_id, top, alloc.nfree + alloc.holes]


def encode_state(ix: OrderIndex, manifests: Mapping[str, List[int]]) -> bytes:
    """Everything of a version but its vectors' slots, with the pinned manifest versions. O(groups)."""
    nodes = ix.nodes
    vecs = vectors(ix)
    state = {
        "root": ix.root,
        "height": ix.height,
        "block_size": ix.block_size,
        "fields": list(nodes.fields),
        "lengths": [len(vecs[table]) for table in TABLES],
        "block_ids": _alloc_state(ix.block_ids),
        "node_ids": _alloc_state(nodes.node_ids),
        "manifests": {table: list(manifests[table]) for table in (*TABLES, *OPTIONAL_TABLES) if table in vecs},
    }
    keys = nodes.keys
    if keys is not None:  # absent, not None, in an unkeyed version: as botree-2 states were before keys
        state["keys"] = {"field": keys.field, "count": keys.count, "length": len(keys.buckets)}
    trees = nodes.field_index
    if "fields" in vecs and trees is not None:  # absent in older states: the index is then built on first use
        state["field_index"] = {
            "length": len(trees.slots),
            "roots": list(trees.roots),
            "counts": list(trees.counts),
            "free": trees.free,
        }
    return pack_state(state)


def pack_state(state: Dict[str, Any]) -> bytes:
    """The bytes of a version state dict (``encode_state``; the upgrade builds the dict itself). O(groups)."""
    return pack(state)


def decode_state(payload: bytes, where: str) -> Dict[str, Any]:
    """The state dict of ``encode_state``; ``CorruptDatabase`` if it is not one. O(groups)."""
    state = _loads(payload, where)
    _expect(type(state) is dict and all(k in state for k in _STATE_KEYS), where, "not a version state")
    manifests = state["manifests"]
    _expect(type(manifests) is dict and all(type(manifests.get(t)) is list for t in TABLES), where, "no manifests")
    lengths = state["lengths"]
    _expect(type(lengths) is list and len(lengths) == len(TABLES), where, "vector lengths")
    keys = state.get("keys")
    if keys is not None:
        _expect(
            type(keys) is dict
            and type(keys.get("field")) is str
            and type(keys.get("count")) is int
            and type(keys.get("length")) is int
            and keys["length"] >= 1
            and type(manifests.get("keys")) is list,
            where,
            "the key index state",
        )
    trees = state.get("field_index")
    if trees is not None:
        nfields = len(state["fields"]) if type(state["fields"]) is list else -1
        _expect(
            type(trees) is dict
            and type(trees.get("length")) is int
            and type(trees.get("free")) is int
            and -1 <= trees["free"] < trees["length"]
            and all(type(trees.get(k)) is list and len(trees[k]) == nfields for k in ("roots", "counts"))
            and all(type(r) is int and 0 <= r < trees["length"] for r in trees["roots"])
            and all(type(c) is int and c >= 0 for c in trees["counts"])
            and type(manifests.get("fields")) is list,
            where,
            "the field index state",
        )
    for table, length in layout(state):
        groups = manifests[table]
        _expect(type(length) is int and length >= 0, where, f"{table} length {length!r}")
        _expect(len(groups) == group_count(length), where, f"{len(groups)} {table} manifests for {length} slots")
        _expect(all(type(v) is int and v >= 0 for v in groups), where, f"{table} manifest pins")
    return state


def group_leaves(length: int, group: int) -> int:
    """How many leaves manifest group ``group`` of a vector of ``length`` slots lists (at most 64). O(1)."""
    return min(64, ((length + 63) >> 6) - (group << 6))


def group_count(length: int) -> int:
    """How many manifest groups (of 64 leaves of 64 slots) a vector of ``length`` slots has. O(1)."""
    return (length + 4095) >> 12


def index_from_state(state: Dict[str, Any], vecs: Mapping[str, ChunkedVector], where: str) -> OrderIndex:
    """An ``OrderIndex`` over loaded (or lazily loading) vectors. O(1) (+ free ids kept)."""
    try:
        fields = tuple(state["fields"])
        info = state.get("keys")
        keys = None if info is None else KeyIndex(info["field"], vecs["keys"], info["count"])
        info = state.get("field_index")
        trees = (
            None
            if info is None
            else FieldTrees(fields, vecs["fields"], tuple(info["roots"]), tuple(info["counts"]), info["free"])
        )
        nodes = NodeTable.from_parts(
            vecs["nodes"], IdAllocator.restore(*state["node_ids"]), fields, trees if fields else NO_FIELDS, keys
        )
        return OrderIndex.from_parts(
            vecs["blocks"],
            vecs["links"],
            nodes,
            state["root"],
            state["height"],
            IdAllocator.restore(*state["block_ids"]),
            state["block_size"],
        )
    except (TypeError, ValueError) as exc:
        raise CorruptDatabase(f"{where}: the version state is malformed: {exc}") from None


# -- commits ---------------------------------------------------------------------------


def encode_deleted(deleted: Set[int]) -> bytes:
    """The ids a commit deleted, sorted. O(k log k)."""
    return pack(sorted(deleted))


def decode_deleted(payload: bytes, where: str) -> List[int]:
    """The ids of ``encode_deleted``; ``CorruptDatabase`` if they do not decode. O(k)."""
    ids = _loads(payload, where)
    _expect(type(ids) is list and all(type(i) is int for i in ids), where, "deleted ids")
    return ids


def encode_ops(ops: Optional[Tuple[Op, ...]]) -> Optional[bytes]:
    """The logged updates of a commit (None: the commit replaced the whole tree). O(updates)."""
    if ops is None:
        return None
    check_values((a for _, args, _ in ops for a in args), "an update's argument")
    return _dumps([[name, list(args), result] for name, args, result in ops], "an update's arguments")


def decode_ops(payload: Optional[bytes], where: str) -> Optional[Tuple[Op, ...]]:
    """Inverse of ``encode_ops``; only updates the registry knows, with their node arguments. O(updates)."""
    if payload is None:
        return None
    try:
        ops = tuple((name, tuple(args), result) for name, args, result in _loads(payload, where))
    except (TypeError, ValueError) as exc:
        raise CorruptDatabase(f"{where} is malformed: {exc}") from None
    for name, args, _ in ops:  # replay runs these by name: only known updates, with their node arguments
        update = UPDATES.get(name) if type(name) is str else None
        # an update with ``logged`` set is logged in another form, never as itself
        arity = max(update.nodes + update.node_lists, default=-1) if update is not None else 0
        if update is None or update.logged is not None or len(args) <= arity:
            raise CorruptDatabase(f"{where} logs an unknown update {name!r}")
    return ops


def encode_meta(meta: Mapping[str, Any]) -> bytes:
    """A commit's meta mapping. O(size)."""
    return _dumps(check_meta(meta), "commit meta")


def decode_meta(payload: bytes, where: str) -> Dict[str, Any]:
    """Inverse of ``encode_meta``. O(size)."""
    meta = _loads(payload, where)
    _expect(type(meta) is dict, where, "meta is not a mapping")
    return meta


def commit_checksum(
    version: int,
    parent: int,
    time: float,
    message: Optional[str],
    meta: bytes,
    state: bytes,
    ops: Optional[bytes],
    deleted: bytes,
) -> int:
    """The checksum over every column of a commit row. O(row size)."""
    head = repr((version, parent, float(time), message, ops is None)).encode("utf-8", "surrogatepass")
    return checksum(b"".join((head, meta, state, ops or b"", deleted)), "commits", version)


# -- group commit: a queued transaction and its outcome ------------------------------------

Request = Tuple[int, int, bool, Optional[str], Dict[str, Any], Tuple[Op, ...]]  # base, mark, serializable, ...


def encode_request(
    ticket: int, base: int, mark: int, serializable: bool, message: Optional[str], meta: Mapping[str, Any],
    ops: Tuple[Op, ...],
) -> bytes:
    """A transaction queued for group commit: what replaying it needs, with a CRC seeded by its ticket. O(ops)."""
    body = pack([base, mark, serializable, message, encode_meta(meta), encode_ops(ops)])
    return pack([checksum(body, "request", ticket), body])


def decode_request(ticket: int, payload: bytes, where: str) -> Request:
    """(base version, id mark, serializable, message, meta, ops) of a queued request; ``CorruptDatabase`` if damaged."""
    outer = _loads(payload, where)
    _expect(type(outer) is list and len(outer) == 2 and type(outer[1]) is bytes, where, "not a request")
    _expect(checksum(outer[1], "request", ticket) == outer[0], where, "bad checksum")
    items = _loads(outer[1], where)
    _expect(
        type(items) is list and len(items) == 6 and type(items[0]) is int and type(items[1]) is int
        and type(items[2]) is bool and (items[3] is None or type(items[3]) is str) and type(items[4]) is bytes
        and type(items[5]) is bytes,
        where,
        "not a request",
    )
    ops = decode_ops(items[5], where)
    _expect(ops is not None, where, "a request without updates")
    assert ops is not None
    return items[0], items[1], items[2], items[3], decode_meta(items[4], where), ops


OUTCOME_CONFLICT = "conflict"  # a request that no longer applies (``ConflictError`` for its owner)
OUTCOME_DAMAGED = "damaged"  # a request that failed its checksum (``StorageError``: nothing was committed)


def encode_ids(ids: Mapping[int, int]) -> bytes:
    """A served request's outcome: the ids its inserts got (the transaction's id -> the stored id). O(ids)."""
    return pack(["ids", [[k, v] for k, v in ids.items()]])


def encode_refusal(kind: str, message: str) -> bytes:
    """A refused request's outcome: ``OUTCOME_CONFLICT`` or ``OUTCOME_DAMAGED`` and why."""
    return pack([kind, message])


def decode_outcome(payload: bytes, where: str) -> Tuple[str, Any]:
    """("ids", {id: id}) or (refusal kind, message); ``CorruptDatabase`` for anything else."""
    items = _loads(payload, where)
    _expect(type(items) is list and len(items) == 2 and type(items[0]) is str, where, "not an outcome")
    kind, value = items
    if kind == "ids":
        _expect(
            type(value) is list
            and all(type(p) is list and len(p) == 2 and type(p[0]) is int and type(p[1]) is int for p in value),
            where,
            "an id map",
        )
        return kind, {k: v for k, v in value}
    _expect(kind in (OUTCOME_CONFLICT, OUTCOME_DAMAGED) and type(value) is str, where, "an outcome")
    return kind, value
