"""Block maintenance for a transient order index: in-place edits on owned blocks.

Structure maintenance lives here: writing blocks copy-on-write, moving items between
blocks (with gap keys, back-links and level deltas kept right), and ``_settle``,
which after every primitive splits overfull blocks, merges or refills underfull
ones, refreshes the per-child counts and minimum levels up to the root, and grows
or shrinks the root.  The primitives themselves (insert pair, delete pair,
relocate) are in ``core.primitives``; freezing is ``core.index.TransientIndex``.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Dict, List, Optional, Set

from ..nodetable import IdAllocator, OwnedRow, TransientVector
from .blocks import EMPTY_MIN, Block
from .gapkeys import SPACE, even_keys, gap_keys
from .reader import IndexReader


class Maintenance(IndexReader):
    """Mutable working state of one transient order index: block writes and repairs.

    Blocks this batch created or copied (``owner is self._token``) change in place;
    others are copied on first write.  ``blocks_written`` counts those copies and
    creations, ``links_written`` the parent-link and delta updates: the work-counting
    measures tests use for complexity.
    """

    __slots__ = (
        "_blocks",
        "_links",
        "_links_owned",
        "_nodes",
        "_root",
        "_height",
        "_alloc",
        "_alloc_owned",
        "_token",
        "_ctoken",
        "_B",
        "_min",
        "_dirty",
        "_pending_free",
        "blocks_written",
        "links_written",
    )

    def __init__(self, base: IndexReader, block_size: int, fresh_ids: bool = False) -> None:
        self._blocks = base._blocks.transient()
        # The link table is made transient on its first write (``_links_w``): most small updates
        # write none, and a one-update batch then neither creates nor freezes a transient vector.
        self._links = base._links
        self._links_owned = False
        self._nodes = base._nodes.transient(fresh_ids)
        self._root = base._root
        self._height = base._height
        # Copy-on-write: the base's block allocator is shared until a block is created or freed.
        self._alloc: IdAllocator = base._alloc
        self._alloc_owned = False
        self._token = object()
        self._ctoken = object()  # see ``_wc``
        self._B = block_size
        self._min = block_size // 2
        self._dirty: Dict[int, Set[int]] = {}
        self._pending_free: List[int] = []
        self.blocks_written = 0
        self.links_written = 0

    # -- block table ----------------------------------------------------------

    def _w(self, bid: int) -> Block:
        """Block ``bid``, owned by this batch (copied on first write). O(B) first time."""
        blk: Block = self._blocks.chunks[bid >> 12][(bid >> 6) & 63][bid & 63]
        if blk.owner is not self._token:
            if blk.owner is self._ctoken:
                # Copied by ``_wc`` in this batch: its aux and counts are its own, keys and items are not yet.
                blk.keys = blk.keys[:]
                blk.items = blk.items[:]
                blk.owner = self._token
                return blk
            counts = blk.counts  # Block.copy inlined: every persistent update copies a path of blocks
            blk = Block(blk.keys[:], blk.items[:], blk.aux[:], None if counts is None else counts[:], self._token)
            self._blocks[bid] = blk
            self.blocks_written += 1
        return blk

    def _wc(self, bid: int) -> Block:
        """Inner block ``bid`` with its ``counts`` and ``aux`` owned by this batch, to change those only.

        Counting and minimum-level updates along a path (every insert, delete and move)
        change nothing else in the blocks above a leaf: the copy shares the frozen block's
        ``keys`` and ``items`` lists (two list copies instead of four) and is marked with
        the batch's second token, so a later ``_w`` of the same block copies those two
        before any change.  O(B) the first time.
        """
        blk: Block = self._blocks.chunks[bid >> 12][(bid >> 6) & 63][bid & 63]
        owner = blk.owner
        if owner is not self._token and owner is not self._ctoken:
            blk = Block(blk.keys, blk.items, blk.aux[:], blk.counts[:], self._ctoken)  # type: ignore[index]
            self._blocks[bid] = blk
            self.blocks_written += 1
        return blk

    def _new_block(self, leaf: bool, parent: int, delta: int) -> int:
        """Create an empty block (its link names ``parent``, which does not list it yet). O(1)."""
        blk = Block([], [], [], None if leaf else [], self._token)
        if not self._alloc_owned:
            self._alloc = self._alloc.copy()
            self._alloc_owned = True
        bid = self._alloc.allocate()
        blocks = self._blocks
        links = self._links_w()
        if bid == len(blocks):
            blocks.append(blk)
            links.append((parent, 0, delta))
        else:
            blocks[bid] = blk
            links[bid] = (parent, 0, delta)
        self.blocks_written += 1
        return bid

    def _free_block(self, bid: int) -> None:
        """Drop a block; its id is reused only after the current primitive ends."""
        self._blocks[bid] = None
        self._links_w()[bid] = None
        self._pending_free.append(bid)

    def _links_w(self) -> TransientVector:
        """The link table, made transient (writable) by this batch on first use. O(1)."""
        if not self._links_owned:
            self._links = self._links.transient()
            self._links_owned = True
        links: TransientVector = self._links
        return links

    def _set_link(self, bid: int, parent: int, pkey: int, delta: int) -> None:
        """Record block ``bid``'s parent, key in the parent and level delta. O(1)."""
        self._links_w()[bid] = (parent, pkey, delta)
        self.links_written += 1

    def _shift(self, bid: int, diff: int) -> None:
        """Add ``diff`` to block ``bid``'s level delta. O(1)."""
        parent, pkey, delta = self._link(bid)
        self._set_link(bid, parent, pkey, delta + diff)

    def _mark(self, bid: int, level: int) -> None:
        """Remember that block ``bid`` at ``level`` changed and must be settled."""
        dirty = self._dirty.get(level)
        if dirty is None:
            self._dirty[level] = {bid}
        else:
            dirty.add(bid)

    # -- links ------------------------------------------------------------------

    def _relink(self, bid: int, blk: Block, lo: int, hi: int) -> None:
        """Point the back-links (leaf) or parent links (inner) of items lo..hi-1 at ``blk``.

        The loops write a row or link through the transient vector (``vector[i] = ...``)
        only for the first slot of each vector leaf they touch: by ``TransientVector``'s
        contract that write makes the leaf the transient's own, so the next slots of the
        same leaf (items of one block mostly have neighbouring ids) are set in the leaf
        list directly, with no call.
        """
        keys = blk.keys
        items = blk.items
        if blk.counts is None:
            nodes = self._nodes
            vector = nodes.rows
            token = nodes.owner_token
            owned = -1  # a vector leaf this loop wrote through ``vector[...] =``: owned, written in place
            for j in range(lo, hi):
                item = items[j]
                node = item >> 1
                # ``nodes.writable(node)`` inlined (splits and merges relink up to B rows).
                slots = vector.chunks[node >> 12][(node >> 6) & 63]
                row = slots[node & 63]
                if row is None:
                    row = nodes.writable(node)  # raises UnknownNode
                elif row.owner is not token:
                    row = OwnedRow(
                        row.open_leaf, row.open_key, row.close_leaf, row.close_key, row.data, token, row.parent
                    )
                    if node >> 6 == owned:
                        slots[node & 63] = row
                    else:
                        vector[node] = row
                        owned = node >> 6
                if item & 1:
                    row.close_leaf = bid
                    row.close_key = keys[j]
                else:
                    row.open_leaf = bid
                    row.open_key = keys[j]
        else:
            # ``_set_link(child, bid, key, delta)`` inlined: splits and merges relink up to B children.
            links = self._links_w()
            owned = -1  # as for rows above: after one write through the vector, its leaf is owned
            for j in range(lo, hi):
                child = items[j]
                slots = links.chunks[child >> 12][(child >> 6) & 63]
                if child >> 6 == owned:
                    slots[child & 63] = (bid, keys[j], slots[child & 63][2])
                else:
                    links[child] = (bid, keys[j], slots[child & 63][2])
                    owned = child >> 6
            self.links_written += hi - lo

    def _label(self, bid: int, blk: Block, lo: int, hi: int) -> None:
        """Give items lo..hi-1 keys inside their gap, relabelling the block if full."""
        keys = gap_keys(blk.keys, lo, hi)
        if keys is None:
            blk.keys = even_keys(len(blk.items))
            self._relink(bid, blk, 0, len(blk.items))
        else:
            blk.keys[lo:hi] = keys
            self._relink(bid, blk, lo, hi)

    def _insert_items(
        self,
        bid: int,
        at: int,
        items: List[int],
        aux: List[int],
        counts: Optional[List[int]],
        level: int,
        keys: Optional[List[int]] = None,
    ) -> None:
        """Insert items (with their aux and counts) into block ``bid`` at ``at``.

        Given ``keys`` are kept when they fit the gap (saves relinking work only
        in the common split case); otherwise fresh gap keys are assigned.
        """
        blk = self._w(bid)
        k = len(items)
        blk.items[at:at] = items
        blk.aux[at:at] = aux
        if counts is not None:
            blk.counts[at:at] = counts  # type: ignore[index]
        bkeys = blk.keys
        if keys is not None:
            left = bkeys[at - 1] if at else 0
            right = bkeys[at] if at < len(bkeys) else SPACE
            if k and keys[0] > left and keys[-1] < right:
                bkeys[at:at] = keys
                self._relink(bid, blk, at, at + k)
                self._mark(bid, level)
                return
        bkeys[at:at] = [0] * k
        self._label(bid, blk, at, at + k)
        self._mark(bid, level)

    def _move_items(self, src: int, lo: int, hi: int, dst: int, at: int, level: int) -> None:
        """Move items lo..hi-1 of block ``src`` into block ``dst`` at position ``at``.

        Levels are preserved: aux values (and, for inner blocks, the moved children's
        deltas) are shifted by S(src) - S(dst). O(B): moved children only get new
        link tuples, never copies.
        """
        s = self._w(src)
        items = s.items[lo:hi]
        aux = s.aux[lo:hi]
        keys = s.keys[lo:hi]
        counts = s.counts[lo:hi] if s.counts is not None else None
        del s.items[lo:hi], s.aux[lo:hi], s.keys[lo:hi]
        if counts is not None:
            del s.counts[lo:hi]  # type: ignore[union-attr]
        self._mark(src, level)
        # S(src) - S(dst): both blocks are at one level, so climb in lockstep until the paths meet.
        links = self._links.chunks
        diff = 0
        a, b = src, dst
        while a != b:
            a, _, da = links[a >> 12][(a >> 6) & 63][a & 63]
            b, _, db = links[b >> 12][(b >> 6) & 63][b & 63]
            diff += da - db
        if diff:
            aux = [a + diff for a in aux]
            if counts is not None:
                self._shift_deltas(items, diff)
        self._insert_items(dst, at, items, aux, counts, level, keys)

    def _split_off(self, bid: int, pos: int, level: int) -> int:
        """Split block ``bid`` before ``pos``; returns the id of the block starting at ``pos``.

        The smaller side moves to a new sibling, so at most B/2 items are relinked.
        The parent gains a child and may overflow; ``_settle`` fixes that. O(B).
        """
        blk = self._blocks.chunks[bid >> 12][(bid >> 6) & 63][bid & 63]
        n = len(blk.items)
        parent, pkey, delta = self._link(bid)
        new = self._new_block(blk.counts is None, parent, delta)
        i = bisect_left(self._blocks.chunks[parent >> 12][(parent >> 6) & 63][parent & 63].keys, pkey)
        if 2 * pos < n:
            self._insert_items(parent, i, [new], [0], [0], level + 1)
            self._move_items(bid, 0, pos, new, 0, level)
            return bid
        self._insert_items(parent, i + 1, [new], [0], [0], level + 1)
        self._move_items(bid, pos, n, new, 0, level)
        return new

    def _grow(self) -> None:
        """Put a new root above the current one (height + 1). O(1)."""
        old = self._root
        new = self._new_block(False, -1, 0)
        self._root = new
        self._height += 1
        blk = self._blocks.chunks[old >> 12][(old >> 6) & 63][old & 63]
        low = self._link(old)[2] + blk.min_aux()
        self._insert_items(new, 0, [old], [low], [blk.entry_count()], self._height)
        self._mark(old, self._height - 1)

    def _remove_child(self, child: int, level: int) -> None:
        """Unlink block ``child`` from its parent (at ``level``) and free it; empty parents go too."""
        while True:
            parent, pkey, _ = self._link(child)
            self._free_block(child)
            pblk = self._w(parent)
            i = bisect_left(pblk.keys, pkey)
            del pblk.items[i], pblk.keys[i], pblk.aux[i], pblk.counts[i]  # type: ignore[index]
            self._mark(parent, level)
            if pblk.items or parent == self._root:
                return
            child = parent
            level += 1

    def _shift_levels(self, first: tuple[int, bool], last: tuple[int, bool], d: int) -> None:
        """Add ``d`` to the level of every bound from ``first`` to ``last`` (inclusive), in place.

        No cuts: the two end leaves get ``d`` added to the entries in range, and climbing
        both paths in lockstep up to the block where they meet, every child block wholly
        between them gets ``d`` added to its level delta (a link write, no block copy) and
        to its minimum in the parent.  Every block changed is marked for ``_settle``, which
        refreshes the minimum levels above.  O(B · h) link writes at most, whatever the
        number of bounds in the range.
        """
        b1, lo = self._locate(first)
        b2, hi = self._locate(last)
        blk = self._w(b1)
        if b1 == b2:
            blk.aux[lo : hi + 1] = [a + d for a in blk.aux[lo : hi + 1]]
            self._mark(b1, 0)
            return
        blk.aux[lo:] = [a + d for a in blk.aux[lo:]]
        self._mark(b1, 0)
        blk = self._w(b2)
        blk.aux[: hi + 1] = [a + d for a in blk.aux[: hi + 1]]
        self._mark(b2, 0)
        level = 0
        while True:
            p1, k1, _ = self._link(b1)
            p2, k2, _ = self._link(b2)
            level += 1
            pblk = self._w(p1)
            i = bisect_left(pblk.keys, k1) + 1
            if p1 == p2:
                self._shift_children(pblk, i, bisect_left(pblk.keys, k2), d)
                self._mark(p1, level)
                return
            self._shift_children(pblk, i, len(pblk.items), d)
            self._mark(p1, level)
            pblk = self._w(p2)
            self._shift_children(pblk, 0, bisect_left(pblk.keys, k2), d)
            self._mark(p2, level)
            b1, b2 = p1, p2

    def _shift_children(self, blk: Block, lo: int, hi: int, d: int) -> None:
        """Shift the levels of the subtrees of inner block ``blk``'s children lo..hi-1 by ``d``."""
        self._shift_deltas(blk.items[lo:hi], d)
        aux = blk.aux
        aux[lo:hi] = [a + d for a in aux[lo:hi]]

    def _shift_deltas(self, children: List[int], d: int) -> None:
        """Add ``d`` to the level delta of each block of ``children``: ``_shift`` for many (a wrap, unwrap
        or merge shifts up to B children per level), writing owned vector leaves directly (see ``_relink``)."""
        links = self._links_w()
        owned = -1
        for child in children:
            slots = links.chunks[child >> 12][(child >> 6) & 63]
            parent, pkey, delta = slots[child & 63]
            if child >> 6 == owned:
                slots[child & 63] = (parent, pkey, delta + d)
            else:
                links[child] = (parent, pkey, delta + d)
                owned = child >> 6
        self.links_written += len(children)

    def _adjust(self, bid: int, count: int) -> None:
        """Propagate a change inside block ``bid`` whose size stays within B/2..B (no settle pass).

        Every entry on the path to the root gains ``count`` bounds; minimum levels are
        recomputed from the block upwards until one equals what its parent holds (above
        it nothing changes).  The leaf-local updates use it instead of ``_settle``: no
        dirty sets, no rebalancing.  O(h log B + B) per level whose minimum changes.
        """
        token = self._token
        ctoken = self._ctoken
        links = self._links.chunks
        blk = self._blocks.chunks[bid >> 12][(bid >> 6) & 63][bid & 63]
        parent, pkey, delta = links[bid >> 12][(bid >> 6) & 63][bid & 63]
        fix = True
        while parent >= 0:
            pblk = self._blocks.chunks[parent >> 12][(parent >> 6) & 63][parent & 63]
            i = bisect_left(pblk.keys, pkey)
            if fix:
                aux = blk.aux
                low = delta + (min(aux) if aux else EMPTY_MIN)
                if pblk.aux[i] == low:
                    if not count:
                        return
                    fix = False
            if pblk.owner is not token and pblk.owner is not ctoken:
                pblk = self._wc(parent)
            pblk.counts[i] += count
            if fix:
                pblk.aux[i] = low
            blk = pblk
            parent, pkey, delta = links[parent >> 12][(parent >> 6) & 63][parent & 63]

    # -- settling -------------------------------------------------------------

    def _neighbour(self, bid: int) -> tuple[int, bool]:
        """An adjacent block at the same level: (id, is_left), or (-1, False) if none."""
        left = self._adjacent(bid, -1)
        if left is not None:
            return left, True
        right = self._adjacent(bid, 1)
        return (-1, False) if right is None else (right, False)

    def _rebalance(self, bid: int, level: int, todo: Set[int]) -> None:
        """Bring underfull block ``bid`` to at least B/2 items using a neighbour."""
        other, left = self._neighbour(bid)
        if other < 0:
            return  # only block at its level: the root will shrink down to it
        n = len(self._block(bid).items)
        m = len(self._block(other).items)
        lbid, rbid = (other, bid) if left else (bid, other)
        if n + m <= self._B:
            # Merge: the smaller block's items move (each moved item is relinked).
            nl = m if left else n
            nr = n + m - nl
            if nr <= nl:
                self._move_items(rbid, 0, nr, lbid, nl, level)
                self._remove_child(rbid, level + 1)
                todo.add(lbid)
            else:
                self._move_items(lbid, 0, nl, rbid, 0, level)
                self._remove_child(lbid, level + 1)
                todo.add(rbid)
        else:
            k = (m - n) // 2
            if left:
                self._move_items(other, m - k, m, bid, 0, level)
            else:
                self._move_items(other, 0, k, bid, n, level)
            todo.add(other)

    def _refresh(self, bid: int, blk: Block, level: int) -> None:
        """Write ``blk``'s entry count and minimum level into its parent's arrays."""
        parent, pkey, delta = self._links.chunks[bid >> 12][(bid >> 6) & 63][bid & 63]
        if parent < 0:
            return
        counts = blk.counts  # Block.entry_count and min_aux, inlined (hot)
        count = len(blk.items) if counts is None else sum(counts)
        aux = blk.aux
        low = delta + (min(aux) if aux else EMPTY_MIN)
        pblk = self._blocks.chunks[parent >> 12][(parent >> 6) & 63][parent & 63]
        i = bisect_left(pblk.keys, pkey)
        if pblk.counts[i] != count or pblk.aux[i] != low:
            pblk = self._wc(parent)
            pblk.counts[i] = count  # type: ignore[index]
            pblk.aux[i] = low
            self._mark(parent, level + 1)

    def _settle(self) -> None:
        """Restore occupancy, aggregates and root shape after a primitive.

        Levels are processed bottom-up, so every change a level causes above it is
        seen later in the same pass.  Cost O(B) per changed block.
        """
        dirty = self._dirty
        B = self._B
        low = self._min
        level = 0
        while level <= self._height:
            todo = dirty.pop(level, None)
            while todo:
                bid = todo.pop()
                blk = self._blocks.chunks[bid >> 12][(bid >> 6) & 63][bid & 63]
                if blk is None:
                    continue
                n = len(blk.items)
                if n > B:
                    if bid == self._root:
                        self._grow()
                    right = self._split_off(bid, n // 2, level)
                    todo.add(bid)
                    todo.add(right)
                    todo |= dirty.pop(level, set())
                    continue
                if n < low and bid != self._root:
                    self._rebalance(bid, level, todo)
                    blk = self._blocks.chunks[bid >> 12][(bid >> 6) & 63][bid & 63]
                    if blk is None:
                        continue
                self._refresh(bid, blk, level)
                more = dirty.pop(level, None)
                if more:
                    todo |= more
            level += 1
        dirty.clear()
        blocks = self._blocks
        while self._height > 0:
            root = blocks[self._root]
            if len(root.items) != 1:
                break
            child = root.items[0]
            self._set_link(child, -1, 0, self._link(child)[2] + self._link(self._root)[2])
            self._free_block(self._root)
            self._root = child
            self._height -= 1
        pending = self._pending_free
        if pending:
            if not self._alloc_owned:
                self._alloc = self._alloc.copy()
                self._alloc_owned = True
            alloc = self._alloc
            for bid in pending:
                alloc.release(bid)
            pending.clear()
