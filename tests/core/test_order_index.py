"""Targeted order-index tests: skewed workloads, depth, work counting, bad input, batches."""

from __future__ import annotations

import random
from typing import List, Optional, Tuple

import pytest

from botree import OrderIndex
from botree.core.gapkeys import SPACE, even_keys, gap_keys, interpolation_search
from botree.errors import BotreeError, InvalidArgument, InvalidOperation, NodeNotFound, PositionError
from tests.core import boundmodel as bm

Bound = Tuple[int, bool]
SIZES = [4, 6, 8, 16, 64]


def agrees(idx: OrderIndex, model: List[Bound]) -> None:
    idx.check()
    assert list(idx.bounds()) == model
    lv = bm.levels(model)
    assert [lv[n] for n, o, _ in idx.leveled_bounds() if o] == [lv[n] for n, o in model if o]


def build(block_size: int, n: int, seed: int = 0) -> Tuple[OrderIndex, List[Bound], List[int]]:
    """A random tree: node i goes last under a uniformly random earlier node."""
    rnd = random.Random(seed)
    batch = OrderIndex(block_size=block_size).transient()
    model: List[Bound] = []
    nodes: List[int] = []
    for _ in range(n):
        before: Optional[Bound] = (rnd.choice(nodes), False) if nodes else None
        node = batch.insert_pair(None, before)
        k = model.index(before) if before else len(model)
        model[k:k] = [(node, True), (node, False)]
        nodes.append(node)
    return batch.persistent(), model, nodes


# -- skewed workloads --------------------------------------------------------------


@pytest.mark.parametrize("block_size", SIZES)
def test_thousands_of_inserts_at_one_position_exhaust_gaps(block_size: int) -> None:
    idx, left = OrderIndex(block_size=block_size).insert_pair("left")
    idx, right = idx.insert_pair("right")
    model = [(left, True), (left, False), (right, True), (right, False)]
    for i in range(3000):
        # Always just before `right`: every new key bisects the same shrinking gap.
        idx, node = idx.insert_pair(i, (right, True))
        k = model.index((right, True))
        model[k:k] = [(node, True), (node, False)]
        if i % 97 == 0:
            agrees(idx, model)
    agrees(idx, model)


@pytest.mark.parametrize("block_size", SIZES)
@pytest.mark.parametrize("where", ["first", "last", "inside-first-child"])
def test_always_first_or_last_inserts(block_size: int, where: str) -> None:
    batch = OrderIndex(block_size=block_size).transient()
    model: List[Bound] = []
    holder = batch.insert_pair("holder")
    model += [(holder, True), (holder, False)]
    for i in range(1500):
        if where == "first":
            before: Optional[Bound] = model[0]
        elif where == "last":
            before = None
        else:
            before = model[1]  # just after holder's open bound: becomes its first child
        node = batch.insert_pair(i, before)
        k = model.index(before) if before else len(model)
        model[k:k] = [(node, True), (node, False)]
    agrees(batch.persistent(), model)


@pytest.mark.parametrize("block_size", SIZES)
def test_relocate_huge_and_tiny_ranges_to_both_ends(block_size: int) -> None:
    idx, model, nodes = build(block_size, 600, seed=block_size)
    rnd = random.Random(7)
    for step in range(60):
        node = rnd.choice(nodes)
        sibs = bm.siblings_after(model, node)
        last = rnd.choice(sibs) if step % 2 else sibs[-1]
        first, lastb = (node, True), (last, False)
        i, j = model.index(first), model.index(lastb)
        outside = model[:i] + model[j + 1 :]
        before = [outside[0] if outside else None, None][step % 2]
        idx = idx.relocate(first, lastb, before)
        model = bm.relocate(model, first, lastb, before)
        agrees(idx, model)


@pytest.mark.parametrize("block_size", SIZES)
def test_deletes_empty_blocks_and_shrink_the_root(block_size: int) -> None:
    idx, model, nodes = build(block_size, 400, seed=3)
    start_height = idx.height
    assert start_height >= (2 if block_size <= 16 else 1)
    rnd = random.Random(5)
    order = list(nodes)
    rnd.shuffle(order)
    for node in order:
        idx = idx.delete_pair(node)
        model = bm.delete_pair(model, node)
        agrees(idx, model)
    assert len(idx) == 0 and idx.height == 0
    # The empty index is fully usable again, and ids are reused.
    idx, node = idx.insert_pair("again")
    agrees(idx, [(node, True), (node, False)])
    assert node in nodes


