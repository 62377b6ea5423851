"""Parent-child tables (id, parent, order, data rows) -> forests, with explicit policies.

Rows are dicts (columns by key) or sequences (columns by position).  A row whose
parent is None (or, for dicts, absent) is a top-level node.  Siblings keep input
order, or are sorted by the ``order`` column (stable).  Orphans (parent id not in
the table) and cycles are errors by default; the policies are documented on
``load_parent_table``.  Everything is iterative and O(n log n) at most (the sort).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import islice
from operator import itemgetter, lt
from typing import Any, Callable, Dict, Hashable, Iterable, List, Optional, Tuple

from ..core.bulk import Progress, build_index, build_preorder
from ..core.gcpause import gc_paused
from ..core.index import OrderIndex
from ..errors import InvalidArgument, InvalidOperation

ORPHAN_POLICIES = ("error", "ignore", "root")
CYCLE_POLICIES = ("error", "break")
MappingMaker = Callable[[], Dict[Hashable, int]]  # makes the mapping external id -> node id


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


def _extract(rows: List[Any], col: Any, what: str, optional: bool = False) -> List[Any]:
    """One column of every row: a C-level pass, or a per-row pass naming the bad row.

    ``optional``: a dict row without the column gives None (sequences need it anyway).
    """
    try:
        if optional and not _sequences_only(rows):
            return [row.get(col) if isinstance(row, Mapping) else row[col] for row in rows]
        return list(map(itemgetter(col), rows))
    except (KeyError, IndexError, TypeError):
        for rownum, row in enumerate(rows):
            _column(row, col, what, rownum, optional)
        raise  # not reached: some row failed above


def _sequences_only(rows: List[Any]) -> bool:
    """Every row is a tuple or a list (no mapping: a missing column is an error, not None). O(n), C-level."""
    return set(map(type, rows)) <= {tuple, list}


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
    O(n) plus the sibling sort when ``order`` is given.
    """
    ext, up, state, datas, keys = _read_table(rows, id, parent, order, data, orphans, cycles)
    events, positions = _bounds(ext, up, state, datas, keys, cycles)
    return events, list(map(ext.__getitem__, positions))


def parent_table_index(
    rows: Iterable[Any],
    id: Any = "id",
    parent: Any = "parent",
    order: Any = None,
    data: Any = None,
    orphans: str = "error",
    cycles: str = "error",
    block_size: Any = 64,
    fields: Iterable[str] = (),
    progress: Optional[Progress] = None,
    key: Any = None,
) -> Tuple[OrderIndex, MappingMaker]:
    """The forest of ``parent_table_events`` as an order index, and a function making the
    mapping external id -> node id. O(n) plus the sibling sort.

    When every row's parent comes before it (as in tables numbered in insertion order),
    ``_preorder`` numbers the nodes in two passes over the rows and the index is built
    from the preorder (``core.bulk.build_preorder``); otherwise through the bounds.
    """
    with gc_paused():  # millions of small containers, no cycles (see core.gcpause)
        ext, up, state, datas, keys = _read_table(rows, id, parent, order, data, orphans, cycles)
        if not any(state):
            laid = _preorder(up, keys, datas)
            if laid is not None:
                in_preorder, sizes, node_of = laid
                index = build_preorder(in_preorder, sizes, block_size, fields, progress=progress, key=key)
                return index, lambda: _mapping(ext, node_of)
        events, positions = _bounds(ext, up, state, datas, keys, cycles)
        index = build_index(events, block_size, fields, progress=progress, key=key)
        return index, lambda: dict(zip(map(ext.__getitem__, positions), range(len(positions))))


def _mapping(ext: List[Any], node_of: List[int]) -> Dict[Hashable, int]:
    """External id -> node id, in preorder (as the bounds path makes it). O(n)."""
    in_preorder: List[Any] = [None] * len(ext)
    for ident, node in zip(ext, node_of):
        in_preorder[node] = ident
    return dict(zip(in_preorder, range(len(ext))))


