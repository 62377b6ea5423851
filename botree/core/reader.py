"""Read-only queries on an order index, shared by snapshots and batches.

A bound is a pair ``(node, is_open)``.  Every query here works from a node's
back-link (leaf id, gap key) and the blocks' parent links, so none of them
searches from the root except ``at_rank``.  B is the block size, h the height.
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import chain
from typing import Any, Iterator, List, Optional, Tuple

from ..errors import CorruptDatabase, InvalidArgument, NodeNotFound, PositionError
from ..nodetable import TOP, IdAllocator
from ..nodetable.rows import NodeArg, Row
from .blocks import Block, Link

Bound = Tuple[int, bool]
# A bound as a caller passed it: checked by the body (``check_bound``), not the signature (see NodeArg).
BoundArg = Any

# Children ``child_walk`` lists at the call; more come lazily, this many at a time.
CHILD_BATCH = 64


def check_bound(bound: object) -> Bound:
    """Validate the shape of a bound; raises ``InvalidArgument``."""
    if (
        type(bound) is not tuple
        or len(bound) != 2
        or type(bound[0]) is not int
        or type(bound[1]) is not bool
    ):
        raise InvalidArgument(f"a bound is a (node id, is_open) pair of (int, bool), not {bound!r}")
    return bound


# The hot reads below spell out the types of what they read from the tables (``chunks:
# List[List[Any]]``, ``row: Row``, ``blk: Block``, ``link: Link``, ``n: int`` once a caller's id
# passed ``type(node) is int``): free in the pure build, and in the compiled build (mypyc) the
# difference between generic C-API calls on ``Any`` and native reads of slots, lists and
# unboxed ints.  A vector's leaves stay ``Any`` (see nodetable.vector).


def _precedes(links: List[List[Any]], b1: int, k1: int, b2: int, k2: int) -> bool:
    """True if the bound at (leaf b1, key k1) comes before the one at (b2, k2). O(h).

    Climbs both leaves' parent links in lockstep (all leaves are at one depth)
    until the blocks meet, then compares the keys of the two children there.
    ``links`` is the link table's chunk lists (inlined ChunkedVector reads).
    """
    while b1 != b2:
        link: Link = links[b1 >> 12][(b1 >> 6) & 63][b1 & 63]
        b1, k1, _ = link
        link = links[b2 >> 12][(b2 >> 6) & 63][b2 & 63]
        b2, k2, _ = link
    return k1 < k2


class IndexReader:
    """Queries over ``_blocks`` (block id -> Block), ``_nodes`` (node table), ``_root``.

    Subclasses (``OrderIndex`` and its transient form) hold the fields; the read-only
    properties below are how other layers (check, bulk build, storage) see them.
    """

    __slots__ = ()
    _blocks: Any
    _links: Any
    _nodes: Any
    _root: int
    _height: int
    _alloc: IdAllocator

    # -- the parts, read-only -------------------------------------------------

    @property
    def blocks(self) -> Any:
        """The block table: block id -> ``Block`` (None for a freed id). O(1).

        A ``ChunkedVector``, or a ``TransientVector`` in a batch (``Any``: compiled code checks return types)."""
        return self._blocks

    @property
    def links(self) -> Any:  # ChunkedVector, or TransientVector in a batch
        """Block id -> ``(parent id, key in the parent, level delta)`` (None for a freed id). O(1)."""
        return self._links

    @property
    def nodes(self) -> Any:  # NodeTable, or TransientNodeTable in a batch
        """The node table (rows with back-links and data). O(1)."""
        return self._nodes

    @property
    def root(self) -> int:
        """The root block's id. O(1)."""
        return self._root

    @property
    def block_ids(self) -> IdAllocator:
        """The allocator of block ids (freed ids are reused). O(1)."""
        return self._alloc

    def require(self, node: NodeArg) -> Any:
        """``node``'s row; ``NodeNotFound`` if it is not a node of this index. O(1)."""
        return self._row(node)

    # -- locating -----------------------------------------------------------

    def _row(self, node: NodeArg) -> Row:
        # NodeTable.row inlined (every update validates its nodes): a free slot or an id out of
        # range is NodeNotFound; a stored leaf that fails to load raises its own error.
        rows = self._nodes.rows
        if type(node) is int:
            n: int = node
            if 0 <= n < rows.length:
                chunks: List[List[Any]] = rows.chunks
                row: Optional[Row] = chunks[n >> 12][(n >> 6) & 63][n & 63]
                if row is not None:
                    return row
        raise NodeNotFound(node)

    def _block(self, bid: int) -> Block:
        """Block ``bid`` (inlined ChunkedVector read: see nodetable.vector)."""
        return self._blocks.chunks[bid >> 12][(bid >> 6) & 63][bid & 63]

    def _locate(self, bound: BoundArg) -> Tuple[int, int]:
        """(leaf id, position in leaf) of a bound. O(log B)."""
        # check_bound, _row and the vector reads inlined: every update locates bounds.
        if type(bound) is not tuple or len(bound) != 2:
            check_bound(bound)  # raises InvalidArgument
        node, is_open = bound
        if type(node) is not int or type(is_open) is not bool:
            check_bound(bound)
        n: int = node
        vector = self._nodes.rows
        row: Optional[Row] = None
        if 0 <= n < vector.length:
            rows: List[List[Any]] = vector.chunks
            row = rows[n >> 12][(n >> 6) & 63][n & 63]
        if row is None:
            row = self._row(node)  # raises NodeNotFound
        leaf: int
        key: int
        if is_open:
            leaf = row.open_leaf
            key = row.open_key
        else:
            leaf = row.close_leaf
            key = row.close_key
        blocks: List[List[Any]] = self._blocks.chunks
        blk: Block = blocks[leaf >> 12][(leaf >> 6) & 63][leaf & 63]
        return leaf, bisect_left(blk.keys, key)

    def _sum(self, bid: int) -> int:
        """Sum of the level deltas from block ``bid`` up to the root. O(h)."""
        links: List[List[Any]] = self._links.chunks
        total = 0
        while bid >= 0:
            link: Link = links[bid >> 12][(bid >> 6) & 63][bid & 63]
            bid, _, delta = link
            total += delta
        return total

    def _link(self, bid: int) -> Tuple[int, int, int]:
        """(parent id, key in parent, delta) of block ``bid``."""
        return self._links.chunks[bid >> 12][(bid >> 6) & 63][bid & 63]

    def _first_leaf(self) -> int:
        blocks = self._blocks
        bid = self._root
        for _ in range(self._height):
            bid = blocks[bid].items[0]
        return bid

    def _last_leaf(self) -> int:
        blocks = self._blocks
        bid = self._root
        for _ in range(self._height):
            bid = blocks[bid].items[-1]
        return bid

    def _adjacent(self, bid: int, step: int) -> Optional[int]:
        """The block after (step 1) or before (step -1) ``bid`` at the same level, or None.

        Climbs until the ancestor has a sibling that way, steps over, and descends
        along the near edge. Amortised O(1) in scans, O(h) at worst.
        """
        blocks: List[List[Any]] = self._blocks.chunks  # inlined vector reads: scans and the settle pass step often
        links: List[List[Any]] = self._links.chunks
        up = 0
        while True:
            link: Link = links[bid >> 12][(bid >> 6) & 63][bid & 63]
            parent, pkey, _ = link
            if parent < 0:
                return None
            pblk: Block = blocks[parent >> 12][(parent >> 6) & 63][parent & 63]
            i = bisect_left(pblk.keys, pkey) + step
            up += 1
            if 0 <= i < len(pblk.items):
                bid = pblk.items[i]
                break
            bid = parent
            if up > self._height:  # climbed past the root: the parent links loop
                raise CorruptDatabase("the order index's parent links do not lead to its root")
        edge = 0 if step > 0 else -1
        for _ in range(up - 1):
            pblk = blocks[bid >> 12][(bid >> 6) & 63][bid & 63]
            bid = pblk.items[edge]
        return bid

    def _next_leaf(self, bid: int) -> Optional[int]:
        """The leaf after ``bid`` in document order, or None."""
        return self._adjacent(bid, 1)

    def _prev_leaf(self, bid: int) -> Optional[int]:
        """The leaf before ``bid`` in document order, or None."""
        return self._adjacent(bid, -1)

    # -- public queries -----------------------------------------------------

    def __len__(self) -> int:
        """Number of nodes. O(1)."""
        return len(self._nodes)

    def __contains__(self, node: object) -> bool:
        """True if ``node`` is a node id of this index. O(1)."""
        return node in self._nodes

    @property
    def entry_count(self) -> int:
        """Number of bounds (twice the number of nodes). O(1)."""
        return 2 * len(self._nodes)

    @property
    def height(self) -> int:
        """Number of inner levels above the leaves (0: the root is a leaf). O(1)."""
        return self._height

    def data(self, node: NodeArg) -> Any:
        """The user data of ``node``; a database's copy of it (``NodeTable.copy_out``). O(1) (O(size) copied)."""
        # ``_row`` inlined (the hottest data read: its call cost more than the ``copy_out`` test).
        nodes = self._nodes
        rows = nodes.rows
        if type(node) is int and 0 <= node < rows.length:
            row = rows.chunks[node >> 12][(node >> 6) & 63][node & 63]
            if row is not None:
                copy = nodes.copy_out
                return row.data if copy is None else copy(row.data)
        raise NodeNotFound(node)

    def level(self, node: NodeArg) -> int:
        """Depth of ``node`` in the forest (top-level nodes: 0). O(h + log B)."""
        # _row, _sum and the vector reads inlined: a hot read.
        vector = self._nodes.rows
        row: Optional[Row] = None
        if type(node) is int:
            n: int = node
            if 0 <= n < vector.length:
                rows: List[List[Any]] = vector.chunks
                row = rows[n >> 12][(n >> 6) & 63][n & 63]
        if row is None:
            row = self._row(node)  # raises NodeNotFound
        bid = row.open_leaf
        blocks: List[List[Any]] = self._blocks.chunks
        blk: Block = blocks[bid >> 12][(bid >> 6) & 63][bid & 63]
        total = blk.aux[bisect_left(blk.keys, row.open_key)]
        links: List[List[Any]] = self._links.chunks
        while bid >= 0:
            link: Link = links[bid >> 12][(bid >> 6) & 63][bid & 63]
            bid, _, delta = link
            total += delta
        return total

    def bound_level(self, bound: BoundArg) -> int:
        """Level of a bound: the level of its node. O(h + log B)."""
        leaf, pos = self._locate(bound)
        return self._blocks.chunks[leaf >> 12][(leaf >> 6) & 63][leaf & 63].aux[pos] + self._sum(leaf)

    def before(self, first: BoundArg, second: BoundArg) -> bool:
        """True if bound ``first`` comes strictly before ``second``. O(h).

        Climbs both leaves' parent links in lockstep until they meet and compares
        the gap keys there; no position search is needed.
        """
        # check_bound and the row reads inlined: every move's validation compares bounds.
        if type(first) is not tuple or len(first) != 2:
            check_bound(first)  # raises InvalidArgument
        if type(second) is not tuple or len(second) != 2:
            check_bound(second)
        node1, open1 = first
        node2, open2 = second
        if type(node1) is not int or type(open1) is not bool:
            check_bound(first)
        if type(node2) is not int or type(open2) is not bool:
            check_bound(second)
        vector = self._nodes.rows
        rows = vector.chunks
        length = vector.length
        row1 = rows[node1 >> 12][(node1 >> 6) & 63][node1 & 63] if 0 <= node1 < length else None
        if row1 is None:
            row1 = self._row(node1)  # raises NodeNotFound
        row2 = rows[node2 >> 12][(node2 >> 6) & 63][node2 & 63] if 0 <= node2 < length else None
        if row2 is None:
            row2 = self._row(node2)
        if open1:
            b1, k1 = row1.open_leaf, row1.open_key
        else:
            b1, k1 = row1.close_leaf, row1.close_key
        if open2:
            b2, k2 = row2.open_leaf, row2.open_key
        else:
            b2, k2 = row2.close_leaf, row2.close_key
        return _precedes(self._links.chunks, b1, k1, b2, k2)

    def inside(self, a: NodeArg, b: NodeArg) -> bool:
        """True if node ``a`` lies strictly inside node ``b``'s subtree. O(h).

        One pass over both rows: open(b) < open(a) < close(b).
        """
        # _row, _precedes and the vector reads inlined: a hot read.
        vector = self._nodes.rows
        rows: List[List[Any]] = vector.chunks
        length: int = vector.length
        row_a: Optional[Row] = None
        row_b: Optional[Row] = None
        if type(a) is int:
            n: int = a
            if 0 <= n < length:
                row_a = rows[n >> 12][(n >> 6) & 63][n & 63]
        if row_a is None:
            row_a = self._row(a)  # raises NodeNotFound
        if type(b) is int:
            n = b
            if 0 <= n < length:
                row_b = rows[n >> 12][(n >> 6) & 63][n & 63]
        if row_b is None:
            row_b = self._row(b)
        if a == b:
            return False
        # Climb a's opening leaf and b's two leaves in lockstep (all leaves are at one depth):
        # where a's block meets b's opening one, the keys there order open(b) and open(a);
        # where it meets b's closing one, open(a) and close(b) (as in _precedes, but a's
        # path is read once).
        links: List[List[Any]] = self._links.chunks
        x, kx = row_a.open_leaf, row_a.open_key
        p, kp = row_b.open_leaf, row_b.open_key
        q, kq = row_b.close_leaf, row_b.close_key
        after_open = before_close = False
        while True:
            if not after_open and x == p:
                if kp >= kx:
                    return False
                after_open = True
            if not before_close and x == q:
                if kx >= kq:
                    return False
                before_close = True
            if after_open and before_close:
                return True
            link: Link = links[x >> 12][(x >> 6) & 63][x & 63]
            x, kx, _ = link
            if not after_open:
                link = links[p >> 12][(p >> 6) & 63][p & 63]
                p, kp, _ = link
            if not before_close:
                link = links[q >> 12][(q >> 6) & 63][q & 63]
                q, kq, _ = link

    def rank(self, bound: BoundArg) -> int:
        """Number of bounds before ``bound`` in document order. O(B · h)."""
        bid, pos = self._locate(bound)
        blocks = self._blocks
        total = pos
        parent, pkey, _ = self._link(bid)
        while parent >= 0:
            pblk = blocks[parent]
            total += sum(pblk.counts[: bisect_left(pblk.keys, pkey)])
            parent, pkey, _ = self._link(parent)
        return total

    def at_rank(self, k: Any) -> Bound:  # Any: checked below (see NodeArg)
        """The bound with ``k`` bounds before it (negative k counts from the end). O(B · h)."""
        if type(k) is not int:
            raise InvalidArgument(f"rank must be an int, not {type(k).__name__}")
        n = self.entry_count
        if k < 0:
            k += n
        if not 0 <= k < n:
            raise PositionError(f"rank {k} out of range for {n} bounds")
        blocks = self._blocks
        blk = blocks[self._root]
        while blk.counts is not None:
            counts = blk.counts
            i = 0
            while k >= counts[i]:
                k -= counts[i]
                i += 1
            blk = blocks[blk.items[i]]
        item = blk.items[k]
        return item >> 1, not item & 1

    def next_bound(self, bound: BoundArg) -> Optional[Bound]:
        """The bound after ``bound``, or None at the end. O(log B), O(h) at leaf ends."""
        leaf, pos = self._locate(bound)
        blk = self._blocks.chunks[leaf >> 12][(leaf >> 6) & 63][leaf & 63]
        if pos + 1 < len(blk.items):
            item = blk.items[pos + 1]
        else:
            nxt = self._next_leaf(leaf)
            if nxt is None:
                return None
            item = self._blocks.chunks[nxt >> 12][(nxt >> 6) & 63][nxt & 63].items[0]
        return item >> 1, not item & 1

    def prev_bound(self, bound: BoundArg) -> Optional[Bound]:
        """The bound before ``bound``, or None at the start. O(log B), O(h) at leaf ends."""
        leaf, pos = self._locate(bound)
        blk = self._blocks.chunks[leaf >> 12][(leaf >> 6) & 63][leaf & 63]
        if pos > 0:
            item = blk.items[pos - 1]
        else:
            prv = self._prev_leaf(leaf)
            if prv is None:
                return None
            item = self._blocks.chunks[prv >> 12][(prv >> 6) & 63][prv & 63].items[-1]
        return item >> 1, not item & 1

    def child_walk(self, node: NodeArg) -> Iterator[int]:
        """The children of ``node`` (None: the top-level nodes) in order.

        Reads leaves directly: from a child's opening bound it jumps to the bound after
        its closing one (a bisect in that leaf).  The first ``CHILD_BATCH`` children are
        listed at the call (a bad id raises there: ``InvalidArgument``, ``NodeNotFound``),
        the rest lazily, a batch at a time: no generator for the usual few children.
        O(log B) per child, O(h) at leaf ends.
        """
        # Inlined ChunkedVector reads (see nodetable.vector): this is a hot path.
        if node is None:
            leaf = self._first_leaf()
            pos = 0
            stop = -1  # no closing bound ends the top level
        else:
            if type(node) is not int:
                check_bound((node, True))  # raises InvalidArgument
            n: int = node
            row = self._row(n)  # raises NodeNotFound
            leaf = row.open_leaf
            blocks: List[List[Any]] = self._blocks.chunks
            blk: Block = blocks[leaf >> 12][(leaf >> 6) & 63][leaf & 63]
            pos = bisect_left(blk.keys, row.open_key) + 1
            stop = n << 1 | 1
            if row.close_leaf == leaf and blk.items[pos] == stop:  # no children (half the nodes of a random tree)
                return iter(())
        out: List[int] = []
        leaf, pos = self._children_into(out, leaf, pos, stop)
        if leaf < 0:
            return iter(out)
        return chain(out, self._more_children(leaf, pos, stop))

    def _children_into(self, out: List[int], leaf: int, pos: int, stop: int) -> Tuple[int, int]:
        """Append to ``out`` the children whose opening bounds come from (``leaf``, ``pos``) on, up to
        the item ``stop`` (the parent's closing bound; -1: the top level), ``CHILD_BATCH`` at most.

        Returns where the next child's opening bound lies, leaf -1 when the children are done.
        O(log B) per child, O(h) at leaf ends.
        """
        blocks: List[List[Any]] = self._blocks.chunks
        rows: List[List[Any]] = self._nodes.rows.chunks
        room = CHILD_BATCH
        blk: Block = blocks[leaf >> 12][(leaf >> 6) & 63][leaf & 63]
        items = blk.items
        size = len(items)
        while True:
            if pos >= size:
                nxt = self._next_leaf(leaf)
                if nxt is None:
                    return -1, 0
                leaf = nxt
                pos = 0
                blk = blocks[leaf >> 12][(leaf >> 6) & 63][leaf & 63]
                items = blk.items
                size = len(items)
                continue
            item = items[pos]
            if item == stop:
                return -1, 0
            if not room:
                return leaf, pos
            room -= 1
            out.append(item >> 1)
            pos += 1
            if pos < size and items[pos] == item | 1:  # a leaf child: its closing bound is next
                pos += 1
                continue
            child = item >> 1
            row: Row = rows[child >> 12][(child >> 6) & 63][child & 63]
            close_leaf = row.close_leaf
            if close_leaf == leaf:
                pos = bisect_left(blk.keys, row.close_key, pos) + 1
            else:
                leaf = close_leaf
                blk = blocks[leaf >> 12][(leaf >> 6) & 63][leaf & 63]
                items = blk.items
                size = len(items)
                pos = bisect_left(blk.keys, row.close_key) + 1

    def _more_children(self, leaf: int, pos: int, stop: int) -> Iterator[int]:
        """The children after the first batch (see ``child_walk``), a batch at a time."""
        while leaf >= 0:
            out: List[int] = []
            leaf, pos = self._children_into(out, leaf, pos, stop)
            yield from out

    def first_bound(self) -> Optional[Bound]:
        """The first bound, or None when empty. O(h)."""
        items = self._blocks[self._first_leaf()].items
        return (items[0] >> 1, not items[0] & 1) if items else None

    def last_bound(self) -> Optional[Bound]:
        """The last bound, or None when empty. O(h)."""
        items = self._blocks[self._last_leaf()].items
        return (items[-1] >> 1, not items[-1] & 1) if items else None

    def bounds(self, start: BoundArg = None) -> Iterator[Bound]:
        """Bounds in document order from ``start`` (default: the first). Amortised O(1) each."""
        for items, pos in self.leaf_runs(start):
            for j in range(pos, len(items)):
                item = items[j]
                yield item >> 1, not item & 1

    def leaf_runs(self, start: BoundArg = None) -> Iterator[Tuple[List[int], int]]:
        """``(items, pos)`` per leaf from ``start``'s (default: the first): the leaf's encoded
        bounds (``node << 1 | is_close``; read only) and where the scan starts in them.

        For tight scans over many bounds without a tuple per bound.  O(log B) to start,
        amortised O(1) per leaf.
        """
        blocks = self._blocks
        if start is None:
            leaf: Optional[int] = self._first_leaf()
            pos = 0
        else:
            leaf, pos = self._locate(start)
        budget = len(blocks)  # a scan visits each leaf once: more means damaged links, not a longer tree
        while leaf is not None:
            yield blocks[leaf].items, pos
            pos = 0
            leaf = self._next_leaf(leaf)
            budget -= 1
            if budget < 0:
                raise CorruptDatabase("a scan of the order index visits more leaves than it has blocks")

    def subtree_runs(self, node: NodeArg = None) -> Iterator[List[int]]:
        """The encoded bounds (``node << 1 | is_close``) of ``node``'s subtree (None: the whole
        forest) in document order, one list per leaf (a copy: the caller may keep it).

        For scans that handle a leaf's bounds in one comprehension: no tuple and no generator
        step per bound.  A bad ``node`` raises at the first step, as ``bounds((node, True))``
        does.  O(log B) to start, amortised O(1) per bound (O(B) per leaf).
        """
        blocks: List[List[Any]] = self._blocks.chunks
        if node is None:
            leaf = self._first_leaf()
            pos = 0
            end_leaf = -1
            end_key = 0
        else:
            leaf, pos = self._locate((node, True))
            row = self._row(node)
            end_leaf = row.close_leaf
            end_key = row.close_key
        budget = len(self._blocks)  # as in leaf_runs: each leaf once
        while True:
            blk: Block = blocks[leaf >> 12][(leaf >> 6) & 63][leaf & 63]
            if leaf == end_leaf:
                yield blk.items[pos : bisect_left(blk.keys, end_key, pos) + 1]
                return
            yield blk.items[pos:]
            nxt = self._next_leaf(leaf)
            budget -= 1
            if nxt is None or budget < 0:
                if end_leaf < 0 and nxt is None:
                    return
                raise CorruptDatabase("a scan of the order index does not reach the end of the subtree")
            leaf = nxt
            pos = 0

    def leaf_span(self, first: BoundArg, last: BoundArg) -> List[int]:
        """Ids of the leaves from ``first``'s to ``last``'s, in document order (``first`` must
        not come after ``last``: ``InvalidArgument``, after walking to the last leaf).  Reads
        inner blocks only: O(h + leaves).  With the bounds' back-links this tests "is this
        bound between them" for many bounds without a position each."""
        leaf: Optional[int] = self._locate(first)[0]
        end = self._locate(last)[0]
        out = []
        budget = len(self._blocks)
        while leaf is not None:
            out.append(leaf)
            if leaf == end:
                return out
            leaf = self._next_leaf(leaf)
            budget -= 1
            if budget < 0:
                break
        raise InvalidArgument(f"leaf_span: {last!r} does not come after {first!r}")

    def leveled_bounds(self) -> Iterator[Tuple[int, bool, int]]:
        """(node, is_open, level) in document order. Amortised O(1) each.

        The delta sum is refreshed only when the scan enters a new leaf.
        """
        blocks = self._blocks
        leaf: Optional[int] = self._first_leaf()
        budget = len(blocks)  # as in bounds(): each leaf once
        while leaf is not None:
            blk = blocks[leaf]
            base = self._sum(leaf)
            for item, rel in zip(blk.items, blk.aux):
                yield item >> 1, not item & 1, rel + base
            leaf = self._next_leaf(leaf)
            budget -= 1
            if budget < 0:
                raise CorruptDatabase("a scan of the order index visits more leaves than it has blocks")

    def enclosing(self, node: NodeArg) -> Optional[int]:
        """The parent of ``node`` (None at top level). O(1) from its row.

        Rows decoded from files written before rows kept their parent hold ``UNKNOWN``;
        for those the parent is computed from the levels (``enclosing_by_levels``, O(B · h)).
        """
        vector = self._nodes.rows
        if type(node) is int:
            n: int = node
            if not 0 <= n < vector.length:
                raise NodeNotFound(node)
            # Inlined ChunkedVector read, as in NodeTable.row.
            rows: List[List[Any]] = vector.chunks
            row: Optional[Row] = rows[n >> 12][(n >> 6) & 63][n & 63]
            if row is not None:
                parent: int = row.parent  # the parent's opening item, parent << 1 (see nodetable.rows)
                if parent >= 0:
                    return parent >> 1
                if parent == TOP:
                    return None
        return self.enclosing_by_levels(node)

    def enclosing_by_levels(self, node: NodeArg) -> Optional[int]:
        """The parent of ``node`` (None at top level), computed from the order index. O(B · h).

        The parent's opening bound is the nearest earlier bound whose level is
        below ``node``'s; inner blocks keep per-child minimum levels, so the search
        skips whole subtrees: scan the leaf, climb until a left sibling subtree
        holds a lower level, then descend into the rightmost such child.
        """
        bid, pos = self._locate((node, True))
        blocks = self._blocks
        blk = blocks[bid]
        base = self._sum(bid)
        target = blk.aux[pos] + base  # the node's level
        limit = target - base
        aux = blk.aux
        for j in range(pos - 1, -1, -1):
            if aux[j] < limit:
                return blk.items[j] >> 1
        # Climb: base is S(bid); S(parent) = base - delta(bid).
        while True:
            parent, pkey, delta = self._link(bid)
            if parent < 0:
                return None
            base -= delta
            pblk = blocks[parent]
            limit = target - base
            aux = pblk.aux
            found = -1
            for j in range(bisect_left(pblk.keys, pkey) - 1, -1, -1):
                if aux[j] < limit:
                    found = j
                    break
            if found >= 0:
                bid = pblk.items[found]
                break
            bid = parent
        # Descend: bid's subtree holds a bound below target; take the rightmost one.
        while True:
            base += self._link(bid)[2]
            blk = blocks[bid]
            limit = target - base
            aux = blk.aux
            j = len(aux) - 1
            while aux[j] >= limit:
                j -= 1
            if blk.counts is None:
                return blk.items[j] >> 1
            bid = blk.items[j]

    def min_level(self, first: BoundArg, last: BoundArg) -> Tuple[Bound, int]:
        """The first bound of minimum level from ``first`` to ``last`` (both included), and that level.

        A range-minimum query over the B+-tree: the two leaves' ends, then, climbing both
        paths in lockstep to the block where they meet, each run of whole child blocks
        between them taken at its stored minimum level (inner blocks' ``aux``); finally a
        descent into the first block holding the minimum.  O(B · h), whatever the
        distance between the bounds.  ``first`` must not come after ``last``
        (``InvalidArgument`` otherwise).
        """
        b1, p1 = self._locate(first)
        b2, p2 = self._locate(last)
        blocks = self._blocks
        s1 = self._sum(b1)
        if b1 == b2:
            if p1 > p2:
                raise InvalidArgument(f"min_level: {first!r} comes after {last!r}")
            aux = blocks[b1].aux
            low = min(aux[p1 : p2 + 1])
            item = blocks[b1].items[aux.index(low, p1)]
            return (item >> 1, not item & 1), low + s1
        s2 = self._sum(b2)
        # Runs (min level, block id, start, end, delta sum of the block): the minimum lies in
        # aux[start:end] of that block.  ``left`` in document order, ``right`` in reverse.
        left = [(min(blocks[b1].aux[p1:]) + s1, b1, p1, len(blocks[b1].aux), s1)]
        right = [(min(blocks[b2].aux[: p2 + 1]) + s2, b2, 0, p2 + 1, s2)]
        middle = []
        c1, c2 = b1, b2
        while True:
            parent1, key1, delta1 = self._link(c1)
            parent2, key2, delta2 = self._link(c2)
            if parent1 < 0 or parent2 < 0:
                raise CorruptDatabase("the order index's parent links do not lead to one root")
            s1 -= delta1
            s2 -= delta2
            blk1 = blocks[parent1]
            i = bisect_left(blk1.keys, key1) + 1
            if parent1 == parent2:
                j = bisect_left(blk1.keys, key2)
                if i > j + 1:
                    raise InvalidArgument(f"min_level: {first!r} comes after {last!r}")
                if i < j:
                    middle.append((min(blk1.aux[i:j]) + s1, parent1, i, j, s1))
                break
            if i < len(blk1.aux):
                left.append((min(blk1.aux[i:]) + s1, parent1, i, len(blk1.aux), s1))
            blk2 = blocks[parent2]
            j = bisect_left(blk2.keys, key2)
            if j > 0:
                right.append((min(blk2.aux[:j]) + s2, parent2, 0, j, s2))
            c1, c2 = parent1, parent2
        right.reverse()
        best = left[0]
        for run in (*left, *middle, *right):
            if run[0] < best[0]:
                best = run
        target, bid, lo, hi, base = best
        blk = blocks[bid]
        j = blk.aux.index(target - base, lo, hi)
        while blk.counts is not None:  # descend into the first child holding the minimum
            bid = blk.items[j]
            base += self._link(bid)[2]
            blk = blocks[bid]
            j = blk.aux.index(target - base)
        item = blk.items[j]
        return (item >> 1, not item & 1), target

    def position(self, bound: BoundArg) -> Tuple[int, ...]:
        """An order key of ``bound``: the gap keys on the path from the root down to it.

        Bounds of one index version compare (as tuples) exactly as they lie in document
        order, so many bounds can be sorted or tested against an interval without a
        rank each.  The keys change with updates: compare positions of one version only.
        O(h): the back-link gives the leaf key, the link table the rest, no search.
        """
        node, is_open = check_bound(bound)
        row = self._row(node)
        if is_open:
            return self._path_keys(row.open_leaf, row.open_key)
        return self._path_keys(row.close_leaf, row.close_key)

    def open_position(self, node: NodeArg) -> Tuple[int, ...]:
        """``position((node, True))`` without the bound's shape check (for many nodes). O(h)."""
        row = self._row(node)
        return self._path_keys(row.open_leaf, row.open_key)

    def _path_keys(self, bid: int, key: int) -> Tuple[int, ...]:
        keys = [key]
        links = self._links.chunks
        while True:
            bid, key, _ = links[bid >> 12][(bid >> 6) & 63][bid & 63]
            if bid < 0:
                break
            keys.append(key)
        keys.reverse()
        return tuple(keys)
