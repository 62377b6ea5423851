"""The row kept for every node: its two back-links into the order index, its parent and its data."""

from __future__ import annotations

from typing import Any, Optional

# ``Row.parent`` holds the parent's opening bound as a leaf item, ``parent id << 1``: the bulk
# build hands every row the very int object its parent's leaf entry holds, so keeping the
# parent costs one slot per row and no int object (measured: 8 B/node instead of 24).
# ``Row.parent`` of a top-level node (``TOP >> 1 == -1``).
TOP = -2
# ``Row.parent`` not stored: a row decoded from a file written before rows kept their
# parent (format botree-2 without it); readers compute the parent from the order index.
UNKNOWN = -4

# A node id as a caller passed it, on the methods callers reach: their bodies check it
# (``type(node) is int``).  Annotated ``Any``, not ``int``, for the compiled build (mypyc,
# docs/design.md): a compiled function enforces ``int`` on entry, where a bool would pass as
# 0 or 1 and a str would raise a plain TypeError instead of the library's typed error.
NodeArg = Any


class Row:
    """One node's row, as every committed table may share it.

    ``open_leaf``/``open_key`` locate the node's opening bound (leaf block id and gap
    key inside that leaf), ``close_leaf``/``close_key`` its closing bound.  ``parent``
    is the parent's opening bound item (``parent id << 1``; ``parent_id`` decodes it),
    ``TOP`` for a top-level node, or ``UNKNOWN`` when not stored (then computed from
    the order index).

    ``owner`` is the token of the batch allowed to change the row in place.  A plain
    ``Row`` (bulk builds, rows read from storage) belongs to no batch: its ``owner`` is
    the class attribute None and costs no slot (8 B per node of a bulk-built tree); a
    batch changes a copy, an ``OwnedRow`` carrying its token.  A row reachable from a
    committed table has an owner no live batch holds, so it is never mutated.
    """

    __slots__ = ("open_leaf", "open_key", "close_leaf", "close_key", "data", "parent")
    owner: Optional[object] = None

    def __init__(
        self,
        open_leaf: int,
        open_key: int,
        close_leaf: int,
        close_key: int,
        data: Any,
        owner: object = None,  # object, not None: both builds raise the TypeError below
        parent: int = UNKNOWN,
    ) -> None:
        if owner is not None:
            raise TypeError("a Row belongs to no batch: make an OwnedRow to give it an owner")
        self.open_leaf = open_leaf
        self.open_key = open_key
        self.close_leaf = close_leaf
        self.close_key = close_key
        self.data = data
        self.parent = parent

    @property
    def parent_id(self) -> int:
        """The parent's node id, -1 at top level, -2 when not stored (``UNKNOWN``). O(1)."""
        return self.parent >> 1

    def copy(self, owner: object) -> "OwnedRow":
        """A copy owned by ``owner``. O(1)."""
        return OwnedRow(self.open_leaf, self.open_key, self.close_leaf, self.close_key, self.data, owner, self.parent)

    def __repr__(self) -> str:
        return (
            f"Row(open=({self.open_leaf}, {self.open_key}), "
            f"close=({self.close_leaf}, {self.close_key}), parent={self.parent_id}, data={self.data!r})"
        )


class OwnedRow(Row):
    """A row made or copied by a batch: ``owner`` is that batch's token (see ``Row``)."""

    __slots__ = ("owner",)

    def __init__(
        self,
        open_leaf: int,
        open_key: int,
        close_leaf: int,
        close_key: int,
        data: Any,
        owner: object,
        parent: int = UNKNOWN,
    ) -> None:
        self.open_leaf = open_leaf
        self.open_key = open_key
        self.close_leaf = close_leaf
        self.close_key = close_key
        self.data = data
        self.owner = owner
        self.parent = parent
