"""Keyed parent tables: rows naming their own key and their parent's key <-> forests.

The layout of a CSV file a user brings (``id,parent,name,...``): every row is a
node; its data is the whole row except the parent column (the key column and an
order column included), so nothing the file said is lost.  The parent column is
structure, not data: it is written back from the tree's shape, right after the
key column, so an edited tree exports the parents it has now.

Order: a table either has no order column, or one whose cells are all blank
(siblings keep file order), or all filled (siblings are sorted by the values,
ties in file order); a mix of blank and filled cells is an error, never a silent
switch to another order.  On the way back the stored order values are written
when they still sort every sibling group into its current order; otherwise (after
a move or an insert) every row gets its child position, so the file rebuilds the
tree it came from.

``#id,#parent,#order`` tables are the internal form of a tree without a key field:
node ids (renumbered on import), child positions, and one column per data field.

All functions are O(rows · columns) plus the sibling sort; nothing recurses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from ..errors import InvalidArgument, InvalidOperation

INTERNAL = ("#id", "#parent", "#order")  # the header of a tree without a key field
Row = Tuple[Any, Any, Any, Any]  # (key, parent key, order value, data)


def is_internal(header: Sequence[str]) -> bool:
    """True if ``header`` starts like the internal form ``#id,#parent,#order``."""
    return tuple(header[: len(INTERNAL)]) == INTERNAL


def keyed_rows(
    header: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    name: str,
    key: str,
    parent: str = "parent",
    order: Optional[str] = None,
) -> Tuple[List[Row], bool]:
    """``(key, parent key, order value, data)`` for every row, and whether siblings are sorted by order values.

    ``InvalidArgument`` (naming ``name``) if the key or parent column is missing, the
    key and parent columns are one, a key cell is empty, or the order column mixes
    blank and filled cells.  A row's data is a new dict of every column but ``parent``.
    """
    columns = list(header)
    for what, column in (("key", key), ("parent", parent)):
        if column not in columns:
            raise InvalidArgument(f"{name}: no {what} column {column!r} (the header has: {', '.join(columns)})")
    if key == parent:
        raise InvalidArgument(f"{name}: the key and parent columns must differ (both are {key!r})")
    if order is not None and order not in columns:
        raise InvalidArgument(f"{name}: no order column {order!r} (the header has: {', '.join(columns)})")
    if order in (key, parent):
        raise InvalidArgument(f"{name}: the order column must differ from the key and parent columns")
    kept = [c for c in columns if c != parent]
    out: List[Row] = []
    blank: Optional[int] = None
    filled: Optional[int] = None
    for line, row in enumerate(rows, 1):
        ident = row[key]
        if ident is None:
            raise InvalidArgument(f"{name} row {line}: empty key ({key!r} column)")
        position = row[order] if order is not None else None
        if order is not None:
            if position is None:
                blank = line if blank is None else blank
            else:
                filled = line if filled is None else filled
        out.append((ident, row[parent], position, {c: row[c] for c in kept}))
    if blank is not None and filled is not None:
        raise InvalidArgument(
            f"{name}: the order column {order!r} is blank in row {blank} but filled in row {filled}: "
            "fill every cell (siblings sorted by it) or none (file order)"
        )
    return out, filled is not None


def internal_rows(header: Sequence[str], rows: Sequence[Mapping[str, Any]], name: str) -> List[Row]:
    """The rows of an ``#id,#parent,#order`` table: node id, parent id, child position, data without empty cells."""
    fields = [c for c in header if c not in INTERNAL]
    out: List[Row] = []
    for line, row in enumerate(rows, 1):
        if row["#id"] is None:
            raise InvalidArgument(f"{name} row {line}: empty #id")
        data = {f: row[f] for f in fields if row[f] is not None}
        out.append((row["#id"], row["#parent"], row["#order"], data))
    return out


