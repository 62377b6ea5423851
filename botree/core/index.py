"""``OrderIndex``: the persistent BO-Tree order index, an immutable value, and its transient form.

Blocks live in a ``nodetable.ChunkedVector`` keyed by small integer block ids (a
freed id is reused), node rows in a ``nodetable.NodeTable``.  An update runs on a
``TransientIndex`` (``index.transient()``) that copies only the blocks and rows it
writes, then freezes with ``persistent()``: parents refer to children by id, so a
changed block replaces one slot and no path is copied unless counts along it change.
The value and its transient form live side by side, as in pyrsistent.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Tuple

from ..errors import InvalidArgument
from ..nodetable import ChunkedVector, IdAllocator, NodeTable
from ..nodetable.rows import NodeArg
from .blocks import Block
from .check import check_index
from .primitives import Primitives
from .reader import BoundArg, IndexReader

DEFAULT_BLOCK_SIZE = 64

# The token of a batch frozen by ``persistent_last``: no block is ever created with it.
RETIRED = object()


def check_block_size(block_size: object) -> int:
    """Validate a block size: an even int >= 4."""
    if type(block_size) is not int or block_size < 4 or block_size % 2:
        raise InvalidArgument(f"block_size must be an even int >= 4, not {block_size!r}")
    return block_size


def check_fields(fields: Any) -> Tuple[str, ...]:
    """Validate indexed field names: an iterable of str, not a str itself; returns them as a tuple. O(fields)."""
    if isinstance(fields, (str, bytes)):
        raise InvalidArgument(f"fields is a sequence of field names, e.g. fields=('name',), not {fields!r}")
    try:
        names = tuple(fields)
    except TypeError:
        raise InvalidArgument(f"fields must be a sequence of str field names, not {type(fields).__name__}") from None
    for name in names:
        if type(name) is not str:
            raise InvalidArgument(f"indexed field names must be str, not {type(name).__name__} ({name!r})")
    if len(set(names)) != len(names):
        raise InvalidArgument(f"indexed field names must differ, got {names!r}")
    return names


def check_key_field(key: Any) -> Optional[str]:
    """Validate a key field name: None (no key) or a non-empty str; returns it. O(1)."""
    if key is not None and (type(key) is not str or not key):
        raise InvalidArgument(f"key must be a field name (a non-empty str) or None, not {key!r}")
    return key


class OrderIndex(IndexReader):
    """An immutable order index over a forest of nodes.

    Each node has an opening and a closing bound; bounds are ``(node, is_open)``
    pairs.  Updates return a new index (and a node id where one is created); this
    one never changes.  ``edit()`` gives a batch for many updates at once.
    """

    __slots__ = ("_blocks", "_links", "_nodes", "_root", "_height", "_alloc", "block_size")

    def __init__(self, block_size: Any = DEFAULT_BLOCK_SIZE, fields: Iterable[str] = (), key: Any = None) -> None:
        # block_size (an int) and key (a str or None) are checked below, not by their annotations (see NodeArg).
        self.block_size = check_block_size(block_size)
        root = Block([], [], [], None, None)
        self._blocks = ChunkedVector([root])
        self._links = ChunkedVector([(-1, 0, 0)])
        self._nodes = NodeTable(check_fields(fields), check_key_field(key))
        self._root = 0
        self._height = 0
        self._alloc = IdAllocator(1)

    @classmethod
    def from_parts(
        cls,
        blocks: ChunkedVector,
        links: ChunkedVector,
        nodes: NodeTable,
        root: int,
        height: int,
        alloc: IdAllocator,
        block_size: int,
    ) -> "OrderIndex":
        """An index over ready-made parts (bulk build, storage); ``check()`` verifies them. O(1)."""
        new = cls.__new__  # not cls.__new__(cls): mypyc fails on that spelling in a subclass
        idx = new(cls)
        idx._blocks = blocks
        idx._links = links
        idx._nodes = nodes
        idx._root = root
        idx._height = height
        idx._alloc = alloc
        idx.block_size = block_size
        return idx

    def transient(self, fresh_ids: bool = False) -> "TransientIndex":
        """The transient form: many updates in place, then ``persistent()``. O(1).

        ``fresh_ids=True``: node ids freed in the batch are never handed out again,
        and inserts take ids no earlier version used (a ``Database`` commits so).
        """
        return TransientIndex(self, self.block_size, fresh_ids)

    def configured(self, fields: Iterable[str], key: Any) -> "OrderIndex":
        """The same forest and node ids with other indexed ``fields`` and key field.

        O(n) to build a changed index (unchanged ones are shared); ``InvalidKey`` or
        ``DuplicateKey`` if the rows cannot be keyed so, and nothing changes.
        """
        nodes = self._nodes.configured(check_fields(fields), check_key_field(key))
        return OrderIndex.from_parts(
            self._blocks, self._links, nodes, self._root, self._height, self._alloc, self.block_size
        )

    def find(self, field: str, value: Any) -> frozenset[int]:
        """Ids of nodes whose indexed ``field`` equals ``value``. O(log n + result)."""
        return self._nodes.find(field, value)

    # -- persistent updates: one-operation batches ----------------------------

    def insert_pair(self, data: Any = None, before: BoundArg = None) -> Tuple["OrderIndex", int]:
        """A new index with a node inserted just before ``before`` (None: the end).

        Returns (index, node id). O(B · h).
        """
        batch = TransientIndex(self, self.block_size)
        node = batch.insert_pair(data, before)
        return batch.persistent(), node

    def delete_pair(self, node: NodeArg) -> "OrderIndex":
        """A new index without ``node``'s bounds (its descendants move up). O(B · h)."""
        batch = TransientIndex(self, self.block_size)
        batch.delete_pair(node)
        return batch.persistent()

    def relocate(self, first: BoundArg, last: BoundArg, before: BoundArg, d: Optional[int] = None) -> "OrderIndex":
        """A new index with first..last moved before ``before``; see ``Primitives.relocate``.

        O(B · h), independent of the range's size.
        """
        batch = TransientIndex(self, self.block_size)
        batch.relocate(first, last, before, d)
        return batch.persistent()

    def delete_range(self, first: BoundArg, last: BoundArg) -> "OrderIndex":
        """A new index without the run of sibling subtrees first..last. O(B log n) plus O(size)."""
        batch = TransientIndex(self, self.block_size)
        batch.delete_range(first, last)
        return batch.persistent()

    def set_data(self, node: NodeArg, data: Any) -> "OrderIndex":
        """A new index where ``node`` holds ``data``. O(1)."""
        batch = TransientIndex(self, self.block_size)
        batch.set_data(node, data)
        return batch.persistent()

    def check(self) -> None:
        """Verify every structural invariant; raises ``InvariantError``. O(n)."""
        check_index(self, self.block_size)

    def __repr__(self) -> str:
        return f"OrderIndex(nodes={len(self)}, height={self._height}, block_size={self.block_size})"


