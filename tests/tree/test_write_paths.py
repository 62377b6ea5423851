"""The single-update write paths of issue 16 (session 4) against the parent-pointer model.

* ``insert_child(parent, data)`` (index -1) reads the parent's row and inserts beside its
  closing bound (``Primitives.insert_last_child``), falling back to ``insert_pair`` when
  the leaf is full or its gap exhausted;
* ``move(node, parent)`` (index -1) of a subtree whose bounds sit in one leaf moves the
  entries straight to the parent's closing leaf with one lockstep climb of both paths
  (``Primitives.move_last_child``), falling back to the general relocation otherwise;
* ``delete(node)`` of a subtree inside one leaf reads the row directly (``delete_subtree``);
* a ``Tree`` update freezes its one-update batch with ``persistent_last``, and a batch
  makes the link table transient only on its first link write.

Random sequences on small and large blocks (so both the fast and the general paths run)
are compared with the model and ``check()``-ed after every step, in persistent updates and
inside one transaction; every earlier version is re-verified at the end (persistence).
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botree import Tree
from botree.core import primitives as primitives_module
from botree.core.primitives import Primitives
from botree.errors import InvalidOperation, NodeNotFound

from .test_fast_paths import assert_versions, chain_forest
from .test_tree_stateful import Model, assert_matches

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
BLOCKS = st.sampled_from([4, 6, 8, 16, 64])
# Spies replace methods of ``Primitives``; compiled methods (docs/design.md, "Compiled build") call
# each other natively, past any replacement, so the spying assertions hold on the pure build only
# (whose sources are the very same code); the results are checked on both.
PURE = primitives_module.__file__.endswith(".py")


def _grow(block_size: int, size: int, draw: Any) -> Tuple[Tree, Model, List[Tuple[Tree, Model]]]:
    """A tree of ``size`` persistent inserts, mostly as last children, and its model; check() and the
    model after each insert; every version."""
    t = Tree(block_size=block_size)
    m = Model()
    versions: List[Tuple[Tree, Model]] = []
    for i in range(size):
        parent = None if not m.parent else draw(st.sampled_from([None, *m.nodes()]))
        index = draw(st.sampled_from([-1, -1, -1, 0]))
        t, node = t.insert_child(parent, i, index)
        m._add(node, parent, len(m.kids[parent]) if index == -1 else 0, i)
        t.check()
        assert_matches(t, m, full=i % 8 == 0)
        versions.append((t, m.copy()))
    return t, m, versions


def _a_move(m: Model, draw: Any) -> Optional[Tuple[int, int]]:
    """A node and a new parent outside its subtree, or None when there is no such parent."""
    node = draw(st.sampled_from(m.nodes()))
    inside = set(m.subtree(node))
    outside = [n for n in m.nodes() if n not in inside]
    return (node, draw(st.sampled_from(outside))) if outside else None


@SETTINGS
@given(block_size=BLOCKS, size=st.integers(1, 70), data=st.data())
def test_inserts_and_moves_match_the_model(block_size: int, size: int, data: st.DataObject) -> None:
    draw = data.draw
    t, m, versions = _grow(block_size, size, draw)
    for _ in range(draw(st.integers(0, 30))):
        move = _a_move(m, draw)
        if move is None:
            continue
        node, parent = move
        t = t.move(node, parent)
        m.apply("move", (node, parent, -1), None)
        t.check()
        assert_matches(t, m)
        versions.append((t, m.copy()))
    assert_versions(versions)


@SETTINGS
@given(block_size=BLOCKS, size=st.integers(1, 40), data=st.data())
def test_the_same_paths_inside_a_transaction(block_size: int, size: int, data: st.DataObject) -> None:
    draw = data.draw
    base, m, _ = _grow(block_size, size, draw)
    before = m.copy()
    # Freezing a copy after every step checks each one; without it, blocks the batch owns are
    # changed in place across updates (a frozen copy makes the batch copy them again).
    checked = draw(st.booleans())
    snapshots: List[Tuple[Tree, Model]] = []
    with base.transaction() as tx:
        for i in range(draw(st.integers(1, 40))):
            kind = draw(st.sampled_from(["insert", "move", "delete"]))
            if not m.parent:
                kind = "insert_top"
            if kind in ("insert", "insert_top"):
                parent = None if kind == "insert_top" else draw(st.sampled_from(m.nodes()))
                node = tx.insert_child(parent, ("tx", i))
                m._add(node, parent, len(m.kids[parent]), ("tx", i))
            elif kind == "delete":
                node = draw(st.sampled_from(m.nodes()))
                tx.delete(node)
                m.apply("delete", (node,), None)
            else:
                move = _a_move(m, draw)
                if move is None:
                    continue
                node, parent = move
                tx.move(node, parent)
                m.apply("move", (node, parent, -1), None)
            if checked:
                frozen = Tree.from_order_index(tx.order_index.persistent())
                frozen.check()
                snapshots.append((frozen, m.copy()))
            assert_matches(tx, m, full=False)
    assert tx.tree is not None
    tx.tree.check()
    assert_matches(tx.tree, m)
    base.check()  # the base tree is unchanged
    assert_matches(base, before)
    assert_versions(snapshots)  # the batch went on after each freeze: no frozen copy changed


def test_the_fast_paths_are_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """Leaf-local moves and inserts never reach the general relocation or ``insert_pair``."""
    general: List[str] = []
    for name in ("_relocate", "insert_pair", "_settle"):
        real = getattr(Primitives, name)

        def spy(self: Primitives, *args: Any, _real: Any = real, _name: str = name) -> Any:
            general.append(_name)
            return _real(self, *args)

        monkeypatch.setattr(Primitives, name, spy)
    t, tops = chain_forest(2000)
    assert t.order_index.height >= 1
    moved = t.move(tops[100], tops[1500])  # different leaves, far apart
    grown, new = t.insert_child(tops[700], "x")
    if PURE:
        assert general == []
    moved.check()
    grown.check()
    assert moved.parent(tops[100]) == tops[1500] and list(moved.children(tops[1500]))[-1] == tops[100]
    assert grown.parent(new) == tops[700] and list(grown.children(tops[700]))[-1] == new
    t.check()  # the base is unchanged
    assert t.parent(tops[100]) is None and len(t) == 4000


def test_refused_moves_change_nothing() -> None:
    """A move under the node itself or its descendant, or of an unknown node, raises and leaves the batch as it was."""
    t, tops = chain_forest(200)
    kid = list(t.children(tops[5]))[0]
    with t.transaction() as tx:
        for node, parent, error in (
            (tops[5], kid, InvalidOperation),
            (tops[5], tops[5], InvalidOperation),
            (10**6, tops[3], NodeNotFound),
            (tops[3], 10**6, NodeNotFound),
        ):
            with pytest.raises(error):
                tx.move(node, parent)
            assert list(tx.events()) == list(t.events())
    assert tx.tree == t


def test_cuts_join_small_pieces_into_their_neighbours(monkeypatch: pytest.MonkeyPatch) -> None:
    """Moving large runs: some cuts put their smaller piece straight into a neighbour (no split),
    and the result is the model's, with every version intact."""
    cuts: List[str] = []
    real_cut, real_split = Primitives._cut_block, Primitives._split_off

    def cut(self: Primitives, *args: Any) -> int:
        cuts.append("?")
        out = real_cut(self, *args)
        if cuts[-1] == "?":  # no split inside this cut
            cuts[-1] = "join"
        return out

    def split(self: Primitives, *args: Any) -> int:
        if cuts and cuts[-1] == "?":
            cuts[-1] = "split"
        return real_split(self, *args)

    events: List[Tuple[Any, bool]] = []
    for i in range(300):
        events += [(i, True), *[(None, True), (None, False)] * (i % 3), (None, False)]
    base = Tree.from_events(events, block_size=8)
    tops = list(base.children(None))
    m = Model()
    for node in base.preorder():
        parent = base.parent(node)
        m._add(node, parent, len(m.kids[parent]), base.data(node))
    versions = [(base, m.copy())]
    monkeypatch.setattr(Primitives, "_cut_block", cut)
    monkeypatch.setattr(Primitives, "_split_off", split)
    t = base
    for first, last, parent in ((tops[10], tops[150], tops[200]), (tops[160], tops[290], tops[0])):
        t = t.move_range(first, last, parent, 0)
        m.apply("move_range", (first, last, parent, 0), None)
        t.check()
        assert_matches(t, m)
        versions.append((t, m.copy()))
    if PURE:
        assert "join" in cuts and "split" in cuts  # both ways of cutting ran
    assert_versions(versions)
