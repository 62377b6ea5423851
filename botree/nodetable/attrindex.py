"""Attribute index: for each declared field, value -> set of node ids, persistently.

A field's value is read from a node's data: ``data[field]`` for mappings, else
``getattr(data, field)``; data without the field is simply not indexed under it.
Each field maps through a pyrsistent ``PMap`` to a ``PSet`` of ids, so a snapshot
is O(1) and an update O(log n).  (PMap is slower to read than a dict, which is why
it stays off the order index's hot paths and is used only here.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Hashable, Iterable, List, Tuple

from pyrsistent import PMap, PSet, pmap, pset

from ..errors import InvalidArgument, InvalidOperation

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


def empty_index(fields: Iterable[str]) -> Tuple[PMap, ...]:
    """One empty value map per field."""
    return tuple(pmap() for _ in fields)


class TransientFieldIndex:
    """The attribute index of a batch: PMap evolvers, frozen by ``persistent()``."""

    __slots__ = ("fields", "_maps")

    def __init__(self, fields: Tuple[str, ...], maps: Tuple[PMap, ...]) -> None:
        self.fields = fields
        self._maps = [m.evolver() for m in maps]

    def add(self, node: int, values: List[Any]) -> None:
        """Index ``node`` under each present value. O(fields · log n)."""
        for evolver, value in zip(self._maps, values):
            if value is not MISSING:
                ids: PSet = evolver[value] if value in evolver else pset()  # type: ignore[operator]
                evolver[value] = ids.add(node)

    def remove(self, node: int, values: List[Any]) -> None:
        """Remove ``node`` from each present value. O(fields · log n)."""
        for evolver, value in zip(self._maps, values):
            if value is not MISSING:
                ids = evolver[value].remove(node)
                if ids:
                    evolver[value] = ids
                else:
                    del evolver[value]

    def persistent(self) -> Tuple[PMap, ...]:
        """The frozen maps. O(changes)."""
        return tuple(e.persistent() for e in self._maps)


def lookup(fields: Tuple[str, ...], maps: Tuple[PMap, ...], field: str, value: Hashable) -> PSet:
    """Ids whose ``field`` equals ``value``; raises ValueError for an unindexed field."""
    from ..errors import NotIndexed

    try:
        i = fields.index(field)
    except ValueError:
        raise NotIndexed(f"field {field!r} is not indexed (indexed: {list(fields)})") from None
    found: PSet = maps[i].get(value) or pset()
    return found