class TransientIndex(Primitives):
    """The transient form of an ``OrderIndex``: updates in place, frozen by ``persistent()``.

    Blocks and rows it created or copied change in place; others are copied on first
    write.  ``blocks_written`` and ``links_written`` count the work (tests use them).
    """

    __slots__ = ()

    def persistent(self) -> OrderIndex:
        """Freeze the changes into a new ``OrderIndex``. O(changes).

        The transient index may be used further; it copies blocks again before writing.
        """
        idx = OrderIndex.from_parts(
            self._blocks.persistent(),
            self._links.persistent() if self._links_owned else self._links,
            self._nodes.persistent(),
            self._root,
            self._height,
            self._alloc,
            self._B,
        )
        self._alloc_owned = False  # the frozen index holds it now: copy before the next change
        self._token = object()
        self._ctoken = object()
        return idx

    def persistent_last(self) -> OrderIndex:
        """``persistent()`` for a batch dropped right after (a one-update batch: ``Tree``'s updates).

        The same index, without preparing this batch to go on (no new token, no fresh
        ownership sets): the batch reads the frozen index afterwards, and any write to it
        fails (its tables are the frozen, immutable ones).  O(changes).
        """
        blocks = self._blocks
        links = self._links
        idx = OrderIndex.from_parts(
            ChunkedVector.from_parts(blocks.chunks, blocks.length),
            ChunkedVector.from_parts(links.chunks, links.length) if self._links_owned else links,
            self._nodes.persistent_last(),
            self._root,
            self._height,
            self._alloc,
            self._B,
        )
        self._blocks = idx._blocks
        self._links = idx._links
        self._nodes = idx._nodes
        self._alloc_owned = False
        self._links_owned = False  # the next link write would make the frozen table transient again
        self._token = RETIRED  # owns nothing: a block of the frozen index is never changed in place
        self._ctoken = RETIRED
        return idx
