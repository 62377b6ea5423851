"""Blocks of the order index: leaves hold bounds, inner blocks hold child block ids.

One class serves both kinds (``counts is None`` marks a leaf) because splitting,
merging, relabelling and level shifting treat them the same way:

* ``keys``   gap keys, strictly increasing (see ``gapkeys``);
* ``items``  leaf: encoded bounds ``node << 1 | is_close``; inner: child block ids;
* ``aux``    leaf: each bound's level minus the block's delta sum S(leaf);
             inner: for each child, the minimum bound level in its subtree minus
             S(this block) (so ``parent`` searches can skip whole subtrees);
* ``counts`` inner only: number of bounds below each child (rank, size);
* ``owner``  the token of the batch allowed to change the block in place.

A block's place in the tree is not stored in the block but in the index's link
table, one ``(parent id, key in parent, delta)`` tuple per block id (parent -1 at the
root).  ``delta`` is the level delta: a bound's level is its ``aux`` plus the deltas of
the blocks from its leaf to the root.  Keeping links outside the blocks means that
moving children to another parent (splits, merges, relabels) or shifting a subtree's
levels rewrites one small tuple per child instead of copying the child block.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

# (parent block id or -1, this block's key in the parent, level delta)
Link = Tuple[int, int, int]

# Min-level of an empty block: larger than any real level.
EMPTY_MIN = 1 << 60


class Block:
    """A leaf or inner block (see the module docstring for the fields)."""

    __slots__ = ("keys", "items", "aux", "counts", "owner")

    def __init__(
        self,
        keys: List[int],
        items: List[int],
        aux: List[int],
        counts: Optional[List[int]],
        owner: object,
    ) -> None:
        self.keys = keys
        self.items = items
        self.aux = aux
        self.counts = counts
        self.owner = owner

    def copy(self, owner: object) -> "Block":
        """A copy owned by ``owner``. O(B)."""
        counts = self.counts
        return Block(self.keys[:], self.items[:], self.aux[:], None if counts is None else counts[:], owner)

    def entry_count(self) -> int:
        """Number of bounds below this block. O(B)."""
        counts = self.counts
        return len(self.items) if counts is None else sum(counts)

    def min_aux(self) -> int:
        """Minimum of ``aux`` (EMPTY_MIN when empty); plus the block's delta, its value in the parent."""
        aux = self.aux
        return min(aux) if aux else EMPTY_MIN

    def __repr__(self) -> str:
        kind = "Leaf" if self.counts is None else "Inner"
        return f"{kind}(items={self.items})"
