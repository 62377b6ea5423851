"""botree: hierarchical data as a persistent, order-indexed tree database.

The foundation is ``OrderIndex``, a persistent BO-Tree (Finis et al., "Order
Indexes", VLDB Journal 2017) whose blocks live in an id-keyed table, so every
update yields a new index and old ones stay intact.
"""

from . import errors
from .batch import IndexBatch
from .cursor import Cursor
from .database import Commit, Database, DbTransaction
from .diff import Changes
from .durable import DurableDatabase
from .index import DEFAULT_BLOCK_SIZE, OrderIndex
from .nested import JsonNode
from .reader import Bound
from .transaction import Transaction
from .tree import Tree, load_parent_table

__all__ = [
    "Bound",
    "Changes",
    "Commit",
    "Cursor",
    "Database",
    "DbTransaction",
    "DurableDatabase",
    "DEFAULT_BLOCK_SIZE",
    "IndexBatch",
    "JsonNode",
    "OrderIndex",
    "Transaction",
    "Tree",
    "errors",
    "load_parent_table",
]
__version__ = "0.1.0"
