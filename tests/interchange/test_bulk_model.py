"""Bulk builds against a parent-pointer model (issue 16: the preorder and bound paths, the leaf layout).

``Tree.from_parent_table`` has two ways in: tables whose parents come before their
children are numbered in preorder by two passes over the rows (``_preorder``) and built
by ``core.bulk.build_preorder``; other tables (and dropped orphans, cycles) go through
the bounds and ``build_index``.  Ids that are the consecutive ints of the rows skip the
hash table.  Every path must give the tree the model gives, node for node.
"""

from __future__ import annotations

import random
from typing import Any, Dict, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botree import Tree, load_parent_table
from botree.core.bulk import build_index, build_preorder
from botree.errors import InvalidArgument, InvalidOperation
from botree.nodetable import OwnedRow, Row

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BLOCK_SIZES = (4, 6, 8, 64)
FILLS = (0.5, 0.75, 1.0)


# -- the model ------------------------------------------------------------------------


def model_preorder(rows: List[Tuple[Any, Any]], keys: Optional[List[Any]] = None) -> List[Tuple[Any, int]]:
    """(id, level) of every row in document order: children in input order (or by ``keys``, stable)."""
    kids: Dict[Any, List[int]] = {}
    for pos, (_, parent) in enumerate(rows):
        kids.setdefault(parent, []).append(pos)
    if keys is not None:
        for group in kids.values():
            group.sort(key=lambda pos: keys[pos])  # type: ignore[index]
    out: List[Tuple[Any, int]] = []
    stack = [(pos, 0) for pos in reversed(kids.get(None, []))]
    while stack:
        pos, level = stack.pop()
        ident = rows[pos][0]
        out.append((ident, level))
        stack.extend((c, level + 1) for c in reversed(kids.get(ident, [])))
    return out


def tree_preorder(t: Tree, data_id: Any = lambda d: d[0]) -> List[Tuple[Any, int]]:
    return [(data_id(t.data(n)), t.level(n)) for n in t.preorder()]


