"""Versions and concurrency: commits, rebase, history; in memory (``Database``) or stored (``DurableDatabase``).

``Database("org.db")`` and ``Database("postgresql://...")`` open a ``DurableDatabase``;
the link is made here, above both modules, because the stored class builds on the
in-memory one.
"""

from .database import Commit, Database, DbTransaction
from .durable import DurableDatabase
from .upgrade import upgrade

Database.stored = DurableDatabase

__all__ = ["Commit", "Database", "DbTransaction", "DurableDatabase", "upgrade"]
