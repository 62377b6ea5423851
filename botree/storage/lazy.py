"""Vector leaves that load their slots on first touch, and the leaves two vectors differ in.

A stored version is opened by building its vectors' top and middle lists with one
``LazyLeaf`` per 64-slot leaf.  Readers index ``chunks[t][m][i]`` as usual; the last
subscript on a ``LazyLeaf`` loads the leaf (one storage read), fills the object and
turns it into a ``LoadedLeaf``, a plain list subclass with C-speed reads.  The object
keeps its identity, so versions that share the leaf keep sharing it, and
``changed_leaves`` can compare two vectors by identity without loading anything.

A ``LeafCache`` with a cap bounds how many leaves stay loaded: when a load would
exceed it, the least recently *loaded* leaf is emptied and turned back into a
``LazyLeaf`` (same object, its loader restored), so its next read loads it again.
Reads of a loaded leaf stay plain list reads: nothing is recorded on a read, which is
why the order is load order (FIFO) and not true LRU.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable, Deque, Iterator, List, Optional, Tuple

from ..nodetable.vector import LEAF, LEAF_BITS, MID, ChunkedVector

# load(leaf number, expected slot count) -> the slots
Loader = Callable[[int, int], List[Any]]

_fill_lock = threading.Lock()


Source = Tuple[Loader, int, int, Optional["LeafCache"]]


class LeafCache:
    """Counts the leaves loaded through it and, with a cap, keeps at most ``cap`` loaded.

    Eviction is in load order (FIFO): the leaf loaded longest ago is emptied and made
    a ``LazyLeaf`` again.  Leaves that transactions write are private copies (plain
    lists, see ``nodetable.vector.TransientVector``), never the shared loaded leaves,
    so an eviction never loses a write.  All changes happen under the fill lock.
    """

    __slots__ = ("cap", "loaded", "loads", "evictions", "_order")

    def __init__(self, cap: Optional[int] = None) -> None:
        self.cap = cap
        self.loaded = 0  # leaves loaded through this cache and not evicted (garbage ones included when uncapped)
        self.loads = 0
        self.evictions = 0
        self._order: Deque[Tuple["_Leaf", Source]] = deque()

    def _admit(self, leaf: "_Leaf", source: Source) -> None:
        """Record a load (the caller holds the fill lock), evicting first if the cap is reached."""
        self.loads += 1
        cap = self.cap
        if cap is not None:
            order = self._order
            while self.loaded >= cap and order:
                self._evict_oldest()
            order.append((leaf, source))
        self.loaded += 1

    def _evict_oldest(self) -> None:
        old, old_source = self._order.popleft()
        self.loaded -= 1
        if type(old) is LoadedLeaf:
            # Class first: a reader that now sees a LazyLeaf goes through _fill, which
            # waits for the fill lock and then finds the slots cleared.
            old._source = old_source
            old.__class__ = LazyLeaf  # type: ignore[assignment]
            list.clear(old)
            self.evictions += 1

    def clear(self) -> None:
        """Evict every leaf loaded through this (capped) cache. O(loaded)."""
        with _fill_lock:
            while self._order:
                self._evict_oldest()


class _Leaf(List[Any]):
    __slots__ = ("_source",)
    _source: Optional[Source]


class LoadedLeaf(_Leaf):
    """A leaf whose slots are in memory: reads are plain list reads."""

    __slots__ = ()


class LazyLeaf(_Leaf):
    """A leaf not read yet: the first read loads it (and the object becomes a ``LoadedLeaf``)."""

    __slots__ = ()

    def __init__(self, load: Loader, number: int, size: int, cache: Optional[LeafCache] = None) -> None:
        super().__init__()
        self._source = (load, number, size, cache)

    def _fill(self) -> Optional[List[Any]]:
        """Load the slots unless another thread did; returns the slots this call loaded, if any."""
        source = self._source
        if source is None:  # another thread filled it meanwhile
            return None
        load, number, size, cache = source
        items = load(number, size)  # may raise (CorruptDatabase, VersionNotFound): then nothing changes
        with _fill_lock:
            if type(self) is LazyLeaf:
                list.extend(self, items)
                self._source = None
                self.__class__ = LoadedLeaf  # type: ignore[assignment]
                if cache is not None:
                    cache._admit(self, source)
        return items

    def __getitem__(self, i: Any) -> Any:
        items = self._fill()
        # The slots this call loaded stay right even if another thread evicts the leaf meanwhile.
        return items[i] if items is not None else list.__getitem__(self, i)

    def __iter__(self) -> Iterator[Any]:
        # Over a copy: an eviction while the caller iterates must not cut the iteration short.
        items = self._fill()
        return iter(items if items is not None else list.copy(self))

    def __len__(self) -> int:
        self._fill()
        return list.__len__(self)

    def __reversed__(self) -> Iterator[Any]:
        items = self._fill()
        return reversed(items if items is not None else list.copy(self))

    def __repr__(self) -> str:
        return "LazyLeaf(not loaded)" if self._source is not None else list.__repr__(self)


def lazy_vector(
    length: int,
    load: Loader,
    reuse: Optional[Callable[[int], Any]] = None,
    cache: Optional[LeafCache] = None,
    reuse_mid: Optional[Callable[[int, int], Optional[List[Any]]]] = None,
) -> ChunkedVector:
    """A vector of ``length`` slots whose leaves load on first touch. O(length / 64), less with ``reuse_mid``.

    ``reuse_mid(t, leaves)`` may return an existing middle list (``leaves`` leaves
    holding the same slots, shared whole with an older version: O(1) for its 64
    leaves); ``reuse(leaf number)`` may return an existing leaf object holding the
    same slots; None means build the list / make a ``LazyLeaf``.  ``cache`` counts
    the loads and, with a cap, evicts.
    """
    chunks: List[List[Any]] = []
    leaves = (length + LEAF - 1) >> LEAF_BITS
    per_mid = MID >> LEAF_BITS
    for first in range(0, leaves, per_mid):
        whole = reuse_mid(first // per_mid, min(per_mid, leaves - first)) if reuse_mid is not None else None
        if whole is not None:
            chunks.append(whole)
            continue
        mid: List[Any] = []
        for number in range(first, min(first + per_mid, leaves)):
            size = min(LEAF, length - (number << LEAF_BITS))
            leaf = reuse(number) if reuse is not None else None
            mid.append(leaf if leaf is not None else LazyLeaf(load, number, size, cache))
        chunks.append(mid)
    return ChunkedVector.from_parts(chunks, length)


def changed_leaves(old: Optional[ChunkedVector], new: ChunkedVector) -> Iterator[Tuple[int, Any]]:
    """(leaf number, leaf) for each leaf of ``new`` that is not the very same object in ``old``.

    O(len / 4096 + 64 · changed middle lists); nothing is loaded.
    """
    old_chunks: List[Any] = old.chunks if old is not None else []
    per_mid = MID >> LEAF_BITS
    for t, mid in enumerate(new.chunks):
        old_mid = old_chunks[t] if t < len(old_chunks) else None
        if mid is old_mid:
            continue
        for b, leaf in enumerate(mid):
            if old_mid is None or b >= len(old_mid) or old_mid[b] is not leaf:
                yield t * per_mid + b, leaf
