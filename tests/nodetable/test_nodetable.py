"""Tests of the ``nodetable`` package: the persistent node table, its batches and allocator.

The backbone is a hypothesis state machine that drives a table (in batch or persistent
mode) against a plain model ``{id: (data, indexed values, back-links)}`` plus a LIFO
model of the free ids.  Every table frozen or replaced during a run is kept with a copy
of the model at that time and must still equal it (and pass ``check()``) at teardown.

Expected index contents are never derived from ``attrindex.field_value``: each generated
datum carries the values it was *built* to expose, per the documented rule (``data[f]``
for mappings, ``getattr(data, f)`` otherwise, absent means not indexed).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from botree.nodetable import (
    ChunkedVector,
    IdAllocator,
    NodeTable,
    NotIndexed,
    TableCorrupt,
    TransientNodeTable,
    UnknownNode,
)
from botree.nodetable.attrindex import MISSING, field_value
from botree.nodetable.fieldtree import FieldTrees

FIELDS = ("name", "tag")  # every field a generated datum may carry
LINK_FIELDS = ("open_leaf", "open_key", "close_leaf", "close_key")
# Small domain so values collide; True == 1 and hash alike, so they share index entries.
VALUES: List[Any] = ["", "a", "b", "ab", 0, 1, 2, None, True, ("a", 1)]
UNHASHABLE: List[Any] = [["a"], {"k": 1}, {1, 2}, bytearray(b"x")]

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Links = Tuple[int, int, int, int]
Entry = Tuple[Any, Dict[str, Any], Links]  # (data, {field: value or MISSING}, links)
Model = Dict[int, Entry]


# -- data kinds ----------------------------------------------------------------------


class Obj:
    """A non-mapping object: fields are attributes; its ``[]`` items must be ignored."""

    def __init__(self, attrs: Dict[str, Any], items: Dict[str, Any]) -> None:
        self.__dict__.update(attrs)
        self._items = items

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._items.get(key, default)

    def __repr__(self) -> str:
        attrs = {k: v for k, v in self.__dict__.items() if k != "_items"}
        return f"Obj({attrs!r}, items={self._items!r})"


class RoMapping(Mapping):
    """A read-only Mapping that is not a dict; its attributes must be ignored."""

    def __init__(self, items: Dict[str, Any], attrs: Dict[str, Any]) -> None:
        self._d = dict(items)
        for k, v in attrs.items():
            setattr(self, k, v)

    def __getitem__(self, key: str) -> Any:
        return self._d[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def __repr__(self) -> str:
        return f"RoMapping({self._d!r})"


class AttrDict(dict):
    """A dict subclass that may also carry attributes (ignored: it is a mapping)."""


Named = namedtuple("Named", ["name", "tag"])


class Datum:
    """Generated node data plus the values it is built to expose for each field."""

    def __init__(self, data: Any, values: Dict[str, Any]) -> None:
        self.data = data
        self.values = {f: values.get(f, MISSING) for f in FIELDS}

    def __repr__(self) -> str:
        return f"Datum({self.data!r})"


@st.composite
def datums(draw: st.DrawFn) -> Datum:
    present = {f: draw(st.sampled_from(VALUES)) for f in FIELDS if draw(st.booleans())}
    absent = {f: "decoy" for f in FIELDS if f not in present}
    kind = draw(st.sampled_from(["dict", "dict+", "mapping", "obj", "named", "plain"]))
    if kind == "dict":
        return Datum(dict(present), present)
    if kind == "dict+":
        d = AttrDict(present, other=1)
        for f in absent:
            setattr(d, f, "decoy")  # attributes of a mapping are not fields
        return Datum(d, present)
    if kind == "mapping":
        return Datum(RoMapping(present, absent), present)
    if kind == "obj":
        return Datum(Obj(present, absent), present)  # items of a non-mapping are not fields
    if kind == "named":
        if set(present) != set(FIELDS):
            return Datum(Obj(present, {}), present)
        return Datum(Named(**present), present)
    plain = draw(st.sampled_from([None, 7, "name", b"tag", (1, 2), object()]))
    return Datum(plain, {})


@st.composite
def bad_datums(draw: st.DrawFn, fields: Tuple[str, ...]) -> Tuple[Any, str]:
    """Data with an unhashable value in an indexed field; returns (data, that field)."""
    field = draw(st.sampled_from(fields))
    value = draw(st.sampled_from(UNHASHABLE))
    good = {f: draw(st.sampled_from(VALUES)) for f in FIELDS if f != field and draw(st.booleans())}
    attrs = dict(good, **{field: value})
    if draw(st.booleans()):
        return attrs, field
    return Obj(attrs, {}), field


links_st = st.tuples(*[st.integers(-3, 50)] * 4)


# -- model comparison ----------------------------------------------------------------


def expected_ids(model: Model, field: str, value: Any) -> set:
    return {n for n, (_, vals, _) in model.items() if vals[field] is not MISSING and vals[field] == value}


def links_of(table: Any, node: int) -> Links:
    row = table.row(node)
    return (row.open_leaf, row.open_key, row.close_leaf, row.close_key)


def live_ids(table: Any, capacity: int) -> List[int]:
    """Live ids: ``ids()`` for a frozen table; probed with ``in`` for a batch, whose
    ``ids()`` is broken (see test_batch_ids_lists_live_ids)."""
    if isinstance(table, NodeTable):
        return list(table.ids())
    return [n for n in range(capacity + 5) if n in table]


def assert_matches(table: Any, fields: Tuple[str, ...], model: Model, free: List[int], next_id: int) -> None:
    assert live_ids(table, next_id) == sorted(model)
    assert len(table) == len(model)
    assert table.fields == fields
    for node, (data, _, links) in model.items():
        assert node in table
        assert table.row(node).data is data
        assert table.data(node) is data
        assert links_of(table, node) == links
    for node in [*free, next_id, next_id + 3, -1]:
        assert node not in table
        with pytest.raises(UnknownNode):
            table.row(node)
    for field in FIELDS:
        if field in fields:
            for value in VALUES:
                assert table.find(field, value) == expected_ids(model, field, value), (field, value)
            assert table.find(field, "never-used") == frozenset()
        else:
            with pytest.raises(NotIndexed):
                table.find(field, "a")


# -- the state machine ---------------------------------------------------------------


class NodeTableMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.fields: Tuple[str, ...] = ()
        self.cur: Any = None
        self.transient = True
        self.model: Model = {}
        self.free: List[int] = []  # released ids, most recent last
        self.next_id = 0
        self.max_live = 0
        # every frozen or superseded table: (table, model, free, next_id) at that time
        self.snapshots: List[Tuple[NodeTable, Model, List[int], int]] = []

    # helpers

    def _record(self, table: NodeTable) -> None:
        self.snapshots.append((table, dict(self.model), list(self.free), self.next_id))

    def _allocate(self) -> int:
        if self.free:
            return self.free.pop()
        self.next_id += 1
        return self.next_id - 1

    def _added(self, node: int, datum: Datum, links: Links) -> None:
        assert node == self._allocate(), "id not the most recently freed one, or not the next fresh id"
        self.model[node] = (datum.data, datum.values, links)
        self.max_live = max(self.max_live, len(self.model))

    def _pick(self, i: int) -> int:
        ids = sorted(self.model)
        return ids[i % len(ids)]

    # setup

    @initialize(
        fields=st.sampled_from([(), ("name",), ("tag",), ("name", "tag"), ("tag", "name")]),
        transient=st.booleans(),
    )
    def setup(self, fields: Tuple[str, ...], transient: bool) -> None:
        self.fields = fields
        base = NodeTable(fields=fields)
        self._record(base)
        self.transient = transient
        self.cur = base.transient() if transient else base

    # updates

    @rule(datum=datums(), links=st.none() | links_st)
    def insert(self, datum: Datum, links: Any) -> None:
        args = (datum.data,) if links is None else (datum.data, links)
        if self.transient:
            node = self.cur.insert(*args)
        else:
            self._record(self.cur)
            self.cur, node = self.cur.insert(*args)
        self._added(node, datum, links or (0, 0, 0, 0))

    @rule(ds=st.lists(datums(), max_size=4))
    def insert_many(self, ds: List[Datum]) -> None:
        if self.transient:
            ids = self.cur.insert_many(iter([d.data for d in ds]))
        else:
            self._record(self.cur)
            self.cur, ids = self.cur.insert_many(d.data for d in ds)
        assert len(ids) == len(ds)
        for node, d in zip(ids, ds):
            self._added(node, d, (0, 0, 0, 0))

    @precondition(lambda self: self.model)
    @rule(i=st.integers(0, 1000))
    def delete(self, i: int) -> None:
        node = self._pick(i)
        if self.transient:
            assert self.cur.delete(node) is None
        else:
            self._record(self.cur)
            self.cur = self.cur.delete(node)
        del self.model[node]
        self.free.append(node)

    @precondition(lambda self: self.model)
    @rule(i=st.integers(0, 1000), datum=datums())
    def set_data(self, i: int, datum: Datum) -> None:
        node = self._pick(i)
        if self.transient:
            self.cur.set_data(node, datum.data)
        else:
            self._record(self.cur)
            self.cur = self.cur.set_data(node, datum.data)
        self.model[node] = (datum.data, datum.values, self.model[node][2])

    @precondition(lambda self: self.model)
    @rule(
        i=st.integers(0, 1000),
        changes=st.dictionaries(st.sampled_from(LINK_FIELDS), st.integers(-3, 50), min_size=1),
        datum=st.none() | datums(),
    )
    def update(self, i: int, changes: Dict[str, int], datum: Any) -> None:
        node = self._pick(i)
        kwargs: Dict[str, Any] = dict(changes)
        if datum is not None:
            kwargs["data"] = datum.data
        if self.transient:
            self.cur.update(node, **kwargs)
        else:
            self._record(self.cur)
            self.cur = self.cur.update(node, **kwargs)
        data, values, links = self.model[node]
        if datum is not None:
            data, values = datum.data, datum.values
        new_links = tuple(changes.get(name, old) for name, old in zip(LINK_FIELDS, links))
        self.model[node] = (data, values, new_links)  # type: ignore[assignment]

    # freezing

    @precondition(lambda self: self.transient)
    @rule(then=st.sampled_from(["same batch", "new batch", "table"]))
    def freeze(self, then: str) -> None:
        table = self.cur.persistent()
        assert isinstance(table, NodeTable)
        table.check()
        assert_matches(table, self.fields, self.model, self.free, self.next_id)
        self._record(table)
        if then == "new batch":
            self.cur = table.transient()
        elif then == "table":
            self.cur = table
            self.transient = False

    @precondition(lambda self: not self.transient)
    @rule()
    def thaw(self) -> None:
        self.cur = self.cur.transient()
        assert isinstance(self.cur, TransientNodeTable)
        self.transient = True

    # bad input: each must raise and change nothing (the invariant and the next
    # insert, which checks the allocated id, verify that)

    @rule(extra=st.sampled_from([-1, -100, 10**20, "0", "3", 1.5, 0.0, None, (0,)]), i=st.integers(0, 1000))
    def unknown_ids(self, extra: Any, i: int) -> None:
        candidates = [extra, self.next_id, self.next_id + 7, *self.free[-2:]]
        for node in candidates:
            assert node not in self.cur
            cur = self.cur
            for method, args, kwargs in (
                (cur.row, (node,), {}),
                (cur.data, (node,), {}),
                (cur.delete, (node,), {}),
                (cur.set_data, (node, {"name": "a"}), {}),
                (cur.update, (node,), {"open_leaf": 1}),
            ):
                with pytest.raises(UnknownNode) as info:
                    method(*args, **kwargs)
                assert isinstance(info.value, KeyError)
                assert info.value.node is node

    @precondition(lambda self: self.fields)
    @rule(data=st.data(), probe=datums())
    def insert_unhashable(self, data: st.DataObject, probe: Datum) -> None:
        bad, field = data.draw(bad_datums(self.fields))
        with pytest.raises(TypeError, match=repr(field)):
            self.cur.insert(bad)
        self.insert(probe, None)  # the id it gets must be the one the bad insert would have had

    @precondition(lambda self: self.fields)
    @rule(data=st.data(), goods=st.lists(datums(), max_size=3), pos=st.integers(0, 3), probe=datums())
    def insert_many_with_a_bad_item(self, data: st.DataObject, goods: List[Datum], pos: int, probe: Datum) -> None:
        bad, field = data.draw(bad_datums(self.fields))
        items = [d.data for d in goods]
        items.insert(min(pos, len(items)), bad)
        with pytest.raises(TypeError, match=repr(field)):
            self.cur.insert_many(items)
        self.insert(probe, None)

    @precondition(lambda self: self.fields and self.model)
    @rule(data=st.data(), i=st.integers(0, 1000))
    def set_data_unhashable(self, data: st.DataObject, i: int) -> None:
        bad, field = data.draw(bad_datums(self.fields))
        node = self._pick(i)
        with pytest.raises(TypeError, match=repr(field)):
            self.cur.set_data(node, bad)
        with pytest.raises(TypeError, match=repr(field)):
            self.cur.update(node, data=bad)

    @precondition(lambda self: self.model)
    @rule(i=st.integers(0, 1000), name=st.sampled_from(["data_", "owner", "openleaf", "id", "x"]))
    def update_unknown_field(self, i: int, name: str) -> None:
        node = self._pick(i)
        with pytest.raises(TypeError, match=repr(name)):
            self.cur.update(node, open_leaf=999, **{name: 1})

    # checks

    @invariant()
    def matches_model(self) -> None:
        if self.cur is None:
            return
        assert_matches(self.cur, self.fields, self.model, self.free, self.next_id)
        assert all(0 <= n < self.max_live for n in self.model), "ids are not dense"
        assert self.next_id <= self.max_live
        if not self.transient:
            self.cur.check()

    def teardown(self) -> None:
        if self.cur is not None and not self.transient:
            self._record(self.cur)
        for table, model, free, next_id in self.snapshots:
            table.check()
            assert_matches(table, self.fields, model, free, next_id)
            # the next id this version would hand out, without changing it
            grown, node = table.insert({"name": "probe"})
            assert node == (free[-1] if free else next_id)
            grown.check()
            assert len(grown) == len(model) + 1
            assert list(table.ids()) == sorted(model)


NodeTableMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestNodeTableMachine = NodeTableMachine.TestCase


# -- persistence / copy-on-write -----------------------------------------------------


def test_batch_continuing_after_persistent_does_not_change_the_frozen_table() -> None:
    base, (a, b, c) = NodeTable(fields=("name",)).insert_many([{"name": "a"}, {"name": "b"}, {"name": "c"}])
    batch = base.transient()
    batch.update(a, open_leaf=1, open_key=2, close_leaf=3, close_key=4)
    d = batch.insert({"name": "d"}, (5, 6, 7, 8))
    frozen = batch.persistent()
    frozen_rows = {n: frozen.row(n) for n in (a, b, c, d)}

    # the batch goes on and changes every row the frozen table holds
    batch.update(a, open_leaf=10, close_key=40)
    batch.update(d, open_key=60)
    batch.set_data(b, {"name": "a"})
    batch.set_data(d, {"name": "x"})
    batch.delete(c)
    e = batch.insert({"name": "e"}, (9, 9, 9, 9))
    assert e == c  # the freed id is reused
    later = batch.persistent()

    frozen.check()
    later.check()
    assert list(frozen.ids()) == [a, b, c, d]
    assert {n: frozen.row(n) for n in (a, b, c, d)} == frozen_rows  # same row objects...
    assert links_of(frozen, a) == (1, 2, 3, 4)  # ...with unchanged contents
    assert links_of(frozen, d) == (5, 6, 7, 8)
    assert links_of(frozen, c) == (0, 0, 0, 0)
    assert [frozen.data(n)["name"] for n in (a, b, c, d)] == ["a", "b", "c", "d"]
    assert frozen.find("name", "a") == {a}
    assert frozen.find("name", "e") == frozenset()
    assert frozen.find("name", "d") == {d}
    # and the batch's view is the changed one
    assert links_of(later, a) == (10, 2, 3, 40)
    assert links_of(later, d) == (5, 60, 7, 8)
    assert links_of(later, e) == (9, 9, 9, 9)
    assert later.find("name", "a") == {a, b}
    assert later.find("name", "x") == {d}
    # the base table is untouched too
    assert links_of(base, a) == (0, 0, 0, 0)
    assert base.find("name", "a") == {a}


def test_writable_copies_foreign_rows_once_and_again_after_persistent() -> None:
    base, n = NodeTable().insert("x")
    batch = base.transient()
    first = batch.writable(n)
    assert first is not base.row(n)  # a committed row is copied, never handed out
    assert batch.writable(n) is first  # a row the batch owns is changed in place
    first.open_leaf = 5
    assert base.row(n).open_leaf == 0
    frozen = batch.persistent()
    again = batch.writable(n)
    assert again is not first
    again.open_leaf = 6
    assert frozen.row(n).open_leaf == 5
    assert batch.row(n).open_leaf == 6


def test_two_batches_from_one_table_are_independent() -> None:
    base, (a, b) = NodeTable(fields=("name",)).insert_many([{"name": "a"}, {"name": "b"}])
    one, two = base.transient(), base.transient()
    one.delete(a)
    two.set_data(a, {"name": "z"})
    assert one.insert("p") == a
    assert two.insert("q") == 2
    t1, t2 = one.persistent(), two.persistent()
    t1.check()
    t2.check()
    assert t1.data(a) == "p" and t1.find("name", "a") == frozenset()
    assert t2.data(a) == {"name": "z"} and t2.find("name", "z") == {a}
    assert base.data(a) == {"name": "a"} and len(base) == 2


# -- allocator -----------------------------------------------------------------------


class AllocModel:
    def __init__(self) -> None:
        self.live: List[int] = []
        self.free: List[int] = []
        self.next_id = 0
        self.max_live = 0

    def copy(self) -> "AllocModel":
        m = AllocModel()
        m.live, m.free, m.next_id, m.max_live = list(self.live), list(self.free), self.next_id, self.max_live
        return m


alloc_ops = st.lists(st.tuples(st.booleans(), st.integers(0, 1000)), max_size=60)


def run_alloc(alloc: IdAllocator, model: AllocModel, ops: List[Tuple[bool, int]]) -> None:
    for do_alloc, k in ops:
        if do_alloc or not model.live:
            ident = alloc.allocate()
            if model.free:
                assert ident == model.free.pop()  # LIFO reuse
            else:
                assert ident == model.next_id
                model.next_id += 1
            assert ident not in model.live
            model.live.append(ident)
        else:
            ident = model.live.pop(k % len(model.live))
            alloc.release(ident)
            model.free.append(ident)
        model.max_live = max(model.max_live, len(model.live))
        assert alloc.live_count == len(model.live)
        assert alloc.nfree == len(model.free)
        assert list(alloc.free_ids()) == model.free[::-1]
        assert alloc.next_id <= model.max_live
        assert all(0 <= i < model.max_live for i in model.live)  # dense


@FAST
@given(ops=alloc_ops)
def test_allocator_reuses_freed_ids_lifo_and_stays_dense(ops: List[Tuple[bool, int]]) -> None:
    run_alloc(IdAllocator(), AllocModel(), ops)


@FAST
@given(prefix=alloc_ops, ops_a=alloc_ops, ops_b=alloc_ops)
def test_allocator_copy_is_independent(
    prefix: List[Tuple[bool, int]], ops_a: List[Tuple[bool, int]], ops_b: List[Tuple[bool, int]]
) -> None:
    a, model_a = IdAllocator(), AllocModel()
    run_alloc(a, model_a, prefix)
    b, model_b = a.copy(), model_a.copy()
    assert list(b.free_ids()) == list(a.free_ids()) and b.live_count == a.live_count
    run_alloc(a, model_a, ops_a)
    run_alloc(b, model_b, ops_b)  # b never sees a's releases nor a's allocations
    c = b.copy()
    run_alloc(c, model_b.copy(), [(True, 0)] * 3)
    run_alloc(b, model_b, [(True, 0)] * 3)


def test_table_reuses_most_recently_freed_id() -> None:
    t, ids = NodeTable().insert_many(range(5))
    assert ids == [0, 1, 2, 3, 4]
    t = t.delete(1).delete(3)
    t, n = t.insert("x")
    assert n == 3
    t, m = t.insert_many(["y", "z"])
    assert m == [1, 5]
    t.check()


# -- persistent convenience methods ----------------------------------------------------


def snapshot(table: NodeTable) -> Tuple[List[int], Dict[int, Any], Dict[int, Links], Dict[Any, frozenset]]:
    ids = list(table.ids())
    return (
        ids,
        {n: table.data(n) for n in ids},
        {n: links_of(table, n) for n in ids},
        {v: table.find("name", v) for v in VALUES},
    )


initial_datas = st.lists(st.fixed_dictionaries({"name": st.sampled_from(VALUES)}), min_size=1, max_size=8)


@FAST
@given(datas=initial_datas, datum=datums(), links=links_st)
def test_persistent_insert_returns_new_table(datas: List[Any], datum: Datum, links: Links) -> None:
    old, _ = NodeTable(fields=("name",)).insert_many(datas)
    before = snapshot(old)
    new, node = old.insert(datum.data, links)
    assert new is not old and snapshot(old) == before
    assert node not in old and node in new
    assert new.data(node) is datum.data and links_of(new, node) == links
    assert len(new) == len(old) + 1
    value = datum.values["name"]
    if value is not MISSING:
        assert node in new.find("name", value)
    new.check()
    old.check()


@FAST
@given(datas=initial_datas, more=st.lists(datums(), max_size=5))
def test_persistent_insert_many_returns_new_table(datas: List[Any], more: List[Datum]) -> None:
    old, ids = NodeTable(fields=("name",)).insert_many(datas)
    assert ids == list(range(len(datas)))
    before = snapshot(old)
    new, new_ids = old.insert_many([d.data for d in more])
    assert new is not old and snapshot(old) == before
    assert new_ids == list(range(len(datas), len(datas) + len(more)))
    assert [new.data(n) for n in new_ids] == [d.data for d in more]
    new.check()


@FAST
@given(datas=initial_datas, i=st.integers(0, 100), datum=datums())
def test_persistent_set_data_returns_new_table(datas: List[Any], i: int, datum: Datum) -> None:
    old, ids = NodeTable(fields=("name",)).insert_many(datas)
    node = ids[i % len(ids)]
    before = snapshot(old)
    new = old.set_data(node, datum.data)
    assert new is not old and snapshot(old) == before
    assert new.data(node) is datum.data and old.data(node) is datas[node]
    old_value = datas[node]["name"]
    assert node in old.find("name", old_value)
    if datum.values["name"] is MISSING or datum.values["name"] != old_value:
        assert node not in new.find("name", old_value)
    new.check()


@FAST
@given(
    datas=initial_datas,
    i=st.integers(0, 100),
    changes=st.dictionaries(st.sampled_from(LINK_FIELDS), st.integers(1, 50), min_size=1),
)
def test_persistent_update_returns_new_table(datas: List[Any], i: int, changes: Dict[str, int]) -> None:
    old, ids = NodeTable(fields=("name",)).insert_many(datas)
    node = ids[i % len(ids)]
    before = snapshot(old)
    new = old.update(node, **changes)
    assert new is not old and snapshot(old) == before
    assert links_of(new, node) == tuple(changes.get(f, 0) for f in LINK_FIELDS)
    assert links_of(old, node) == (0, 0, 0, 0)
    assert new.data(node) is old.data(node)
    new.check()


@FAST
@given(datas=initial_datas, i=st.integers(0, 100))
def test_persistent_delete_returns_new_table(datas: List[Any], i: int) -> None:
    old, ids = NodeTable(fields=("name",)).insert_many(datas)
    node = ids[i % len(ids)]
    before = snapshot(old)
    new = old.delete(node)
    assert new is not old and snapshot(old) == before
    assert node in old and node not in new
    assert len(new) == len(old) - 1
    assert all(node not in new.find("name", v) for v in VALUES)
    with pytest.raises(UnknownNode):
        new.data(node)
    new.check()


# -- bad input -----------------------------------------------------------------------


def small_table() -> NodeTable:
    t, _ = NodeTable(fields=("name",)).insert_many([{"name": "a"}, {"name": "b"}, {"name": "c"}, {"name": "a"}])
    return t.delete(1)  # ids 0, 2, 3 live; 1 free


BAD_IDS = [-1, -4, 1, 4, 100, "0", "3", 1.5, 2.0, None, (0,), [0]]


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
def test_unknown_ids_raise_unknown_node_and_are_not_contained(bad: Any) -> None:
    t = small_table()
    before = snapshot(t)
    assert (bad in t) is False
    batch = t.transient()
    assert (bad in batch) is False
    for target in (t, batch):
        for call in (target.row, target.data, target.delete):
            with pytest.raises(UnknownNode) as info:
                call(bad)
            assert isinstance(info.value, KeyError)
            assert repr(bad) in str(info.value)
        with pytest.raises(UnknownNode):
            target.set_data(bad, {"name": "z"})
        with pytest.raises(UnknownNode):
            target.update(bad, open_leaf=3)
        with pytest.raises(UnknownNode):
            target.update(bad, data={"name": "z"})
    assert snapshot(t) == before
    assert snapshot(batch.persistent()) == before


@pytest.mark.parametrize("bad_value", UNHASHABLE, ids=repr)
@pytest.mark.parametrize("as_object", [False, True])
def test_unhashable_indexed_value_is_rejected_without_change(bad_value: Any, as_object: bool) -> None:
    t = NodeTable(fields=("kind", "name"))
    t, _ = t.insert_many([{"name": "a"}, {"name": "b", "kind": 1}, {"name": "c"}])
    t = t.delete(1)
    bad = Obj({"kind": 2, "name": bad_value}, {}) if as_object else {"kind": 2, "name": bad_value}
    before = (snapshot(t), t.find("kind", 2))
    batch = t.transient()
    for target in (t, batch):
        with pytest.raises(TypeError, match="'name'"):
            target.insert(bad)
        with pytest.raises(TypeError, match="'name'"):
            target.insert_many([{"name": "ok"}, bad])
        with pytest.raises(TypeError, match="'name'"):
            target.set_data(0, bad)
        assert len(target) == 2
        assert target.find("kind", 2) == frozenset() and target.find("name", "ok") == frozenset()
        assert target.data(0) == {"name": "a"}
    assert (snapshot(t), t.find("kind", 2)) == before
    assert batch.insert("next") == 1  # the freed id was not consumed by the failed calls
    _, node = t.insert("next")
    assert node == 1
    frozen = batch.persistent()
    frozen.check()
    assert list(frozen.ids()) == [0, 1, 2]


def test_unhashable_value_in_unindexed_field_is_accepted() -> None:
    t, n = NodeTable(fields=("name",)).insert({"name": "a", "tags": ["x"]})
    t2, m = NodeTable().insert({"name": ["a"]})
    assert t.find("name", "a") == {n}
    assert t2.data(m) == {"name": ["a"]}
    t.check()
    t2.check()


@FAST
@given(goods=st.lists(datums(), max_size=5), pos=st.integers(0, 5), data=st.data())
def test_insert_many_with_one_bad_item_changes_nothing(goods: List[Datum], pos: int, data: st.DataObject) -> None:
    t = small_table()
    bad, field = data.draw(bad_datums(("name",)))
    items = [d.data for d in goods]
    items.insert(min(pos, len(items)), bad)
    before = snapshot(t)
    with pytest.raises(TypeError, match=repr(field)):
        t.insert_many(items)
    batch = t.transient()
    with pytest.raises(TypeError, match=repr(field)):
        batch.insert_many(iter(items))
    assert snapshot(t) == before
    assert snapshot(batch.persistent()) == before
    assert batch.insert(None) == 1


def test_find_on_unindexed_field_raises_not_indexed() -> None:
    for table in (NodeTable(), NodeTable(fields=("name",))):
        for target in (table, table.transient()):
            with pytest.raises(NotIndexed) as info:
                target.find("colour", "red")
            assert isinstance(info.value, ValueError)
            assert "colour" in str(info.value)


@pytest.mark.parametrize("index", [[1], ("name", 2), [None], [b"name"]], ids=repr)
def test_non_str_index_field_is_a_type_error(index: Any) -> None:
    with pytest.raises(TypeError):
        NodeTable(fields=index)


def test_update_with_unknown_field_name_is_a_type_error_and_changes_nothing() -> None:
    t = small_table()
    before = snapshot(t)
    with pytest.raises(TypeError, match="'colour'"):
        t.update(0, open_leaf=5, colour="red")
    with pytest.raises(TypeError, match="'data_'"):
        t.update(0, data={"name": "q"}, data_=1)  # persistent: the discarded batch hides it
    batch = t.transient()
    with pytest.raises(TypeError, match="'owner'"):
        batch.update(0, open_leaf=5, owner=None)
    assert links_of(batch, 0) == (0, 0, 0, 0)
    assert snapshot(t) == before
    assert snapshot(batch.persistent()) == before


def test_check_detects_corruption() -> None:
    # check() must be able to fail: corrupt private state of a throwaway table
    t, _ = NodeTable(fields=("name",)).insert_many([{"name": "a"}, {"name": "b"}])
    t.check()
    good = t._index
    assert good is not None
    leaf = good.slots[good.roots[0]]
    bad_slots = ChunkedVector([(leaf[0], leaf[1] + ((1, "zzz", 0),))])  # an entry no row holds
    t._index = FieldTrees(good.fields, bad_slots, good.roots, good.counts, good.free)
    with pytest.raises(TableCorrupt):
        t.check()
    t._index = FieldTrees(good.fields, ChunkedVector([(leaf[0], leaf[1][:1])]), good.roots, (1,), -1)  # "b" missing
    with pytest.raises(TableCorrupt, match="disagrees"):
        t.check()
    t._index = FieldTrees(good.fields, ChunkedVector([(leaf[0], leaf[1][::-1])]), good.roots, (2,), -1)
    with pytest.raises(TableCorrupt, match="order"):
        t.check()
    t._index = FieldTrees(good.fields, ChunkedVector([leaf, (2, -1)]), good.roots, good.counts, -1)  # a leaked slot
    with pytest.raises(TableCorrupt, match="neither"):
        t.check()
    u, _ = NodeTable().insert_many([1, 2])
    u._alloc.release(0)  # id 0 both free and live
    with pytest.raises(TableCorrupt):
        u.check()


# -- which data is indexed (attrindex.field_value) -------------------------------------


class WithAttr:
    def __init__(self, name: Any) -> None:
        self.name = name


class ItemsOnly:
    def __getitem__(self, key: str) -> Any:
        return "x"


def attr_dict_with_name() -> AttrDict:
    d = AttrDict(other=1)
    d.name = "x"  # type: ignore[attr-defined]
    return d


FIELD_CASES = [
    ("dict with key", lambda: {"name": "x"}, "x"),
    ("dict with None value", lambda: {"name": None}, None),
    ("dict missing key", lambda: {"other": "x"}, MISSING),
    ("empty dict", lambda: {}, MISSING),
    ("dict subclass with attribute only", attr_dict_with_name, MISSING),
    ("Mapping with key", lambda: RoMapping({"name": "x"}, {}), "x"),
    ("Mapping with attribute only", lambda: RoMapping({}, {"name": "x"}), MISSING),
    ("object with attribute", lambda: WithAttr("x"), "x"),
    ("object with None attribute", lambda: WithAttr(None), None),
    ("namedtuple", lambda: Named("x", 1), "x"),
    ("object without attribute", lambda: object(), MISSING),
    ("object with items only", ItemsOnly, MISSING),
    ("None", lambda: None, MISSING),
    ("str", lambda: "name", MISSING),
    ("int", lambda: 5, MISSING),
]


@pytest.mark.parametrize("make,expected", [c[1:] for c in FIELD_CASES], ids=[c[0] for c in FIELD_CASES])
def test_data_is_indexed_per_field_value_rule(make: Any, expected: Any) -> None:
    data = make()
    assert field_value(data, "name") is expected or field_value(data, "name") == expected
    t, other = NodeTable(fields=("name",)).insert({"name": "x"})
    t, node = t.insert(data)
    for probe in ("x", None):
        hit = expected is not MISSING and expected == probe
        assert (node in t.find("name", probe)) is hit
    t.check()
    # replacing the data moves the node in the index; deleting removes it
    t2 = t.set_data(node, {"name": "y"})
    assert t2.find("name", "y") == {node} and t2.find("name", "x") == {other}
    t3 = t.delete(node)
    assert t3.find("name", "x") == {other} and t3.find("name", None) == frozenset()
    t2.check()
    t3.check()


# -- regressions: bugs found by this suite, fixed in nodetable ------------------------------


def test_batch_update_with_unknown_field_and_data_changes_nothing() -> None:
    t, n = NodeTable(fields=("name",)).insert({"name": "a"})
    batch = t.transient()
    with pytest.raises(TypeError, match="'bogus'"):
        batch.update(n, data={"name": "b"}, bogus=1)
    assert batch.data(n) == {"name": "a"}
    assert batch.find("name", "b") == frozenset()


def test_insert_with_malformed_links_changes_nothing() -> None:
    t, _ = NodeTable(fields=("name",)).insert_many([{"name": "a"}, {"name": "b"}])
    batch = t.transient()
    with pytest.raises((IndexError, TypeError)):
        batch.insert({"name": "c"}, links=(1, 2))  # type: ignore[arg-type]
    assert len(batch) == 2
    assert batch.insert({"name": "c"}) == 2
    batch.persistent().check()


def test_row_agrees_with_contains_for_bool_ids() -> None:
    t, _ = NodeTable().insert_many(["zero", "one"])
    for node in (True, False):
        assert node not in t
        with pytest.raises(UnknownNode):
            t.row(node)


def test_nan_in_an_indexed_field_is_rejected_and_changes_nothing() -> None:
    # NaN != NaN, so an index entry under it could never be found or removed again.
    t, _ = NodeTable(fields=("name",)).insert({"name": "a"})
    batch = t.transient()
    with pytest.raises(ValueError, match="name"):
        batch.insert({"name": float("nan")})
    with pytest.raises(ValueError):
        batch.set_data(0, {"name": float("nan")})
    assert len(batch) == 1 and batch.data(0) == {"name": "a"}
    assert batch.insert({"name": "b"}) == 1
    batch.persistent().check()
    # Unindexed fields may hold NaN.
    t2, n = t.insert({"other": float("nan")})
    assert n in t2


def test_batch_ids_lists_live_ids() -> None:
    t, _ = NodeTable().insert_many(["a", "b", "c"])
    batch = t.transient()
    batch.delete(1)
    batch.insert("d")
    batch.insert("e")
    assert list(batch.ids()) == [0, 1, 2, 3]
