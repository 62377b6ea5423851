"""The stored field index (``nodetable.fieldtree``): B+-trees in vector slots, against a brute-force model.

The state machine drives a ``NodeTable`` with two indexed fields through inserts,
``set_data`` changing indexed values across types (numbers, str, bytes, None, tuples,
frozensets), deletes and row-link updates (what a move changes), with a small fan-out
so the trees split, lose leaves and collapse often; after every step ``check()``
verifies the trees against the rows, and equality and ``Range`` lookups are compared
with a scan of the model.  Snapshots taken along the way must never change.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from botree.nodetable import NodeTable, NotIndexed, Row, fieldtree
from botree.nodetable.attrindex import MISSING, Range, family
from botree.nodetable.fieldtree import build_trees, entry, stable_hash

FIELDS = ("a", "b")  # indexed at the start; ``reconfigure`` adds and drops them and "c"
ALL = ("a", "b", "c")

scalars = st.one_of(
    st.integers(-5, 5),
    st.sampled_from([0.5, 1.0, 2.5, -1.0, True, False, float("inf")]),
    st.sampled_from(["", "a", "b", "ab", "z", "é"]),
    st.sampled_from([b"", b"a", b"b"]),
    st.none(),
)
values = st.one_of(
    scalars,
    scalars,
    st.tuples(st.integers(0, 2), st.sampled_from(["x", "y"])),
    st.frozensets(st.integers(0, 3), max_size=2),
)


@st.composite
def datas(draw: Any) -> Dict[str, Any]:
    out = {}
    for field in ALL:
        if draw(st.booleans()) or field == "a":
            out[field] = draw(values)
    return out


@st.composite
def ranges(draw: Any) -> Range:
    kind = draw(st.sampled_from(["int", "str", "bytes"]))
    bound = {"int": st.integers(-6, 6), "str": st.sampled_from(["", "a", "ab", "b", "zz"]), "bytes": st.just(b"a")}[
        kind
    ]
    low = draw(st.one_of(st.none(), bound))
    high = draw(bound) if low is None else draw(st.one_of(st.none(), bound))
    return Range(low, high, draw(st.booleans()), draw(st.booleans()))


class FieldIndexMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.saved = (fieldtree.FANOUT, fieldtree.FILL)
        fieldtree.FANOUT, fieldtree.FILL = 4, 3
        self.table = NodeTable(fields=FIELDS)
        self.model: Dict[int, Dict[str, Any]] = {}
        self.snapshots: List[Tuple[NodeTable, Dict[int, Dict[str, Any]]]] = []

    def teardown(self) -> None:
        fieldtree.FANOUT, fieldtree.FILL = self.saved

    @rule(items=st.lists(datas(), min_size=1, max_size=12))
    def insert(self, items: List[Dict[str, Any]]) -> None:
        self.table, ids = self.table.insert_many(items)
        for node, data in zip(ids, items):
            self.model[node] = data

    @rule(items=st.lists(datas(), max_size=30))
    def bulk_build(self, items: List[Dict[str, Any]]) -> None:
        self.snapshots.append((self.table, dict(self.model)))
        self.table = NodeTable.from_rows([Row(0, 0, 0, 0, d, None) for d in items], FIELDS)
        self.model = dict(enumerate(items))

    @precondition(lambda self: self.model)
    @rule(data=st.data(), new=datas())
    def set_data(self, data: Any, new: Dict[str, Any]) -> None:
        node = data.draw(st.sampled_from(sorted(self.model)))
        self.table = self.table.set_data(node, new)
        self.model[node] = new

    @precondition(lambda self: self.model)
    @rule(data=st.data(), count=st.integers(1, 10))
    def delete(self, data: Any, count: int) -> None:
        batch = self.table.transient()
        for node in data.draw(st.lists(st.sampled_from(sorted(self.model)), max_size=count, unique=True)):
            batch.delete(node)
            del self.model[node]
        self.table = batch.persistent()

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def move(self, data: Any) -> None:
        node = data.draw(st.sampled_from(sorted(self.model)))
        self.table = self.table.update(node, open_leaf=1, open_key=node, close_leaf=2, close_key=node)

    @rule(fields=st.lists(st.sampled_from(ALL), unique=True, max_size=3))
    def reconfigure(self, fields: List[str]) -> None:  # add_index / drop_index
        self.table = self.table.configured(fields, None)
        assert self.table.fields == tuple(fields)

    @rule()
    def snapshot(self) -> None:
        self.snapshots.append((self.table, dict(self.model)))

    @rule(field=st.sampled_from(ALL), value=values)
    def find_equal(self, field: str, value: Any) -> None:
        if field not in self.table.fields:
            with pytest.raises(NotIndexed):
                self.table.find_ids(field, value)
            return
        expect = sorted(n for n, d in self.model.items() if d.get(field, MISSING) is not MISSING and d[field] == value)
        assert sorted(self.table.find_ids(field, value)) == expect
        assert self.table.find(field, value) == frozenset(expect)

    @rule(field=st.sampled_from(ALL), rng=ranges())
    def find_range(self, field: str, rng: Range) -> None:
        if field not in self.table.fields:
            with pytest.raises(NotIndexed):
                self.table.range_ids(field, rng)
            return
        inside = [(d[field], n) for n, d in self.model.items() if field in d and d[field] in rng]
        got = self.table.find_ids(field, rng)
        assert sorted(got) == sorted(n for _, n in inside)
        by_node = {n: v for v, n in inside}
        got_values = [by_node[n] for n in got]
        assert all(x <= y for x, y in zip(got_values, got_values[1:]))  # ascending by value
        distinct: List[Any] = []
        for v, _ in sorted(inside, key=lambda p: p[0]):
            if not distinct or distinct[-1] != v:
                distinct.append(v)
        assert list(self.table.range_values(field, rng)) == distinct
        assert list(self.table.range_ids(field, rng)) == list(got)

    @invariant()
    def checked(self) -> None:
        self.table.check()
        assert len(self.table) == len(self.model)

    @invariant()
    def snapshots_unchanged(self) -> None:
        for table, model in self.snapshots[-3:]:
            for field in table.fields:
                for n, d in model.items():
                    if field in d:
                        assert n in table.find_ids(field, d[field])


FieldIndexMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestFieldIndex = FieldIndexMachine.TestCase


def test_stable_hash_agrees_with_equality_and_is_fixed() -> None:
    assert stable_hash(1) == stable_hash(1.0) == stable_hash(True)
    assert stable_hash((1, "a")) == stable_hash((1.0, "a"))
    assert stable_hash(frozenset({1, 2})) == stable_hash(frozenset({2, 1}))
    assert stable_hash("abc") == 891568578  # the CRC-32: the same in every process (a stored index relies on it)
    assert entry("x", 3) == (1, "x", 3) and entry(None, 3)[0] == 3


def test_range_values_skip_long_runs_of_one_value() -> None:
    trees = build_trees(("a",), [(n, {"a": n // 100}) for n in range(1000)])
    assert list(trees.range_values("a", Range(2, 6))) == [2, 3, 4, 5]
    assert list(trees.range_ids("a", Range(3, 4))) == list(range(300, 400))
    assert trees.find("a", 9) == list(range(900, 1000))


def test_unindexed_field_raises_and_families_never_mix() -> None:
    t, _ = NodeTable(fields=("a",)).insert_many([{"a": 1}, {"a": "1"}, {"a": b"1"}, {"a": (1,)}, {"a": None}])
    with pytest.raises(NotIndexed):
        t.find_ids("b", 1)
    assert t.find_ids("a", Range(0, 5)) == [0]
    assert t.find_ids("a", Range("", None)) == [1]
    assert t.find_ids("a", (1.0,)) == [3]
    assert t.find_ids("a", None) == [4]
    assert family((1,)) < 0


def test_a_table_without_fields_has_no_trees() -> None:
    t, _ = NodeTable().insert_many([{"a": 1}])
    assert t.field_index is not None and t.field_index.fields == ()
    with pytest.raises(NotIndexed):
        t.find_ids("a", 1)


def test_add_and_drop_index_keep_the_other_trees_and_reuse_freed_slots() -> None:
    rows = [Row(0, 0, 0, 0, {"a": i, "b": str(i)}, None) for i in range(5000)]
    t = NodeTable.from_rows(rows, ("a",))
    u = t.configured(("a", "b"), None)
    ta, ua = t.field_index, u.field_index
    assert ta is not None and ua is not None
    assert ua.roots[0] == ta.roots[0] and ua.slots.chunks[0][0] is ta.slots.chunks[0][0]  # shared, not rebuilt
    v = u.configured(("b",), None)
    va = v.field_index
    assert va is not None and va.roots == (ua.roots[1],) and va.free >= 0
    v.check()
    w = v.configured(("b", "a"), None)  # a's tree again: built into the slots its drop freed
    wa = w.field_index
    assert wa is not None and len(wa.slots) == len(ua.slots)
    w.check()
    assert w.find_ids("a", 17) == [17] and w.find_ids("b", "17") == [17]
