"""Attribute (field) index: for each declared field, value -> set of node ids, persistently,
and the distinct values in order (for ranges).

A field's value is read from a node's data: ``data[field]`` for mappings, else
``getattr(data, field)``; data without the field is simply not indexed under it.
Each field maps through a pyrsistent ``PMap`` to the ids holding that value: a tuple
while there are at most ``SMALL`` of them (iterating a ``PSet`` costs microseconds per
item, and most values of a range-queried field are nearly unique), a ``PSet`` beyond
that, so a snapshot is O(1) and an update O(log n).  Beside it, per family of mutually comparable values
(numbers, str, bytes: ``FAMILIES``), a persistent ordered set (``ordered.py``) of the
distinct values present answers ``Range`` queries in O(log n + k); it changes only
when a value appears or disappears, in O(log n).  (PMap is slower to read than a dict, which is why
it stays off the order index's hot paths and is used only here.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Collection, Hashable, Iterable, Iterator, List, Tuple

from pyrsistent import PMap, pmap, pset

from ..errors import InvalidArgument, InvalidOperation, NotIndexed, TableCorrupt
from .ordered import EMPTY, OrderedNode, TransientOrderedSet, check_ordered, range_values
from .ordered import build as build_ordered

MISSING: Any = object()


def field_value(data: Any, field: str) -> Any:
    """The value of ``field`` in ``data``, or ``MISSING``. O(1)."""
    if isinstance(data, Mapping):
        return data.get(field, MISSING)
    return getattr(data, field, MISSING)


def indexed_values(fields: Tuple[str, ...], data: Any, where: object) -> List[Any]:
    """The values ``data`` has for each field, checked hashable and self-equal.

    Raises ``InvalidArgument`` (unhashable; a TypeError) or ``InvalidOperation``
    (NaN, which no lookup could find again; a ValueError) naming the field and
    ``where`` (a node id or item), before anything changes.
    """
    values = []
    for field in fields:
        value = field_value(data, field)
        if value is not MISSING:
            try:
                hash(value)
            except TypeError:
                raise InvalidArgument(
                    f"indexed field {field!r} of {_where(where)} has an unhashable value "
                    f"of type {type(value).__name__}: {value!r}"
                ) from None
            if value != value:
                raise InvalidOperation(
                    f"indexed field {field!r} of {_where(where)} is not equal to itself ({value!r}); "
                    "it could never be found"
                )
        values.append(value)
    return values


def _where(where: object) -> str:
    return f"node {where}" if isinstance(where, int) else str(where)


# -- families: which values a range can compare ------------------------------------

FAMILIES = ("number", "str", "bytes")  # bool, int and float compare together; str; bytes
FAMILY_TYPES: Tuple[Tuple[type, ...], ...] = ((bool, int, float), (str,), (bytes,))  # by exact type
_FAMILY = {kind: f for f, kinds in enumerate(FAMILY_TYPES) for kind in kinds}


def family(value: Any) -> int:
    """The ordered family of ``value`` (an index into ``FAMILIES``), or -1: by exact type. O(1)."""
    return _FAMILY.get(type(value), -1)


class Range:
    """A range of values for ``find``: ``low <= v < high`` by default.

    ``None`` leaves a side open; ``include_low`` / ``include_high`` choose closed or
    open ends.  The bounds (those given) must belong to one family of mutually
    comparable values: numbers (``bool``, ``int``, ``float``: ``True == 1``), ``str``
    or ``bytes``; a range only ever matches values of its family (a ``str`` value is
    never inside a numeric range, ``None`` and tuples never inside any).  A range with
    neither bound, or bounds of another type or of two families, raises
    ``InvalidArgument``; NaN bounds raise ``InvalidArgument`` too. O(1).
    """

    __slots__ = ("low", "high", "include_low", "include_high", "family")

    def __init__(self, low: Any = None, high: Any = None, include_low: bool = True, include_high: bool = False) -> None:
        if type(include_low) is not bool or type(include_high) is not bool:
            raise InvalidArgument("include_low and include_high must be bools")
        fams = {family(v) for v in (low, high) if v is not None}
        if not fams:
            raise InvalidArgument("a Range needs a low or a high bound (or both)")
        if -1 in fams:
            bad = next(v for v in (low, high) if v is not None and family(v) < 0)
            raise InvalidArgument(
                f"a Range bound must be a bool, int, float, str or bytes, not {type(bad).__name__}: {bad!r}"
            )
        if len(fams) > 1:
            raise InvalidArgument(f"a Range's bounds must be of one family (numbers, str, bytes): {low!r}, {high!r}")
        if any(v != v for v in (low, high) if v is not None):
            raise InvalidArgument("a Range bound may not be NaN")
        self.low = low
        self.high = high
        self.include_low = include_low
        self.include_high = include_high
        self.family = fams.pop()

    def __contains__(self, value: Any) -> bool:
        """True if ``value`` lies in the range (values of another family never do). O(1)."""
        if family(value) != self.family:
            return False
        low, high = self.low, self.high
        if low is not None and (value < low or (value == low and not self.include_low)):
            return False
        return not (high is not None and (value > high or (value == high and not self.include_high)))

    def __repr__(self) -> str:
        return f"Range({self.low!r}, {self.high!r}, include_low={self.include_low}, include_high={self.include_high})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Range) and (self.low, self.high, self.include_low, self.include_high) == (
            other.low,
            other.high,
            other.include_low,
            other.include_high,
        )

    def __hash__(self) -> int:
        return hash((Range, self.low, self.high, self.include_low, self.include_high))


# -- the index of one field ------------------------------------------------------------


SMALL = 8  # ids of one value kept as a tuple up to this many, as a PSet beyond


def _ids(ids: Collection[int]) -> Collection[int]:
    """The stored form of one value's ids: a tuple if few, else a ``PSet``."""
    return tuple(ids) if len(ids) <= SMALL else pset(ids)


