"""``Transaction``: the transient (evolver) form of a ``Tree``.

Inside ``with t.transaction() as tx:`` updates return node ids and change a
private working copy in place; leaving the block commits (``tx.tree`` is the new
``Tree``), an exception discards everything and propagates.  ``t`` never changes.
Blocks and rows the transaction already copied are edited in place, which is why a
batch of k updates costs much less than k separate persistent updates.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any, Optional, Type

from . import hierarchy
from .batch import IndexBatch
from .errors import InvalidOperation
from .queries import TreeQueries

if TYPE_CHECKING:
    from .tree import Tree


class Transaction(TreeQueries):
    """A batch of updates on a ``Tree``; the same queries, updates returning ids."""

    __slots__ = ("_ix", "base", "tree", "_open")

    def __init__(self, base: "Tree") -> None:
        self.base = base
        self._ix: IndexBatch = base._ix.edit()
        self.tree: Optional["Tree"] = None
        self._open = True

    def _batch(self) -> IndexBatch:
        if not self._open:
            raise InvalidOperation("this transaction has already been committed or discarded")
        return self._ix

    def __enter__(self) -> "Transaction":
        self._batch()
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.rollback()

    def commit(self) -> "Tree":
        """Freeze the changes into a new ``Tree`` (also ``self.tree``); the transaction closes. O(changes)."""
        from .tree import Tree

        self.tree = Tree._wrap(self._batch().persistent())
        self._open = False
        return self.tree

    def rollback(self) -> None:
        """Discard every change; ``self.tree`` stays None and the transaction closes. O(1)."""
        self._open = False

    # -- updates: same names as Tree's, returning node ids -------------------------

    def _apply(self, name: str, *args: Any) -> Any:
        """Run one logical update on the batch; subclasses may record it."""
        return hierarchy.UPDATES[name](self._batch(), *args)

    def insert_root(self, data: Any = None) -> int:
        """See ``Tree.insert_root``; returns the new node id."""
        return self._apply("insert_root", data)

    def insert_child(self, parent: Optional[int], data: Any = None, index: int = -1) -> int:
        """See ``Tree.insert_child``; returns the new node id."""
        return self._apply("insert_child", parent, data, index)

    def insert_before(self, node: int, data: Any = None) -> int:
        """See ``Tree.insert_before``; returns the new node id."""
        return self._apply("insert_before", node, data)

    def insert_after(self, node: int, data: Any = None) -> int:
        """See ``Tree.insert_after``; returns the new node id."""
        return self._apply("insert_after", node, data)

    def insert_parent(self, first: int, data: Any = None, last: Optional[int] = None) -> int:
        """See ``Tree.insert_parent``; returns the new node id."""
        return self._apply("insert_parent", first, data, last)

    def delete(self, node: int) -> None:
        """See ``Tree.delete``."""
        self._apply("delete", node)

    def unwrap(self, node: int) -> None:
        """See ``Tree.unwrap``."""
        self._apply("unwrap", node)

    def move(self, node: int, parent: Optional[int], index: int = -1) -> None:
        """See ``Tree.move``."""
        self._apply("move", node, parent, index)

    def move_before(self, node: int, target: int) -> None:
        """See ``Tree.move_before``."""
        self._apply("move_before", node, target)

    def move_after(self, node: int, target: int) -> None:
        """See ``Tree.move_after``."""
        self._apply("move_after", node, target)

    def move_range(self, first: int, last: int, parent: Optional[int], index: int = -1) -> None:
        """See ``Tree.move_range``."""
        self._apply("move_range", first, last, parent, index)

    def move_inner(self, node: int, parent: Optional[int], index: int = -1) -> None:
        """See ``Tree.move_inner``."""
        self._apply("move_inner", node, parent, index)

    def set_data(self, node: int, data: Any) -> None:
        """See ``Tree.set_data``."""
        self._apply("set_data", node, data)
