"""The ordered half of the field index: the persistent ordered set and ``Range`` lookups.

Hypothesis drives random inserts, set_data and deletes (in batches, persistent and
transient) against a plain dict model; after every step ``check()`` verifies the value
maps and the ordered sets, and every range lookup equals a brute-force filter.  Every
frozen table must still equal its model at the end (copy-on-write never leaks).
"""

from __future__ import annotations

from typing import Any, Dict, List, Set, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botree.errors import InvalidArgument, NotIndexed
from botree.nodetable import NodeTable
from botree.nodetable.attrindex import Range
from botree.nodetable.ordered import FANOUT, TransientOrderedSet, build, check_ordered, range_values

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# small domains so values collide and sets grow past FANOUT; numbers mix bool, int and float
NUMBERS = st.one_of(st.integers(-60, 60), st.floats(-60, 60, allow_nan=False), st.booleans())
STRS = st.text(alphabet="abc", max_size=4)
VALUES = st.one_of(NUMBERS, STRS, st.binary(max_size=2), st.none(), st.tuples(st.integers(0, 2)))


def in_range(value: Any, rng: Range) -> bool:
    """Brute force, written independently of Range.__contains__."""
    kinds = {0: (bool, int, float), 1: (str,), 2: (bytes,)}[rng.family]
    if type(value) not in kinds:
        return False
    ok = True
    if rng.low is not None:
        ok = ok and (value >= rng.low if rng.include_low else value > rng.low)
    if rng.high is not None:
        ok = ok and (value <= rng.high if rng.include_high else value < rng.high)
    return ok


RANGES = st.one_of(
    st.builds(Range, st.one_of(st.none(), NUMBERS), NUMBERS, st.booleans(), st.booleans()),
    st.builds(Range, NUMBERS, st.none(), st.booleans(), st.booleans()),
    st.builds(Range, STRS, st.one_of(st.none(), STRS), st.booleans(), st.booleans()),
    st.builds(Range, st.binary(max_size=2), st.none(), st.booleans(), st.booleans()),
)


@FAST
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 400)), max_size=600))
def test_ordered_set_against_a_python_set(steps: List[Tuple[bool, int]]) -> None:
    model: Set[int] = set()
    batch = TransientOrderedSet()
    frozen = [(batch.persistent(), set())]
    for i, (add, value) in enumerate(steps):
        if add:
            batch.add(value)
            model.add(value)
        else:
            batch.remove(value)
            model.discard(value)
        if i % 50 == 0:
            frozen.append((batch.persistent(), set(model)))
    frozen.append((batch.persistent(), set(model)))
    for root, expect in frozen:
        assert check_ordered(root) == sorted(expect)
        for lo, hi in [(None, None), (10, 200), (200, 10), (57, 58), (None, 3), (390, None)]:
            got = list(range_values(root, lo, hi, True, True))
            assert got == sorted(v for v in expect if (lo is None or v >= lo) and (hi is None or v <= hi))


def test_bulk_build_and_growth_past_several_levels() -> None:
    values = list(range(0, 20_000, 2))
    root = build(values)
    assert check_ordered(root) == values
    batch = TransientOrderedSet(root)
    for v in range(1, 20_000, 2):
        batch.add(v)
    grown = batch.persistent()
    assert check_ordered(grown) == list(range(20_000)) and check_ordered(root) == values
    for v in range(0, 20_000, 3):
        batch.remove(v)
    shrunk = batch.persistent()
    assert check_ordered(shrunk) == [v for v in range(20_000) if v % 3]
    assert list(range_values(shrunk, 100, 110, False, False)) == [101, 103, 104, 106, 107, 109]
    assert FANOUT >= 8


@FAST
@given(st.data())
def test_field_index_under_random_updates(data: st.DataObject) -> None:
    table = NodeTable(fields=("v", "w"))
    model: Dict[int, Any] = {}
    history: List[Tuple[NodeTable, Dict[int, Any]]] = []
    for _ in range(data.draw(st.integers(1, 8), label="batches")):
        batch = table.transient()
        for _ in range(data.draw(st.integers(0, 40), label="steps")):
            kind = data.draw(st.sampled_from(["insert", "insert", "set", "delete"]))
            if kind == "insert" or not model:
                value = data.draw(VALUES)
                node = batch.insert({"v": value, "w": 1})
                model[node] = value
            elif kind == "set":
                node = data.draw(st.sampled_from(sorted(model)))
                value = data.draw(VALUES)
                keep_v = data.draw(st.booleans())
                batch.set_data(node, {"v": value} if keep_v else {"w": value})
                model[node] = value if keep_v else _ABSENT
            else:
                node = data.draw(st.sampled_from(sorted(model)))
                batch.delete(node)
                del model[node]
            rng = data.draw(RANGES)
            assert sorted(batch.find_ids("v", rng)) == sorted(
                n for n, v in model.items() if v is not _ABSENT and in_range(v, rng)
            )
        table = batch.persistent()
        table.check()
        history.append((table, dict(model)))
    for frozen, expect in history:
        frozen.check()
        for rng in [Range(0, 10), Range(None, 0.5, include_high=True), Range("a", "b"), Range(b"", None)]:
            assert sorted(frozen.find_ids("v", rng)) == sorted(
                n for n, v in expect.items() if v is not _ABSENT and in_range(v, rng)
            )


_ABSENT = object()


def test_range_lookup_order_and_a_loaded_table() -> None:
    table, ids = NodeTable(fields=("v",)).insert_many([{"v": x} for x in [5, "b", 1.5, True, 9, b"z", "a", None]])
    assert table.find_ids("v", Range(1, 6)) == [ids[3], ids[2], ids[0]]  # by value: True == 1, 1.5, 5
    assert table.find_ids("v", Range("a", None)) == [ids[6], ids[1]]
    assert table.find_ids("v", Range(None, 1, include_high=True)) == [ids[3]]
    loaded = NodeTable.from_parts(table.rows, table.node_ids, ("v",), None)  # as a stored table: built lazily
    assert loaded.find_ids("v", Range(1, 6)) == [ids[3], ids[2], ids[0]]
    loaded.check()
    with pytest.raises(NotIndexed):
        table.find_ids("w", Range(1, 2))


@pytest.mark.parametrize(
    "args",
    [(), (None, None), (1, "a"), ((1,), None), (None, [1]), (float("nan"), None), (1, 2, 1)],
    ids=repr,
)
def test_bad_ranges_are_refused(args: Tuple[Any, ...]) -> None:
    with pytest.raises(InvalidArgument):
        Range(*args)


def test_ids_of_one_value_grow_past_the_tuple_form_and_shrink_back() -> None:
    table, ids = NodeTable(fields=("v",)).insert_many([{"v": 1} for _ in range(20)])
    table.check()
    assert table.find("v", 1) == frozenset(ids) and sorted(table.find_ids("v", Range(0, 2))) == ids
    batch = table.transient()
    for node in ids[:18]:
        batch.delete(node)
    small = batch.persistent()
    small.check()
    assert small.find("v", 1) == frozenset(ids[18:]) and table.find("v", 1) == frozenset(ids)
    grown, more = small.insert_many([{"v": 1.0}] * 10)  # 1.0 == 1: the same entry
    grown.check()
    assert sorted(grown.find_ids("v", Range(1, 1, include_high=True))) == sorted(ids[18:] + more)