@pytest.mark.parametrize("block_size", [4, 64])
def test_delete_range_of_everything_and_of_parts(block_size: int) -> None:
    idx, model, nodes = build(block_size, 500, seed=11)
    roots = [n for n, o in model if o and bm.parents(model)[n] is None]
    assert len(roots) == 1
    child_run = [n for n, o in model if o and bm.parents(model)[n] == roots[0]]
    smaller = idx.delete_range((child_run[1], True), (child_run[-2], False)) if len(child_run) > 3 else idx
    if smaller is not idx:
        agrees(smaller, bm.delete_range(model, (child_run[1], True), (child_run[-2], False)))
    empty = idx.delete_range((roots[0], True), (roots[0], False))
    agrees(empty, [])
    assert empty.height == 0
    agrees(idx, model)


# -- persistence ----------------------------------------------------------------


def test_every_version_of_a_long_random_run_is_intact() -> None:
    rnd = random.Random(2024)
    idx = OrderIndex(block_size=4)
    model: List[Bound] = []
    versions = []
    for step in range(1500):
        r = rnd.random()
        if r < 0.45 or len(model) < 4:
            k = rnd.randrange(len(model) + 1)
            before = model[k] if k < len(model) else None
            idx, node = idx.insert_pair(step, before)
            model = list(model)
            model[k:k] = [(node, True), (node, False)]
        elif r < 0.6:
            node = rnd.choice([n for n, o in model if o])
            idx = idx.delete_pair(node)
            model = bm.delete_pair(model, node)
        elif r < 0.7:
            node = rnd.choice([n for n, o in model if o])
            idx = idx.set_data(node, ("changed", step))
        else:
            node = rnd.choice([n for n, o in model if o])
            first, last = (node, True), (rnd.choice(bm.siblings_after(model, node)), False)
            i, j = model.index(first), model.index(last)
            outside = model[:i] + model[j + 1 :]
            k = rnd.randrange(len(outside) + 1)
            before = outside[k] if k < len(outside) else None
            idx = idx.relocate(first, last, before)
            model = bm.relocate(model, first, last, before)
        versions.append((idx, model, {n: idx.data(n) for n, o in model if o}))
    for old, old_model, datas in versions:
        agrees(old, old_model)
        assert {n: old.data(n) for n, o in old_model if o} == datas


def test_a_batch_that_goes_on_after_freezing_never_changes_the_frozen_index() -> None:
    """The seed prototype relabelled shared keys in place and corrupted old versions."""
    batch = OrderIndex(block_size=4).transient()
    model: List[Bound] = []
    a = batch.insert_pair("a")
    b = batch.insert_pair("b")
    model += [(a, True), (a, False), (b, True), (b, False)]
    for i in range(40):
        node = batch.insert_pair(i, (b, True))
        k = model.index((b, True))
        model[k:k] = [(node, True), (node, False)]
    frozen = batch.persistent()
    frozen_model = list(model)
    frozen_keys = [list(blk.keys) if blk else None for blk in frozen._blocks]
    # Keep hammering the same gap: relabels, splits and relinks in blocks `frozen` shares.
    for i in range(400):
        node = batch.insert_pair(("more", i), (b, True))
        k = model.index((b, True))
        model[k:k] = [(node, True), (node, False)]
    batch.relocate((a, True), (a, False), None)
    batch.set_data(a, "changed")
    later = batch.persistent()
    agrees(frozen, frozen_model)
    assert [list(blk.keys) if blk else None for blk in frozen._blocks] == frozen_keys
    assert frozen.data(a) == "a"
    assert later.data(a) == "changed"
    agrees(later, bm.relocate(model, (a, True), (a, False), None))


# -- depth -------------------------------------------------------------------------


