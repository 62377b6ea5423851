"""Random sequences of order-index primitives against the list model, check() after every step.

Every intermediate index is kept; at teardown each must still pass check() and equal
the model state recorded when it was made (persistence).
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from botree import OrderIndex
from botree.errors import InvalidOperation
from tests.core import boundmodel as bm

Bound = Tuple[int, bool]


class OrderIndexMachine(RuleBasedStateMachine):
    block_size = 4

    def __init__(self) -> None:
        super().__init__()
        self.idx = OrderIndex(block_size=self.block_size)
        self.model: List[Bound] = []
        self.versions: List[Tuple[OrderIndex, List[Bound], dict]] = []
        self.counter = 0

    def _commit(self, idx: OrderIndex, model: List[Bound]) -> None:
        self.idx = idx
        self.model = model
        self.versions.append((idx, list(model), {n: idx.data(n) for n, o in model if o}))

    def _position(self, data: st.DataObject) -> Optional[Bound]:
        k = data.draw(st.integers(0, len(self.model)), label="position")
        return self.model[k] if k < len(self.model) else None

    def _node(self, data: st.DataObject) -> int:
        opens = [n for n, o in self.model if o]
        return data.draw(st.sampled_from(opens), label="node")

    def _insert_into(self, model: List[Bound], node: int, before: Optional[Bound]) -> None:
        k = model.index(before) if before is not None else len(model)
        model[k:k] = [(node, True), (node, False)]

    # -- updates ----------------------------------------------------------------

    @rule(data=st.data())
    def insert_pair(self, data: st.DataObject) -> None:
        before = self._position(data)
        self.counter += 1
        idx, node = self.idx.insert_pair(("n", self.counter), before)
        model = list(self.model)
        self._insert_into(model, node, before)
        self._commit(idx, model)

    @rule(data=st.data(), count=st.integers(1, 150), mode=st.sampled_from(["random", "same", "first", "last"]))
    def batch_insert(self, data: st.DataObject, count: int, mode: str) -> None:
        """Many inserts in one batch: random spots, one spot (gap exhaustion), always first/last."""
        batch = self.idx.transient()
        model = list(self.model)
        anchor = self._position(data)
        rnd = data.draw(st.randoms(use_true_random=False), label="rnd")
        for _ in range(count):
            if mode == "random":
                k = rnd.randrange(len(model) + 1)
                before = model[k] if k < len(model) else None
            elif mode == "same":
                before = anchor
            elif mode == "first":
                before = model[0] if model else None
            else:
                before = None
            self.counter += 1
            node = batch.insert_pair(("n", self.counter), before)
            self._insert_into(model, node, before)
        self._commit(batch.persistent(), model)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def delete_pair(self, data: st.DataObject) -> None:
        node = self._node(data)
        self._commit(self.idx.delete_pair(node), bm.delete_pair(self.model, node))

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def relocate(self, data: st.DataObject) -> None:
        first_node = self._node(data)
        last_node = data.draw(st.sampled_from(bm.siblings_after(self.model, first_node)), label="last")
        first, last = (first_node, True), (last_node, False)
        i, j = self.model.index(first), self.model.index(last)
        outside = self.model[:i] + self.model[j + 1 :]
        k = data.draw(st.integers(0, len(outside)), label="target")
        before = outside[k] if k < len(outside) else None
        new_model = bm.relocate(self.model, first, last, before)
        lv = bm.levels(self.model)
        new_lv = bm.levels(new_model)
        d = new_lv[first_node] - lv[first_node]
        self._commit(self.idx.relocate(first, last, before, d), new_model)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def delete_range(self, data: st.DataObject) -> None:
        first_node = self._node(data)
        last_node = data.draw(st.sampled_from(bm.siblings_after(self.model, first_node)), label="last")
        first, last = (first_node, True), (last_node, False)
        new_model = bm.delete_range(self.model, first, last)
        self._commit(self.idx.delete_range(first, last), new_model)

    @precondition(lambda self: len(self.model) >= 4)
    @rule(data=st.data())
    def relocate_into_itself_is_rejected(self, data: st.DataObject) -> None:
        node = self._node(data)
        i, j = bm.span(self.model, node)
        if j - i < 3:
            return
        target = self.model[data.draw(st.integers(i + 1, j), label="inside")]
        with pytest.raises(InvalidOperation):
            self.idx.relocate((node, True), (node, False), target)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def set_data(self, data: st.DataObject) -> None:
        node = self._node(data)
        self.counter += 1
        self._commit(self.idx.set_data(node, ("s", self.counter)), list(self.model))

    # -- queries ----------------------------------------------------------------

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def queries(self, data: st.DataObject) -> None:
        model = self.model
        idx = self.idx
        i = data.draw(st.integers(0, len(model) - 1), label="i")
        j = data.draw(st.integers(0, len(model) - 1), label="j")
        a, b = model[i], model[j]
        assert idx.before(a, b) == (i < j)
        assert idx.rank(a) == i
        assert idx.at_rank(i) == a
        assert idx.at_rank(i - len(model)) == a
        assert idx.next_bound(a) == (model[i + 1] if i + 1 < len(model) else None)
        assert idx.prev_bound(a) == (model[i - 1] if i > 0 else None)
        assert idx.bound_level(a) == bm.levels(model)[a[0]]
        assert idx.enclosing(a[0]) == bm.parents(model)[a[0]]
        assert list(idx.bounds(a)) == model[i:]

    @invariant()
    def matches_model(self) -> None:
        idx = self.idx
        idx.check()
        model = self.model
        assert len(idx) * 2 == len(model)
        assert list(idx.bounds()) == model
        lv = bm.levels(model)
        assert [(n, o, lv[n]) for n, o in model] == list(idx.leveled_bounds())
        assert idx.first_bound() == (model[0] if model else None)
        assert idx.last_bound() == (model[-1] if model else None)

    def teardown(self) -> None:
        for idx, model, datas in self.versions:
            idx.check()
            assert list(idx.bounds()) == model
            assert {n: idx.data(n) for n, o in model if o} == datas


def _machine(block_size: int) -> type:
    return type(f"OrderIndexB{block_size}", (OrderIndexMachine,), {"block_size": block_size})


SETTINGS = settings(
    max_examples=25,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

TestB4 = SETTINGS(_machine(4)).TestCase
TestB6 = SETTINGS(_machine(6)).TestCase
TestB8 = SETTINGS(_machine(8)).TestCase
TestB16 = SETTINGS(_machine(16)).TestCase
TestB64 = SETTINGS(_machine(64)).TestCase
