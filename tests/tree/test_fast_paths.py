"""The fast paths (issue 16) against a simple model, and proof that they are taken.

Small moves, deletes and wraps whose bounds sit in one leaf skip the split-and-join
relocation and the settle pass (``Primitives._relocate``, ``delete_range``, ``wrap_run``;
counts and minimum levels go up one path, ``Maintenance._adjust`` / ``_bump``); other
wraps and unwraps shift the levels of the wrapped range in place without cuts
(``Maintenance._shift_levels``).  Random
sequences of those updates on trees with small and large blocks, where the fast paths and
the general ones both run, are compared after every step with the parent-pointer model of
``test_tree_stateful`` and with ``check()``; every earlier version is re-verified at the
end (persistence).
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botree import Tree
from botree.core import primitives as primitives_module
from botree.core.maintenance import Maintenance

from .test_tree_stateful import Model, assert_matches


def _small_subtree(m: Model, draw: Callable[[Any], Any]) -> Optional[int]:
    """A node whose subtree holds at most 4 nodes (the fast paths' usual customer), or None."""
    small = [n for n in m.nodes() if len(m.subtree(n)) <= 4]
    return draw(st.sampled_from(small)) if small else None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(block_size=st.sampled_from([4, 6, 8, 16, 64]), size=st.integers(1, 60), data=st.data())
def test_small_updates_match_the_model(block_size: int, size: int, data: st.DataObject) -> None:
    draw = data.draw
    t = Tree(block_size=block_size)
    m = Model()
    for i in range(size):
        parent = None if i == 0 or not m.parent else draw(st.sampled_from([None, *m.nodes()]))
        t, node = t.insert_child(parent, i)
        m._add(node, parent, len(m.kids[parent]), i)
    versions: List[Tuple[Tree, Model]] = [(t, m.copy())]
    for _ in range(draw(st.integers(1, 25))):
        if not m.parent:
            break
        kind = draw(st.sampled_from(["move", "delete", "wrap", "wrap_run", "unwrap", "move_after"]))
        # Wraps and unwraps of any node: levels shift in place over a range of any size.
        node = _small_subtree(m, draw) if kind not in ("wrap", "unwrap") else draw(st.sampled_from(m.nodes()))
        if node is None:
            break
        new = None
        if kind == "move":
            outside = [n for n in m.nodes() if n not in m.subtree(node)]
            parent = draw(st.sampled_from([None, *outside]))
            index = draw(st.sampled_from([-1, 0]))
            t = t.move(node, parent, index)
            args: tuple = (node, parent, index)
        elif kind == "move_after":
            outside = [n for n in m.nodes() if n not in m.subtree(node)]
            if not outside:
                continue
            target = draw(st.sampled_from(outside))
            t = t.move_after(node, target)
            args = (node, target)
        elif kind == "delete":
            t = t.delete(node)
            args = (node,)
        elif kind == "wrap":
            t, new = t.insert_parent(node, "w")
            args = (node, "w")
        elif kind == "wrap_run":
            sibs = m.siblings_of(node)
            i = sibs.index(node)
            last = sibs[draw(st.integers(i, min(i + 2, len(sibs) - 1)))]
            t, new = t.insert_parent(node, "w", last)
            args = (node, "w", last)
            kind = "insert_parent"
        else:
            t = t.unwrap(node)
            args = (node,)
        name = {"wrap": "insert_parent"}.get(kind, kind)
        m.apply(name, args, new)
        t.check()
        assert_matches(t, m)
        versions.append((t, m.copy()))
    assert_versions(versions)


def assert_versions(versions: List[Tuple[Tree, Model]]) -> None:
    """Persistence: every kept tree still checks and holds its model's forest (no later update changed it)."""
    for tree, model in versions:
        tree.check()
        assert_matches(tree, model, full=False)


@pytest.fixture
def settles(monkeypatch: pytest.MonkeyPatch) -> List[int]:
    """Counts the settle passes run (the general repair a fast path skips)."""
    calls: List[int] = []
    real = Maintenance._settle

    def spy(self: Maintenance) -> None:
        calls.append(1)
        real(self)

    monkeypatch.setattr(Maintenance, "_settle", spy)
    return calls


def chain_forest(n: int) -> Tuple[Tree, List[int]]:
    """n top-level nodes with one child each (bulk built: leaves 3/4 full)."""
    events: List[Tuple[Any, bool]] = []
    for i in range(n):
        events += [(i, True), (None, True), (None, False), (None, False)]
    t = Tree.from_events(events)
    return t, list(t.children(None))


def test_the_fast_paths_are_taken(settles: List[int]) -> None:
    t, tops = chain_forest(2000)
    assert t.order_index.height >= 1
    a, b = tops[100], tops[1500]  # different leaves, far apart
    moved = t.move(a, b)
    deleted = t.delete(tops[700])
    wrapped, w = t.insert_parent(tops[900])
    assert settles == []  # none of the three ran the settle pass
    for tree in (moved, deleted, wrapped):
        tree.check()
    assert moved.parent(a) == b and list(moved.children(b))[-1] == a
    assert tops[700] not in deleted and len(deleted) == len(t) - 2
    assert wrapped.parent(tops[900]) == w and wrapped.parent(w) is None
    assert list(wrapped.children(None))[900] == w
    t.check()  # the base is unchanged
    assert len(t) == 4000 and t.parent(a) is None


def test_a_wrap_across_two_leaves_shifts_in_place_without_a_settle_pass(settles: List[int]) -> None:
    """Wrapping a node of a deep path (its subtree opens in one leaf and closes in another, both with
    room) puts the new bounds straight into the two leaves (``Primitives._wrap_two_leaves``); so does
    wrapping a run of siblings spread over many leaves.  A full leaf falls back to the general path."""
    depth = 3000
    t = Tree.from_events([(i, True) for i in range(depth)] + [(None, False)] * depth)
    chain = list(range(depth))  # preorder ids down the path
    assert t.order_index.height >= 1
    wrapped, w = t.insert_parent(chain[1000], "w")
    t2, kids_w = chain_forest(600)
    run, r = t2.insert_parent(kids_w[100], "r", kids_w[500])
    if primitives_module.__file__.endswith(".py"):  # spies see the pure build only (see test_write_paths)
        assert settles == []
    wrapped.check()
    run.check()
    assert wrapped.parent(chain[1000]) == w and wrapped.parent(w) == chain[999]
    assert wrapped.level(w) == 1000 and wrapped.level(chain[-1]) == depth
    assert wrapped.level(chain[999]) == 999 and wrapped.size(w) == depth - 1000 + 1
    assert list(wrapped.children(chain[999])) == [w] and list(wrapped.children(w)) == [chain[1000]]
    assert list(run.children(r)) == kids_w[100:501] and run.level(kids_w[300]) == 1
    assert list(run.children(None)) == kids_w[:100] + [r] + kids_w[501:]
    assert t.level(chain[-1]) == depth - 1 and t.parent(chain[1000]) == chain[999]  # the bases are unchanged
    t.check()
    t2.check()
    # Full leaves (block size 4, built full): the general path, same result.
    full = Tree.from_events([(i, True) for i in range(40)] + [(None, False)] * 40, block_size=4, fill=1.0)
    wrapped_full, v = full.insert_parent(10, "v")
    wrapped_full.check()
    assert wrapped_full.parent(10) == v and wrapped_full.level(39) == 40 and wrapped_full.parent(v) == 9