def test_path_100000_levels_deep() -> None:
    depth = 100_000
    batch = OrderIndex().transient()
    chain = [batch.insert_pair(0)]
    for i in range(1, depth):
        chain.append(batch.insert_pair(i, (chain[-1], False)))
    idx = batch.persistent()
    # No recursion anywhere: the default recursion limit (1000) would be blown otherwise.
    idx.check()
    assert idx.level(chain[-1]) == depth - 1
    assert idx.level(chain[depth // 2]) == depth // 2
    assert idx.before((chain[10], True), (chain[90_000], True))
    assert idx.before((chain[90_000], False), (chain[10], False))
    assert not idx.before((chain[-1], False), (chain[-1], True))
    assert idx.enclosing(chain[-1]) == chain[-2]
    assert idx.rank((chain[-1], False)) == depth
    # Move the deep half to top level: levels of 50,000 nodes change by -50,000 in one step.
    moved = idx.relocate((chain[depth // 2], True), (chain[depth // 2], False), None)
    moved.check()
    assert moved.level(chain[-1]) == depth - 1 - depth // 2
    assert moved.enclosing(chain[depth // 2]) is None
    assert idx.level(chain[-1]) == depth - 1


# -- work counting ---------------------------------------------------------------------


def _flat_family(batch, children: int) -> int:
    parent = batch.insert_pair("parent")
    for _ in range(children):
        batch.insert_pair(None, (parent, False))
    return parent


def test_relocation_work_does_not_depend_on_range_size() -> None:
    """200,000 bounds; moving 10 of them and moving 100,000 touch blocks of the same order."""
    batch = OrderIndex().transient()
    big = _flat_family(batch, 49_999)  # 50,000 nodes = 100,000 bounds
    small = _flat_family(batch, 4)  # 5 nodes = 10 bounds
    filler = _flat_family(batch, 49_994)
    idx = batch.persistent()
    assert idx.entry_count == 200_000
    idx.check()
    written = {}
    links = {}
    for name, node, target in [
        ("small", small, (filler, False)),
        ("big", big, (filler, False)),
        ("small-first", small, (big, True)),
        ("big-end", big, None),
    ]:
        batch = idx.transient()
        batch.relocate((node, True), (node, False), target)
        written[name] = batch.blocks_written
        links[name] = batch.links_written
        moved = batch.persistent()
        moved.check()
        assert moved.enclosing(node) == (filler if target == (filler, False) else None)
    B, h = idx.block_size, idx.height
    leaves_in_big_range = 100_000 // B
    for name, count in written.items():
        # Three cut paths of h levels, each moving at most B/2 items per level, plus seams.
        assert count <= 3 * (h + 1) * (B + 4), (name, written)
        assert count < leaves_in_big_range / 4, (name, written)
    assert written["big"] <= 2 * written["small"] + B, written
    assert written["big-end"] <= 2 * written["small-first"] + B, written
    # Link updates (children moved between parents, level shifts) are bounded the same way.
    for name, count in links.items():
        assert count <= 3 * (h + 1) * (B + 4), (name, links)
    assert links["big"] <= 2 * links["small"] + 2 * B, links


# -- bad input -------------------------------------------------------------------------


@pytest.fixture
def small_tree() -> Tuple[OrderIndex, List[Bound], List[int]]:
    return build(4, 60, seed=1)


def test_unknown_nodes(small_tree) -> None:
    idx, model, nodes = small_tree
    for bad in (10_000, -1, max(nodes) + 1):
        with pytest.raises(NodeNotFound) as err:
            idx.level(bad)
        assert str(bad) in str(err.value)
        with pytest.raises(KeyError):
            idx.before((bad, True), (nodes[0], True))
        with pytest.raises(NodeNotFound):
            idx.insert_pair(None, (bad, False))
        with pytest.raises(NodeNotFound):
            idx.delete_pair(bad)
        with pytest.raises(NodeNotFound):
            idx.relocate((nodes[1], True), (nodes[1], False), (bad, True))
        with pytest.raises(NodeNotFound):
            idx.set_data(bad, 1)
    gone = idx.delete_pair(nodes[5])
    with pytest.raises(NodeNotFound):
        gone.level(nodes[5])
    agrees(idx, model)


def test_bad_positions_and_types(small_tree) -> None:
    idx, model, nodes = small_tree
    for k in (len(model), -len(model) - 1, 10**9):
        with pytest.raises(PositionError):
            idx.at_rank(k)
    with pytest.raises(IndexError):
        idx.at_rank(len(model))
    for bad in ((nodes[0], 1), [nodes[0], True], (str(nodes[0]), True), nodes[0], (nodes[0],)):
        with pytest.raises(InvalidArgument):
            idx.insert_pair(None, bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            idx.rank(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        idx.at_rank("3")  # type: ignore[arg-type]
    for size in (3, 5, 2, 0, "64", 7.0):
        with pytest.raises(InvalidArgument):
            OrderIndex(block_size=size)  # type: ignore[arg-type]
    agrees(idx, model)


def test_invalid_relocations_change_nothing(small_tree) -> None:
    idx, model, nodes = small_tree
    parents = bm.parents(model)
    deep = max(nodes, key=lambda n: bm.levels(model)[n])
    ancestor = parents[parents[deep]]
    # Target inside the moved range (into its own subtree), including its own close bound.
    for target in [(deep, True), (deep, False), (parents[deep], False)]:
        with pytest.raises(InvalidOperation):
            idx.relocate((ancestor, True), (ancestor, False), target)
    # Ranges that are not runs of whole sibling subtrees.
    with pytest.raises(InvalidOperation):
        idx.relocate((ancestor, True), (deep, False), None)
    with pytest.raises(InvalidOperation):
        idx.relocate((ancestor, False), (ancestor, False), None)
    with pytest.raises(InvalidOperation):
        idx.relocate((ancestor, True), (ancestor, True), None)
    sibs = bm.siblings_after(model, parents[deep])
    if len(sibs) > 1:
        with pytest.raises(InvalidOperation):  # siblings in the wrong order
            idx.relocate((sibs[1], True), (sibs[0], False), None)
    # A level delta that disagrees with the target.
    with pytest.raises(InvalidOperation):
        idx.relocate((deep, True), (deep, False), None, d=5)
    with pytest.raises(InvalidOperation):
        idx.delete_range((ancestor, True), (deep, False))
    # The same batch stays usable and unchanged after a rejected call.
    batch = idx.transient()
    with pytest.raises(BotreeError):
        batch.relocate((ancestor, True), (ancestor, False), (deep, True))
    assert batch.blocks_written == 0
    agrees(batch.persistent(), model)
    agrees(idx, model)


# -- gap keys ------------------------------------------------------------------------------


def test_gap_keys_fill_the_gap_or_report_exhaustion() -> None:
    keys = [10, 0, 0, 0, 14]
    assert gap_keys(keys, 1, 4) == [11, 12, 13]
    assert gap_keys([10, 0, 0, 0, 13], 1, 4) is None
    assert gap_keys([0], 0, 1) == [SPACE // 2]
    spread = even_keys(64)
    assert all(0 < a < b < SPACE for a, b in zip(spread, spread[1:]))


def test_interpolation_search_agrees_with_bisect() -> None:
    from bisect import bisect_left

    rnd = random.Random(3)
    for _ in range(300):
        keys = sorted(rnd.sample(range(1, 10_000), rnd.randint(0, 70)))
        for key in keys + [rnd.randint(0, 10_001) for _ in range(5)]:
            assert interpolation_search(keys, key) == bisect_left(keys, key)


def test_a_scan_over_looping_links_stops_with_corrupt_database() -> None:
    # Damaged links (as a damaged store could hand over) send the leaf walk back to an
    # earlier leaf: a scan must stop, not run forever.
    from botree import Tree
    from botree.errors import CorruptDatabase

    t = Tree.from_parent_table([{"id": i, "parent": None} for i in range(40)], block_size=4)
    ix = t.order_index
    assert ix.height >= 1
    leaves = [b for b in range(len(ix.blocks)) if ix.blocks[b] is not None and ix.blocks[b].counts is None]
    first = min(leaves, key=lambda b: ix.rank((ix.blocks[b].items[0] >> 1, not ix.blocks[b].items[0] & 1)))
    last = max(leaves, key=lambda b: ix.rank((ix.blocks[b].items[0] >> 1, not ix.blocks[b].items[0] & 1)))
    transient = ix.links.transient()
    parent, _, delta = ix.links[last]
    transient[last] = (parent, ix.links[first][1], delta)  # the last leaf claims the first leaf's key
    damaged = OrderIndex.from_parts(
        ix.blocks, transient.persistent(), ix.nodes, ix.root, ix.height, ix.block_ids, ix.block_size
    )
    with pytest.raises(CorruptDatabase):
        for _ in Tree.from_order_index(damaged).preorder():
            pass
