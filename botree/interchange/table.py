"""Flat tables of a forest: one row per node with ``id``, ``parent``, ``order`` and data columns.

The layout shared by CSV files and pandas DataFrames.  Writing (``flat_table``): rows in
preorder; ``parent`` is None at the top level; ``order`` is the position among the
siblings; with ``data=None`` every data field is a column (fields in order of first
appearance; a node without a field has None there), otherwise the whole data sits in
the one column named ``data``.  Reading (``table_events``) goes through
``parent_table_events``: a missing parent cell is the top level, and with ``data=None``
a node's data is its row without the id, parent and order columns and without missing
cells.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Dict, Hashable, Iterable, List, Optional, Sequence, Tuple

from ..errors import InvalidArgument, InvalidOperation
from .parenttable import parent_table_events

STRUCTURE = ("id", "parent", "order")


def flat_table(
    places: Iterable[Tuple[int, Optional[int], int]], data_of: Callable[[int], Any], data: Optional[str] = None
) -> Tuple[List[str], List[List[Any]]]:
    """The column names and the rows (lists) of the forest's flat table. O(n · columns).

    With ``data=None`` every node's data must be a mapping whose keys are not ``id``,
    ``parent`` or ``order`` (``InvalidOperation`` naming the node otherwise; pass
    ``data="data"`` to keep such data whole).
    """
    if data is not None:
        if not isinstance(data, str) or data in STRUCTURE:
            raise InvalidArgument(f"data must be a column name other than id, parent and order, not {data!r}")
        return [*STRUCTURE, data], [[n, p, i, data_of(n)] for n, p, i in places]
    fields: Dict[Any, None] = {}
    nodes: List[Tuple[int, Optional[int], int, Mapping]] = []
    for n, p, i in places:
        value = data_of(n)
        if not isinstance(value, Mapping):
            raise InvalidOperation(
                f"node {n} holds a {type(value).__name__}, not a dict: pass data='data' to keep data in one column"
            )
        for key in value:
            if key not in fields:
                if key in STRUCTURE:
                    raise InvalidOperation(f"node {n}'s data has a field {key!r}: pass data='data' to keep it whole")
                fields[key] = None
        nodes.append((n, p, i, value))
    names = list(fields)
    return [*STRUCTURE, *names], [[n, p, i, *(value.get(f) for f in names)] for n, p, i, value in nodes]


def table_events(
    rows: Sequence[Mapping],
    columns: Iterable[Any],
    id: Any = "id",
    parent: Any = "parent",
    order: Any = "order",
    data: Any = None,
    missing: Callable[[Any], bool] = lambda value: value is None,
    order_value: Callable[[Any], Any] = lambda value: value,
    orphans: str = "error",
    cycles: str = "error",
) -> Tuple[List[Tuple[Any, bool]], List[Hashable]]:
    """The bounds of the forest in table ``rows`` (dicts keyed by column), and the ids in preorder.

    ``columns``: the table's column names.  ``order``: the column of sibling
    positions, ignored when the table has no such column (rows keep input order);
    None: input order.  ``missing(cell)`` tells an empty cell; ``order_value``
    converts order cells (e.g. text to int).  O(n · columns + n log n).
    """
    names = list(columns)
    for what, col in (("id", id), ("parent", parent)):
        if col not in names:
            raise InvalidArgument(f"the table has no {what} column {col!r} (columns: {names})")
    if data is not None and data not in names:
        raise InvalidArgument(f"the table has no data column {data!r} (columns: {names})")
    if order is not None and order not in names:
        order = None
    drop = {id, parent, order}
    tuples: List[Tuple[Any, Any, Any, Any]] = []
    for rownum, row in enumerate(rows):
        up = row[parent]
        key = None
        if order is not None:
            try:
                key = order_value(row[order])
            except (TypeError, ValueError):
                raise InvalidArgument(f"row {rownum}: order value {row[order]!r:.40} is not a position") from None
        if data is None:
            datum: Any = {k: v for k, v in row.items() if k not in drop and not missing(v)}
        else:
            datum = row[data]
            if missing(datum):
                datum = None
        tuples.append((row[id], None if missing(up) else up, key, datum))
    return parent_table_events(tuples, 0, 1, None if order is None else 2, 3, orphans, cycles)
