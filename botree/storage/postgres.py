"""The PostgreSQL dialect of the storage layer, through psycopg 3.

Several processes (or machines) open the same database URL; each commit is one
transaction whose first statement is the compare-and-set on ``head``.  Under READ
COMMITTED a second writer's ``UPDATE head ... WHERE version = old`` waits for the
first to finish and then matches no row, so it rolls back and rebases.  Creating the
schema is serialised with an advisory lock.  Tables live in the connection's
``search_path`` schema, so one server can hold many hierarchies
(``postgresql://host/db?options=-csearch_path%3Dmyschema``).

A lost connection (server restart, idle timeout, ``pg_terminate_backend``) is
replaced: each operation runs at most ``attempts`` times (``Store._again``), and a
commit whose outcome is unknown is settled from the history (``Store.publish``).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator, List, Optional, Sequence, Set, Tuple

from ..errors import CorruptDatabase, StorageError
from .store import ConnectionLost, Store, schema

_INIT_LOCK = 0x626F74726565  # "botree": the advisory lock taken while creating the schema


class PostgresStore(Store):
    """A botree database in a PostgreSQL schema."""

    placeholder = "%s"
    attempts = 3
    connect_timeout = 5  # seconds, for each (re)connection

    def __init__(self, url: str) -> None:
        super().__init__(_redact(url))
        try:
            import psycopg
        except ImportError:
            raise StorageError("PostgreSQL needs psycopg 3: pip install 'botree[postgres]'") from None
        self._psycopg = psycopg
        self._url = url
        # Called with "before" just before COMMIT is sent and "after" once it returned (tests inject failures).
        self.commit_hook: Optional[Callable[[str], None]] = None
        try:
            self._conn = self._connect()
        except psycopg.Error as exc:
            raise StorageError(f"cannot connect to {self.target}: {_one_line(exc)}") from None

    def _connect(self) -> Any:
        return self._psycopg.connect(self._url, autocommit=True, connect_timeout=self.connect_timeout)

    @property
    def backend_pid(self) -> int:
        """The server process serving the current connection (changes after a reconnect)."""
        return int(self._conn.info.backend_pid)

    def _reconnect(self) -> None:
        try:
            self._conn.close()
        except self._psycopg.Error:
            pass
        try:
            self._conn = self._connect()
        except self._psycopg.Error as exc:
            raise ConnectionLost(f"cannot reconnect to {self.target}: {_one_line(exc)}") from None

    def _map(self, exc: Exception) -> Exception:
        psycopg = self._psycopg
        if isinstance(exc, (psycopg.DataError, psycopg.IntegrityError)):
            return CorruptDatabase(f"{self.target}: {_one_line(exc)}")
        if isinstance(exc, psycopg.OperationalError) and self._conn.broken:
            return ConnectionLost(f"{self.target}: connection lost: {_one_line(exc)}")
        return StorageError(f"{self.target}: {_one_line(exc)}")

    def _run(self, sql: str, params: Sequence[Any] = ()) -> List[Tuple[Any, ...]]:
        try:
            cur = self._conn.execute(sql, tuple(params) or None)
            return cur.fetchall() if cur.description is not None else []
        except self._psycopg.Error as exc:
            raise self._map(exc) from None

    def _run_many(self, sql: str, rows: List[Tuple[Any, ...]]) -> None:
        try:
            with self._conn.cursor() as cur:
                cur.executemany(sql, rows)
        except self._psycopg.Error as exc:
            raise self._map(exc) from None

    def _rowcount(self, sql: str, params: Sequence[Any]) -> int:
        try:
            return self._conn.execute(sql, tuple(params)).rowcount
        except self._psycopg.Error as exc:
            raise self._map(exc) from None

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        hook = self.commit_hook
        try:
            with self._conn.transaction():
                yield
                if hook is not None:
                    hook("before")
            if hook is not None:
                hook("after")
        except self._psycopg.Error as exc:
            raise self._map(exc) from None

    def _tables(self) -> Set[str]:
        if self._run("SELECT current_schema()") == [(None,)]:
            raise StorageError(f"{self.target}: no schema selected (does the search_path schema exist?)")
        self._run("SELECT pg_advisory_xact_lock(%s)", (_INIT_LOCK,))
        rows = self._run(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        return {r[0] for r in rows}

    def _schema(self) -> List[str]:
        return schema("BYTEA", "DOUBLE PRECISION")

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def _one_line(exc: Exception) -> str:
    """A driver message on one line (psycopg's span several)."""
    return " ".join(str(exc).split())


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    head, sep, tail = url.partition("@")
    if not sep or "://" not in head:
        return url
    scheme, _, userinfo = head.partition("://")
    return f"{scheme}://{userinfo.split(':', 1)[0]}@{tail}"
