"""A persistent vector made of small Python lists: cheap for the garbage collector.

Why not pyrsistent's ``PVector``: its C implementation keeps its trie outside Python
objects, so the collector traverses a whole PVector (or evolver) as one object.  A
young 10^6-element PVector made every generation-0 collection take ~13 ms here, and
every persistent update makes a young one: chained persistent inserts on a 500,000
node index cost ~220 µs each, mostly in the collector.

Here the vector is a three-level trie of plain lists: a top list, middle lists of 64
leaves, leaves of 64 slots.  An update copies one path (top, middle, leaf: a few
hundred slots) and the collector only walks those new lists.  A read is three list
subscripts (~0.06 µs against PVector's ~0.02 µs).  A frozen ``ChunkedVector`` never
changes; a ``TransientVector`` copies each list of the path on its first write.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, Iterator, List, Optional, Set

LEAF_BITS = 6
LEAF = 1 << LEAF_BITS  # slots per leaf
LEAF_MASK = LEAF - 1
MID_BITS = 2 * LEAF_BITS  # slots per middle list: LEAF * LEAF
MID = 1 << MID_BITS
# Hot readers inline `chunks[i >> 12][(i >> 6) & 63][i & 63]`; keep them in step.
assert (MID_BITS, LEAF_BITS) == (12, 6)


def _build(flat: List[Any]) -> List[List[Any]]:
    return [
        [flat[j : j + LEAF] for j in range(i, min(i + MID, len(flat)), LEAF)] for i in range(0, len(flat), MID)
    ]


class _VectorReader:
    """Reads shared by the frozen and the transient vector."""

    __slots__ = ()
    # Middle lists of leaves.  A leaf is typed Any, not a list: a stored vector's leaves are list
    # subclasses that load on first read (storage.lazy.LazyLeaf), and compiled code (mypyc) reads a
    # declared list with the C list API, past their __getitem__.
    chunks: List[List[Any]]
    length: int

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> Any:
        """Item ``i`` (0 <= i < len); raises IndexError otherwise. O(1)."""
        if not 0 <= i < self.length:
            raise IndexError(f"vector index {i} out of range")
        return self.chunks[i >> MID_BITS][(i >> LEAF_BITS) & LEAF_MASK][i & LEAF_MASK]

    def __iter__(self) -> Iterator[Any]:
        for mid in self.chunks:
            for leaf in mid:
                # A copy: a stored vector's leaf may be evicted (emptied) while the caller
                # holds this generator (storage.lazy.LeafCache).
                yield from leaf[:]


class ChunkedVector(_VectorReader):
    """An immutable vector. Get O(1); ``evolver()`` O(1)."""

    __slots__ = ("chunks", "length")

    def __init__(self, items: Iterable[Any] = ()) -> None:
        flat = list(items)
        self.chunks: List[List[Any]] = _build(flat)
        self.length = len(flat)

    @classmethod
    def from_parts(cls, chunks: List[List[Any]], length: int) -> "ChunkedVector":
        new = cls.__new__  # not cls.__new__(cls): mypyc fails on that spelling in a subclass
        vec = new(cls)
        vec.chunks = chunks
        vec.length = length
        return vec

    def transient(self) -> "TransientVector":
        """A transient copy for batched writes. O(1)."""
        return TransientVector(self)

    def written(self, ids: List[int], values: List[Any]) -> "ChunkedVector":
        """A new vector with item ``ids[j]`` replaced by ``values[j]``. O(n / 4096 + 64 · k).

        Every id must be in range (0 <= id < len: the caller's live ids; not checked).  The
        one-update form of a transient's writes (``OrderIndex.single_*``): the top list, and
        each middle list and leaf holding a written slot, are copied once; nothing of this
        vector changes.
        """
        top = self.chunks[:]
        if len(ids) == 1:  # one slot (a leaf node's row): one path, no bookkeeping
            i = ids[0]
            one_mid = top[i >> MID_BITS] = top[i >> MID_BITS][:]
            one_leaf = one_mid[(i >> LEAF_BITS) & LEAF_MASK] = one_mid[(i >> LEAF_BITS) & LEAF_MASK][:]
            one_leaf[i & LEAF_MASK] = values[0]
            return ChunkedVector.from_parts(top, self.length)
        mids: Dict[int, List[Any]] = {}
        leaves: Dict[int, List[Any]] = {}
        for i, value in zip(ids, values):
            leaf = leaves.get(i >> LEAF_BITS)
            if leaf is None:
                t = i >> MID_BITS
                mid = mids.get(t)
                if mid is None:
                    mid = mids[t] = top[t] = top[t][:]
                j = (i >> LEAF_BITS) & LEAF_MASK
                leaf = leaves[i >> LEAF_BITS] = mid[j] = mid[j][:]
            leaf[i & LEAF_MASK] = value
        return ChunkedVector.from_parts(top, self.length)

    def appended(self, value: Any) -> "ChunkedVector":
        """A new vector with ``value`` added at the end. O(n / 4096 + 64)."""
        i = self.length
        top = self.chunks[:]
        if i & (MID - 1) == 0:
            top.append([[value]])
        elif i & LEAF_MASK == 0:
            mid = top[-1] = top[-1][:]
            mid.append([value])
        else:
            mid = top[-1] = top[-1][:]
            leaf = mid[-1] = mid[-1][:]
            leaf.append(value)
        return ChunkedVector.from_parts(top, i + 1)


class TransientVector(_VectorReader):
    """Writable view of a ``ChunkedVector``; ``persistent()`` freezes it.

    The first write copies the top list (O(n / 4096)), and the first write below a
    middle list or into a leaf copies that list (64 slots); later writes are in
    place.  After ``persistent()`` the transient may go on, copying again, so the
    frozen vector never changes.
    """

    __slots__ = ("chunks", "length", "_mids", "_leaves")

    def __init__(self, base: ChunkedVector) -> None:
        self.chunks = base.chunks
        self.length = base.length
        self._mids: Optional[Set[int]] = None  # None: the top list is still shared
        self._leaves: Set[int] = set()

    def _mid(self, t: int) -> List[List[Any]]:
        """Middle list ``t``, owned by this transient."""
        mids = self._mids
        if mids is None:
            self.chunks = list(self.chunks)
            mids = self._mids = set()
            self._leaves = set()
        if t in mids:
            return self.chunks[t]
        mid = list(self.chunks[t])
        self.chunks[t] = mid
        mids.add(t)
        return mid

    def _leaf(self, i: int) -> List[Any]:
        """The leaf holding slot ``i``, owned by this transient."""
        mid = self._mid(i >> MID_BITS)
        leaf_no = i >> LEAF_BITS
        if leaf_no in self._leaves:
            return mid[leaf_no & LEAF_MASK]
        leaf = list(mid[leaf_no & LEAF_MASK])
        mid[leaf_no & LEAF_MASK] = leaf
        self._leaves.add(leaf_no)
        return leaf

    def __setitem__(self, i: int, value: Any) -> None:
        """Replace item ``i``. O(1) amortised."""
        if i >> LEAF_BITS in self._leaves:
            # Fast path: the leaf (hence its middle list and the top list) is owned already.
            # An index past the end of an owned leaf raises IndexError from the list itself.
            self.chunks[i >> MID_BITS][(i >> LEAF_BITS) & LEAF_MASK][i & LEAF_MASK] = value
            return
        if not 0 <= i < self.length:
            raise IndexError(f"vector index {i} out of range")
        # First write into this leaf: ``_leaf`` and ``_mid`` inlined (one call per block or row write).
        chunks = self.chunks
        mids = self._mids
        if mids is None:
            chunks = self.chunks = list(chunks)
            mids = self._mids = set()
            self._leaves = set()
        t = i >> MID_BITS
        mid = chunks[t]
        if t not in mids:
            mid = list(mid)
            chunks[t] = mid
            mids.add(t)
        leaf_no = i >> LEAF_BITS
        leaf = list(mid[leaf_no & LEAF_MASK])
        leaf[i & LEAF_MASK] = value
        mid[leaf_no & LEAF_MASK] = leaf
        self._leaves.add(leaf_no)

    def append(self, value: Any) -> None:
        """Add an item at the end. O(1) amortised."""
        i = self.length
        if i & LEAF_MASK and i >> LEAF_BITS in self._leaves:
            # Fast path: the last leaf is owned already (appending rows in a batch).
            self.chunks[i >> MID_BITS][(i >> LEAF_BITS) & LEAF_MASK].append(value)
            self.length = i + 1
            return
        if i & (MID - 1) == 0:
            if self._mids is None:  # the top list must be owned before it grows
                self.chunks = list(self.chunks)
                self._mids = set()
                self._leaves = set()
            self.chunks.append([[value]])
            self._mids.add(i >> MID_BITS)
            self._leaves.add(i >> LEAF_BITS)
        elif i & LEAF_MASK == 0:
            self._mid(i >> MID_BITS).append([value])
            self._leaves.add(i >> LEAF_BITS)
        else:
            self._leaf(i).append(value)
        self.length = i + 1

    def persistent(self) -> ChunkedVector:
        """Freeze into a ``ChunkedVector``. O(1)."""
        vec = ChunkedVector.from_parts(self.chunks, self.length)
        self._mids = None
        self._leaves = set()
        return vec