def _preorder(
    up: List[int], keys: Optional[List[Any]], datas: List[Any]
) -> Optional[Tuple[List[Any], List[int], List[int]]]:
    """When every parent comes first (``up[i] < i``): the data and subtree sizes in preorder, and
    each row's node id (preorder number); else None. O(n), or O(n log n) with ``keys``.

    Subtree sizes are summed from the last row to the first; then each row, its parent
    numbered already, takes the next free number under the parent and leaves its own
    size to the next sibling.  Each pass reads the rows in order and touches one parent
    slot per row, where a depth-first walk would jump around memory at every row.
    """
    n = len(up)
    if not all(map(lt, up, range(n))):
        return None
    sizes = [1] * (n + 1)  # sizes[-1]: the top level's, unused
    for p, size in zip(reversed(up), islice(reversed(sizes), 1, None)):
        sizes[p] += size
    del sizes[n]
    rank: Iterable[int] = range(n)
    if keys is not None:
        # Order values are compared only between siblings; ties keep input order.  A row
        # still comes after its parent: the parent sorts under its own parent, which comes first.
        try:
            rank = sorted(rank, key=lambda i: (up[i], keys[i]))
        except TypeError as exc:
            raise InvalidArgument(f"order values of siblings cannot be compared: {exc}") from None
    free = [0] * (n + 1)  # next free number below each row; free[-1]: at the top level
    node_of = [0] * n
    for i in rank:
        p = up[i]
        node = free[p]
        free[p] = node + sizes[i]
        free[i] = node + 1
        node_of[i] = node
    # Apart from the numbering: one loop scattering to two places and reading a third at
    # random was measured 1.5x slower than the two loops (memory, not bytecode, is the cost).
    in_preorder: List[Any] = [None] * n
    sizes_in_preorder = [0] * n
    for node, data, size in zip(node_of, datas, sizes):
        in_preorder[node] = data
        sizes_in_preorder[node] = size
    return in_preorder, sizes_in_preorder, node_of


def _read_table(
    rows: Iterable[Any], id: Any, parent: Any, order: Any, data: Any, orphans: str, cycles: str
) -> Tuple[List[Any], List[int], List[int], List[Any], Optional[List[Any]]]:
    """The columns (ids, parent positions, initial states, data, order values), orphans settled."""
    if orphans not in ORPHAN_POLICIES:
        raise InvalidArgument(f"orphans must be one of {ORPHAN_POLICIES}, not {orphans!r}")
    if cycles not in CYCLE_POLICIES:
        raise InvalidArgument(f"cycles must be one of {CYCLE_POLICIES}, not {cycles!r}")
    if not isinstance(rows, list):
        try:
            source = iter(rows)
        except TypeError:
            raise InvalidArgument(f"rows must be an iterable of rows, not {type(rows).__name__}") from None
        rows = list(source)
    ext = _extract(rows, id, "id")
    parents = _extract(rows, parent, "parent", optional=True)
    datas = rows if data is None else _extract(rows, data, "data")
    keys = _extract(rows, order, "order") if order is not None else None
    up = _dense_parent_positions(ext, parents)
    if up is None:
        up = _parent_positions(ext, parents, _positions(ext))
    return ext, up, _settle_orphans(ext, up, orphans), datas, keys


def _bounds(
    ext: List[Any], up: List[int], state: List[int], datas: List[Any], keys: Optional[List[Any]], cycles: str
) -> Tuple[List[Tuple[Any, bool]], List[int]]:
    """The bounds of the rows linked as a forest, the cycle policy applied, and the row positions in preorder."""
    if not any(state):
        # No dropped orphans: link and walk every row first.  When the walk from the top
        # level reaches every row there is no cycle, and the per-row walk of
        # ``_settle_cycles`` (a Python loop over all rows) is not needed.
        try:
            first, after = _links(up, None, keys)
        except InvalidArgument:
            pass  # siblings' order values clash: decide below, after the cycle policy
        else:
            events, positions = _emit(first, after, up, datas)
            if len(positions) == len(up):
                return events, positions
    _settle_cycles(ext, up, state, cycles)
    first, after = _links(up, state, keys)
    return _emit(first, after, up, datas)


def _positions(ext: List[Any]) -> Dict[Hashable, int]:
    """Row position of every external id; unhashable or duplicate ids are errors."""
    try:
        position: Dict[Hashable, int] = {ident: i for i, ident in enumerate(ext)}
    except TypeError:
        bad = next(i for i, ident in enumerate(ext) if not _hashable(ident))
        raise InvalidArgument(f"row {bad} has an unhashable id {ext[bad]!r}") from None
    if len(position) < len(ext):
        seen: set = set()
        duplicates = [ident for ident in ext if ident in seen or seen.add(ident)]  # type: ignore[func-returns-value]
        raise InvalidOperation(f"duplicate ids: {_names(dict.fromkeys(duplicates))}")
    return position