def _fields(
    places: Iterable[Tuple[int, Optional[int], int]], data_of: Callable[[int], Any], name: Callable[[int], str]
) -> Tuple[List[Tuple[int, Optional[int], int, Mapping]], List[str]]:
    """The nodes with their data, and the data fields in order of first appearance (data must be dicts)."""
    fields: Dict[Any, None] = {}
    nodes: List[Tuple[int, Optional[int], int, Mapping]] = []
    for n, p, i in places:
        value = data_of(n)
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise InvalidOperation(
                f"node {name(n)} holds a {type(value).__name__}, not a dict of fields: a CSV row cannot hold it"
            )
        for field in value:
            if field not in fields:
                if not isinstance(field, str):
                    raise InvalidOperation(f"node {name(n)} has a field {field!r} that a CSV column cannot name")
                fields[field] = None
        nodes.append((n, p, i, value))
    return nodes, list(fields)


def keyed_table(
    places: Iterable[Tuple[int, Optional[int], int]],
    data_of: Callable[[int], Any],
    key: str,
    parent: str = "parent",
    order: Optional[str] = None,
) -> Tuple[List[str], List[List[Any]], bool]:
    """The header and rows (values) of a keyed tree's table, and whether the order column was rewritten.

    ``places``: ``(node, parent, child index)`` in preorder.  The header is the data
    fields in order of first appearance, with ``parent`` right after ``key``; a row's
    parent cell is its parent's key.  ``order``: the data field holding sibling
    order values (see the module for when positions replace them).
    """
    keys: Dict[int, Any] = {}

    def name(node: int) -> str:
        return repr(keys.get(node, f"#{node}"))

    nodes, fields = _fields(places, data_of, name)
    if parent in fields:
        raise InvalidOperation(f"a data field is named {parent!r}, like the parent column: pass another parent column")
    if key not in fields:
        fields.insert(0, key)
    header = list(fields)
    up = header.index(key) + 1
    header.insert(up, parent)
    sorted_ok = order is not None and order in fields
    last: Dict[Optional[int], Any] = {}
    rows: List[List[Any]] = []
    for n, p, i, value in nodes:
        keys[n] = value.get(key)
        if sorted_ok:
            here = value.get(order)
            try:
                sorted_ok = here is not None and (i == 0 or last[p] < here)
            except TypeError:
                sorted_ok = False
            last[p] = here
        row = [value.get(f) for f in fields]
        row.insert(up, None if p is None else keys[p])
        rows.append(row)
    rewrote = order is not None and order in fields and not sorted_ok
    if rewrote:
        at = header.index(str(order))
        for row, (_, _, i, _) in zip(rows, nodes):
            row[at] = i
    return header, rows, rewrote


def internal_table(
    places: Iterable[Tuple[int, Optional[int], int]], data_of: Callable[[int], Any]
) -> Tuple[List[str], List[List[Any]]]:
    """The ``#id,#parent,#order`` table of a tree without a key field: node ids, child positions, data fields."""
    nodes, fields = _fields(places, data_of, str)
    header = [*INTERNAL, *fields]
    return header, [[n, p, i, *(value.get(f) for f in fields)] for n, p, i, value in nodes]


def csv_parent_rows(
    header: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    name: str,
    key: str = "id",
    parent: str = "parent",
    order: Optional[str] = None,
) -> Tuple[List[Row], bool, Optional[str]]:
    """The parent-table rows of a CSV file's typed rows, whether they carry sibling order, and the key field.

    The ``#id,#parent,#order`` form gives node ids and positions and no key field
    (``None``); any other header is a keyed table (``keyed_rows``), whose ``order``
    column is ``order`` if given, else ``"order"`` when the header has one.
    O(rows · columns).
    """
    if is_internal(header):
        return internal_rows(header, rows, name), True, None
    if order is None and "order" in header and "order" not in (key, parent):
        order = "order"
    table, ordered = keyed_rows(header, rows, name, key, parent, order)
    return table, ordered, key


def csv_table(
    places: Iterable[Tuple[int, Optional[int], int]],
    data_of: Callable[[int], Any],
    key: Optional[str],
    parent: str = "parent",
    order: Optional[str] = "order",
) -> Tuple[List[str], List[List[Any]], bool]:
    """The CSV table of a tree: keyed (``keyed_table``) when ``key`` names its key field, else the
    ``#id,#parent,#order`` form; and whether the order column was rewritten. O(n · columns)."""
    if key is None:
        header, rows = internal_table(places, data_of)
        return header, rows, False
    return keyed_table(places, data_of, key, parent, order)
