"""Reading storage format ``botree-1`` (botree 0.1, ``marshal`` payloads), for ``botree upgrade`` only.

``marshal`` is not promised to stay readable across Python versions, which is why
format ``botree-2`` replaced it; these decoders turn a ``botree-1`` payload into the
plain Python values the ``botree-2`` codec encodes again.  Nothing else reads them.
"""

from __future__ import annotations

import marshal
from typing import Any, Dict, List, Optional, Tuple

from ..core.blocks import Block
from ..errors import CorruptDatabase
from ..interchange.nested import JsonNode
from ..nodetable import Row


def _loads(payload: bytes, where: str) -> Any:
    try:
        return marshal.loads(payload)
    except (ValueError, EOFError, TypeError) as exc:
        raise CorruptDatabase(f"{where} does not decode: {exc}") from None


def _data_value(form: Any) -> Any:
    return form[1] if form[0] == 0 else JsonNode(form[1], form[2])


def decode_leaf(table: str, payload: bytes, where: str) -> List[Any]:
    """The slots of a ``botree-1`` leaf, as the in-memory vectors hold them. O(64)."""
    items = _loads(payload, where)
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
        return [None if s is None else tuple(s) for s in items]
    except (TypeError, IndexError) as exc:
        raise CorruptDatabase(f"{where} is malformed: {exc}") from None


def decode_state(payload: bytes, where: str) -> Dict[str, Any]:
    """A ``botree-1`` version state (no manifests). O(1)."""
    state = _loads(payload, where)
    keys = ("root", "height", "block_size", "fields", "lengths", "block_ids", "node_ids")
    if type(state) is not dict or not all(key in state for key in keys):
        raise CorruptDatabase(f"{where} is not a version state")
    lengths = state["lengths"]
    if type(lengths) not in (list, tuple) or len(lengths) != 3 or not all(type(n) is int and n >= 0 for n in lengths):
        raise CorruptDatabase(f"{where}: the version state's vector lengths are malformed")
    return state


def decode_ops(payload: Optional[bytes], where: str) -> Optional[Tuple[Tuple[str, Tuple[Any, ...], Any], ...]]:
    """The logged updates of a ``botree-1`` commit. O(updates)."""
    if payload is None:
        return None
    try:
        return tuple(
            (name, tuple(_data_value(a) for a in args), result) for name, args, result in _loads(payload, where)
        )
    except (TypeError, ValueError, IndexError) as exc:
        raise CorruptDatabase(f"{where} is malformed: {exc}") from None


def decode_value(payload: bytes, where: str) -> Any:
    """A ``botree-1`` meta mapping or deleted-id list. O(size)."""
    return _loads(payload, where)
