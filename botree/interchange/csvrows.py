"""CSV parent tables with typed cells, read and written losslessly.

Reading (``read_rows``) keeps every column of every row: a row becomes a dict in
header order, each cell converted by its column's type.  Types come from
``types`` (``{"col": "int", ...}``) or are sniffed per column:

* ``number``: every non-empty cell is a canonical int (``0``, ``-12``, no sign,
  no leading zero) or a canonical float (``1.5``, ``-0.25``: what ``repr`` writes
  back); each cell keeps its own kind (int or float).
* ``bool``: every non-empty cell is ``true`` or ``false``.
* ``str``: anything else, cells as they are.
* an empty cell is None (null) in every column.

So ``007``, ``1e3``, ``+1``, ``1.50`` or ``True`` keep a column textual, and writing
the values back (``cell``) gives the very same text: a sniffed file round-trips
byte for byte.  Explicit ``types`` (``int``, ``float``, ``bool``, ``str``,
``json``) convert as asked and fail on a cell that does not parse; they need not
round-trip (``007`` as ``int`` writes back ``7``).

Everything here is O(rows · columns) and iterative.
"""

from __future__ import annotations

import csv
import json
import math
from typing import IO, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ..errors import InvalidArgument

BOOLS = {"true": True, "false": False}
_NUMBER_START = frozenset("-0123456789")
TYPE_NAMES = ("int", "float", "number", "bool", "str", "json")


def number(text: str) -> Any:
    """``text`` as an int or float if it is one written canonically (so ``cell`` gives it back), else None."""
    if not text or text[0] not in _NUMBER_START:
        return None
    digits = text[1:] if text[0] == "-" else text
    if digits.isascii() and digits.isdigit():
        value = int(text)
        return value if str(value) == text else None
    try:
        real = float(text)
    except ValueError:
        return None
    return real if math.isfinite(real) and repr(real) == text else None


def sniffed(texts: Sequence[str]) -> Tuple[str, List[Any]]:
    """The type of a column of cells ``texts`` (``number``, ``bool`` or ``str``, see the module) and its values."""
    first = next((t for t in texts if t), None)
    if first is None:
        return "str", [None] * len(texts)
    if first in BOOLS and all(t in BOOLS or not t for t in texts):
        return "bool", [BOOLS[t] if t else None for t in texts]
    if number(first) is not None:
        values = [number(t) if t else None for t in texts]
        if all(v is not None or not t for t, v in zip(texts, values)):
            return "number", values
    return "str", [t if t else None for t in texts]


def sniff(cells: Sequence[str]) -> str:
    """The type of a column whose cells are ``cells``: ``number``, ``bool`` or ``str`` (see the module)."""
    return sniffed(cells)[0]


def _convert(kind: str) -> Callable[[str], Any]:
    """The function reading a non-empty cell of a column of type ``kind`` (ValueError when it does not parse)."""

    def as_bool(text: str) -> bool:
        try:
            return BOOLS[text.lower()]
        except KeyError:
            raise ValueError(f"not true or false: {text!r}") from None

    def as_number(text: str) -> Any:
        value = number(text)
        if value is None:
            raise ValueError(f"not a number: {text!r}")
        return value

    readers: Dict[str, Callable[[str], Any]] = {
        "int": int,
        "float": float,
        "number": as_number,
        "bool": as_bool,
        "str": str,
        "json": json.loads,
    }
    return readers[kind]


def parse_types(specs: Sequence[str], columns: Sequence[str]) -> Dict[str, str]:
    """``["col=int", "a=str,b=bool"]`` as ``{column: type}``; ``InvalidArgument`` for an unknown column or type."""
    types: Dict[str, str] = {}
    for spec in specs:
        for part in spec.split(","):
            name, sep, kind = part.strip().partition("=")
            if not sep or not name:
                raise InvalidArgument(f"--types {part!r}: expected COLUMN=TYPE")
            if kind not in TYPE_NAMES:
                raise InvalidArgument(f"--types {part!r}: the type is one of {', '.join(TYPE_NAMES)}")
            if name not in columns:
                raise InvalidArgument(f"--types {part!r}: no column {name!r} (the header has: {', '.join(columns)})")
            types[name] = kind
    return types


def check_delimiter(delimiter: object) -> str:
    """``delimiter`` if it is one character, else ``InvalidArgument``. O(1)."""
    if type(delimiter) is not str or len(delimiter) != 1 or delimiter in "\r\n\"":
        raise InvalidArgument(f"the CSV delimiter must be one character (not a quote or line break), not {delimiter!r}")
    return delimiter


