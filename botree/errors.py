"""The botree error hierarchy.

Every error the library raises on bad input derives from ``BotreeError`` and also
from the matching built-in (``KeyError``, ``ValueError``, ``IndexError``,
``TypeError``), so callers can catch either.
"""

from __future__ import annotations

from typing import Sequence


class BotreeError(Exception):
    """Base class of every botree error."""


class NodeNotFound(BotreeError, KeyError):
    """A node id that does not exist in this tree."""

    def __init__(self, node: object, message: str | None = None) -> None:
        super().__init__(node)
        self.node = node
        self.message = message or f"node {node!r} does not exist"

    def __str__(self) -> str:
        return self.message


class InvalidOperation(BotreeError, ValueError):
    """An operation that would break the hierarchy (e.g. moving a node into itself)."""


class PositionError(BotreeError, IndexError):
    """A rank or child index outside the valid range."""


class InvalidArgument(BotreeError, TypeError):
    """An argument of the wrong type (e.g. a bound that is not ``(int, bool)``)."""


class InvariantError(BotreeError, AssertionError):
    """``check()`` found a broken invariant: a bug or a corrupted structure."""


class ConflictError(BotreeError):
    """A transaction could not be committed: a concurrent commit invalidated one of its updates."""


class MergeConflict(ConflictError):
    """A merge could not be committed: every source update that no longer applies, listed at once.

    ``conflicts`` holds one ``botree.db.merge.Conflict`` per such update (node, reason,
    both sides' changes, whether ``resolve="ours"``/``"theirs"`` can settle it).
    """

    def __init__(self, message: str, conflicts: Sequence[object] = ()) -> None:
        super().__init__(message)
        self.conflicts = list(conflicts)


class BranchNotFound(BotreeError, KeyError):
    """A branch name that does not exist (or was deleted)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "branch not found"


class VersionNotFound(BotreeError, KeyError):
    """A version that does not exist or is no longer retained."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "version not found"


class InvalidKey(InvalidArgument):
    """Node data of a keyed tree without a valid key: the key field missing, or not an int or a str."""


class DuplicateKey(InvalidOperation):
    """An update that would give two nodes of a keyed tree the same key."""


class UnknownKey(NodeNotFound):
    """A key that no node of the tree holds (``tree.node_of``)."""

    def __init__(self, key: object) -> None:
        super().__init__(key, f"no node has the key {key!r}")
        self.key = key


class StorageError(BotreeError):
    """The storage behind a database cannot be reached or used (bad URL, server down, no permission)."""


class CorruptDatabase(StorageError):
    """A stored database failed a check: bad checksum, truncated file, missing or malformed record."""


class OutdatedFormat(StorageError):
    """A stored database written in an older storage format; the message says how to upgrade it."""


class MissingExtra(BotreeError, ImportError):
    """A conversion needs an optional library that is not installed; the message names the extra."""


# -- the node table (``botree.nodetable``) ------------------------------------------


class NodeTableError(BotreeError):
    """Base class of every node-table error."""


class UnknownNode(NodeTableError, KeyError):
    """A node id that is not live in a node table."""

    def __init__(self, node: object) -> None:
        super().__init__(node)
        self.node = node

    def __str__(self) -> str:
        return f"unknown node id {self.node!r}"


class NotIndexed(NodeTableError, ValueError):
    """A lookup on a field that the table does not index."""


class TableCorrupt(NodeTableError, InvariantError):
    """A node table's ``check()`` found a broken invariant."""