@st.composite
def forests(draw: Any, max_size: int = 60) -> List[int]:
    """A parent array: ``parents[i] < i`` or -1 (a random forest, rows in parent-first order)."""
    n = draw(st.integers(0, max_size))
    shape = draw(st.sampled_from(["random", "deep", "wide", "mixed"]))
    parents: List[int] = []
    for i in range(n):
        if shape == "deep":
            p = i - 1
        elif shape == "wide":
            p = -1 if i == 0 else 0
        elif shape == "random":
            p = draw(st.integers(-1, i - 1))
        else:
            p = draw(st.sampled_from([-1, i - 1, max(i - 2, -1), (i - 1) // 2]))
        parents.append(p)
    return parents


def as_rows(parents: List[int], ids: List[Any], order: List[int]) -> List[Tuple[Any, Any]]:
    """Rows ``(id, parent id)`` listed in ``order`` (a permutation of the positions)."""
    return [(ids[i], None if parents[i] < 0 else ids[parents[i]]) for i in order]


# -- every path builds the model's tree ------------------------------------------------


@SETTINGS
@given(
    forests(),
    st.sampled_from(["serial", "offset", "str", "sparse"]),
    st.booleans(),
    st.sampled_from(BLOCK_SIZES),
    st.randoms(use_true_random=False),
)
def test_parent_table_builds_equal_the_model(
    parents: List[int], id_kind: str, shuffled: bool, block_size: int, rnd: random.Random
) -> None:
    n = len(parents)
    ids: List[Any] = {
        "serial": list(range(n)),  # the serial-id path (no hash table)
        "offset": list(range(1000, 1000 + n)),
        "str": [f"n{i}" for i in range(n)],
        "sparse": [3 * i + 7 for i in range(n)],
    }[id_kind]
    order = list(range(n))
    if shuffled:  # children may come before their parents: the bounds path
        rnd.shuffle(order)
    rows = as_rows(parents, ids, order)
    t, mapping = load_parent_table(rows, id=0, parent=1, block_size=block_size)
    t.check()
    assert tree_preorder(t) == model_preorder(rows)
    assert list(mapping.values()) == list(range(n))  # made in preorder, on every path
    for node in t.preorder():
        assert mapping[t.data(node)[0]] == node
        parent = t.parent(node)
        assert (None if parent is None else t.data(parent)[0]) == t.data(node)[1]
    assert Tree.from_parent_table(rows, id=0, parent=1, block_size=block_size) == t


@SETTINGS
@given(forests(), st.booleans(), st.sampled_from(BLOCK_SIZES), st.randoms(use_true_random=False))
def test_order_column_sorts_siblings_on_both_paths(
    parents: List[int], shuffled: bool, block_size: int, rnd: random.Random
) -> None:
    n = len(parents)
    weights = [rnd.randrange(3) for _ in range(n)]  # ties: input order decides
    order = list(range(n))
    if shuffled:
        rnd.shuffle(order)
    rows = [(i, None if parents[i] < 0 else parents[i], weights[i]) for i in order]
    t, _ = load_parent_table(rows, id=0, parent=1, order=2, block_size=block_size)
    t.check()
    expected = model_preorder([(r[0], r[1]) for r in rows], [r[2] for r in rows])
    assert tree_preorder(t) == expected


@SETTINGS
@given(forests(max_size=300), st.sampled_from(BLOCK_SIZES), st.sampled_from(FILLS))
def test_preorder_and_bound_builds_are_the_same_index(parents: List[int], block_size: int, fill: float) -> None:
    """``build_preorder`` and ``build_index`` lay out the same blocks and back-links for any size."""
    n = len(parents)
    kids: List[List[int]] = [[] for _ in range(n)]
    roots = []
    for i, p in enumerate(parents):
        (roots if p < 0 else kids[p]).append(i)
    events: List[Tuple[Any, bool]] = []
    datas: List[Any] = []
    sizes: List[int] = []
    stack = [(r, True) for r in reversed(roots)]
    while stack:
        i, opening = stack.pop()
        if opening:
            events.append((i, True))
            datas.append(i)
            sizes.append(0)
            stack.append((len(sizes) - 1, False))
            stack.extend((c, True) for c in reversed(kids[i]))
        else:
            events.append((None, False))
            sizes[i] = len(sizes) - i
    a = Tree.from_order_index(build_preorder(datas, sizes, block_size, fill=fill))
    b = Tree.from_order_index(build_index(events, block_size, fill=fill))
    a.check()
    b.check()
    assert a == b
    assert list(a.data_events()) == list(b.data_events())
    assert [a.level(x) for x in a.preorder()] == [b.level(x) for x in b.preorder()]


@pytest.mark.parametrize("block_size", [4, 6, 64])
@pytest.mark.parametrize("fill", FILLS)
def test_leaf_layout_holds_for_every_count_around_a_leaf(block_size: int, fill: float) -> None:
    """Bound counts around multiples of the leaf fill: the last leaves are re-laid within B/2..B."""
    per = max(block_size // 2, int(block_size * fill))
    for bounds in sorted({2 * k for k in range(0, 4 * per + 4)}):
        nodes = bounds // 2
        t = Tree.from_events(
            [(i, True) for i in range(nodes)] + [(None, False)] * nodes, block_size=block_size, fill=fill
        )
        t.check()
        assert list(t.preorder()) == list(range(nodes))


# -- errors: the same on every path ----------------------------------------------------


@SETTINGS
@given(forests(max_size=20), st.data())
def test_cycles_duplicates_and_missing_parents_are_errors(parents: List[int], data: Any) -> None:
    n = len(parents)
    if n < 2:
        return
    kind = data.draw(st.sampled_from(["cycle", "self", "duplicate", "missing"]))
    rows: List[List[Any]] = [[i, None if p < 0 else p] for i, p in enumerate(parents)]
    a = data.draw(st.integers(0, n - 1))
    if kind == "cycle":  # a row's parent becomes one of its descendants (or itself)
        below = [i for i in range(n) if _is_below(parents, i, a)]
        rows[a][1] = data.draw(st.sampled_from(below))
    elif kind == "self":
        rows[a][1] = a
    elif kind == "duplicate":
        b = data.draw(st.integers(0, n - 1).filter(lambda b: b != a))
        rows[b][0] = rows[a][0]
    else:
        rows[a][1] = n + 5
    before = [list(r) for r in rows]
    with pytest.raises(InvalidOperation):
        load_parent_table(rows, id=0, parent=1)
    assert rows == before  # the input is not touched


def _is_below(parents: List[int], i: int, a: int) -> bool:
    """Whether row ``i`` is ``a`` or below it."""
    while i >= 0:
        if i == a:
            return True
        i = parents[i]
    return False


def test_serial_ids_with_bad_parents_fall_back_and_report_as_before() -> None:
    # Serial ids, but a parent of another type: the hash table decides (1.0 == 1 is row 1).
    t, mapping = load_parent_table([(0, None), (1, 0.0), (2, 1.0)], id=0, parent=1)
    t.check()
    assert [t.level(mapping[i]) for i in (0, 1, 2)] == [0, 1, 2]
    with pytest.raises(InvalidArgument):
        load_parent_table([(0, None), (1, [0])], id=0, parent=1)  # unhashable parent
    with pytest.raises(InvalidOperation):
        load_parent_table([(0, None), (1, 2)], id=0, parent=1)  # a parent past the last id
    with pytest.raises(InvalidOperation):
        load_parent_table([(5, None), (6, 4)], id=0, parent=1)  # a parent before the first id


def test_bad_options_are_rejected_on_the_preorder_path() -> None:
    rows = [(0, None), (1, 0)]
    with pytest.raises(InvalidArgument):
        load_parent_table(rows, id=0, parent=1, block_size=5)
    with pytest.raises(InvalidArgument):
        build_preorder([None], [1], fill=0.2)


# -- deep inputs: no recursion ----------------------------------------------------------


@pytest.mark.parametrize("shuffled", [False, True])
def test_100000_deep_parent_table(shuffled: bool) -> None:
    depth = 100_000
    rows = [(i, i - 1 if i else None) for i in range(depth)]
    if shuffled:
        random.Random(5).shuffle(rows)
    t, mapping = load_parent_table(rows, id=0, parent=1)
    assert len(t) == depth
    assert t.level(mapping[depth - 1]) == depth - 1
    assert t.parent(mapping[depth - 1]) == mapping[depth - 2]
    t.check()


def test_100000_deep_events() -> None:
    depth = 100_000
    t = Tree.from_events([(i, True) for i in range(depth)] + [(None, False)] * depth)
    assert t.level(depth - 1) == depth - 1
    t.check()


# -- structure: shared keys, rows without an owner --------------------------------------


def test_bulk_rows_have_no_owner_and_a_batch_copies_them() -> None:
    t = Tree.from_parent_table([(i, i // 2 if i else None) for i in range(200)], id=0, parent=1, block_size=4)
    rows = t._ix.nodes.rows  # noqa: SLF001 - the structure is what this test is about
    assert all(type(r) is Row and r.owner is None for r in rows)
    with pytest.raises(TypeError):
        Row(0, 0, 0, 0, None, object())  # an owner needs an OwnedRow
    with t.transaction() as tx:
        tx.set_data(5, "changed")
    assert tx.tree is not None
    new_rows = tx.tree._ix.nodes.rows  # noqa: SLF001
    assert type(new_rows[5]) is OwnedRow and new_rows[5].owner is not None
    assert rows[5].data == t.data(5) != "changed"  # the old tree's row is untouched


@pytest.mark.parametrize("block_size", [4, 64])
def test_updates_on_a_bulk_tree_leave_it_and_its_shared_keys_unchanged(block_size: int) -> None:
    """Leaves of one size share a key list: relabelling one leaf in a batch must copy it first."""
    n = 3000
    t = Tree.from_parent_table(
        [(i, (i - 1) // 3 if i else None) for i in range(n)], id=0, parent=1, block_size=block_size
    )
    blocks = t._ix.blocks  # noqa: SLF001
    keys_before = [list(b.keys) for b in blocks if b is not None]
    events_before = list(t.data_events())
    rnd = random.Random(3)
    u = t
    for _ in range(300):  # many inserts at a few spots: gaps run out, leaves relabel and split
        spot = rnd.choice([1, 2, 7])
        u, _ = u.insert_child(spot, "new", 0)
    u.check()
    t.check()
    assert [list(b.keys) for b in blocks if b is not None] == keys_before
    assert list(t.data_events()) == events_before
    assert len(u) == n + 300
