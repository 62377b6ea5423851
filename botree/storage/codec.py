"""Byte encodings of what a stored version consists of, each with a checksum.

A version is three id-keyed vectors (blocks, block links, node rows) plus a small
state (root, height, block size, indexed fields, vector lengths, id allocators).
Storage keeps vectors leaf by leaf: one *cell* holds the 64 slots of one leaf as
written by one version.  Payloads use ``marshal`` (C speed, exact types for
``None/bool/int/float/complex/str/bytes/tuple/list/dict/set/frozenset``, and unlike
pickle it never runs code while loading).  Node data must be built from those types
or be a ``JsonNode``; anything else is refused with ``InvalidArgument`` before a
commit writes anything.

Every payload is stored with a CRC-32 seeded with where it belongs (table, leaf,
version), so a damaged byte or a record found in the wrong place fails the check and
raises ``CorruptDatabase`` instead of yielding a wrong tree.
"""

from __future__ import annotations

import marshal
import zlib
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple

from ..core.blocks import Block
from ..core.index import OrderIndex
from ..errors import CorruptDatabase, InvalidArgument
from ..interchange.nested import JsonNode
from ..nodetable import ChunkedVector, IdAllocator, NodeTable, Row
from ..tree.updates import UPDATES, Op
from .format import FREE_KEPT


def checksum(payload: bytes, *where: object) -> int:
    """CRC-32 of ``payload`` seeded with its place (e.g. table, leaf, version). O(len)."""
    return zlib.crc32(payload, zlib.crc32(repr(where).encode()))


def _dumps(value: Any, what: str) -> bytes:
    try:
        return marshal.dumps(value)
    except ValueError as exc:
        raise InvalidArgument(
            f"{what} cannot be stored: {exc} (use None, bool, int, float, str, bytes, "
            "tuple, list, dict, set or frozenset values)"
        ) from None


def _loads(payload: bytes, what: str) -> Any:
    try:
        return marshal.loads(payload)
    except (ValueError, EOFError, TypeError) as exc:
        raise CorruptDatabase(f"{what} does not decode: {exc}") from None


# -- data (node data and update arguments) -------------------------------------


def _data_form(data: Any) -> Tuple[Any, ...]:
    return (0, data) if type(data) is not JsonNode else (1, data.kind, data.value)


def _data_value(form: Tuple[Any, ...]) -> Any:
    return form[1] if form[0] == 0 else JsonNode(form[1], form[2])


# -- leaves -----------------------------------------------------------------------


def encode_leaf(table: str, leaf: List[Any]) -> bytes:
    """The payload of one leaf of ``table``'s vector. O(64 + data size)."""
    if table == "links":
        return marshal.dumps(list(leaf))
    if table == "blocks":
        return marshal.dumps([None if b is None else (b.keys, b.items, b.aux, b.counts) for b in leaf])
    out: List[Any] = []
    for row in leaf:
        if row is None:
            out.append(None)
            continue
        data = row.data
        if type(data) is JsonNode:
            out.append((row.open_leaf, row.open_key, row.close_leaf, row.close_key, data.kind, data.value))
        else:
            out.append((row.open_leaf, row.open_key, row.close_leaf, row.close_key, data))
    try:
        return marshal.dumps(out)
    except ValueError:
        for row in leaf:  # name the node whose data is the problem
            if row is not None:
                _dumps(_data_form(row.data), f"the data of a node ({type(row.data).__name__})")
        raise


def decode_leaf(table: str, payload: bytes, size: int, where: str) -> List[Any]:
    """The slots of one leaf; ``CorruptDatabase`` if they do not have the expected shape. O(64)."""
    items = _loads(payload, where)
    if type(items) is not list or len(items) != size:
        raise CorruptDatabase(f"{where} holds {_describe(items)}, expected {size} slots")
    try:
        if table == "blocks":
            return [None if b is None else Block(b[0], b[1], b[2], b[3], None) for b in items]
        if table == "nodes":
            return [
                None
                if r is None
                else Row(r[0], r[1], r[2], r[3], r[4] if len(r) == 5 else JsonNode(r[4], r[5]), None)
                for r in items
            ]
    except (TypeError, IndexError) as exc:
        raise CorruptDatabase(f"{where} is malformed: {exc}") from None
    return items


def _describe(value: Any) -> str:
    return f"{len(value)} slots" if type(value) is list else f"a {type(value).__name__}"


