"""The three order-index primitives (insert pair, delete pair, relocate), plus range delete and data updates.

``Primitives`` validates every argument before changing anything, so a rejected call
leaves the transient index exactly as it was; ``core.maintenance`` repairs the blocks
afterwards.

Relocation of a bound range by split and join, at a cost independent of its size:

``_cut(bound)`` splits every block on the path from ``bound``'s leaf up to (not
including) the root, so that ``bound`` starts a block at every level: the order
index is now a sequence of root children, and any range between two cuts is a run
of whole root children.  Moving the range is then a splice of the root's child
list, and shifting its levels by d adds d to the delta of those top blocks only.
``Maintenance._settle`` afterwards joins the seams: it merges or refills the underfull
blocks the cuts left along each path and splits the root if it overflowed.

Three cuts of O(B) work per level, one root splice of O(B), and seam repair of
O(B) per block along the cut paths: O(B · h) in all, whatever the range holds.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any, Optional, Set, Tuple

from ..errors import InvalidOperation
from ..nodetable import TOP
from ..nodetable.rows import NodeArg, Row
from .blocks import Block
from .gapkeys import SPACE
from .maintenance import Maintenance
from .reader import Bound, BoundArg, check_bound


def leaf_move_slots(
    sblk: Block, dblk: Block, rn: Row, rp: Row, block_size: int
) -> Optional[Tuple[int, int, int, int, int]]:
    """Where a leaf-local move puts the subtree of row ``rn`` (its bounds all in leaf ``sblk``) just
    before the closing bound of row ``rp`` (in another leaf, ``dblk``): ``(lo, hi, at, left, span)``,
    the run ``lo:hi`` in sblk, the target position ``at`` in dblk, the gap key before it and the
    gap's width; None when dblk lacks room or free gap keys for the run or sblk would keep less
    than B/2 entries.  Shared by the batch form (``Primitives.move_last_child``) and the single
    one (``OrderIndex.single_move_last_child``). O(log B)."""
    skeys = sblk.keys
    lo = bisect_left(skeys, rn.open_key)
    hi = bisect_left(skeys, rn.close_key, lo) + 1
    k = hi - lo
    dkeys = dblk.keys
    at = bisect_left(dkeys, rp.close_key)
    left = dkeys[at - 1] if at else 0
    span = dkeys[at] - left
    if len(dkeys) + k > block_size or len(skeys) - k < block_size >> 1 or span <= k:
        return None
    return lo, hi, at, left, span


class Primitives(Maintenance):
    """The order-index updates of a transient index (``core.index.TransientIndex``)."""

    __slots__ = ()

    def implied_level(self, before: BoundArg) -> int:
        """Level a node inserted just before ``before`` gets. O(h + log B).

        Before an opening bound: a sibling of that node; before a closing bound:
        the last child of that node; at the end (None): a top-level node.
        """
        if before is None:
            return 0
        level = self.bound_level(before)
        return level if before[1] else level + 1

    def insert_pair(self, data: Any = None, before: BoundArg = None) -> int:
        """Insert a new node's bounds, adjacent, just before ``before`` (None: at the end).

        Returns the new node id. O(B · h).
        """
        leaf, pos = self._position(before)
        if before is None:
            rel = -self._sum(leaf)  # a top-level node: level 0
        else:
            aux = self._block(leaf).aux
            # Before an opening bound: that node's level; before a closing one: one deeper.
            rel = aux[pos] if before[1] else aux[pos] + 1
        parent = self._parent_at(before)
        blk = self._w(leaf)
        keys = blk.keys
        left = keys[pos - 1] if pos else 0
        right = keys[pos] if pos < len(keys) else SPACE
        if len(keys) + 2 > self._B or right - left < 3:
            # Slow path: the leaf splits or its gap is exhausted.
            node = self._nodes.insert(data, (0, 0, 0, 0), parent)
            self._insert_items(leaf, pos, [node << 1, node << 1 | 1], [rel, rel], None, 0)
            self._settle()
            return node
        # Fast path: two keys fit in the gap and the leaf has room, so only counts and
        # minimum levels change above it.
        third = (right - left) // 3
        k1 = left + third
        k2 = k1 + third
        node = self._nodes.insert(data, (leaf, k1, leaf, k2), parent)
        blk.items[pos:pos] = [node << 1, node << 1 | 1]
        blk.aux[pos:pos] = [rel, rel]
        keys[pos:pos] = [k1, k2]
        self._bump(leaf, 2, rel)
        return node

    def insert_last_child(self, parent: NodeArg, data: Any = None) -> int:
        """``insert_pair(data, (parent, False))``: a new last child of ``parent``; returns its id. O(B · h).

        The common insert, read from the parent's row directly (no bound tuples, no
        separate locate): when two keys fit before the parent's closing bound and its leaf
        has room, the bounds go in there and counts are bumped up the path.
        """
        row = self._row(parent)  # NodeNotFound for a bad id, as ``insert_pair`` would raise
        leaf = row.close_leaf
        blk = self._blocks.chunks[leaf >> 12][(leaf >> 6) & 63][leaf & 63]
        keys = blk.keys
        pos = bisect_left(keys, row.close_key)
        left = keys[pos - 1] if pos else 0
        right = keys[pos]
        if len(keys) + 2 > self._B or right - left < 3:
            return self.insert_pair(data, (parent, False))
        rel = blk.aux[pos] + 1  # one deeper than the parent, whose closing bound is at pos
        third = (right - left) // 3
        k1 = left + third
        k2 = k1 + third
        node = self._nodes.insert(data, (leaf, k1, leaf, k2), parent << 1)
        if blk.owner is not self._token:
            blk = self._w(leaf)
        blk.items[pos:pos] = [node << 1, node << 1 | 1]
        blk.aux[pos:pos] = [rel, rel]
        blk.keys[pos:pos] = [k1, k2]
        # ``_bump(leaf, 2, rel)`` without its minimum levels: the new bounds lie below the parent's
        # closing bound in the same leaf, so no minimum changes (see ``OrderIndex.single_delete``).
        token = self._token
        ctoken = self._ctoken
        links = self._links.chunks
        blocks = self._blocks.chunks
        parent, pkey, _ = links[leaf >> 12][(leaf >> 6) & 63][leaf & 63]
        while parent >= 0:
            pblk = blocks[parent >> 12][(parent >> 6) & 63][parent & 63]
            if pblk.owner is not token and pblk.owner is not ctoken:
                pblk = self._wc(parent)
                blocks = self._blocks.chunks  # the first write may have replaced the top list
            pblk.counts[bisect_left(pblk.keys, pkey)] += 2
            parent, pkey, _ = links[parent >> 12][(parent >> 6) & 63][parent & 63]
        return node

    def wrap_run(self, first: int, last: int, data: Any = None) -> int:
        """A new node wrapping the sibling run first..last (checked by the caller: ``check_run``)
        in its place; returns its id.  O(B · h + k log B) for k siblings.

        When the run's bounds sit in one leaf with room for two more and free gap keys
        on both sides, the new bounds go straight into that leaf and the run's levels
        rise by one there: counts are bumped up the path, no relocation, no settle pass.
        """
        row = self._row(first)
        leaf = row.open_leaf
        blk = self._block(leaf)
        keys = blk.keys
        lo = bisect_left(keys, row.open_key)
        if self._row(last).close_leaf == leaf and len(keys) + 2 <= self._B:
            hi = bisect_left(keys, self._row(last).close_key, lo)
            left = keys[lo - 1] if lo else 0
            right = keys[hi + 1] if hi + 1 < len(keys) else SPACE
            if keys[lo] - left >= 2 and right - keys[hi] >= 2:
                k_open = (left + keys[lo]) // 2
                k_close = (keys[hi] + right) // 2
                node = self._nodes.insert(data, (leaf, k_open, leaf, k_close), self._parent_at((first, True)))
                self._reparent(first, last, node << 1)
                blk = self._w(leaf)
                keys = blk.keys
                aux = blk.aux
                rel = aux[lo]  # the wrapper takes the run's level; the run goes one deeper
                aux[lo : hi + 1] = [a + 1 for a in aux[lo : hi + 1]]
                # Close first, so that ``lo`` still points at the run's start.
                blk.items.insert(hi + 1, node << 1 | 1)
                aux.insert(hi + 1, rel)
                keys.insert(hi + 1, k_close)
                blk.items.insert(lo, node << 1)
                aux.insert(lo, rel)
                keys.insert(lo, k_open)
                self._bump(leaf, 2, rel)  # the leaf's minimum level cannot fall: rel was there
                return node
        node = self._wrap_two_leaves(first, last, data)
        if node >= 0:
            return node
        # Otherwise: levels of the run rise by one in place (no cuts), then the two new bounds
        # go in just around it; the settle pass splits a full leaf and refreshes the aggregates.
        node = self._nodes.insert(data, (0, 0, 0, 0), self._parent_at((first, True)))
        self._reparent(first, last, node << 1)
        close_leaf, close_pos = self._locate((last, False))
        rel = self._block(close_leaf).aux[close_pos]
        self._shift_levels((first, True), (last, False), 1)
        self._insert_items(close_leaf, close_pos + 1, [node << 1 | 1], [rel], None, 0)
        open_leaf, open_pos = self._locate((first, True))
        rel = self._block(open_leaf).aux[open_pos] - 1
        self._insert_items(open_leaf, open_pos, [node << 1], [rel], None, 0)
        self._settle()
        return node

    def _wrap_two_leaves(self, first: int, last: int, data: Any) -> int:
        """``wrap_run`` when the run opens in one leaf and closes in another, each with room for
        one more bound and a free gap key beside the run's end; returns the new node, or -1,
        having changed nothing, when that does not hold.

        A deep tree's wraps (a spine node's subtree spans most of the index) take this path.
        The run's levels rise by one in place: the entries after its opening bound in the
        first leaf and up to its closing bound in the last one, and every child block wholly
        between the two leaf paths (its level delta, a link write, and its minimum in the
        parent).  No minimum level changes anywhere else: the wrapper's two bounds take the
        run's level L, which the run's ends held before, and everything shifted was at L or
        deeper, so each block on the two paths keeps a bound at L below it and its minimum.
        So, as for the one-leaf wrap, the two new bounds go straight into their leaves and
        counts grow along both paths, in the same lockstep climb that shifts the blocks
        between them: no settle pass, inner blocks copied for their ``aux`` and ``counts``
        only (``_wc``).  O(B · h) link writes at most.
        """
        row = self._row(first)
        lrow = self._row(last)
        a = row.open_leaf
        b = lrow.close_leaf
        if a == b:
            return -1
        B = self._B
        blocks = self._blocks.chunks
        ablk: Block = blocks[a >> 12][(a >> 6) & 63][a & 63]
        bblk: Block = blocks[b >> 12][(b >> 6) & 63][b & 63]
        akeys = ablk.keys
        bkeys = bblk.keys
        if len(akeys) >= B or len(bkeys) >= B:
            return -1
        lo = bisect_left(akeys, row.open_key)
        hi = bisect_left(bkeys, lrow.close_key)
        left = akeys[lo - 1] if lo else 0
        right = bkeys[hi + 1] if hi + 1 < len(bkeys) else SPACE
        if akeys[lo] - left < 2 or right - bkeys[hi] < 2:
            return -1
        k_open = (left + akeys[lo]) // 2
        k_close = (bkeys[hi] + right) // 2
        rel_open = ablk.aux[lo]  # the run's level L in each leaf's frame: the wrapper takes it
        rel_close = bblk.aux[hi]
        node = self._nodes.insert(data, (a, k_open, b, k_close), self._parent_at((first, True)))
        self._reparent(first, last, node << 1)
        ablk = self._w(a)
        aux = ablk.aux
        aux[lo:] = [x + 1 for x in aux[lo:]]
        ablk.items.insert(lo, node << 1)
        aux.insert(lo, rel_open)
        ablk.keys.insert(lo, k_open)
        bblk = self._w(b)
        aux = bblk.aux
        aux[: hi + 1] = [x + 1 for x in aux[: hi + 1]]
        bblk.items.insert(hi + 1, node << 1 | 1)
        aux.insert(hi + 1, rel_close)
        bblk.keys.insert(hi + 1, k_close)
        # Climb both paths in lockstep to the block where they meet: each path's count grows by
        # one (the new bound), and the child blocks wholly between the paths shift.
        wc = self._wc
        shift = self._shift_deltas
        links = self._links.chunks
        while True:
            p1, k1, _ = links[a >> 12][(a >> 6) & 63][a & 63]
            p2, k2, _ = links[b >> 12][(b >> 6) & 63][b & 63]
            pblk = wc(p1)
            i = bisect_left(pblk.keys, k1)
            pblk.counts[i] += 1  # type: ignore[index]
            i += 1
            aux = pblk.aux
            if p1 == p2:
                j = bisect_left(pblk.keys, k2, i)
                pblk.counts[j] += 1  # type: ignore[index]
                if i < j:
                    shift(pblk.items[i:j], 1)
                    aux[i:j] = [x + 1 for x in aux[i:j]]
                break
            if i < len(aux):
                shift(pblk.items[i:], 1)
                aux[i:] = [x + 1 for x in aux[i:]]
            pblk = wc(p2)
            j = bisect_left(pblk.keys, k2)
            pblk.counts[j] += 1  # type: ignore[index]
            if j:
                shift(pblk.items[:j], 1)
                aux = pblk.aux
                aux[:j] = [x + 1 for x in aux[:j]]
            a, b = p1, p2
            links = self._links.chunks  # a link write makes the table transient: its lists change
        # Above the meeting block both new bounds count on one path; no minimum changes.
        links = self._links.chunks
        parent, pkey, _ = links[p1 >> 12][(p1 >> 6) & 63][p1 & 63]
        while parent >= 0:
            pblk = wc(parent)
            pblk.counts[bisect_left(pblk.keys, pkey)] += 2  # type: ignore[index]
            parent, pkey, _ = links[parent >> 12][(parent >> 6) & 63][parent & 63]
        return node

    def _parent_at(self, before: Optional[Bound]) -> int:
        """``Row.parent`` (the parent's opening item, or ``TOP``) of a node placed just before ``before``. O(1)."""
        if before is None:
            return TOP
        node, is_open = before
        if not is_open:
            return node << 1
        parent = self.enclosing(node)
        return TOP if parent is None else parent << 1

    def _reparent(self, first: int, last: int, parent: int) -> None:
        """Set ``Row.parent`` (an item, see ``_parent_at``) in the rows of the sibling run first..last.

        O(k log B) for k siblings: a move of one subtree writes one row."""
        writable = self._nodes.writable
        node = first
        while True:
            writable(node).parent = parent
            if node == last:
                return
            after = self.next_bound((node, False))
            assert after is not None and after[1], "a checked run is a sequence of siblings"
            node = after[0]

    def _position(self, before: BoundArg) -> tuple[int, int]:
        """(leaf, position) where entries inserted just before ``before`` go (None: the end)."""
        if before is None:
            leaf = self._last_leaf()
            return leaf, len(self._block(leaf).items)
        return self._locate(before)

    def _drop_rows(self, items: list[int]) -> int:
        """Delete the rows of the nodes opened among leaf ``items``; returns how many."""
        delete = self._nodes.delete
        opened = [item >> 1 for item in items if not item & 1]
        for node in opened:
            delete(node)
        return len(opened)

    def _bump(self, bid: int, count: int, low: int) -> None:
        """Add ``count`` bounds below block ``bid`` whose minimum level relative to it is ``low``.

        Walks the parent links to the root: counts grow, minimum levels can only
        fall, so no block below needs recomputing. O(h log B).
        """
        wc = self._wc
        token = self._token
        ctoken = self._ctoken
        links = self._links.chunks
        blocks = self._blocks.chunks
        parent, pkey, delta = links[bid >> 12][(bid >> 6) & 63][bid & 63]
        while parent >= 0:
            low += delta
            pblk = blocks[parent >> 12][(parent >> 6) & 63][parent & 63]
            if pblk.owner is not token and pblk.owner is not ctoken:
                pblk = wc(parent)
            i = bisect_left(pblk.keys, pkey)
            pblk.counts[i] += count
            if low < pblk.aux[i]:
                pblk.aux[i] = low
            parent, pkey, delta = links[parent >> 12][(parent >> 6) & 63][parent & 63]

    def check_run(self, first: BoundArg, last: BoundArg) -> None:
        """Check that first..last is a balanced run: open of x .. close of y, x and y siblings. O(B log n)."""
        check_bound(first)
        check_bound(last)
        if not first[1] or last[1]:
            raise InvalidOperation(
                f"a range must run from an opening to a closing bound, got {first!r}..{last!r}"
            )
        if first[0] != last[0]:
            if self.enclosing(first[0]) != self.enclosing(last[0]) or not self.before(first, last):
                raise InvalidOperation(
                    f"nodes {first[0]} and {last[0]} are not siblings in that order: "
                    f"the range {first!r}..{last!r} is not a run of whole subtrees"
                )
        else:
            self._row(first[0])

    def relocate(self, first: BoundArg, last: BoundArg, before: BoundArg, d: Optional[int] = None) -> None:
        """Move the bounds first..last (a run of sibling subtrees) to just before ``before``.

        ``before`` None means the end.  Every moved bound's level changes by d, the
        difference between the level implied at the target and the run's level;
        if ``d`` is given it must equal that difference.  O(B · h), independent of
        the number of bounds moved, plus O(log B) per root of the run (each root's row
        records its new parent).
        """
        self.check_run(first, last)
        if before is not None:
            check_bound(before)
            self._locate(before)
            # Inside means first < before <= last in document order.
            if before != first and self.before(first, before) and not self.before(last, before):
                raise InvalidOperation(f"target {before!r} lies inside the moved range {first!r}..{last!r}")
        self.relocate_checked(first, last, before, d)

    def relocate_checked(self, first: Bound, last: Bound, before: Optional[Bound], d: Optional[int] = None) -> None:
        """``relocate`` for a caller that has checked the run (``check_run``) and that ``before``
        is a bound of this index outside it; ``d`` is still checked. O(B · h)."""
        implied = self.implied_level(before) - self.level(first[0])
        if d is not None and d != implied:
            raise InvalidOperation(
                f"level delta {d} disagrees with the target: moving there shifts levels by {implied}"
            )
        self._reparent(first[0], last[0], self._parent_at(before))
        self._relocate(first, last, before, implied)

    def _relocate(self, first: Bound, last: Bound, before: Optional[Bound], d: int) -> None:
        """Relocate a validated run: within-leaf runs move directly, others by split and join."""
        src, lo = self._locate(first)
        src_last, hi = self._locate(last)
        if src_last != src:
            if self._next_leaf(src) == src_last:
                dst, at = self._position(before)
                if dst != src and dst != src_last:
                    # The run straddles two neighbouring leaves (a small subtree across a leaf
                    # edge): move both pieces straight to the target leaf, no cuts; the settle
                    # pass splits the target if it overflowed and refills the sources.
                    k = len(self._block(src).items) - lo + hi + 1
                    self._move_items(src_last, 0, hi + 1, dst, at, 0)
                    self._move_items(src, lo, len(self._block(src).items), dst, at, 0)
                    if d:
                        aux = self._w(dst).aux
                        aux[at : at + k] = [a + d for a in aux[at : at + k]]
                    self._settle()
                    return
            self._splice(first, self.next_bound(last), before, d)
            return
        # The whole run sits in one leaf: move its entries straight to the target leaf
        # (O(B) plus the settle pass), no cuts needed.
        dst, at = self._position(before)
        hi += 1
        k = hi - lo
        if dst == src:
            blk = self._w(src)
            if lo <= at <= hi:  # already in place: only levels may shift
                if d:
                    blk.aux[lo:hi] = [a + d for a in blk.aux[lo:hi]]
                    self._adjust(src, 0)
                return
            items = blk.items[lo:hi]
            aux = [a + d for a in blk.aux[lo:hi]]
            del blk.items[lo:hi], blk.aux[lo:hi], blk.keys[lo:hi]
            self._insert_items(src, at - k if at > hi else at, items, aux, None, 0)
            # The leaf keeps its size: only its minimum level may change.
            self._dirty.clear()
            self._adjust(src, 0)
            return
        self._move_items(src, lo, hi, dst, at, 0)
        dblk = self._w(dst)
        if d:
            aux = dblk.aux
            aux[at : at + k] = [a + d for a in aux[at : at + k]]
        if len(dblk.items) <= self._B and len(self._block(src).items) >= self._min:
            # Neither leaf over- nor underflows: counts and minimum levels along the two
            # paths are all that change (no settle pass).
            self._dirty.clear()
            self._adjust(dst, k)
            self._adjust(src, -k)
            return
        self._settle()

    def move_last_child(self, node: NodeArg, parent: NodeArg) -> bool:
        """Move ``node``'s subtree to be the last child of ``parent`` when that is a leaf-local
        move; returns False, having changed nothing, when it is not (the caller relocates).

        Leaf-local: both bounds of ``node`` sit in one leaf, the parent's closing bound in
        another leaf with room for them and free gap keys before it, and the source leaf
        keeps at least B/2 entries.  The entries go straight to the target leaf (their
        levels shift by the parent's level + 1 minus the node's, read off the two leaves:
        no climbing for level sums), the rows of the moved nodes are relinked, and one
        lockstep climb of both paths moves the count from one side to the other up to the
        block where they meet; above it only a changed minimum level climbs on.  No bound
        tuples, no settle pass.  Arguments that are not two live nodes return False too:
        the general path raises the right error (a parent inside the moved subtree closes
        in the subtree's own leaf, which is never leaf-local here).
        O(B + h log B).
        """
        if type(node) is not int or type(parent) is not int or node == parent:
            return False
        vector = self._nodes.rows
        rows = vector.chunks
        length = vector.length
        if not (0 <= node < length and 0 <= parent < length):
            return False
        rn = rows[node >> 12][(node >> 6) & 63][node & 63]
        rp = rows[parent >> 12][(parent >> 6) & 63][parent & 63]
        if rn is None or rp is None:
            return False
        src = rn.open_leaf
        dst = rp.close_leaf
        if rn.close_leaf != src or dst == src:
            return False
        # The subtree's bounds all sit in src, so a parent whose closing bound is in another leaf is
        # not inside it: no ``inside`` check is needed.
        blocks = self._blocks.chunks
        sblk = blocks[src >> 12][(src >> 6) & 63][src & 63]
        dblk = blocks[dst >> 12][(dst >> 6) & 63][dst & 63]
        slots = leaf_move_slots(sblk, dblk, rn, rp, self._B)
        if slots is None:
            return False
        lo, hi, at, left, span = slots
        k = hi - lo
        # Valid and leaf-local: from here on the batch changes.
        shift = dblk.aux[at] + 1 - sblk.aux[lo]  # new level - old level, in the two leaves' frames
        sblk = self._w(src)
        items = sblk.items[lo:hi]
        aux = sblk.aux[lo:hi]
        del sblk.items[lo:hi], sblk.aux[lo:hi], sblk.keys[lo:hi]
        dblk = self._w(dst)
        parts = k + 1
        dblk.items[at:at] = items
        dblk.aux[at:at] = [a + shift for a in aux] if shift else aux
        dblk.keys[at:at] = [left + span * j // parts for j in range(1, parts)]
        self._relink(dst, dblk, at, at + k)
        self._nodes.writable(node).parent = parent << 1  # owned already: relinked just above
        # Counts and minimum levels: both paths up to the block where they meet.
        wc = self._wc
        links = self._links.chunks
        a, b = src, dst
        while True:
            pa, ka, da = links[a >> 12][(a >> 6) & 63][a & 63]
            pb, kb, db = links[b >> 12][(b >> 6) & 63][b & 63]
            pblk = wc(pa)
            i = bisect_left(pblk.keys, ka)
            pblk.counts[i] -= k  # type: ignore[index]
            pblk.aux[i] = da + min(sblk.aux)
            if pa == pb:
                j = bisect_left(pblk.keys, kb)
                pblk.counts[j] += k  # type: ignore[index]
                pblk.aux[j] = db + min(dblk.aux)
                self._adjust(pa, 0)  # above the meeting block counts stay; a minimum may change
                return True
            qblk = wc(pb)
            j = bisect_left(qblk.keys, kb)
            qblk.counts[j] += k  # type: ignore[index]
            qblk.aux[j] = db + min(dblk.aux)
            a, b, sblk, dblk = pa, pb, pblk, qblk

    def delete_pair(self, node: NodeArg) -> None:
        """Remove ``node``'s two bounds; bounds between them move up one level. O(B · h + k log B) for k children."""
        self._row(node)
        inner = self.next_bound((node, True))
        if inner != (node, False):
            last = self.prev_bound((node, False))
            assert inner is not None and last is not None
            self._reparent(inner[0], last[0], self._parent_at((node, True)))
            self._shift_levels(inner, last, -1)  # in place: no cuts (see ``_shift_levels``)
        for bound in ((node, False), (node, True)):
            leaf, pos = self._locate(bound)
            blk = self._w(leaf)
            del blk.items[pos], blk.aux[pos], blk.keys[pos]
            self._mark(leaf, 0)
        self._nodes.delete(node)
        self._settle()

    def delete_range(self, first: BoundArg, last: BoundArg) -> int:
        """Remove the run of sibling subtrees first..last; returns how many nodes went.

        Cutting the run out is O(B · h); freeing its blocks and node rows is
        O(size of the run).
        """
        self.check_run(first, last)
        leaf, lo = self._locate(first)
        leaf_last, hi = self._locate(last)
        if leaf == leaf_last:
            return self._drop_in_leaf(leaf, lo, hi + 1)
        if self._next_leaf(leaf) == leaf_last:
            # The run straddles two neighbouring leaves: drop its pieces there, no cuts.
            blk = self._w(leaf)
            gone_items = blk.items[lo:]
            del blk.items[lo:], blk.aux[lo:], blk.keys[lo:]
            self._mark(leaf, 0)
            blk = self._w(leaf_last)
            gone_items += blk.items[: hi + 1]
            del blk.items[: hi + 1], blk.aux[: hi + 1], blk.keys[: hi + 1]
            self._mark(leaf_last, 0)
            removed = self._drop_rows(gone_items)
            self._settle()
            return removed
        after = self.next_bound(last)
        if self._height == 0:
            self._grow()
        done: Set[int] = set()
        self._cut(first, done)
        self._cut(after, done)
        lo = self._top_index(first)
        hi = self._top_index(after)
        root_id = self._root
        root = self._w(root_id)
        gone = root.items[lo:hi]
        del root.items[lo:hi], root.aux[lo:hi], root.keys[lo:hi], root.counts[lo:hi]  # type: ignore[index]
        if root.items:
            self._mark(root_id, self._height)
        else:
            self._free_block(root_id)
            self._root = self._new_block(True, -1, 0)
            self._height = 0
        removed = 0
        blocks = self._blocks
        stack = list(gone)
        while stack:
            bid = stack.pop()
            blk = blocks[bid]
            if blk.counts is None:
                removed += self._drop_rows(blk.items)
            else:
                stack.extend(blk.items)
            self._free_block(bid)
        self._settle()
        return removed

    def delete_subtree(self, node: NodeArg) -> int:
        """``delete_range((node, True), (node, False))``: remove ``node`` and its subtree; returns how many
        nodes went.  A subtree inside one leaf is read off the row directly (no bound tuples). O(B log n)."""
        if type(node) is int:
            vector = self._nodes.rows
            row = vector.chunks[node >> 12][(node >> 6) & 63][node & 63] if 0 <= node < vector.length else None
            if row is not None and row.open_leaf == row.close_leaf:
                leaf = row.open_leaf
                keys = self._blocks.chunks[leaf >> 12][(leaf >> 6) & 63][leaf & 63].keys
                lo = bisect_left(keys, row.open_key)
                return self._drop_in_leaf(leaf, lo, bisect_left(keys, row.close_key, lo) + 1)
        return self.delete_range((node, True), (node, False))  # raises for a bad node

    def _drop_in_leaf(self, leaf: int, lo: int, hi: int) -> int:
        """Remove the entries lo..hi-1 of ``leaf`` (whole subtrees) and their nodes' rows; returns how many
        nodes went.  Without an underflow, counts go up one path and no settle pass runs. O(B + h log B)."""
        blk = self._w(leaf)
        gone_items = blk.items[lo:hi]
        del blk.items[lo:hi], blk.aux[lo:hi], blk.keys[lo:hi]
        removed = self._drop_rows(gone_items)
        if len(blk.items) >= self._min or leaf == self._root:
            self._adjust(leaf, lo - hi)  # no underflow: no settle pass
        else:
            self._mark(leaf, 0)
            self._settle()
        return removed

    def set_data(self, node: NodeArg, data: Any) -> None:
        """Replace the user data of ``node``. O(1) (O(log n) with indexed fields)."""
        self._row(node)
        self._nodes.set_data(node, data)

    # -- relocation by split and join ------------------------------------------------

    def _cut(self, bound: Optional[Bound], done: Set[int]) -> None:
        """Make ``bound`` (None: the end) the first item of a block at every level below the root.

        ``done`` holds the leaf items of the bounds earlier cuts of the same relocation made
        block starts; this cut keeps them so, and adds its own.
        """
        if bound is None:
            return
        bid, pos = self._locate(bound)
        blocks = self._blocks  # a TransientVector: its top list may be replaced on a write
        level = 0
        root = self._root
        while bid != root:
            if pos > 0:
                bid = self._cut_block(bid, pos, level, done)
            parent, pkey, _ = self._link(bid)
            pos = bisect_left(blocks.chunks[parent >> 12][(parent >> 6) & 63][parent & 63].keys, pkey)
            bid = parent
            level += 1
        done.add(bound[0] << 1 | (not bound[1]))

    def _cut_block(self, bid: int, pos: int, level: int, done: Set[int]) -> int:
        """Make item ``pos`` of block ``bid`` (at ``level``) start a block; returns that block's id.

        The smaller side goes into the neighbour on its side when that has room and the
        move unsettles no earlier cut (the block the side leaves, or the one it enters at
        the front, must not start with a bound in ``done``): the seam is then joined at
        once, where a split would leave a small piece for the settle pass to move again.
        Otherwise ``_split_off``.  O(B + h).
        """
        items = self._block(bid).items
        n = len(items)
        if 2 * pos < n:
            other = self._adjacent(bid, -1)
            if other is not None and not self._starts_cut(bid, level, done):
                m = len(self._block(other).items)
                if m + pos <= self._B:
                    self._move_items(bid, 0, pos, other, m, level)
                    return bid
        else:
            other = self._adjacent(bid, 1)
            if other is not None and len(self._block(other).items) + n - pos <= self._B:
                if not self._starts_cut(other, level, done):
                    self._move_items(bid, pos, n, other, 0, level)
                    return other
        return self._split_off(bid, pos, level)

    def _starts_cut(self, bid: int, level: int, done: Set[int]) -> bool:
        """True if block ``bid`` (at ``level``) starts with a bound of ``done``. O(h)."""
        if not done:
            return False
        blocks = self._blocks.chunks
        for _ in range(level):
            bid = blocks[bid >> 12][(bid >> 6) & 63][bid & 63].items[0]
        return blocks[bid >> 12][(bid >> 6) & 63][bid & 63].items[0] in done


    def _top_index(self, bound: Optional[Bound]) -> int:
        """Index among the root's children of the child holding ``bound`` (None: the end)."""
        blocks = self._blocks
        root = self._root
        if bound is None:
            return len(blocks[root].items)
        bid, _ = self._locate(bound)
        parent, pkey, _ = self._link(bid)
        while parent != root:
            parent, pkey, _ = self._link(parent)
        return bisect_left(blocks[root].keys, pkey)


    def _splice(self, first: Bound, after: Optional[Bound], target: Optional[Bound], d: int) -> None:
        """Move the bounds from ``first`` up to (excluding) ``after`` before ``target``, shifting levels by d.

        The caller has validated the range (balanced, target outside it) and computed d.
        """
        if self._height == 0:
            self._grow()
        done: Set[int] = set()
        self._cut(first, done)
        self._cut(after, done)
        self._cut(target, done)
        lo = self._top_index(first)
        hi = self._top_index(after)
        at = self._top_index(target)
        root_id = self._root
        root = self._w(root_id)
        level = self._height
        if at != lo and at != hi:
            items = root.items[lo:hi]
            aux = root.aux[lo:hi]
            counts = root.counts[lo:hi]  # type: ignore[index]
            del root.items[lo:hi], root.aux[lo:hi], root.keys[lo:hi], root.counts[lo:hi]  # type: ignore[index]
            if at > hi:
                at -= hi - lo
            self._insert_items(root_id, at, items, aux, counts, level)
            lo, hi = at, at + len(items)
        if d:
            root = self._w(root_id)
            for j in range(lo, hi):
                self._shift(root.items[j], d)
                root.aux[j] += d
        self._mark(root_id, level)
        self._settle()
