"""Values typed on the command line, how data is shown, and ``find --where FIELD OP VALUE`` conditions.

Values (``--where``'s VALUE, ``--field f=v``): JSON if the text parses as JSON
(``42``, ``true``, ``null``, ``"42"``, ``[1, 2]``), else the text itself as a string.
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable, List, Optional, Sequence, Set, Tuple

from ..interchange.nested import JsonNode
from ..tree.render import text as display_text

OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "contains")


class BadCondition(ValueError):
    """A ``--where`` condition that cannot be used (an unknown operator or field)."""


def cli_value(text: str) -> Any:
    """``text`` as JSON if it parses as JSON, else ``text`` itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def is_plain_json(value: Any) -> bool:
    """True if ``value`` is made only of JSON types (dicts with str keys, lists, str, numbers, bools, None).

    Iterative: data nested to any depth is fine.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            if any(type(key) is not str for key in item):
                return False
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        elif kind not in (str, int, float, bool) and item is not None:
            return False
    return True


def show_data(data: Any) -> str:
    """How node data appears in listings: JSON text where the data is JSON, ``repr`` otherwise.

    None shows as the empty string (a listing then prints the id alone); the nodes of
    a stored JSON document show as ``{}``, ``[]``, ``"key":`` and their JSON value.
    Data with other types (tuples, sets, bytes, non-string keys) keeps Python's
    ``repr``, so that it is never mistaken for the JSON it is not.
    """
    if data is None:
        return ""
    if isinstance(data, JsonNode):
        if data.kind == "object":
            return "{}"
        if data.kind == "array":
            return "[]"
        text = show_value(data.value)
        return text + ":" if data.kind == "key" else text
    return show_value(data)


def show_value(value: Any) -> str:
    """``value`` as JSON text (``null``, ``true``, ``{"a": 1}``) if it is plain JSON, else its ``repr``."""
    if is_plain_json(value):
        try:
            return json.dumps(value, ensure_ascii=False)
        except (ValueError, RecursionError):  # an int too long for decimal text; data nested too deep
            pass
    return display_text(value)  # repr, with such ints in hex


# -- --where conditions ---------------------------------------------------------------


def as_number(value: Any) -> Optional[float]:
    """A string that reads as a finite number, as that number (CSV imports store text); else None."""
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def compare(have: Any, op: str, want: Any) -> bool:
    """``have OP want``; False where the two cannot be compared (e.g. a string with a number)."""
    if op == "contains":
        if isinstance(have, str):
            return isinstance(want, str) and want in have
        if isinstance(have, (list, tuple, set, frozenset, dict)):
            try:
                return want in have
            except TypeError:  # an unhashable value asked of a set or dict
                return False
        return False
    if isinstance(want, (int, float)) and not isinstance(want, bool) and isinstance(have, str):
        number = as_number(have)
        if number is not None:
            have = number
    try:
        if op == "=":
            return bool(have == want)
        if op == "!=":
            return bool(have != want)
        if op == "<":
            return bool(have < want)
        if op == "<=":
            return bool(have <= want)
        if op == ">":
            return bool(have > want)
        return bool(have >= want)
    except TypeError:
        return False


Condition = Tuple[str, str, Any]


def parse_conditions(raw: Optional[Sequence[Sequence[str]]]) -> List[Condition]:
    """``--where FIELD OP VALUE`` triples as (field, op, value); ``BadCondition`` for an unknown operator."""
    conditions: List[Condition] = []
    for field, op, text in raw or ():
        if op not in OPERATORS:
            raise BadCondition(f"unknown operator {op!r} in --where {field} {op} {text} (use {' '.join(OPERATORS)})")
        conditions.append((field, op, cli_value(text)))
    return conditions


def data_predicate(conditions: Sequence[Condition]) -> Tuple[Callable[[Any], bool], Set[str]]:
    """A predicate on node data that holds when every condition does, and the set of fields it has seen.

    A node matches a condition when its data is a dict holding the field and the
    comparison holds.  The second value fills with the fields of every dict the
    predicate is asked about, so that after a scan a field nobody has can be
    reported as unknown.
    """
    seen: Set[str] = set()

    def matches(data: Any) -> bool:
        if type(data) is not dict:
            return not conditions
        seen.update(key for key in data if isinstance(key, str))
        for field, op, want in conditions:
            if field not in data or not compare(data[field], op, want):
                return False
        return True

    return matches, seen


def unknown_fields(conditions: Sequence[Condition], seen: Set[str]) -> List[str]:
    """The fields of ``conditions`` that no data scanned had."""
    return sorted({field for field, _, _ in conditions} - seen)
