"""nodetable: a persistent table of node rows with dense, reused integer ids.

``NodeTable`` is an immutable value; ``NodeTable.transient()`` gives a
``TransientNodeTable`` batch whose ``persistent()`` freezes it into a new table.
"""

from ..errors import NodeTableError, NotIndexed, TableCorrupt, UnknownNode
from .allocator import IdAllocator
from .rows import TOP, UNKNOWN, OwnedRow, Row
from .table import NodeTable, TransientNodeTable
from .vector import ChunkedVector, TransientVector

__all__ = [
    "ChunkedVector",
    "IdAllocator",
    "NodeTable",
    "NodeTableError",
    "NotIndexed",
    "OwnedRow",
    "Row",
    "TOP",
    "TableCorrupt",
    "TransientNodeTable",
    "TransientVector",
    "UNKNOWN",
    "UnknownNode",
]