def vectors(ix: OrderIndex) -> Dict[str, ChunkedVector]:
    """The three stored vectors of an index, by table name. O(1)."""
    return {"blocks": ix.blocks, "links": ix.links, "nodes": ix.nodes.rows}


# -- state of a version -------------------------------------------------------------


def _alloc_state(alloc: IdAllocator) -> Tuple[int, List[int], int]:
    """(next id, top of the free stack, free count): the arguments of ``IdAllocator.restore``."""
    top: List[int] = []
    for ident in alloc.free_ids():
        if len(top) == FREE_KEPT:
            break
        top.append(ident)
    return (alloc.next_id, top, alloc.nfree + alloc.holes)


def encode_state(ix: OrderIndex) -> bytes:
    """Everything of a version but its vectors' slots. O(1)."""
    nodes = ix.nodes
    state = {
        "root": ix.root,
        "height": ix.height,
        "block_size": ix.block_size,
        "fields": list(nodes.fields),
        "lengths": [len(v) for v in vectors(ix).values()],
        "block_ids": _alloc_state(ix.block_ids),
        "node_ids": _alloc_state(nodes.node_ids),
    }
    return marshal.dumps(state)


def decode_state(payload: bytes, where: str) -> Dict[str, Any]:
    """The state dict of ``encode_state``; ``CorruptDatabase`` if a key is missing. O(1)."""
    state = _loads(payload, where)
    keys = ("root", "height", "block_size", "fields", "lengths", "block_ids", "node_ids")
    if type(state) is not dict or any(k not in state for k in keys):
        raise CorruptDatabase(f"{where} is not a version state")
    return state


def index_from_state(state: Dict[str, Any], vecs: Mapping[str, ChunkedVector]) -> OrderIndex:
    """An ``OrderIndex`` over loaded (or lazily loading) vectors. O(1) (+ free ids kept)."""
    fields = tuple(state["fields"])
    nodes = NodeTable.from_parts(vecs["nodes"], IdAllocator.restore(*state["node_ids"]), fields, None if fields else ())
    return OrderIndex.from_parts(
        vecs["blocks"],
        vecs["links"],
        nodes,
        state["root"],
        state["height"],
        IdAllocator.restore(*state["block_ids"]),
        state["block_size"],
    )


def encode_deleted(deleted: Set[int]) -> bytes:
    """The ids a commit deleted, sorted. O(k log k)."""
    return marshal.dumps(sorted(deleted))


def decode_deleted(payload: bytes, where: str) -> List[int]:
    """The ids of ``encode_deleted``; ``CorruptDatabase`` if they do not decode. O(k)."""
    return _loads(payload, where)


# -- commits ---------------------------------------------------------------------------

def encode_ops(ops: Optional[Tuple[Op, ...]]) -> Optional[bytes]:
    """The logged updates of a commit (None: the commit replaced the whole tree). O(updates)."""
    if ops is None:
        return None
    return _dumps(
        [(name, [_data_form(a) for a in args], result) for name, args, result in ops], "an update's argument"
    )


def decode_ops(payload: Optional[bytes], where: str) -> Optional[Tuple[Op, ...]]:
    """Inverse of ``encode_ops``. O(updates)."""
    if payload is None:
        return None
    try:
        ops = tuple(
            (name, tuple(_data_value(a) for a in args), result) for name, args, result in _loads(payload, where)
        )
    except (TypeError, ValueError, IndexError) as exc:
        raise CorruptDatabase(f"{where} is malformed: {exc}") from None
    for name, args, _ in ops:  # replay runs these by name: only known updates, with their node arguments
        update = UPDATES.get(name) if type(name) is str else None
        if update is None or len(args) <= max(update.nodes, default=-1):
            raise CorruptDatabase(f"{where} logs an unknown update {name!r}")
    return ops


def encode_meta(meta: Mapping[str, Any]) -> bytes:
    """A commit's meta mapping. O(size)."""
    return _dumps(dict(meta), "commit meta")


def decode_meta(payload: bytes, where: str) -> Dict[str, Any]:
    """Inverse of ``encode_meta``. O(size)."""
    meta = _loads(payload, where)
    if type(meta) is not dict:
        raise CorruptDatabase(f"{where} is not a mapping")
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
    head = repr((version, parent, float(time), message, ops is None)).encode()
    return checksum(b"".join((head, meta, state, ops or b"", deleted)), "commits", version)
