"""Depth-limited walks and ``find``: the machinery behind ``TreeQueries.find`` and
``descendants(max_depth=...)``.

``limited_preorder`` walks a subtree in document order and, at the depth limit, jumps
from a node's opening bound to its closing bound (a back-link and a bisect: O(log B))
instead of scanning what lies below.  ``find`` answers from the field index when an
indexed constraint is given (hits are then placed by their preorder bound rank, which
also restricts them to ``under``'s rank interval), and by a limited walk otherwise.
"""

from __future__ import annotations

from typing import Any, Callable, Collection, Dict, Iterator, List, Optional, Tuple

from ..core.reader import Bound, IndexReader
from ..errors import InvalidArgument, InvalidOperation, NotIndexed
from ..nodetable.attrindex import MISSING, Range, field_value


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


def _matcher(equalities: Dict[str, Any]) -> Callable[[Any], bool]:
    """A test of a node's data against ``field=value`` / ``field=Range`` constraints."""
    items = list(equalities.items())

    def matches(data: Any) -> bool:
        for field, want in items:
            value = field_value(data, field)
            if value is MISSING:
                return False
            if isinstance(want, Range):
                if value not in want:
                    return False
            elif value != want:
                return False
        return True

    return matches


def _candidates(ix: IndexReader, equalities: Dict[str, Any]) -> Tuple[Collection[int], Dict[str, Any]]:
    """Ids from the most selective index lookup, and the constraints still to check on data.

    Equalities first (their sizes are known in O(1)); a range only when there is no
    equality.  ``InvalidOperation`` (a ValueError) for an unindexed field,
    ``InvalidArgument`` for an unhashable value.
    """
    nodes = ix.nodes
    looked: List[Tuple[Collection[int], str]] = []
    for field, value in equalities.items():
        if field not in nodes.fields:
            raise InvalidOperation(f"field {field!r} is not indexed (indexed: {list(nodes.fields)})")
        try:
            if isinstance(value, Range):
                continue
            looked.append((nodes.find_ids(field, value), field))
        except NotIndexed as exc:
            raise InvalidOperation(str(exc)) from None
        except TypeError:
            raise InvalidArgument(f"find({field}=...) needs a hashable value, not {type(value).__name__}") from None
    if looked:
        ids, field = min(looked, key=lambda pair: len(pair[0]))
    else:
        field, rng = next(iter(equalities.items()))
        ids = nodes.find_ids(field, rng)
    rest = {f: v for f, v in equalities.items() if f != field}
    return ids, rest


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
    check_max_depth(max_depth)
    if under is not None:
        ix.require(under)
    if not equalities and where is None and under is None and max_depth is None:
        raise InvalidArgument("find() needs a field=value pair, where=, under= or max_depth=")
    for value in equalities.values():
        if not isinstance(value, Range):
            try:
                hash(value)
            except TypeError:
                raise InvalidArgument(f"find() needs hashable values, not {type(value).__name__}") from None
    data = ix.data
    limit = None if max_depth is None else (max_depth if under is not None else max_depth + 1)
    if equalities:
        ids, rest = _candidates(ix, equalities)
        # Scan the scope instead when it holds fewer bounds than the index hits would cost.
        span = 2 * len(ix) if under is None else ix.rank((under, False)) - ix.rank((under, True))
        if len(ids) * 4 * (ix.height + 1) <= span:
            return _from_index(ix, ids, _matcher(rest), where, under, limit)
    matches = _matcher(equalities)
    out = []
    for node in limited_preorder(ix, under, limit):
        value = data(node)
        if matches(value) and (where is None or where(value)):
            out.append(node)
    return out


def _from_index(
    ix: IndexReader,
    ids: Collection[int],
    matches: Callable[[Any], bool],
    where: Optional[Callable[[Any], Any]],
    under: Optional[int],
    limit: Optional[int],
) -> List[int]:
    """Index hits in ``under``'s rank interval and depth limit, in document order. O(k · B log n + k log k)."""
    rank = ix.rank
    level = ix.level
    data = ix.data
    if under is None:
        lo, hi, top = -1, 2 * len(ix), -1
    else:
        lo, hi, top = rank((under, True)), rank((under, False)), level(under)
    placed = []
    for node in ids:
        r = rank((node, True))
        if not lo < r < hi:
            continue
        if limit is not None and level(node) - top > limit:
            continue
        value = data(node)
        if matches(value) and (where is None or where(value)):
            placed.append((r, node))
    placed.sort()
    return [node for _, node in placed]