def read_rows(
    handle: IO[str],
    name: str,
    delimiter: str = ",",
    types: Sequence[str] = (),
    same_type: Optional[Mapping[str, str]] = None,
    progress: Optional[Callable[[int], None]] = None,
    every: int = 65_536,
) -> Tuple[List[str], List[Dict[str, Any]]]:
    """The header and the typed rows (dicts in header order) of a CSV file with a header line.

    ``types``: explicit column types as ``COLUMN=TYPE[,...]`` texts (``parse_types``);
    other columns are sniffed.  ``same_type``:
    ``{column: other}`` types ``column`` like ``other`` (a parent column like the key
    column, so their values compare).  Errors name ``name`` and the line:
    ``InvalidArgument`` for an empty file, a repeated or empty column name, a row
    with more or fewer fields than the header, malformed CSV, or a cell an explicit
    type cannot read.  ``progress(rows)`` is called every ``every`` rows read.
    """
    reader = csv.reader(handle, delimiter=check_delimiter(delimiter), strict=True)
    cells: List[List[str]] = []
    try:
        header = next(reader, None)
        if not header:
            raise InvalidArgument(f"{name}: empty CSV file (expected a header line naming the columns)")
        for column in header:
            if column == "":
                raise InvalidArgument(f"{name}: the header has an empty column name")
        repeated = sorted({c for c in header if header.count(c) > 1})
        if repeated:
            raise InvalidArgument(f"{name}: the header repeats the column {', '.join(map(repr, repeated))}")
        width = len(header)
        for record in reader:
            if len(record) != width:
                if not record:
                    continue  # a blank line
                more = "more" if len(record) > width else "fewer"
                raise InvalidArgument(f"{name} line {reader.line_num}: {more} fields than the header has")
            cells.append(record)
            if progress is not None and not len(cells) % every:
                progress(len(cells))
    except csv.Error as exc:
        raise InvalidArgument(f"{name} line {reader.line_num}: malformed CSV: {exc}") from None
    columns: List[Sequence[str]] = [list(c) for c in zip(*cells)] if cells else [[] for _ in header]
    given = parse_types(types, header)
    kinds: List[str] = []
    values: List[List[Any]] = []
    for column, texts in zip(header, columns):
        kind, vals = (given[column], convert(name, column, texts, given[column])) if column in given else sniffed(texts)
        kinds.append(kind)
        values.append(vals)
    for column, other in (same_type or {}).items():
        if column in header and other in header and column not in given:
            i, j = header.index(column), header.index(other)
            # Like ``other`` unless the cells are text that ``other``'s type cannot read (they then match nothing).
            if kinds[i] != kinds[j] and (kinds[i] != "str" or kinds[j] == "str"):
                kinds[i] = kinds[j]
                values[i] = convert(name, column, columns[i], kinds[j])
    return header, [dict(zip(header, row)) for row in zip(*values)]


def convert(name: str, column: str, texts: Sequence[str], kind: str) -> List[Any]:
    """The values of one column's cells (None for empty ones); ``InvalidArgument`` naming the first bad cell."""
    if kind == "str":
        return [t if t else None for t in texts]
    read = _convert(kind)
    try:
        return [read(t) if t else None for t in texts]
    except ValueError:
        for row, text in enumerate(texts, 1):
            try:
                read(text) if text else None
            except ValueError:
                raise InvalidArgument(f"{name} row {row}: column {column!r} holds {text!r:.40}, not a {kind}") from None
        raise  # not reached: some cell failed above


def cell(value: Any) -> str:
    """A value as CSV cell text: what ``read_rows`` reads back as the same value when sniffed.

    None is empty, a str is itself, bools are ``true``/``false``, ints and floats
    are their canonical text, anything else is JSON (``repr`` if it has none).
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return repr(value)


def write_rows(handle: IO[str], header: Sequence[str], rows: Sequence[Sequence[Any]], delimiter: str = ",") -> None:
    """Write ``header`` and ``rows`` (values, converted by ``cell``) as CSV with ``\\n`` line ends. O(cells)."""
    writer = csv.writer(handle, delimiter=check_delimiter(delimiter), lineterminator="\n")
    writer.writerow(header)
    writer.writerows([cell(v) for v in row] for row in rows)
