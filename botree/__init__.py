"""botree: hierarchical data as a persistent, order-indexed tree database.

The foundation is ``OrderIndex``, a persistent BO-Tree (Finis et al., "Order
Indexes", VLDB Journal 2017) whose blocks live in an id-keyed table, so every
update yields a new index and old ones stay intact.

This module only names the public API; the layers live in subpackages, each
importing only those below it (see docs/design.md): ``errors`` < ``nodetable`` <
``core`` < ``interchange`` < ``tree`` < ``storage`` < ``db`` < ``cli``.
"""

from . import errors
from .core.index import DEFAULT_BLOCK_SIZE, OrderIndex, TransientIndex
from .core.reader import Bound
from .db import Commit, Database, DbTransaction, DurableDatabase
from .errors import DuplicateKey, InvalidKey, UnknownKey
from .interchange.nested import JsonNode
from .nodetable.attrindex import Range
from .tree.cursor import Cursor
from .tree.diff import Changes
from .tree.sync import SyncReport
from .tree.tree import Transaction, Tree, load_parent_table
from .version import VERSION as __version__

__all__ = [
    "Bound",
    "Changes",
    "Commit",
    "Cursor",
    "Database",
    "DbTransaction",
    "DurableDatabase",
    "DEFAULT_BLOCK_SIZE",
    "DuplicateKey",
    "InvalidKey",
    "JsonNode",
    "OrderIndex",
    "Range",
    "SyncReport",
    "Transaction",
    "TransientIndex",
    "Tree",
    "UnknownKey",
    "errors",
    "load_parent_table",
    "__version__",
]
