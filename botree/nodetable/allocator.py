"""Dense integer id allocation that reuses freed ids.

The free ids form a persistent stack of cons cells ``(id, rest)``, so copying an
allocator is O(1) and a copy never sees ids released by another copy.  Tables keep
one allocator per value and copy it before a batch mutates it.
"""

from __future__ import annotations

from typing import Any, Iterator, Optional, Tuple

# (id, rest): the rest is a FreeStack too.  Not spelled as a recursive alias: mypyc (the compiled
# build, docs/design.md) recurses on it without end.
FreeStack = Optional[Tuple[int, Any]]


class IdAllocator:
    """Hands out the smallest never-used id, or the most recently freed one.

    ``allocate`` and ``release`` are O(1); ``copy`` is O(1).  ``holes`` counts ids
    that are free but no longer on the stack (a stored allocator keeps only the top
    of its stack, see ``botree.codec``): they are never handed out again.
    """

    __slots__ = ("next_id", "free", "nfree", "holes")

    def __init__(self, next_id: int = 0, free: FreeStack = None, nfree: int = 0, holes: int = 0) -> None:
        self.next_id = next_id
        self.free = free
        self.nfree = nfree
        self.holes = holes

    def copy(self) -> "IdAllocator":
        """An independent allocator in the same state. O(1)."""
        return IdAllocator(self.next_id, self.free, self.nfree, self.holes)

    def allocate(self) -> int:
        """Return a free id: a released one if any (LIFO), else a fresh one. O(1)."""
        free = self.free
        if free is not None:
            ident, self.free = free
            self.nfree -= 1
            return ident
        ident = self.next_id
        self.next_id = ident + 1
        return ident

    def allocate_fresh(self) -> int:
        """Return an id never handed out before, ignoring released ones. O(1)."""
        ident = self.next_id
        self.next_id = ident + 1
        return ident

    def release(self, ident: int) -> None:
        """Make ``ident`` available again. O(1). The caller guarantees it is live."""
        self.free = (ident, self.free)
        self.nfree += 1

    def retire(self, ident: int) -> None:
        """Free ``ident`` for good: it becomes a hole, never handed out again. O(1).

        The caller guarantees it is live.  Used where ids must keep naming one node
        (a ``Database``'s commits): the stack does not grow, only the hole count.
        """
        self.holes += 1

    def free_ids(self) -> Iterator[int]:
        """The released ids, most recent first. O(number of free ids)."""
        node = self.free
        while node is not None:
            ident, node = node
            yield ident

    @classmethod
    def restore(cls, next_id: int, top: list[int], nfree: int) -> "IdAllocator":
        """An allocator whose stack holds ``top`` (most recent first) out of ``nfree`` free ids. O(len(top))."""
        free: FreeStack = None
        for ident in reversed(top):
            free = (ident, free)
        return cls(next_id, free, len(top), nfree - len(top))

    @property
    def live_count(self) -> int:
        """Number of ids handed out and not released. O(1)."""
        return self.next_id - self.nfree - self.holes
