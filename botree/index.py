"""``OrderIndex``: the persistent BO-Tree order index, an immutable value.

Blocks live in a ``nodetable.ChunkedVector`` keyed by small integer block ids (a
freed id is reused), node rows in a ``nodetable.NodeTable``.  An update runs as a batch
(``IndexBatch``) that copies only the blocks and rows it writes, then freezes:
parents refer to children by id, so a changed block replaces one slot and no path
is copied unless counts along it change.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Tuple

from nodetable import ChunkedVector, IdAllocator, NodeTable

from .batch import IndexBatch
from .blocks import Block
from .errors import InvalidArgument
from .reader import Bound, IndexReader

DEFAULT_BLOCK_SIZE = 64


def check_block_size(block_size: object) -> int:
    """Validate a block size: an even int >= 4."""
    if type(block_size) is not int or block_size < 4 or block_size % 2:
        raise InvalidArgument(f"block_size must be an even int >= 4, not {block_size!r}")
    return block_size


class OrderIndex(IndexReader):
    """An immutable order index over a forest of nodes.

    Each node has an opening and a closing bound; bounds are ``(node, is_open)``
    pairs.  Updates return a new index (and a node id where one is created); this
    one never changes.  ``edit()`` gives a batch for many updates at once.
    """

    __slots__ = ("_blocks", "_links", "_nodes", "_root", "_height", "_alloc", "block_size")

    def __init__(self, block_size: int = DEFAULT_BLOCK_SIZE, index: Iterable[str] = ()) -> None:
        self.block_size = check_block_size(block_size)
        root = Block([], [], [], None, None)
        self._blocks = ChunkedVector([root])
        self._links = ChunkedVector([(-1, 0, 0)])
        self._nodes = NodeTable(index)
        self._root = 0
        self._height = 0
        self._alloc = IdAllocator(1)

    @classmethod
    def _make(
        cls,
        blocks: ChunkedVector,
        links: ChunkedVector,
        nodes: NodeTable,
        root: int,
        height: int,
        alloc: IdAllocator,
        block_size: int,
    ) -> "OrderIndex":
        idx = cls.__new__(cls)
        idx._blocks = blocks
        idx._links = links
        idx._nodes = nodes
        idx._root = root
        idx._height = height
        idx._alloc = alloc
        idx.block_size = block_size
        return idx

    @property
    def nodes(self) -> NodeTable:
        """The node table (rows with back-links and data). O(1)."""
        return self._nodes

    def edit(self) -> IndexBatch:
        """A batch of updates starting from this index. O(1)."""
        return IndexBatch(self)

    def find(self, field: str, value: Any) -> frozenset[int]:
        """Ids of nodes whose indexed ``field`` equals ``value``. O(log n + result)."""
        return self._nodes.find(field, value)

    # -- persistent updates: one-operation batches ----------------------------

    def insert_pair(self, data: Any = None, before: Optional[Bound] = None) -> Tuple["OrderIndex", int]:
        """A new index with a node inserted just before ``before`` (None: the end).

        Returns (index, node id). O(B · h).
        """
        batch = IndexBatch(self)
        node = batch.insert_pair(data, before)
        return batch.persistent(), node

    def delete_pair(self, node: int) -> "OrderIndex":
        """A new index without ``node``'s bounds (its descendants move up). O(B · h)."""
        batch = IndexBatch(self)
        batch.delete_pair(node)
        return batch.persistent()

    def relocate(
        self, first: Bound, last: Bound, before: Optional[Bound], d: Optional[int] = None
    ) -> "OrderIndex":
        """A new index with first..last moved before ``before``; see ``IndexBatch.relocate``.

        O(B · h), independent of the range's size.
        """
        batch = IndexBatch(self)
        batch.relocate(first, last, before, d)
        return batch.persistent()

    def delete_range(self, first: Bound, last: Bound) -> "OrderIndex":
        """A new index without the run of sibling subtrees first..last. O(B log n) plus O(size)."""
        batch = IndexBatch(self)
        batch.delete_range(first, last)
        return batch.persistent()

    def set_data(self, node: int, data: Any) -> "OrderIndex":
        """A new index where ``node`` holds ``data``. O(1)."""
        batch = IndexBatch(self)
        batch.set_data(node, data)
        return batch.persistent()

    def check(self) -> None:
        """Verify every structural invariant; raises ``InvariantError``. O(n)."""
        from .check import check_index

        check_index(self)

    def __repr__(self) -> str:
        return f"OrderIndex(nodes={len(self)}, height={self._height}, block_size={self.block_size})"