def _parent_positions(ext: List[Any], parents: List[Any], position: Dict[Hashable, int]) -> List[int]:
    """Parents as row positions: -1 top level, -2 orphan (parent id not in the table)."""
    try:
        return [-1 if p is None else position.get(p, -2) for p in parents]
    except TypeError:
        bad = next(i for i, p in enumerate(parents) if not _hashable(p))
        raise InvalidArgument(f"row with id {ext[bad]!r} has an unhashable parent {parents[bad]!r}") from None


def _dense_parent_positions(ext: List[Any], parents: List[Any]) -> Optional[List[int]]:
    """``_parent_positions`` when the ids are the consecutive ints lo, lo + 1, ... in row order
    and every parent is an int or None (else None): arithmetic instead of hashing. O(n).

    A common table (serial ids in id order).  The result is the one ``_parent_positions``
    gives: an id equal to ``lo + k`` is at row k, whatever its type (as for dict keys).
    """
    n = len(ext)
    if not n or type(ext[0]) is not int:
        return None
    lo = ext[0]
    hi = lo + n
    if ext != list(range(lo, hi)) or not set(map(type, parents)) <= {int, type(None)}:
        return None
    return [-1 if p is None else p - lo if lo <= p < hi else -2 for p in parents]


def _settle_orphans(ext: List[Any], up: List[int], orphans: str) -> List[int]:
    """Apply the orphan policy to ``up`` in place; the initial per-row states (3: dropped orphan)."""
    state = [0] * len(up)  # 0 unknown, 1 on the current walk, 2 kept, 3 dropped, 4 on/below a cycle
    orphaned = [i for i in range(len(up)) if up[i] == -2] if -2 in up else []
    if orphaned:
        if orphans == "error":
            raise InvalidOperation(
                f"rows whose parent id is not in the table (orphans): {_names(ext[i] for i in orphaned)}"
            )
        for i in orphaned:
            up[i] = -1
            if orphans == "ignore":
                state[i] = 3
    return state


def _settle_cycles(ext: List[Any], up: List[int], state: List[int], cycles: str) -> None:
    """Walk every row's parent chain to the top level, marking ``state`` and applying the cycle policy."""
    cyclic: List[Any] = []
    for i in range(len(up)):
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


def _links(up: List[int], state: Optional[List[int]], keys: Optional[List[Any]]) -> Tuple[List[int], List[int]]:
    """First child and next sibling (-1: none) of the kept rows (``state`` 2; None: every row),
    siblings in input order or sorted by ``keys`` (stable); ``first[-1]``: the first top-level row.

    O(n), or O(n log n) with ``keys`` (the sort, in C).
    """
    n = len(up)
    kept: Iterable[int] = range(n) if state is None else [i for i in range(n) if state[i] == 2]
    if keys is not None:
        # Order values are compared only between siblings; ties keep input order.
        try:
            kept = sorted(kept, key=lambda i: (up[i], keys[i]))
        except TypeError as exc:
            raise InvalidArgument(f"order values of siblings cannot be compared: {exc}") from None
    first = [-1] * (n + 1)
    after = [-1] * n
    for i in reversed(kept):  # type: ignore[call-overload]
        p = up[i]
        after[i] = first[p]
        first[p] = i
    return first, after


def _emit(
    first: List[int], after: List[int], up: List[int], datas: List[Any]
) -> Tuple[List[Tuple[Any, bool]], List[int]]:
    """The bounds of the linked forest in document order, and the row positions in preorder. O(n).

    The walk of ``core.bulk.build_forest``: down to first children, closing a row
    without children at once, then up through the parents until one has a next sibling.
    """
    events: List[Tuple[Any, bool]] = []
    order: List[int] = []
    emit = events.append
    note = order.append
    close = (None, False)
    i = first[-1]
    while i >= 0:
        emit((datas[i], True))
        note(i)
        child = first[i]
        if child >= 0:
            i = child
            continue
        emit(close)
        following = after[i]
        while following < 0:
            i = up[i]
            if i < 0:
                break
            emit(close)
            following = after[i]
        i = following
    return events, order


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
