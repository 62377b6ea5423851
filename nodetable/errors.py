"""Errors raised by the node table."""

from __future__ import annotations


class NodeTableError(Exception):
    """Base class of every node-table error."""


class UnknownNode(NodeTableError, KeyError):
    """A node id that is not live in this table."""

    def __init__(self, node: object) -> None:
        super().__init__(node)
        self.node = node

    def __str__(self) -> str:
        return f"unknown node id {self.node!r}"


class NotIndexed(NodeTableError, ValueError):
    """A lookup on a field that the table does not index."""


class TableCorrupt(NodeTableError, AssertionError):
    """``check()`` found a broken invariant."""
