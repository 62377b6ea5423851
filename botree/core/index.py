"""``OrderIndex``: the persistent BO-Tree order index, an immutable value, and its transient form.

Blocks live in a ``nodetable.ChunkedVector`` keyed by small integer block ids (a
freed id is reused), node rows in a ``nodetable.NodeTable``.  An update runs on a
``TransientIndex`` (``index.transient()``) that copies only the blocks and rows it
writes, then freezes with ``persistent()``: parents refer to children by id, so a
changed block replaces one slot and no path is copied unless counts along it change.
The value and its transient form live side by side, as in pyrsistent.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ..errors import InvalidArgument
from ..nodetable import ChunkedVector, IdAllocator, NodeTable
from ..nodetable.rows import NodeArg, Row
from .blocks import Block
from .check import check_index
from .primitives import Primitives, leaf_move_slots
from .reader import BoundArg, IndexReader

DEFAULT_BLOCK_SIZE = 64

# The token of a batch frozen by ``persistent_last``: no block is ever created with it.
RETIRED = object()
# The owner of the blocks the single updates (``OrderIndex.single_*``) make frozen: no batch holds it.
FROZEN = object()


def check_block_size(block_size: object) -> int:
    """Validate a block size: an even int >= 4."""
    if type(block_size) is not int or block_size < 4 or block_size % 2:
        raise InvalidArgument(f"block_size must be an even int >= 4, not {block_size!r}")
    return block_size


def check_fields(fields: Any) -> Tuple[str, ...]:
    """Validate indexed field names: an iterable of str, not a str itself; returns them as a tuple. O(fields)."""
    if isinstance(fields, (str, bytes)):
        raise InvalidArgument(f"fields is a sequence of field names, e.g. fields=('name',), not {fields!r}")
    try:
        names = tuple(fields)
    except TypeError:
        raise InvalidArgument(f"fields must be a sequence of str field names, not {type(fields).__name__}") from None
    for name in names:
        if type(name) is not str:
            raise InvalidArgument(f"indexed field names must be str, not {type(name).__name__} ({name!r})")
    if len(set(names)) != len(names):
        raise InvalidArgument(f"indexed field names must differ, got {names!r}")
    return names


def check_key_field(key: Any) -> Optional[str]:
    """Validate a key field name: None (no key) or a non-empty str; returns it. O(1)."""
    if key is not None and (type(key) is not str or not key):
        raise InvalidArgument(f"key must be a field name (a non-empty str) or None, not {key!r}")
    return key


class OrderIndex(IndexReader):
    """An immutable order index over a forest of nodes.

    Each node has an opening and a closing bound; bounds are ``(node, is_open)``
    pairs.  Updates return a new index (and a node id where one is created); this
    one never changes.  ``edit()`` gives a batch for many updates at once.
    """

    __slots__ = ("_blocks", "_links", "_nodes", "_root", "_height", "_alloc", "block_size")

    def __init__(self, block_size: Any = DEFAULT_BLOCK_SIZE, fields: Iterable[str] = (), key: Any = None) -> None:
        # block_size (an int) and key (a str or None) are checked below, not by their annotations (see NodeArg).
        self.block_size = check_block_size(block_size)
        root = Block([], [], [], None, None)
        self._blocks = ChunkedVector([root])
        self._links = ChunkedVector([(-1, 0, 0)])
        self._nodes = NodeTable(check_fields(fields), check_key_field(key))
        self._root = 0
        self._height = 0
        self._alloc = IdAllocator(1)

    @classmethod
    def from_parts(
        cls,
        blocks: ChunkedVector,
        links: ChunkedVector,
        nodes: NodeTable,
        root: int,
        height: int,
        alloc: IdAllocator,
        block_size: int,
    ) -> "OrderIndex":
        """An index over ready-made parts (bulk build, storage); ``check()`` verifies them. O(1)."""
        new = cls.__new__  # not cls.__new__(cls): mypyc fails on that spelling in a subclass
        idx = new(cls)
        idx._blocks = blocks
        idx._links = links
        idx._nodes = nodes
        idx._root = root
        idx._height = height
        idx._alloc = alloc
        idx.block_size = block_size
        return idx

    def transient(self, fresh_ids: bool = False) -> "TransientIndex":
        """The transient form: many updates in place, then ``persistent()``. O(1).

        ``fresh_ids=True``: node ids freed in the batch are never handed out again,
        and inserts take ids no earlier version used (a ``Database`` commits so).
        """
        return TransientIndex(self, self.block_size, fresh_ids)

    def configured(self, fields: Iterable[str], key: Any) -> "OrderIndex":
        """The same forest and node ids with other indexed ``fields`` and key field.

        O(n) to build a changed index (unchanged ones are shared); ``InvalidKey`` or
        ``DuplicateKey`` if the rows cannot be keyed so, and nothing changes.
        """
        nodes = self._nodes.configured(check_fields(fields), check_key_field(key))
        return OrderIndex.from_parts(
            self._blocks, self._links, nodes, self._root, self._height, self._alloc, self.block_size
        )

    def find(self, field: str, value: Any) -> frozenset[int]:
        """Ids of nodes whose indexed ``field`` equals ``value``. O(log n + result)."""
        return self._nodes.find(field, value)

    # -- persistent updates: one-operation batches ----------------------------

    def insert_pair(self, data: Any = None, before: BoundArg = None) -> Tuple["OrderIndex", int]:
        """A new index with a node inserted just before ``before`` (None: the end).

        Returns (index, node id). O(B · h).
        """
        batch = TransientIndex(self, self.block_size)
        node = batch.insert_pair(data, before)
        return batch.persistent(), node

    def delete_pair(self, node: NodeArg) -> "OrderIndex":
        """A new index without ``node``'s bounds (its descendants move up). O(B · h)."""
        batch = TransientIndex(self, self.block_size)
        batch.delete_pair(node)
        return batch.persistent()

    def relocate(self, first: BoundArg, last: BoundArg, before: BoundArg, d: Optional[int] = None) -> "OrderIndex":
        """A new index with first..last moved before ``before``; see ``Primitives.relocate``.

        O(B · h), independent of the range's size.
        """
        batch = TransientIndex(self, self.block_size)
        batch.relocate(first, last, before, d)
        return batch.persistent()

    def delete_range(self, first: BoundArg, last: BoundArg) -> "OrderIndex":
        """A new index without the run of sibling subtrees first..last. O(B log n) plus O(size)."""
        batch = TransientIndex(self, self.block_size)
        batch.delete_range(first, last)
        return batch.persistent()

    def set_data(self, node: NodeArg, data: Any) -> "OrderIndex":
        """A new index where ``node`` holds ``data``. O(1)."""
        batch = TransientIndex(self, self.block_size)
        batch.set_data(node, data)
        return batch.persistent()

    # -- single updates without a batch ----------------------------------------
    #
    # ``Tree``'s persistent updates in their commonest leaf-local form, made without a
    # ``TransientIndex``: the new blocks are made frozen (owner ``FROZEN``, which no batch
    # holds) and share every list they do not change with the blocks they replace (a batch
    # copies a frozen block whole before it writes one), the block and row vectors are
    # path-copied once (``ChunkedVector.written``), and the new index is assembled from the
    # parts.  Each returns None, having made nothing, when its update is not leaf-local or an
    # argument is not what the fast form handles: the caller then runs the general update on
    # a batch, which raises the right error.  The batch forms (``Primitives.delete_subtree``,
    # ``insert_last_child``, ``move_last_child``) stay for transactions.
    #
    # Only counts change above the leaves: these updates never change a leaf's minimum level.
    # A subtree taken out of a leaf that keeps entries leaves a bound next to it at its root's
    # level or one above (its parent's opening bound or a sibling's closing one before it, the
    # next sibling's opening bound or the parent's closing one after it); a subtree put in
    # just before its new parent's closing bound lies below that bound.  ``check()`` verifies
    # the minima after every step of the property tests (tests/tree/test_single_updates.py).

    def _path_counts(self, bid: int, count: int, ids: List[int], new: List[Block]) -> None:
        """Frozen copies of the blocks above ``bid`` up to the root, the entry leading to ``bid``'s
        path gaining ``count`` bounds; their ids and blocks go to ``ids``/``new``. O(h (B + log B))."""
        blocks: List[List[Any]] = self._blocks.chunks
        links: List[List[Any]] = self._links.chunks
        parent, pkey, _ = links[bid >> 12][(bid >> 6) & 63][bid & 63]
        while parent >= 0:
            pblk: Block = blocks[parent >> 12][(parent >> 6) & 63][parent & 63]
            keys = pblk.keys
            counts = pblk.counts[:]  # type: ignore[index]
            counts[bisect_left(keys, pkey)] += count
            ids.append(parent)
            new.append(Block(keys, pblk.items, pblk.aux, counts, FROZEN))
            parent, pkey, _ = links[parent >> 12][(parent >> 6) & 63][parent & 63]

    def _with_blocks(self, ids: List[int], new: List[Block], nodes: NodeTable) -> "OrderIndex":
        """This index with blocks ``ids`` replaced by ``new`` and the node table ``nodes``. O(n / 4096 + 64 k)."""
        return OrderIndex.from_parts(
            self._blocks.written(ids, new), self._links, nodes, self._root, self._height, self._alloc, self.block_size
        )

    def _moved_rows(
        self, moved: List[int], mkeys: List[int], dst: int, node: int, parent: int, ids: List[int], rows: List[Row]
    ) -> None:
        """The new rows of the nodes of a moved subtree (its leaf items ``moved``, their new keys
        ``mkeys`` in leaf ``dst``): back-links into dst, and ``node``'s parent ``parent``. O(k)."""
        chunks: List[List[Any]] = self._nodes.rows.chunks
        opened: Dict[int, int] = {}
        for j in range(len(moved)):
            item = moved[j]
            n = item >> 1
            if not item & 1:
                opened[n] = mkeys[j]  # each node opens before it closes
                continue
            old: Row = chunks[n >> 12][(n >> 6) & 63][n & 63]
            ids.append(n)
            rows.append(Row(dst, opened[n], dst, mkeys[j], old.data, None, parent << 1 if n == node else old.parent))

    def _climb_counts(self, changes: Dict[int, int], made: Dict[int, Block]) -> None:
        """Counts above the leaves of ``changes`` (leaf id -> bounds it gained): in each ancestor the
        entry leading to a changed subtree gains what that subtree gained, climbing while some subtree's
        total changed (a move's paths stop where they meet).  Ancestors are copied once, into ``made``
        (id -> this update's frozen block: one made earlier is changed in place).  O(h (B + log B)) a path."""
        blocks: List[List[Any]] = self._blocks.chunks
        links: List[List[Any]] = self._links.chunks
        while changes:
            up: Dict[int, int] = {}
            for bid, d in changes.items():
                parent, pkey, _ = links[bid >> 12][(bid >> 6) & 63][bid & 63]
                if parent < 0:
                    return  # the root: all the changed blocks are at one level
                pblk = made.get(parent)
                if pblk is None:
                    old: Block = blocks[parent >> 12][(parent >> 6) & 63][parent & 63]
                    pblk = made[parent] = Block(old.keys, old.items, old.aux, old.counts[:], FROZEN)  # type: ignore[index]
                pblk.counts[bisect_left(pblk.keys, pkey)] += d  # type: ignore[index]
                up[parent] = up.get(parent, 0) + d
            changes = {bid: d for bid, d in up.items() if d}

    def _with_made(self, made: Dict[int, Block], nodes: NodeTable) -> "OrderIndex":
        """``_with_blocks`` of the blocks in ``made`` (id -> block)."""
        return self._with_blocks(list(made.keys()), list(made.values()), nodes)

    def _delete_across(self, row: Row) -> Optional["OrderIndex"]:
        """``single_delete`` of a subtree whose bounds straddle two neighbouring leaves that both keep at
        least B/2 entries (the tail of one, the head of the next go), or None. O(B + h log B + size)."""
        a = row.open_leaf
        b = row.close_leaf
        blocks: List[List[Any]] = self._blocks.chunks
        ablk: Block = blocks[a >> 12][(a >> 6) & 63][a & 63]
        bblk: Block = blocks[b >> 12][(b >> 6) & 63][b & 63]
        half = self.block_size >> 1
        lo = bisect_left(ablk.keys, row.open_key)
        hi = bisect_left(bblk.keys, row.close_key) + 1
        if lo < half or len(bblk.keys) - hi < half or self._next_leaf(a) != b:
            return None  # a leaf underflows, or the subtree spans more leaves
        gone = [item >> 1 for item in ablk.items[lo:] if not item & 1]
        gone += [item >> 1 for item in bblk.items[:hi] if not item & 1]
        nodes = self._nodes.without(gone)
        made = {
            a: Block(ablk.keys[:lo], ablk.items[:lo], ablk.aux[:lo], None, FROZEN),
            b: Block(bblk.keys[hi:], bblk.items[hi:], bblk.aux[hi:], None, FROZEN),
        }
        self._climb_counts({a: lo - len(ablk.items), b: -hi}, made)
        return self._with_made(made, nodes)

    def _move_across(self, node: int, parent: int, rn: Row, rp: Row) -> Optional["OrderIndex"]:
        """``single_move_last_child`` of a subtree whose bounds straddle two neighbouring leaves a, b
        (both keep at least B/2 entries) to a third leaf with room, or None. O(B + h log B)."""
        a = rn.open_leaf
        b = rn.close_leaf
        dst = rp.close_leaf
        if dst == a or dst == b:
            return None
        blocks: List[List[Any]] = self._blocks.chunks
        ablk: Block = blocks[a >> 12][(a >> 6) & 63][a & 63]
        bblk: Block = blocks[b >> 12][(b >> 6) & 63][b & 63]
        dblk: Block = blocks[dst >> 12][(dst >> 6) & 63][dst & 63]
        half = self.block_size >> 1
        lo = bisect_left(ablk.keys, rn.open_key)
        hi = bisect_left(bblk.keys, rn.close_key) + 1
        ka = len(ablk.items) - lo
        k = ka + hi
        dkeys = dblk.keys
        at = bisect_left(dkeys, rp.close_key)
        left = dkeys[at - 1] if at else 0
        span = dkeys[at] - left
        if lo < half or len(bblk.keys) - hi < half or len(dkeys) + k > self.block_size or span <= k:
            return None
        if self._next_leaf(a) != b:
            return None  # the subtree spans more leaves (k counted only its bounds in a and b)
        # The subtree's bounds all sit in a and b, so the parent (closing in dst) is not inside it.
        # Levels: each piece shifts by the parent's level + 1 minus the node's, read in its own leaf's
        # frame (the node opens in a and closes in b, at one level).
        daux = dblk.aux
        aaux = ablk.aux
        baux = bblk.aux
        shift_a = daux[at] + 1 - aaux[lo]
        shift_b = daux[at] + 1 - baux[hi - 1]
        moved = ablk.items[lo:] + bblk.items[:hi]
        parts = k + 1
        mkeys = [left + span * j // parts for j in range(1, parts)]
        ids: List[int] = []
        new_rows: List[Row] = []
        self._moved_rows(moved, mkeys, dst, node, parent, ids, new_rows)
        nodes = self._nodes.with_rows(ids, new_rows)
        items = dblk.items[:]
        aux = daux[:]
        keys = dkeys[:]
        items[at:at] = moved
        aux[at:at] = [x + shift_a for x in aaux[lo:]] + [x + shift_b for x in baux[:hi]]
        keys[at:at] = mkeys
        made = {
            a: Block(ablk.keys[:lo], ablk.items[:lo], aaux[:lo], None, FROZEN),
            b: Block(bblk.keys[hi:], bblk.items[hi:], baux[hi:], None, FROZEN),
            dst: Block(keys, items, aux, None, FROZEN),
        }
        self._climb_counts({a: -ka, b: -hi, dst: k}, made)
        return self._with_made(made, nodes)

    def _live_row(self, node: NodeArg) -> Optional[Row]:
        """The row of ``node`` if it is the int id of a live node, else None (a single form then declines and
        the batch form raises the right error). O(1)."""
        if type(node) is not int:
            return None
        vector = self._nodes.rows
        if not 0 <= node < vector.length:
            return None
        row: Optional[Row] = vector.chunks[node >> 12][(node >> 6) & 63][node & 63]
        return row

    def single_delete(self, node: NodeArg) -> Optional["OrderIndex"]:
        """``delete_range((node, True), (node, False))`` when ``node``'s subtree sits in one leaf, or straddles
        two neighbouring ones, that keep at least B/2 entries: the new index, or None (nothing made; the
        caller runs the batch form). O(B + h log B + size)."""
        row = self._live_row(node)
        if row is None:
            return None
        leaf = row.open_leaf
        if row.close_leaf != leaf:
            return self._delete_across(row)
        blk: Block = self._blocks.chunks[leaf >> 12][(leaf >> 6) & 63][leaf & 63]
        keys = blk.keys
        lo = bisect_left(keys, row.open_key)
        hi = bisect_left(keys, row.close_key, lo) + 1
        if len(keys) - (hi - lo) < self.block_size >> 1 and leaf != self._root:
            return None  # the leaf underflows: the batch form settles it
        items = blk.items
        if hi - lo == 2:
            nodes = self._nodes.without([node])
        else:
            nodes = self._nodes.without([item >> 1 for item in items[lo:hi] if not item & 1])
        items = items[:]
        aux = blk.aux[:]
        keys = keys[:]
        del items[lo:hi], aux[lo:hi], keys[lo:hi]
        ids = [leaf]
        new = [Block(keys, items, aux, None, FROZEN)]
        self._path_counts(leaf, lo - hi, ids, new)
        return self._with_blocks(ids, new, nodes)

    def single_insert_last_child(self, parent: NodeArg, data: Any) -> Optional[Tuple["OrderIndex", int]]:
        """``insert_pair(data, (parent, False))`` when two keys fit before ``parent``'s closing bound and
        its leaf has room: (the new index, the new node), or None (nothing made). O(B + h log B)."""
        row = self._live_row(parent)
        if row is None:
            return None
        leaf = row.close_leaf
        blk: Block = self._blocks.chunks[leaf >> 12][(leaf >> 6) & 63][leaf & 63]
        keys = blk.keys
        pos = bisect_left(keys, row.close_key)
        left = keys[pos - 1] if pos else 0
        right = keys[pos]
        if len(keys) + 2 > self.block_size or right - left < 3:
            return None
        third = (right - left) // 3
        k1 = left + third
        k2 = k1 + third
        nodes, node = self._nodes.with_row(data, (leaf, k1, leaf, k2), parent << 1)  # may raise: nothing made
        aux = blk.aux[:]
        rel = aux[pos] + 1  # one deeper than the parent, whose closing bound is at pos
        items = blk.items[:]
        keys = keys[:]
        items[pos:pos] = [node << 1, node << 1 | 1]
        aux[pos:pos] = [rel, rel]
        keys[pos:pos] = [k1, k2]
        ids = [leaf]
        new = [Block(keys, items, aux, None, FROZEN)]
        self._path_counts(leaf, 2, ids, new)
        return self._with_blocks(ids, new, nodes), node

    def single_move_last_child(self, node: NodeArg, parent: NodeArg) -> Optional["OrderIndex"]:
        """``Primitives.move_last_child`` without a batch (also for a subtree straddling two neighbouring
        leaves): the new index, or None when the move is not leaf-local (nothing made). O(B + h log B)."""
        if node == parent:
            return None
        rn = self._live_row(node)
        rp = self._live_row(parent)
        if rn is None or rp is None:
            return None
        src = rn.open_leaf
        dst = rp.close_leaf
        # The subtree's bounds all sit in src, so a parent whose closing bound is in another leaf
        # is not inside it: no ``inside`` check is needed.
        if rn.close_leaf != src:
            return self._move_across(node, parent, rn, rp)
        if dst == src:
            return None
        blocks: List[List[Any]] = self._blocks.chunks
        sblk: Block = blocks[src >> 12][(src >> 6) & 63][src & 63]
        dblk: Block = blocks[dst >> 12][(dst >> 6) & 63][dst & 63]
        slots = leaf_move_slots(sblk, dblk, rn, rp, self.block_size)
        if slots is None:
            return None
        lo, hi, at, left, span = slots
        k = hi - lo
        skeys = sblk.keys
        dkeys = dblk.keys
        saux = sblk.aux
        daux = dblk.aux
        shift = daux[at] + 1 - saux[lo]  # new level - old level, in the two leaves' frames
        moved = sblk.items[lo:hi]
        # The moved nodes' rows: new back-links into dst, and node's new parent.
        if k == 2:
            step = span // 3
            k1 = left + step
            k2 = k1 + step
            mkeys = [k1, k2]
            ids = [node]
            new_rows = [Row(dst, k1, dst, k2, rn.data, None, parent << 1)]
        else:
            parts = k + 1
            mkeys = [left + span * j // parts for j in range(1, parts)]
            ids = []
            new_rows = []
            self._moved_rows(moved, mkeys, dst, node, parent, ids, new_rows)
        nodes = self._nodes.with_rows(ids, new_rows)
        items = sblk.items[:]
        aux = saux[:]
        keys = skeys[:]
        del items[lo:hi], aux[lo:hi], keys[lo:hi]
        bids = [src, dst]
        new = [Block(keys, items, aux, None, FROZEN)]
        items = dblk.items[:]
        aux = daux[:]
        keys = dkeys[:]
        items[at:at] = moved
        aux[at:at] = [a + shift for a in saux[lo:hi]] if shift else saux[lo:hi]
        keys[at:at] = mkeys
        new.append(Block(keys, items, aux, None, FROZEN))
        # Counts: both paths up to the block where they meet; above it nothing changes.
        links: List[List[Any]] = self._links.chunks
        a, b = src, dst
        while True:
            pa, ka, _ = links[a >> 12][(a >> 6) & 63][a & 63]
            pb, kb, _ = links[b >> 12][(b >> 6) & 63][b & 63]
            pblk: Block = blocks[pa >> 12][(pa >> 6) & 63][pa & 63]
            keys = pblk.keys
            counts = pblk.counts[:]  # type: ignore[index]
            counts[bisect_left(keys, ka)] -= k
            if pa == pb:
                counts[bisect_left(keys, kb)] += k
                bids.append(pa)
                new.append(Block(keys, pblk.items, pblk.aux, counts, FROZEN))
                return self._with_blocks(bids, new, nodes)
            bids.append(pa)
            new.append(Block(keys, pblk.items, pblk.aux, counts, FROZEN))
            pblk = blocks[pb >> 12][(pb >> 6) & 63][pb & 63]
            keys = pblk.keys
            counts = pblk.counts[:]  # type: ignore[index]
            counts[bisect_left(keys, kb)] += k
            bids.append(pb)
            new.append(Block(keys, pblk.items, pblk.aux, counts, FROZEN))
            a, b = pa, pb

    def check(self) -> None:
        """Verify every structural invariant; raises ``InvariantError``. O(n)."""
        check_index(self, self.block_size)

    def __repr__(self) -> str:
        return f"OrderIndex(nodes={len(self)}, height={self._height}, block_size={self.block_size})"


class TransientIndex(Primitives):
    """The transient form of an ``OrderIndex``: updates in place, frozen by ``persistent()``.

    Blocks and rows it created or copied change in place; others are copied on first
    write.  ``blocks_written`` and ``links_written`` count the work (tests use them).
    """

    __slots__ = ()

    def persistent(self) -> OrderIndex:
        """Freeze the changes into a new ``OrderIndex``. O(changes).

        The transient index may be used further; it copies blocks again before writing.
        """
        idx = OrderIndex.from_parts(
            self._blocks.persistent(),
            self._links.persistent() if self._links_owned else self._links,
            self._nodes.persistent(),
            self._root,
            self._height,
            self._alloc,
            self._B,
        )
        self._alloc_owned = False  # the frozen index holds it now: copy before the next change
        self._token = object()
        self._ctoken = object()
        return idx

    def persistent_last(self) -> OrderIndex:
        """``persistent()`` for a batch dropped right after (a one-update batch: ``Tree``'s updates).

        The same index, without preparing this batch to go on (no new token, no fresh
        ownership sets): the batch reads the frozen index afterwards, and any write to it
        fails (its tables are the frozen, immutable ones).  O(changes).
        """
        blocks = self._blocks
        links = self._links
        idx = OrderIndex.from_parts(
            ChunkedVector.from_parts(blocks.chunks, blocks.length),
            ChunkedVector.from_parts(links.chunks, links.length) if self._links_owned else links,
            self._nodes.persistent_last(),
            self._root,
            self._height,
            self._alloc,
            self._B,
        )
        self._blocks = idx._blocks
        self._links = idx._links
        self._nodes = idx._nodes
        self._alloc_owned = False
        self._links_owned = False  # the next link write would make the frozen table transient again
        self._token = RETIRED  # owns nothing: a block of the frozen index is never changed in place
        self._ctoken = RETIRED
        return idx