class FieldIndex:
    """One field's index, immutable: ``values`` (PMap value -> ids: tuple or PSet) and
    ``orders`` (per family, the frozen ordered set of the distinct values present)."""

    __slots__ = ("values", "orders")

    def __init__(self, values: PMap, orders: Tuple[OrderedNode, ...]) -> None:
        self.values = values
        self.orders = orders


def empty_index(fields: Iterable[str]) -> Tuple[FieldIndex, ...]:
    """One empty index per field."""
    return tuple(FieldIndex(pmap(), (EMPTY,) * len(FAMILIES)) for _ in fields)


def build_field_index(groups: Mapping[Any, Collection[int]]) -> FieldIndex:
    """A field index from value -> ids. O(n log n) (the ordered sets are sorted once)."""
    by_family: List[List[Any]] = [[] for _ in FAMILIES]
    for value in groups:
        f = family(value)
        if f >= 0:
            by_family[f].append(value)
    return FieldIndex(
        pmap({value: _ids(ids) for value, ids in groups.items()}),
        tuple(build_ordered(sorted(values)) for values in by_family),
    )


class TransientFieldIndex:
    """The field index of a batch: PMap evolvers and transient ordered sets, frozen by ``persistent()``."""

    __slots__ = ("fields", "_maps", "_orders")

    def __init__(self, fields: Tuple[str, ...], indexes: Tuple[FieldIndex, ...]) -> None:
        self.fields = fields
        self._maps = [ix.values.evolver() for ix in indexes]
        self._orders = [[TransientOrderedSet(root) for root in ix.orders] for ix in indexes]

    def add(self, node: int, values: List[Any]) -> None:
        """Index ``node`` under each present value. O(fields · log n)."""
        for evolver, orders, value in zip(self._maps, self._orders, values):
            if value is not MISSING:
                if value in evolver:  # type: ignore[operator]
                    ids = evolver[value]
                    if type(ids) is not tuple:
                        evolver[value] = ids.add(node)
                    elif len(ids) < SMALL:
                        evolver[value] = (*ids, node)
                    else:
                        evolver[value] = pset((*ids, node))
                else:
                    evolver[value] = (node,)
                    f = family(value)
                    if f >= 0:
                        orders[f].add(value)

    def remove(self, node: int, values: List[Any]) -> None:
        """Remove ``node`` from each present value. O(fields · log n)."""
        for evolver, orders, value in zip(self._maps, self._orders, values):
            if value is not MISSING:
                ids = evolver[value]
                ids = tuple(x for x in ids if x != node) if type(ids) is tuple else ids.remove(node)
                if ids:
                    evolver[value] = ids
                else:
                    del evolver[value]
                    f = family(value)
                    if f >= 0:
                        orders[f].remove(value)

    def view(self, field: str) -> Tuple[Any, Tuple[OrderedNode, ...]]:
        """(value map, ordered roots) of ``field`` in the batch's current state. O(1)."""
        i = _position(self.fields, field)
        return self._maps[i], tuple(o.root for o in self._orders[i])

    def persistent(self) -> Tuple[FieldIndex, ...]:
        """The frozen indexes. O(changes)."""
        return tuple(
            FieldIndex(e.persistent(), tuple(o.persistent() for o in orders))
            for e, orders in zip(self._maps, self._orders)
        )


def _position(fields: Tuple[str, ...], field: str) -> int:
    try:
        return fields.index(field)
    except ValueError:
        raise NotIndexed(f"field {field!r} is not indexed (indexed: {list(fields)})") from None


def view(fields: Tuple[str, ...], indexes: Tuple[FieldIndex, ...], field: str) -> Tuple[Any, Tuple[OrderedNode, ...]]:
    """(value map, ordered roots) of ``field``; raises ``NotIndexed`` for an unindexed field. O(1)."""
    ix = indexes[_position(fields, field)]
    return ix.values, ix.orders


def lookup(values: Any, value: Hashable) -> Collection[int]:
    """Ids whose value equals ``value`` in a value map (PMap or evolver). O(log n)."""
    return values[value] if value in values else ()


def lookup_range(values: Any, orders: Tuple[OrderedNode, ...], rng: Range) -> Iterator[int]:
    """Ids whose value lies in ``rng``, by ascending value. O(log n + k) for k ids."""
    for value in range_values(orders[rng.family], rng.low, rng.high, rng.include_low, rng.include_high):
        yield from values[value]


def check_orders(field: str, ix: FieldIndex) -> None:
    """The ordered sets hold exactly the value map's keys of each family; raises ``TableCorrupt``. O(n log n)."""
    for f, root in enumerate(ix.orders):
        try:
            got = check_ordered(root)
        except AssertionError as exc:
            raise TableCorrupt(f"ordered index of {field!r} ({FAMILIES[f]}): {exc}") from None
        expect = sorted(v for v in ix.values.keys() if family(v) == f)
        if len(got) != len(expect) or any(a != b for a, b in zip(got, expect)):
            raise TableCorrupt(f"ordered index of {field!r} ({FAMILIES[f]}) disagrees with its values")
