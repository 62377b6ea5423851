"""``Cursor``: an immutable position (a bound) on one ``Tree`` snapshot.

A cursor works on any persistent tree (``PersistentTree``: queries plus updates that
return a new tree); ``Tree.cursor(node)`` makes one.
"""

from __future__ import annotations

from typing import Any, Generic, Iterator, Optional, Protocol, Tuple, TypeVar

from ..core.reader import Bound, IndexReader
from ..errors import BotreeError

T = TypeVar("T", bound="PersistentTree")


class PersistentTree(Protocol):
    """What a cursor needs of its tree: reads, and updates that return a new tree."""

    @property
    def order_index(self) -> IndexReader: ...

    def data(self, node: int) -> Any: ...

    def level(self, node: int) -> int: ...

    def parent(self, node: int) -> Optional[int]: ...

    def insert_child(self: T, parent: Optional[int], data: Any = None, index: int = -1) -> Tuple[T, int]: ...

    def insert_before(self: T, node: int, data: Any = None) -> Tuple[T, int]: ...

    def insert_after(self: T, node: int, data: Any = None) -> Tuple[T, int]: ...

    def set_data(self: T, node: int, data: Any) -> T: ...

    def delete(self: T, node: int) -> T: ...


class Cursor(Generic[T]):
    """A bound of one node on one snapshot: ``node`` and ``is_open``.

    Moves return a new ``Cursor`` (or None where there is nothing); edits return a
    ``Cursor`` on the new tree at the node concerned.  Moves cost O(log B), O(log n)
    at block edges; ``parent`` is O(B · log n).
    """

    __slots__ = ("tree", "node", "is_open")

    def __init__(self, tree: T, node: int, is_open: bool = True) -> None:
        self.tree = tree
        self.node = node
        self.is_open = is_open

    def _at(self, bound: Optional[Bound]) -> Optional["Cursor[T]"]:
        return None if bound is None else Cursor(self.tree, bound[0], bound[1])

    @property
    def data(self) -> Any:
        """The data of the node under the cursor. O(1)."""
        return self.tree.data(self.node)

    @property
    def level(self) -> int:
        """The level of the node under the cursor. O(log n)."""
        return self.tree.level(self.node)

    # -- moves ------------------------------------------------------------------

    def next(self) -> Optional["Cursor[T]"]:
        """The next bound in document order. O(log B), O(log n) at a block edge."""
        return self._at(self.tree.order_index.next_bound((self.node, self.is_open)))

    def prev(self) -> Optional["Cursor[T]"]:
        """The previous bound in document order. O(log B), O(log n) at a block edge."""
        return self._at(self.tree.order_index.prev_bound((self.node, self.is_open)))

    def parent(self) -> Optional["Cursor[T]"]:
        """The opening bound of the parent node. O(B log n)."""
        parent = self.tree.parent(self.node)
        return None if parent is None else Cursor(self.tree, parent, True)

    def first_child(self) -> Optional["Cursor[T]"]:
        """The opening bound of the first child. O(log B), O(log n) at a block edge."""
        bound = self.tree.order_index.next_bound((self.node, True))
        return self._at(bound) if bound is not None and bound[1] else None

    def last_child(self) -> Optional["Cursor[T]"]:
        """The opening bound of the last child. O(log B), O(log n) at a block edge."""
        bound = self.tree.order_index.prev_bound((self.node, False))
        return Cursor(self.tree, bound[0], True) if bound is not None and not bound[1] else None

    def next_sibling(self) -> Optional["Cursor[T]"]:
        """The opening bound of the next sibling. O(log B), O(log n) at a block edge."""
        bound = self.tree.order_index.next_bound((self.node, False))
        return self._at(bound) if bound is not None and bound[1] else None

    def prev_sibling(self) -> Optional["Cursor[T]"]:
        """The opening bound of the previous sibling. O(log B), O(log n) at a block edge."""
        bound = self.tree.order_index.prev_bound((self.node, True))
        return Cursor(self.tree, bound[0], True) if bound is not None and not bound[1] else None

    def match(self) -> "Cursor[T]":
        """The other bound of the same node. O(1)."""
        return Cursor(self.tree, self.node, not self.is_open)

    def __iter__(self) -> Iterator["Cursor[T]"]:
        """This bound and every later one, as cursors. Amortised O(1) each."""
        tree = self.tree
        for node, is_open in tree.order_index.bounds((self.node, self.is_open)):
            yield Cursor(tree, node, is_open)

    # -- edits ------------------------------------------------------------------

    def insert_child(self, data: Any = None, index: int = -1) -> "Cursor[T]":
        """Insert a child of this node; the cursor on the new tree at the new node. O(log n + min(i, -i))."""
        tree, node = self.tree.insert_child(self.node, data, index)
        return Cursor(tree, node, True)

    def insert_before(self, data: Any = None) -> "Cursor[T]":
        """Insert a sibling before this node; the cursor at the new node. O(log n)."""
        tree, node = self.tree.insert_before(self.node, data)
        return Cursor(tree, node, True)

    def insert_after(self, data: Any = None) -> "Cursor[T]":
        """Insert a sibling after this node; the cursor at the new node. O(log n)."""
        tree, node = self.tree.insert_after(self.node, data)
        return Cursor(tree, node, True)

    def set_data(self, data: Any) -> "Cursor[T]":
        """Replace this node's data; the cursor at the same bound on the new tree. O(1)."""
        return Cursor(self.tree.set_data(self.node, data), self.node, self.is_open)

    def delete(self) -> Optional["Cursor[T]"]:
        """Delete this node's subtree; the cursor at the bound that followed it, or None. O(log n + size)."""
        after = self.tree.order_index.next_bound((self.node, False))
        tree = self.tree.delete(self.node)
        return None if after is None else Cursor(tree, after[0], after[1])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Cursor):
            return NotImplemented
        return self.tree is other.tree and self.node == other.node and self.is_open == other.is_open

    def __hash__(self) -> int:
        return hash((id(self.tree), self.node, self.is_open))

    def __repr__(self) -> str:
        side = "open" if self.is_open else "close"
        try:
            level = self.level
        except BotreeError:  # the node is not in this cursor's tree: never raise from repr
            return f"<Cursor {side} node {self.node} detached>"
        return f"<Cursor {side} node {self.node} level {level}>"
