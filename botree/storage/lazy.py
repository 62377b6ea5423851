"""Vector leaves that load their slots on first touch, and the leaves two vectors differ in.

A stored version is opened by building its vectors' top and middle lists with one
``LazyLeaf`` per 64-slot leaf.  Readers index ``chunks[t][m][i]`` as usual; the last
subscript on a ``LazyLeaf`` loads the leaf (one storage read), fills the object and
turns it into a ``LoadedLeaf``, a plain list subclass with C-speed reads.  The object
keeps its identity, so versions that share the leaf keep sharing it, and
``changed_leaves`` can compare two vectors by identity without loading anything.
Where the loader offers it (``part``: the node table's rows), a read of one slot of a
leaf never decoded reads the cell but decodes only that slot (a ``Partial``), until more
than ``PARTIAL_SLOTS`` were read or another kind of read comes: then the leaf is
decoded whole, sharing the slots handed out.

A ``LeafCache`` with a cap bounds how many leaves hold their slots, evicting by CLOCK
(second chance), an approximation of least recently used that costs nothing on a read
of a loaded leaf: when a load would exceed the cap, the clock hand visits the leaves in
load order; a ``LoadedLeaf`` is *demoted* (its class becomes ``LazyLeaf`` again, its
slots kept) and goes to the back; a leaf still demoted when the hand comes back was not
read since, and is evicted (emptied).  A read of a demoted leaf goes through
``LazyLeaf`` once, finds the slots still there and makes it a ``LoadedLeaf`` again: the
reference bit is the class, set by the one read that needs a Python call anyway.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable, Deque, Iterator, List, Optional, Protocol, Sequence, Tuple

from ..nodetable.vector import LEAF, LEAF_BITS, MID, ChunkedVector

# load(leaf number, expected slot count) -> the slots
Loader = Callable[[int, int], List[Any]]
# part(leaf number, expected slot count) -> the slots, or a ``Partial`` to read them one at a time
PartLoader = Callable[[int, int], Any]

_fill_lock = threading.Lock()

# A leaf read slot by slot (``Partial``) is decoded whole on the first read of a slot past this many.
PARTIAL_SLOTS = 4

Source = Tuple[Loader, int, int, Optional["LeafCache"], Optional[PartLoader]]


class Partial(Protocol):
    """A loaded cell whose slots are decoded when read (``codec.PartialCell``)."""

    count: int  # slots decoded so far

    def get(self, i: int) -> Any:
        """Slot ``i`` (negative: from the end), the same object on every call; IndexError past the end."""

    def all(self) -> List[Any]:
        """Every slot, the ones ``get`` handed out among them."""


class LeafCache:
    """Counts the leaves loaded through it and, with a cap, keeps at most ``cap`` holding their slots.

    Eviction is CLOCK (``clock=True``, the default) or in load order (``clock=False``,
    FIFO: kept to measure one against the other).  Leaves that transactions write are
    private copies (plain lists, see ``nodetable.vector.TransientVector``), never the
    shared loaded leaves, so an eviction never loses a write.  All changes happen under
    the fill lock.
    """

    __slots__ = ("cap", "clock", "loaded", "loads", "evictions", "rescues", "_order")

    def __init__(self, cap: Optional[int] = None, clock: bool = True) -> None:
        self.cap = cap
        self.clock = clock
        self.loaded = 0  # leaves holding slots (demoted ones too; uncapped, garbage ones too)
        self.loads = 0
        self.evictions = 0
        self.rescues = 0  # reads that found a demoted leaf's slots still there: a load saved
        self._order: Deque[Tuple["_Leaf", Source]] = deque()  # the clock, oldest first

    def _admit(self, leaf: "_Leaf", source: Source) -> None:
        """Record a load (the caller holds the fill lock), evicting first if the cap is reached.

        Amortised O(1): each demotion follows a load or a rescue of that leaf.
        """
        self.loads += 1
        cap = self.cap
        if cap is not None:
            order = self._order
            while self.loaded >= cap and order:
                old, old_source = order.popleft()
                if self.clock and type(old) is LoadedLeaf:  # read since its last visit: a second chance
                    old._source = old_source
                    old.__class__ = LazyLeaf  # type: ignore[assignment]
                    order.append((old, old_source))
                else:
                    self._evict(old, old_source)
            order.append((leaf, source))
        self.loaded += 1

    def _evict(self, leaf: "_Leaf", source: Source) -> None:
        # Class first: a reader that now sees a LazyLeaf goes through _slots, which
        # waits for the fill lock and then finds the slots cleared.
        leaf._source = source
        leaf.__class__ = LazyLeaf
        list.clear(leaf)
        leaf._partial = None
        self.loaded -= 1
        self.evictions += 1

    def clear(self) -> None:
        """Evict every leaf loaded through this (capped) cache. O(loaded)."""
        with _fill_lock:
            while self._order:
                self._evict(*self._order.popleft())


class _Leaf(List[Any]):
    __slots__ = ("_source", "_partial")
    _source: Optional[Source]
    _partial: Optional[Partial]  # a cell read slot by slot (and counted by the cache), while unloaded


class LoadedLeaf(_Leaf):
    """A leaf whose slots are in memory: reads are plain list reads."""

    __slots__ = ()


def _slots(leaf: _Leaf) -> List[Any]:
    """The slots of ``leaf``, loading them if it has none: a list no eviction can empty.

    What this call loaded, or a copy taken under the fill lock.  A leaf the clock
    demoted but did not evict yet is made a ``LoadedLeaf`` again without a load; a leaf
    read slot by slot so far (``_partial``) is decoded whole from what it read, sharing
    the slots it handed out.  Every ``LazyLeaf`` read goes through here (or ``_slot``),
    never through the leaf's own list: another thread may evict (empty) it at any
    moment outside the lock.  O(64) plus a load.
    """
    # Under the lock a leaf is (LoadedLeaf, no source, slots), (LazyLeaf, source, no slots),
    # demoted (LazyLeaf, source, slots) or read in part (LazyLeaf, source, no slots, a partial);
    # a stored leaf has at least one slot.
    with _fill_lock:
        source = leaf._source
        if source is None:  # loaded (another thread filled it since this read began)
            return list.copy(leaf)
        if list.__len__(leaf):  # demoted, not evicted: its second chance
            leaf._source = None
            leaf.__class__ = LoadedLeaf
            if source[3] is not None:
                source[3].rescues += 1
            return list.copy(leaf)
        partial = leaf._partial
    load, number, size, _, _ = source
    # May raise (CorruptDatabase, VersionNotFound): then nothing changes.
    items = partial.all() if partial is not None else load(number, size)
    return _fill(leaf, source, items)


def _fill(leaf: _Leaf, source: Source, items: List[Any]) -> List[Any]:
    """Fill an empty ``leaf`` with ``items`` (unless another thread did first) and count it. O(64)."""
    with _fill_lock:
        if leaf._source is not None and not list.__len__(leaf):  # still empty: fill it
            counted = leaf._partial is not None  # admitted when it was first read in part
            list.extend(leaf, items)
            leaf._source = None
            leaf._partial = None
            leaf.__class__ = LoadedLeaf
            cache = source[3]
            if cache is not None and not counted:
                cache._admit(leaf, source)
    return items


def _slot(leaf: _Leaf, i: int) -> Any:
    """``leaf[i]`` for an int ``i``: from a cell read slot by slot where the leaf's loader offers one.

    A random read of a cold leaf (a node's row) then decodes one slot, not 64, and leaves
    one object, not 64, for the garbage collector.  Past ``PARTIAL_SLOTS`` slots read, or
    for any other read (a slice, iteration, ``len``), the leaf is decoded whole, sharing the
    slots already handed out.  O(1) amortised, plus a load.
    """
    with _fill_lock:
        source = leaf._source
        unloaded = source is not None and not list.__len__(leaf)
        partial = leaf._partial if unloaded else None
        if partial is not None and partial.count < PARTIAL_SLOTS:
            return partial.get(i)
    part = source[4] if source is not None and unloaded and partial is None else None
    if source is None or part is None:
        return _slots(leaf)[i]
    _, number, size, cache, _ = source
    made = part(number, size)  # may raise (CorruptDatabase, VersionNotFound): then nothing changes
    if type(made) is list:  # decoded whole after all (a patch, say)
        return _fill(leaf, source, made)[i]
    with _fill_lock:
        if leaf._source is not None and not list.__len__(leaf):  # still unloaded: read it in part
            if leaf._partial is None:
                leaf._partial = made
                if cache is not None:
                    cache._admit(leaf, source)
            partial = leaf._partial
            if partial.count < PARTIAL_SLOTS:
                return partial.get(i)
    return _slots(leaf)[i]


class LazyLeaf(_Leaf):
    """A leaf not read yet, or evicted or demoted: a read loads it (or finds it still there).

    Every method reads through ``_slots`` (a module function: the class of ``self``
    may change under a running method, so nothing is looked up on it).
    """

    __slots__ = ()

    def __init__(
        self, load: Loader, number: int, size: int, cache: Optional[LeafCache] = None,
        part: Optional[PartLoader] = None,
    ) -> None:
        super().__init__()
        self._source = (load, number, size, cache, part)
        self._partial = None

    def __getitem__(self, i: Any) -> Any:
        return _slot(self, i) if type(i) is int else _slots(self)[i]

    def __iter__(self) -> Iterator[Any]:
        return iter(_slots(self))

    def __len__(self) -> int:
        return len(_slots(self))

    def __reversed__(self) -> Iterator[Any]:
        return reversed(_slots(self))

    def __repr__(self) -> str:
        return "LazyLeaf(not loaded)" if self._source is not None else list.__repr__(self)


# ``reuse_mid(t, leaves)`` of ``lazy_vector``: (an existing middle list, its stale positions) or None.
MidReuse = Callable[[int, int], Optional[Tuple[List[Any], Sequence[int]]]]


def lazy_vector(
    length: int, load: Loader, cache: Optional[LeafCache] = None, reuse_mid: Optional[MidReuse] = None,
    part: Optional[PartLoader] = None,
) -> ChunkedVector:
    """A vector of ``length`` slots whose leaves load on first touch. O(length / 4096 + leaves not shared).

    ``reuse_mid(t, leaves)`` (``leaves``: how many leaves middle list ``t`` holds) may
    return an older vector's middle list ``t`` and the positions in it that are stale:
    its other leaves hold the same slots here and are shared, unread; stale ones, and
    those past its end, become ``LazyLeaf``.  None: every leaf of ``t`` is a
    ``LazyLeaf``.  A list with nothing stale and the same length is shared whole (it is
    never written in place).  ``cache`` counts the loads and, with a cap, evicts.
    """
    chunks: List[List[Any]] = []
    leaves = (length + LEAF - 1) >> LEAF_BITS
    per_mid = MID >> LEAF_BITS
    for t, first in enumerate(range(0, leaves, per_mid)):
        count = min(per_mid, leaves - first)
        found = reuse_mid(t, count) if reuse_mid is not None else None
        if found is not None and not found[1] and len(found[0]) == count:
            chunks.append(found[0])
            continue
        mid: List[Any] = found[0][:count] if found is not None else []
        stale = [i for i in found[1] if i < len(mid)] if found is not None else []
        for i in (*stale, *range(len(mid), count)):
            number = first + i
            leaf = LazyLeaf(load, number, min(LEAF, length - (number << LEAF_BITS)), cache, part)
            if i < len(mid):
                mid[i] = leaf
            else:
                mid.append(leaf)
        chunks.append(mid)
    return ChunkedVector.from_parts(chunks, length)


def changed_leaves(old: Optional[ChunkedVector], new: ChunkedVector) -> Iterator[Tuple[int, Any]]:
    """(leaf number, slots) for each leaf of ``new`` that is not the very same object in ``old``.

    O(len / 4096 + 64 · changed middle lists).  Leaves are compared by identity, so
    nothing is loaded to compare; a stored leaf that differs (``new`` is an older
    version, as in a revert) comes as its slots (loaded if need be, or a copy taken
    under the fill lock): the shared object may be evicted, emptied, by another thread
    while the caller encodes it.
    """
    old_chunks: List[Any] = old.chunks if old is not None else []
    per_mid = MID >> LEAF_BITS
    for t, mid in enumerate(new.chunks):
        old_mid = old_chunks[t] if t < len(old_chunks) else None
        if mid is old_mid:
            continue
        for b, leaf in enumerate(mid):
            if old_mid is None or b >= len(old_mid) or old_mid[b] is not leaf:
                yield t * per_mid + b, _slots(leaf) if isinstance(leaf, _Leaf) else leaf
