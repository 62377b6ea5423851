"""Depth-limited walks and ``find``: the machinery behind ``TreeQueries.find`` and
``descendants(max_depth=...)``.

``limited_preorder`` walks a subtree in document order and, at the depth limit, jumps
from a node's opening bound to its closing bound (a back-link and a bisect: O(log B))
instead of scanning what lies below.  ``find`` answers from the field index when an
indexed constraint selects at most half the nodes in scope: hits are placed by their
position key (``IndexReader.position``: the gap keys from the root down, which order
bounds as document order does) and kept if inside ``under``'s interval of bounds
(tested by position, or by the leaf their back-link names when hits are many);
otherwise by a walk of the scope.
"""

from __future__ import annotations

from itertools import islice
from typing import Any, Callable, Collection, Dict, Iterator, List, Optional, Set, Tuple

from ..core.reader import Bound, IndexReader
from ..errors import InvalidArgument, InvalidOperation
from ..nodetable.attrindex import FAMILY_TYPES, MISSING, Range, field_value


def limited_preorder(ix: IndexReader, node: Optional[int], limit: Optional[int]) -> Iterator[int]:
    """Proper descendants of ``node`` in preorder, at most ``limit`` levels below it.

    ``node=None`` walks the forest as if below a virtual root (top-level nodes are at
    depth 1).  ``limit=None``: no limit.  Amortised O(1) per bound walked, plus O(log B)
    per node at the limit that has children (its subtree is jumped over).
    """
    if limit is not None and limit <= 0:
        return
    start: Optional[Bound]
    if node is None:
        start, end, skip_first = ix.first_bound(), None, False
    else:
        start, end, skip_first = (node, True), (node, False), True
    depth = 0
    while start is not None:
        it = ix.bounds(start)
        if skip_first:
            next(it)
        start = None
        for bound in it:
            if bound == end:
                return
            n, is_open = bound
            if not is_open:
                depth -= 1
                continue
            depth += 1
            yield n
            if depth == limit:
                depth -= 1
                if next(it) != (n, False):  # n has children: jump to its closing bound
                    start, skip_first = (n, False), True
                    break


def check_max_depth(max_depth: object) -> Optional[int]:
    """``max_depth`` if it is None or a non-negative int; ``InvalidArgument`` otherwise."""
    if max_depth is not None and (type(max_depth) is not int or max_depth < 0):
        raise InvalidArgument(f"max_depth must be a non-negative int, not {max_depth!r}")
    return max_depth


def _test(want: Any) -> Callable[[Any], bool]:
    """A test of one field's value (never MISSING) against ``value`` or a ``Range``."""
    if not isinstance(want, Range):
        return lambda value: bool(value == want)
    kinds = frozenset(FAMILY_TYPES[want.family])
    low, high = want.low, want.high
    if low is None:
        return (
            (lambda v: type(v) in kinds and v <= high)
            if want.include_high
            else (lambda v: type(v) in kinds and v < high)
        )
    if high is None:
        return (
            (lambda v: type(v) in kinds and v >= low) if want.include_low else (lambda v: type(v) in kinds and v > low)
        )
    return lambda v: type(v) in kinds and v in want


def _matcher(equalities: Dict[str, Any], where: Optional[Callable[[Any], Any]]) -> Callable[[Any], bool]:
    """A test of a node's data against ``field=value`` / ``field=Range`` constraints and ``where``."""
    tests = [(field, _test(want)) for field, want in equalities.items()]

    def matches(data: Any) -> bool:
        plain = type(data) is dict  # the common case, without the Mapping check of field_value
        for field, test in tests:
            value = data.get(field, MISSING) if plain else field_value(data, field)
            if value is MISSING or not test(value):
                return False
        return where is None or bool(where(data))

    return matches


def _candidates(ix: IndexReader, equalities: Dict[str, Any], enough: int) -> Optional[Tuple[Collection[int], str]]:
    """Ids from the most selective index lookup and the field it answered, or None when
    every lookup holds more than ``enough`` ids (scanning the scope is cheaper then).

    Equalities first (their sizes are known in O(log n)); a range's distinct values are
    counted (no id read) up to ``enough + 1``, then its ids listed up to as many.
    ``InvalidOperation`` (a ValueError) for an unindexed field; the key field answers
    equalities from the key index (type-exact: ``id=3`` never matches ``"3"``).
    """
    nodes = ix.nodes
    best: Optional[Tuple[Collection[int], str]] = None
    key = nodes.key
    for field, value in equalities.items():
        if field not in nodes.fields and (field != key or isinstance(value, Range)):
            raise InvalidOperation(f"field {field!r} is not indexed (indexed: {list(nodes.fields)})")
    for field, value in equalities.items():
        if not isinstance(value, Range):
            if field == key and field not in nodes.fields:  # the key index answers equality: 0 or 1 id
                node = nodes.node_of_key(value)
                ids: Collection[int] = (node,) if node >= 0 else ()
            else:
                ids = nodes.find_ids(field, value)
            if best is None or len(ids) < len(best[0]):
                best = ids, field
    if best is not None:
        return best if len(best[0]) <= enough else None
    for field, value in equalities.items():  # ranges only: count values (cheap) before reading ids
        if sum(1 for _ in islice(nodes.range_values(field, value), enough + 1)) > enough:
            continue
        hits = list(islice(nodes.range_ids(field, value), enough + 1))
        if len(hits) <= enough:
            return hits, field
    return None


