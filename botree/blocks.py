"""Blocks of the order index: leaves hold bounds, inner blocks hold child block ids.

One class serves both kinds (``counts is None`` marks a leaf) because splitting,
merging, relabelling and level shifting treat them the same way:

* ``keys``   gap keys, strictly increasing (see ``gapkeys``);
* ``items``  leaf: encoded bounds ``node << 1 | is_close``; inner: child block ids;
* ``aux``    leaf: each bound's level minus the block's delta sum S(leaf);
             inner: for each child, the minimum bound level in its subtree minus
             S(this block) (so ``parent`` searches can skip whole subtrees);
* ``counts`` inner only: number of bounds below each child (rank, size);
* ``parent``/``pkey``  the parent block id (-1 at the root) and this block's key there;
* ``delta``  level delta: a bound's level is its ``aux`` plus the deltas of the
             blocks from its leaf to the root;
* ``owner``  the token of the batch allowed to change the block in place.
"""

from __future__ import annotations

from typing import List, Optional

# Min-level of an empty block: larger than any real level.
EMPTY_MIN = 1 << 60


def encode(node: int, is_open: bool) -> int:
    """The leaf item for a bound."""
    return node << 1 if is_open else node << 1 | 1


class Block:
    """A leaf or inner block (see the module docstring for the fields)."""

    __slots__ = ("keys", "items", "aux", "counts", "parent", "pkey", "delta", "owner")

    def __init__(
        self,
        keys: List[int],
        items: List[int],
        aux: List[int],
        counts: Optional[List[int]],
        parent: int,
        pkey: int,
        delta: int,
        owner: object,
    ) -> None:
        self.keys = keys
        self.items = items
        self.aux = aux
        self.counts = counts
        self.parent = parent
        self.pkey = pkey
        self.delta = delta
        self.owner = owner

    def copy(self, owner: object) -> "Block":
        """A copy owned by ``owner``. O(B)."""
        counts = self.counts
        return Block(
            self.keys[:],
            self.items[:],
            self.aux[:],
            None if counts is None else counts[:],
            self.parent,
            self.pkey,
            self.delta,
            owner,
        )

    def entry_count(self) -> int:
        """Number of bounds below this block. O(B)."""
        counts = self.counts
        return len(self.items) if counts is None else sum(counts)

    def min_level(self) -> int:
        """Minimum of ``aux`` plus this block's delta (its value in the parent's ``aux``)."""
        aux = self.aux
        return self.delta + (min(aux) if aux else EMPTY_MIN)

    def __repr__(self) -> str:
        kind = "Leaf" if self.counts is None else "Inner"
        return f"{kind}(items={self.items}, delta={self.delta}, parent={self.parent})"
