"""``find``: every combination of equality, range, predicate, ``under`` and ``max_depth``
against brute force over a parent-pointer model, on trees and in transactions after
random updates (the field index, equality and ordered, is kept by every update)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botree import Range, Tree
from botree.errors import InvalidArgument, InvalidOperation, NodeNotFound

from .test_traversals import Model, forests

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

GROUPS = ["eng", "ops", "hr"]
SALARIES = st.one_of(st.integers(0, 9), st.floats(0, 9, allow_nan=False), st.sampled_from(["x", "y", None]))


def in_range(v: Any, lo: Any, hi: Any, inc_lo: bool, inc_hi: bool) -> bool:
    if type(v) not in (int, float, bool):
        return False
    return (lo is None or (v >= lo if inc_lo else v > lo)) and (hi is None or (v <= hi if inc_hi else v < hi))


def brute(
    t: Any, m: Model, group: Optional[str], rng: Optional[tuple], where: Any, under: Any, depth: Any
) -> List[int]:
    out = []
    for n in m.preorder(None):
        d = t.data(n)
        if group is not None and d.get("g") != group:
            continue
        if rng is not None and ("s" not in d or not in_range(d["s"], *rng)):
            continue
        if where is not None and not where(d):
            continue
        if under is not None and (n == under or under not in m.up(n)):
            continue
        if depth is not None:
            rel = m.level(n) - (m.level(under) if under is not None else 0)
            if rel > depth:
                continue
        out.append(n)
    return out


def where_odd(d: Any) -> bool:
    return d["i"] % 2 == 1


@FAST
@given(forests(max_size=80), st.data())
def test_find_against_brute_force(parents: List[Optional[int]], data: st.DataObject) -> None:
    model = Model()
    ids: List[int] = []
    with Tree(block_size=4, fields=("g", "s")).transaction() as tx:
        for i, p in enumerate(parents):
            d: Dict[str, Any] = {"i": i, "g": data.draw(st.sampled_from(GROUPS))}
            s = data.draw(SALARIES)
            if s is not None:
                d["s"] = s
            node = tx.insert_child(None if p is None else ids[p], d)
            ids.append(node)
            model.add(node, None if p is None else ids[p])
        # a few set_data while the batch is open: the transaction's own index answers
        for _ in range(data.draw(st.integers(0, 5))):
            n = data.draw(st.sampled_from(ids))
            tx.set_data(n, {"i": tx.data(n)["i"], "g": data.draw(st.sampled_from(GROUPS)), "s": data.draw(SALARIES)})
        mid = data.draw(st.sampled_from(ids))
        assert tx.find(s=Range(0, 5), under=mid) == brute(tx, model, None, (0, 5, True, False), None, mid, None)
    t = tx.tree
    assert t is not None
    t.check()
    for _ in range(12):
        group = data.draw(st.one_of(st.none(), st.sampled_from(GROUPS)))
        rng = data.draw(
            st.one_of(
                st.none(),
                st.tuples(st.one_of(st.none(), st.integers(0, 9)), st.integers(0, 10), st.booleans(), st.booleans()),
            )
        )
        where = data.draw(st.sampled_from([None, where_odd]))
        under = data.draw(st.one_of(st.none(), st.sampled_from(ids)))
        depth = data.draw(st.one_of(st.none(), st.integers(0, 4)))
        kwargs: Dict[str, Any] = {}
        if group is not None:
            kwargs["g"] = group
        if rng is not None:
            kwargs["s"] = Range(*rng)
        if group is None and rng is None and where is None and under is None and depth is None:
            with pytest.raises(InvalidArgument):
                t.find()
            continue
        assert t.find(where=where, under=under, max_depth=depth, **kwargs) == brute(
            t, model, group, rng, where, under, depth
        )


def test_scoped_and_ranged_find_in_a_larger_tree() -> None:
    with Tree(fields=("dept", "salary")).transaction() as tx:
        co = tx.insert_child(None, {"dept": "co", "salary": 0})
        depts = [tx.insert_child(co, {"dept": f"d{k}", "salary": 0}) for k in range(20)]
        people = {}
        for k, dept in enumerate(depts):
            for j in range(200):
                people[
                    tx.insert_child(dept, {"dept": f"d{k}", "salary": 1000 * j, "role": "eng" if j % 2 else "ops"})
                ] = (k, j)
    t = tx.tree
    assert t is not None
    got = t.find(under=depts[3], salary=Range(50_000, 60_000), where=lambda d: d.get("role") == "eng")
    assert got == [n for n, (k, j) in people.items() if k == 3 and 50 <= j < 60 and j % 2]
    assert t.find(salary=Range(199_000, None)) == [n for n, (k, j) in people.items() if j == 199]
    assert t.find(dept="d7", max_depth=1) == [depts[7]] and len(t.find(dept="d7", max_depth=2)) == 201
    # few hits for a large scope (placed by position keys) and many (tested by their leaf)
    assert t.find(under=co, salary=Range(199_000, None)) == t.find(salary=Range(199_000, None))
    assert t.find(under=co, dept="d7", max_depth=1) == [depts[7]]
    assert t.find(under=depts[5], salary=Range(0, None)) == [n for n, (k, j) in people.items() if k == 5]
    assert t.find(max_depth=0) == [co] and t.find(under=co, max_depth=1) == depts
    assert t.find(under=depts[0], salary=Range(None, 2000, include_high=True)) == list(people)[:3]
    # after updates: moves keep the index right (ranks change, values do not)
    moved = t.move(depts[3], depts[4])
    assert moved.find(under=depts[4], salary=Range(199_000, None)) == [
        list(people)[4 * 200 + 199],
        list(people)[3 * 200 + 199],
    ]  # d3 is now d4's last child
    deleted = moved.delete(depts[4])
    deleted.check()
    assert len(deleted.find(salary=Range(199_000, None))) == 18


def test_find_errors_change_nothing() -> None:
    t = Tree(fields=("v",))
    t, a = t.insert_child(None, {"v": 1})
    with pytest.raises(InvalidOperation):
        t.find(w=Range(1))
    with pytest.raises(InvalidOperation):
        t.find(w=1)
    with pytest.raises(InvalidArgument):
        t.find(v=[1])
    with pytest.raises(InvalidArgument):
        t.find(where=3)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        t.find(max_depth=-1)
    with pytest.raises(InvalidArgument):
        t.find(v=Range("a", 2))
    with pytest.raises(NodeNotFound):
        t.find(under=77)
    assert t.find(v=Range(0.5, 1.5)) == [a] and t.find(v=Range("a")) == [] and t.find(v=True) == [a]


def test_every_scope_and_range_in_a_wide_tree_equals_brute_force() -> None:
    # both ways of placing index hits (position keys; leaves of the scope) on scopes of every size
    t, model, ids = _wide_salary_tree()
    order = model.preorder(None)
    largest = sorted(ids, key=t.size)[-20:]
    for under in [None, *largest, *ids[::97]]:
        inside = order if under is None else model.preorder(under)[1:]
        for lo, hi in [(0, 5), (0, 10), (0, 30), (0, 60), (40, 41), (0, 1000), (90, None)]:
            got = t.find(under=under, s=Range(lo, hi))
            assert got == [n for n in inside if lo <= t.data(n)["s"] and (hi is None or t.data(n)["s"] < hi)]


def _wide_salary_tree() -> tuple:
    import random

    rng = random.Random(3)
    model = Model()
    ids: List[int] = []
    with Tree(block_size=8, fields=("s",)).transaction() as tx:
        for i in range(3000):
            parent = None if i == 0 else ids[min(i - 1, int(rng.paretovariate(1.2)) - 1) if i % 3 else rng.randrange(i)]
            node = tx.insert_child(parent, {"s": rng.randrange(100)})
            ids.append(node)
            model.add(node, parent)
    return tx.tree, model, ids