def find(
    ix: IndexReader,
    where: Optional[Callable[[Any], Any]],
    under: Optional[int],
    max_depth: Optional[int],
    equalities: Dict[str, Any],
) -> List[int]:
    """See ``TreeQueries.find``."""
    if where is not None and not callable(where):
        raise InvalidArgument(f"where must be a callable taking a node's data, not {type(where).__name__}")
    copy = ix.nodes.copy_out  # a database's tree: ``where`` sees copies, as every read does
    if where is not None and copy is not None:
        user = where
        where = lambda data: user(copy(data))  # noqa: E731
    check_max_depth(max_depth)
    if under is not None:
        ix.require(under)
    if not equalities and where is None and under is None and max_depth is None:
        raise InvalidArgument("find() needs a field=value pair, where=, under= or max_depth=")
    for field, value in equalities.items():
        if not isinstance(value, Range):
            try:
                hash(value)
            except TypeError:
                raise InvalidArgument(f"find({field}=...) needs a hashable value, not {type(value).__name__}") from None
    limit = None if max_depth is None else (max_depth if under is not None else max_depth + 1)
    if equalities:
        # An index hit (value lookup, position key: O(h)) costs about two steps of a scope
        # walk (measured: ~4-6 µs against ~2 µs per node at 10^5 nodes).
        scope = len(ix) if under is None else (ix.rank((under, False)) - ix.rank((under, True)) - 1) // 2
        found = _candidates(ix, equalities, scope // 2)
        if found is not None:
            ids, field = found
            rest = {f: v for f, v in equalities.items() if f != field}
            return _from_index(ix, ids, _matcher(rest, where), under, limit, scope)
    matches = _matcher(equalities, where)
    row = ix.nodes.row
    if limit is not None:
        return [node for node in limited_preorder(ix, under, limit) if matches(row(node).data)]
    return _scan(ix, under, matches)


def _scan(ix: IndexReader, under: Optional[int], matches: Callable[[Any], bool]) -> List[int]:
    """Nodes of the scope (``under``'s proper descendants, or all) whose data matches, in
    document order: a tight loop over the leaves' encoded bounds, O(1) per bound."""
    chunks = ix.nodes.rows.chunks  # inlined ChunkedVector reads (see nodetable.vector)
    out: List[int] = []
    if under is None:
        start, stop = None, -1
    else:
        start, stop = (under, True), under << 1 | 1
    first = start is not None
    for items, pos in ix.leaf_runs(start):
        if first:
            pos += 1  # under's own opening bound
            first = False
        for item in items[pos:] if pos else items:
            if item & 1:
                if item == stop:
                    return out
                continue
            node = item >> 1
            if matches(chunks[node >> 12][(node >> 6) & 63][node & 63].data):
                out.append(node)
    return out


def _from_index(
    ix: IndexReader,
    ids: Collection[int],
    matches: Callable[[Any], bool],
    under: Optional[int],
    limit: Optional[int],
    scope: int,
) -> List[int]:
    """Index hits inside ``under``'s interval of positions and the depth limit, in document order.

    ``under``'s subtree is the interval of bounds between its two bounds.  With few hits
    for the scope, each hit's opening bound gets its position key (``IndexReader.position``,
    O(h)) and is compared with the interval's ends; with many, the interval is taken as
    its leaves (``IndexReader.leaf_span``: O(h + scope / B), inner blocks only) and a hit
    is in it if its back-link names one of them (gap keys decide in the two end leaves):
    O(1) per hit, position keys only for those inside.  Sorting by key gives document
    order.  O(k · h + k log k) at most, plus O(log n) per hit for a level when
    ``max_depth`` is given.
    """
    position = ix.open_position
    level = ix.level
    row = ix.nodes.row
    placed = []
    if under is None:
        for node in ids:
            if (limit is None or level(node) < limit) and matches(row(node).data):
                placed.append((position(node), node))
    else:
        top = level(under)
        span = row(under)
        first_leaf, first_key, last_leaf, last_key = span.open_leaf, span.open_key, span.close_leaf, span.close_key
        leaves: Optional[Set[int]] = None
        if len(ids) > scope // 16:  # about as many scope leaves as hits (B = 64): test hits by their leaf
            leaves = set(ix.leaf_span((under, True), (under, False)))
        else:
            lo, hi = position(under), ix.position((under, False))
        for node in ids:
            r = row(node)
            if leaves is None:
                key = position(node)
                if not lo < key < hi:
                    continue
            else:
                leaf = r.open_leaf
                if (
                    leaf not in leaves
                    or (leaf == first_leaf and r.open_key <= first_key)
                    or (leaf == last_leaf and r.open_key >= last_key)
                ):
                    continue
                key = ()
            if (limit is None or level(node) - top <= limit) and matches(r.data):
                placed.append((key or position(node), node))
    placed.sort()
    return [node for _, node in placed]
