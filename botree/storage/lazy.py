"""Vector leaves that load their slots on first touch, and the leaves two vectors differ in.

A stored version is opened by building its vectors' top and middle lists with one
``LazyLeaf`` per 64-slot leaf.  Readers index ``chunks[t][m][i]`` as usual; the last
subscript on a ``LazyLeaf`` loads the leaf (one storage read), fills the object and
turns it into a ``LoadedLeaf``, a plain list subclass with C-speed reads.  The object
keeps its identity, so versions that share the leaf keep sharing it, and
``changed_leaves`` can compare two vectors by identity without loading anything.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Iterator, List, Optional, Tuple

from ..nodetable.vector import LEAF, LEAF_BITS, MID, ChunkedVector

# load(leaf number, expected slot count) -> the slots
Loader = Callable[[int, int], List[Any]]

_fill_lock = threading.Lock()


class _Leaf(List[Any]):
    __slots__ = ("_source",)


class LoadedLeaf(_Leaf):
    """A leaf whose slots are in memory: reads are plain list reads."""

    __slots__ = ()


class LazyLeaf(_Leaf):
    """A leaf not read yet: the first read loads it (and the object becomes a ``LoadedLeaf``)."""

    __slots__ = ()

    def __init__(self, load: Loader, number: int, size: int) -> None:
        super().__init__()
        self._source: Optional[Tuple[Loader, int, int]] = (load, number, size)

    def _fill(self) -> None:
        source = self._source
        if source is None:  # another thread filled it meanwhile
            return
        load, number, size = source
        items = load(number, size)  # may raise (CorruptDatabase, VersionNotFound): then nothing changes
        with _fill_lock:
            if type(self) is LazyLeaf:
                list.extend(self, items)
                self._source = None
                self.__class__ = LoadedLeaf  # type: ignore[assignment]

    def __getitem__(self, i: Any) -> Any:
        self._fill()
        return list.__getitem__(self, i)

    def __iter__(self) -> Iterator[Any]:
        self._fill()
        return list.__iter__(self)

    def __len__(self) -> int:
        self._fill()
        return list.__len__(self)

    def __reversed__(self) -> Iterator[Any]:
        self._fill()
        return list.__reversed__(self)

    def __repr__(self) -> str:
        return "LazyLeaf(not loaded)" if self._source is not None else list.__repr__(self)


def lazy_vector(length: int, load: Loader, reuse: Optional[Callable[[int], Any]] = None) -> ChunkedVector:
    """A vector of ``length`` slots whose leaves load on first touch. O(length / 64).

    ``reuse(leaf number)`` may return an existing leaf object holding the same slots
    (shared with an older version); None means make a ``LazyLeaf``.
    """
    chunks: List[List[Any]] = []
    leaves = (length + LEAF - 1) >> LEAF_BITS
    per_mid = MID >> LEAF_BITS
    for first in range(0, leaves, per_mid):
        mid: List[Any] = []
        for number in range(first, min(first + per_mid, leaves)):
            size = min(LEAF, length - (number << LEAF_BITS))
            leaf = reuse(number) if reuse is not None else None
            mid.append(leaf if leaf is not None else LazyLeaf(load, number, size))
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
