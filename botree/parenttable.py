"""Parent-child tables (id, parent, order, data rows) -> forests, with explicit policies.

Rows are dicts (columns by key) or sequences (columns by position).  A row whose
parent is None (or, for dicts, absent) is a top-level node.  Siblings keep input
order, or are sorted by the ``order`` column (stable).  Orphans (parent id not in
the table) and cycles are errors by default; the policies are documented on
``load_parent_table``.  Everything is iterative and O(n log n) at most (the sort).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Dict, Hashable, Iterable, List, Tuple

from .errors import InvalidArgument, InvalidOperation

ORPHAN_POLICIES = ("error", "ignore", "root")
CYCLE_POLICIES = ("error", "break")


def _column(row: Any, col: Any, what: str, rownum: int, optional: bool = False) -> Any:
    try:
        if isinstance(row, Mapping):
            return row.get(col) if optional else row[col]
        return row[col]
    except (KeyError, IndexError, TypeError):
        raise InvalidArgument(f"row {rownum} has no {what} column {col!r}: {row!r:.80}") from None


def _names(ids: Iterable[Any], limit: int = 10) -> str:
    ids = list(ids)
    shown = ", ".join(repr(i) for i in ids[:limit])
    return shown + (f", … ({len(ids)} in all)" if len(ids) > limit else "")


def parent_table_events(
    rows: Iterable[Any],
    id: Any = "id",
    parent: Any = "parent",
    order: Any = None,
    data: Any = None,
    orphans: str = "error",
    cycles: str = "error",
) -> Tuple[List[Tuple[Any, bool]], List[Hashable]]:
    """The bounds of the forest described by ``rows``, and the external ids in preorder.

    Node data is ``row[data]`` if ``data`` names a column, else the row itself.
    """
    if orphans not in ORPHAN_POLICIES:
        raise InvalidArgument(f"orphans must be one of {ORPHAN_POLICIES}, not {orphans!r}")
    if cycles not in CYCLE_POLICIES:
        raise InvalidArgument(f"cycles must be one of {CYCLE_POLICIES}, not {cycles!r}")
    ext: List[Hashable] = []
    parents: List[Any] = []
    datas: List[Any] = []
    keys: List[Any] = []
    position: Dict[Hashable, int] = {}
    duplicates: List[Any] = []
    for rownum, row in enumerate(rows):
        ident = _column(row, id, "id", rownum)
        try:
            seen = ident in position
        except TypeError:
            raise InvalidArgument(f"row {rownum} has an unhashable id {ident!r}") from None
        if seen:
            duplicates.append(ident)
            continue
        position[ident] = len(ext)
        ext.append(ident)
        parents.append(_column(row, parent, "parent", rownum, optional=True))
        datas.append(row if data is None else _column(row, data, "data", rownum))
        if order is not None:
            keys.append(_column(row, order, "order", rownum))
    if duplicates:
        raise InvalidOperation(f"duplicate ids: {_names(duplicates)}")
    n = len(ext)
    # Resolve parents to positions; -1 means top level.
    up = [-1] * n
    state = [0] * n  # 0 unknown, 1 on the current walk, 2 kept, 3 dropped, 4 on/below a cycle
    orphaned: List[Any] = []
    for i, p in enumerate(parents):
        if p is None:
            continue
        try:
            j = position.get(p, -1)
        except TypeError:
            raise InvalidArgument(f"row with id {ext[i]!r} has an unhashable parent {p!r}") from None
        if j >= 0:
            up[i] = j
            continue
        orphaned.append(ext[i])
        if orphans == "ignore":
            state[i] = 3
    if orphaned and orphans == "error":
        raise InvalidOperation(f"rows whose parent id is not in the table (orphans): {_names(orphaned)}")
    # Every row's chain of parents must reach the top level (or a dropped orphan).
    cyclic: List[Any] = []
    for i in range(n):
        if state[i]:
            continue
        trail: List[int] = []
        walk = i
        while walk >= 0 and state[walk] == 0:
            state[walk] = 1
            trail.append(walk)
            walk = up[walk]
        if walk < 0:
            verdict = 2
        elif state[walk] == 1:  # walked into this very trail: a cycle
            members = trail[trail.index(walk) :]
            if cycles == "break":
                cut = min(members)  # the member that came first in the input
                up[cut] = -1
                verdict = 2
            else:
                cyclic.extend(ext[m] for m in members)
                verdict = 4
        else:
            verdict = state[walk]
        for t in trail:
            state[t] = verdict
    if cyclic:
        raise InvalidOperation(f"parent cycles among ids: {_names(cyclic)}")
    children: List[List[int]] = [[] for _ in range(n)]
    tops: List[int] = []
    for i in range(n):
        if state[i] == 2:
            (tops if up[i] < 0 else children[up[i]]).append(i)
    if order is not None:
        try:
            tops.sort(key=keys.__getitem__)
            for kids in children:
                if len(kids) > 1:
                    kids.sort(key=keys.__getitem__)
        except TypeError as exc:
            raise InvalidArgument(f"order values cannot be compared: {exc}") from None
    events: List[Tuple[Any, bool]] = []
    ids: List[Hashable] = []
    stack: List[Tuple[int, bool]] = [(i, True) for i in reversed(tops)]
    while stack:
        i, is_open = stack.pop()
        events.append((datas[i], is_open))
        if is_open:
            ids.append(ext[i])
            stack.append((i, False))
            stack.extend((c, True) for c in reversed(children[i]))
    return events, ids


def parent_rows(tree: Any) -> List[Dict[str, Any]]:
    """``{"id", "parent", "order", "data"}`` for every node, in preorder. O(n)."""
    rows: List[Dict[str, Any]] = []
    stack: List[List[Any]] = []  # [node, children seen so far]
    top_count = 0
    ix = tree._ix
    for node, is_open in ix.bounds():
        if is_open:
            if stack:
                frame = stack[-1]
                parent, position = frame[0], frame[1]
                frame[1] += 1
            else:
                parent, position = None, top_count
                top_count += 1
            rows.append({"id": node, "parent": parent, "order": position, "data": ix.data(node)})
            stack.append([node, 0])
        else:
            stack.pop()
    return rows
