"""pandas DataFrames <-> flat tables (``table.py``): the ``pandas`` extra, imported lazily."""

from __future__ import annotations

from typing import Any, Callable, Hashable, Iterable, List, Optional, Tuple

from ..errors import InvalidArgument
from .extras import require
from .table import flat_table, table_events

_PLAIN = (bool, int, float, str)


def to_frame(
    places: Iterable[Tuple[int, Optional[int], int]], data_of: Callable[[int], Any], data: Optional[str] = None
) -> Any:
    """A DataFrame of the flat table (``table.flat_table``). O(n · columns).

    ``id`` and ``order`` are int64 and ``parent`` nullable Int64 (``<NA>`` at the top
    level).  A data column whose cells all share one type among bool, int, float and
    str gets pandas' dtype for it; any other column (missing cells, mixed types,
    containers) has dtype object and holds the values themselves, so nothing is
    converted (an int never turns into a float).
    """
    pd = require("pandas", "pandas", "to_dataframe")
    columns, rows = flat_table(places, data_of, data)
    cells = list(zip(*rows)) if rows else [() for _ in columns]
    frame = {
        "id": pd.Series(cells[0], dtype="int64"),
        "parent": pd.array(list(cells[1]), dtype="Int64"),
        "order": pd.Series(cells[2], dtype="int64"),
    }
    for name, values in zip(columns[3:], cells[3:]):
        kinds = {type(v) for v in values}
        plain = len(kinds) == 1 and next(iter(kinds)) in _PLAIN
        if plain and int in kinds and not all(-(2**63) <= v < 2**63 for v in values):
            plain = False
        frame[name] = pd.Series(list(values), dtype=None if plain else object)
    return pd.DataFrame(frame, columns=columns)


def frame_events(
    df: Any,
    id: Hashable = "id",
    parent: Hashable = "parent",
    order: Optional[Hashable] = "order",
    data: Optional[Hashable] = None,
    orphans: str = "error",
    cycles: str = "error",
) -> Tuple[List[Tuple[Any, bool]], List[Hashable]]:
    """The bounds of the forest in ``df`` and its ids in preorder (see ``table.table_events``).

    Missing cells are None, NaN, ``pd.NA`` and ``pd.NaT``: a missing parent is the top
    level.  Cells come back as Python scalars (``DataFrame.to_dict``).  O(n · columns + n log n).
    """
    pd = require("pandas", "pandas", "from_dataframe")
    if not isinstance(df, pd.DataFrame):
        raise InvalidArgument(f"from_dataframe needs a pandas DataFrame, not {type(df).__name__}")
    na, nat = pd.NA, pd.NaT

    def missing(value: Any) -> bool:
        return value is None or value is na or value is nat or (type(value) is float and value != value)

    rows = df.to_dict("records")
    return table_events(rows, df.columns, id, parent, order, data, missing, orphans=orphans, cycles=cycles)
