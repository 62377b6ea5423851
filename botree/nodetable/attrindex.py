"""Indexed field values: which value of a node's data a field index holds, and ``Range``.

A field's value is read from a node's data: ``data[field]`` for mappings, else
``getattr(data, field)``; data without the field is simply not indexed under it.  An
indexed value must be hashable and equal to itself (``indexed_values``).  Values are
ordered within families of mutually comparable values (numbers, str, bytes:
``FAMILIES``); a ``Range`` selects values of one family.  The index itself, one
B+-tree per field stored in a vector, is ``fieldtree.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, List, Tuple

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
