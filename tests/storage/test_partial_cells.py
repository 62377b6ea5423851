"""Cold node-table leaves read slot by slot (``codec.PartialCell``, ``lazy._slot``).

A random read of a stored tree decodes only the rows it reads, until a leaf has been
read at more than ``PARTIAL_SLOTS`` slots (then it is decoded whole, sharing the rows
handed out).  Nothing of this may show: the same answers as a fresh whole decode, the
same objects for a slot read twice, damage reported as ``CorruptDatabase``, and a leaf
cap that counts such leaves.
"""

from __future__ import annotations

import os
import random
import tempfile
from typing import Any, List, Tuple

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botree import Database, Tree
from botree.errors import CorruptDatabase
from botree.nodetable import Row
from botree.storage import codec, lazy
from botree.storage.lazy import LazyLeaf, LoadedLeaf

ROW = st.none() | st.builds(
    lambda a, b, c, d, data, parent: Row(a, b, c, d, data, None, parent << 1),
    st.integers(0, 10**6), st.integers(0, 2**40), st.integers(0, 10**6), st.integers(0, 2**40),
    st.none() | st.integers() | st.text(max_size=8) | st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
    st.integers(-1, 10**6),
)


def _fields(row: Any) -> Any:
    return None if row is None else (row.open_leaf, row.open_key, row.close_leaf, row.close_key, row.data, row.parent)


@settings(max_examples=200, deadline=None)
@given(st.lists(ROW, min_size=1, max_size=64), st.lists(st.integers(-70, 70), max_size=12))
def test_a_partial_cell_reads_what_a_whole_decode_reads(rows: List[Any], reads: List[int]) -> None:
    payload = codec.encode_leaf("nodes", rows)
    whole = codec.decode_cell("nodes", payload, len(rows), "t")
    assert isinstance(whole, list)
    cell = codec.PartialCell("nodes", payload, len(rows), "t")
    handed = {}
    for i in reads:
        if -len(rows) <= i < len(rows):
            got = cell.get(i)
            assert _fields(got) == _fields(whole[i])
            k = i % len(rows)
            assert handed.setdefault(k, got) is got  # the same object every time
        else:
            with pytest.raises(IndexError):
                cell.get(i)
    assert cell.count == len(handed)
    everything = cell.all()
    assert [_fields(r) for r in everything] == [_fields(r) for r in whole]
    assert all(everything[k] is obj for k, obj in handed.items())


def test_damaged_cells_are_corrupt_database_whichever_slot_is_read() -> None:
    rows = [Row(1, 2, 3, 4, {"x": i}, None, 0) for i in range(8)]
    good = codec.encode_leaf("nodes", rows)
    with pytest.raises(CorruptDatabase):
        codec.PartialCell("nodes", good, 9, "t")  # the header says 8 slots
    bad_slot = msgpack.packb([[1, 2, 3, 4, None, 0]] * 3 + [["x", 2]] + [[1, 2, 3, 4, None, 0]] * 4)
    cell = codec.PartialCell("nodes", bad_slot, 8, "t")
    assert cell.get(0) is not None
    with pytest.raises(CorruptDatabase):
        cell.get(3)
    with pytest.raises(CorruptDatabase):
        cell.all()
    truncated = codec.PartialCell("nodes", good[:-5], 8, "t")
    with pytest.raises(CorruptDatabase):
        truncated.get(7)
    patch = codec.encode_patch("nodes", 3, rows, [1])
    with pytest.raises(CorruptDatabase):
        codec.PartialCell("nodes", patch, 8, "t").get(0)


def _stored(n: int, seed: int) -> Tuple[str, Tree, tempfile.TemporaryDirectory]:  # type: ignore[type-arg]
    rng = random.Random(seed)
    tree = Tree()
    with tree.transaction() as tx:
        nodes = [tx.insert_child(None, "root")]
        for i in range(1, n):
            nodes.append(tx.insert_child(rng.choice(nodes), {"i": i}))
    built = tx.tree
    assert built is not None
    directory = tempfile.TemporaryDirectory()
    path = os.path.join(directory.name, "t.db")
    with Database(path) as db:
        db.replace(built)
    return path, built, directory


def test_random_reads_of_a_stored_tree_decode_only_the_rows_read() -> None:
    path, tree, directory = _stored(3000, 1)
    with directory, Database(path) as db:
        stored = db.tree
        rows = stored.order_index.nodes.rows
        rng = random.Random(2)
        picks = rng.sample(range(3000), 40)
        for node in picks:
            assert stored.data(node) == tree.data(node) and stored.parent(node) == tree.parent(node)
        leaves = [rows.chunks[node >> 12][(node >> 6) & 63] for node in picks]
        partial = [leaf for leaf in leaves if type(leaf) is LazyLeaf and leaf._partial is not None]
        assert partial, "cold leaves read at a few rows stay partial"
        assert all(leaf._partial.count <= lazy.PARTIAL_SLOTS for leaf in partial)
        # Every other read decodes the leaf whole, sharing the rows already handed out.
        leaf = partial[0]
        handed = dict(leaf._partial.built)
        assert len(list(leaf)) == len(leaf) > 0
        assert type(leaf) is LoadedLeaf and leaf._partial is None
        assert all(list.__getitem__(leaf, k) is row for k, row in handed.items())
        assert stored.to_parent_table() == tree.to_parent_table()
        stored.check()


def test_a_capped_object_counts_partial_leaves_and_answers_the_same() -> None:
    path, tree, directory = _stored(6000, 3)
    with directory, Database(path, cache_leaves=5) as db:
        stored = db.tree
        rng = random.Random(4)
        for _ in range(400):
            node = rng.randrange(6000)
            assert stored.data(node) == tree.data(node)
            assert stored.level(node) == tree.level(node)
            assert db.leaf_stats["loaded"] <= 5
        with db.transaction() as tx:  # writes after partial reads and evictions store the right rows
            for _ in range(20):
                tx.insert_child(rng.randrange(6000), "new")
        with Database(path) as again:
            assert again.tree.to_parent_table() == db.tree.to_parent_table()
