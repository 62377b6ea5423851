"""``Tree``: an immutable forest of ordered trees, the public face of botree."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Optional, Tuple

from . import hierarchy
from .batch import IndexBatch
from .errors import InvalidArgument
from .index import DEFAULT_BLOCK_SIZE, OrderIndex
from .queries import TreeQueries
from .render import render, summary

if TYPE_CHECKING:
    from .cursor import Cursor
    from .transaction import Transaction


class Tree(TreeQueries):
    """An immutable forest. Every update returns a new ``Tree``; this one never changes.

    ``Tree(block_size=64, index=("name",))`` is an empty forest whose node data is
    indexed on the ``name`` field (see ``find``).  Node ids are small integers; ids
    of deleted nodes may be reused by later inserts.  Queries and updates cost
    O(log n) unless noted, whatever the shape of the tree and the number of nodes
    an update moves.  Taking a snapshot is free: a ``Tree`` is one.
    """

    __slots__ = ("_ix", "_hash")

    def __init__(self, block_size: int = DEFAULT_BLOCK_SIZE, index: Iterable[str] = ()) -> None:
        if isinstance(index, str):
            raise InvalidArgument("index is a sequence of field names, e.g. index=('name',)")
        self._ix: OrderIndex = OrderIndex(block_size, index)
        self._hash: Optional[int] = None

    @classmethod
    def _wrap(cls, ix: OrderIndex) -> "Tree":
        tree = cls.__new__(cls)
        tree._ix = ix
        tree._hash = None
        return tree

    def _commit(self, batch: IndexBatch) -> "Tree":
        return Tree._wrap(batch.persistent())

    @property
    def index(self) -> OrderIndex:
        """The underlying order index (bounds, ranks, invariant checks)."""
        return self._ix

    @property
    def block_size(self) -> int:
        """Entries per block of the order index."""
        return self._ix.block_size

    # -- batches and positions ------------------------------------------------

    def transaction(self) -> "Transaction":
        """A batch of updates: ``with t.transaction() as tx: ...; t2 = tx.tree``. O(1)."""
        from .transaction import Transaction

        return Transaction(self)

    def cursor(self, node: int, close: bool = False) -> "Cursor":
        """An immutable position on this tree at ``node``'s opening (or closing) bound."""
        from .cursor import Cursor

        self._ix._row(node)
        return Cursor(self, node, not close)

    # -- inserts --------------------------------------------------------------

    def insert_root(self, data: Any = None) -> Tuple["Tree", int]:
        """A new node that becomes the parent of the whole current forest. O(log n)."""
        b = self._ix.edit()
        node = hierarchy.insert_root(b, data)
        return self._commit(b), node

    def insert_child(self, parent: Optional[int], data: Any = None, index: int = -1) -> Tuple["Tree", int]:
        """A new node as child ``index`` of ``parent`` (None: top level). O(log n + min(i, -i)).

        ``index`` is the position among the children after the insert: 0 first,
        -1 last, other negatives from the end.
        """
        b = self._ix.edit()
        node = hierarchy.insert_child(b, parent, data, index)
        return self._commit(b), node

    def insert_before(self, node: int, data: Any = None) -> Tuple["Tree", int]:
        """A new node as the sibling just before ``node``. O(log n)."""
        b = self._ix.edit()
        new = hierarchy.insert_before(b, node, data)
        return self._commit(b), new

    def insert_after(self, node: int, data: Any = None) -> Tuple["Tree", int]:
        """A new node as the sibling just after ``node``. O(log n)."""
        b = self._ix.edit()
        new = hierarchy.insert_after(b, node, data)
        return self._commit(b), new

    def insert_parent(self, first: int, data: Any = None, last: Optional[int] = None) -> Tuple["Tree", int]:
        """A new node wrapping ``first`` (or the sibling run first..last) in place. O(log n)."""
        b = self._ix.edit()
        new = hierarchy.insert_parent(b, first, data, last)
        return self._commit(b), new

    # -- deletes --------------------------------------------------------------

    def delete(self, node: int) -> "Tree":
        """Without ``node`` and its subtree. O(log n) to cut, O(size) to free the rows."""
        b = self._ix.edit()
        hierarchy.delete(b, node)
        return self._commit(b)

    def unwrap(self, node: int) -> "Tree":
        """Without ``node`` alone: its children take its place. O(log n)."""
        b = self._ix.edit()
        hierarchy.unwrap(b, node)
        return self._commit(b)

    # -- moves ----------------------------------------------------------------

    def move(self, node: int, parent: Optional[int], index: int = -1) -> "Tree":
        """``node`` with its subtree moved to child ``index`` of ``parent``. O(log n)."""
        b = self._ix.edit()
        hierarchy.move(b, node, parent, index)
        return self._commit(b)

    def move_before(self, node: int, target: int) -> "Tree":
        """``node`` with its subtree moved to just before ``target``. O(log n)."""
        b = self._ix.edit()
        hierarchy.move_before(b, node, target)
        return self._commit(b)

    def move_after(self, node: int, target: int) -> "Tree":
        """``node`` with its subtree moved to just after ``target``. O(log n)."""
        b = self._ix.edit()
        hierarchy.move_after(b, node, target)
        return self._commit(b)

    def move_range(self, first: int, last: int, parent: Optional[int], index: int = -1) -> "Tree":
        """The sibling run first..last moved to children ``index``.. of ``parent``. O(log n)."""
        b = self._ix.edit()
        hierarchy.move_range(b, first, last, parent, index)
        return self._commit(b)

    def move_inner(self, node: int, parent: Optional[int], index: int = -1) -> "Tree":
        """``node`` alone moved to child ``index`` of ``parent``; its children stay. O(log n)."""
        b = self._ix.edit()
        hierarchy.move_inner(b, node, parent, index)
        return self._commit(b)

    def set_data(self, node: int, data: Any) -> "Tree":
        """``node`` holding ``data``. O(1), O(log n) with indexed fields."""
        b = self._ix.edit()
        b.set_data(node, data)
        return self._commit(b)

    # -- whole-tree -----------------------------------------------------------

    def check(self) -> None:
        """Verify every invariant of the underlying index; raises ``InvariantError``. O(n)."""
        self._ix.check()

    def render(self, node: Optional[int] = None, max_lines: Optional[int] = 50) -> str:
        """A text drawing of ``node``'s subtree (None: the forest). O(lines)."""
        return render(self, node, max_lines)

    def __eq__(self, other: object) -> bool:
        """Same forest shape, same node ids, equal data. O(n)."""
        if not isinstance(other, Tree):
            return NotImplemented
        if other._ix is self._ix:
            return True
        if len(self) != len(other):
            return False
        mine = self._ix
        theirs = other._ix
        for b1, b2 in zip(mine.bounds(), theirs.bounds()):
            if b1 != b2:
                return False
            if b1[1] and mine.data(b1[0]) != theirs.data(b2[0]):
                return False
        return True

    def __hash__(self) -> int:
        """Hash of the shape and ids (data may be unhashable). O(n) once, then cached."""
        if self._hash is None:
            self._hash = hash(tuple(self._ix.bounds()))
        return self._hash

    def __repr__(self) -> str:
        n = len(self)
        return f"<Tree {n} node{'s' if n != 1 else ''}{': ' + summary(self) if n else ''}>"
