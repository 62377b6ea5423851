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

import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, List, Optional, Sequence, Set, Tuple

from ..errors import CorruptDatabase, StorageError
from .store import ConnectionLost, HeadWatch, Store, schema

_INIT_LOCK = 0x626F74726565  # "botree": the advisory lock taken while creating the schema
# The NOTIFY channel of a schema: one per database and schema (an identifier of at most 63 bytes).
_CHANNEL = "SELECT 'botree_' || md5(current_database() || '.' || current_schema())"


class PostgresStore(Store):
    """A botree database in a PostgreSQL schema."""

    placeholder = "%s"
    blob_type = "BYTEA"
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
        self._channel: Optional[str] = None
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

    def _announce(self, version: int) -> None:
        """``pg_notify`` inside the publishing transaction: delivered to listeners only if the commit lands."""
        if self._channel is None:
            self._channel = str(self._run(_CHANNEL)[0][0])
        self._run("SELECT pg_notify(%s, %s)", (self._channel, str(version)))

    def watch(self) -> HeadWatch:
        """A ``PostgresWatch`` on a connection of its own."""
        return PostgresWatch(self._url, self.target)


class PostgresWatch(HeadWatch):
    """``LISTEN`` on the schema's channel; the head row is read when a notification arrives.

    Committers ``NOTIFY`` inside their publishing transaction, so a notification means a
    landed commit.  The head is also read every ``RECHECK`` seconds without one, as a
    safety net (e.g. a commit made by an older botree that does not notify).
    """

    RECHECK = 2.0

    def __init__(self, url: str, target: str) -> None:
        import psycopg

        self._psycopg = psycopg
        self.target = target
        try:
            self._conn = psycopg.connect(url, autocommit=True)
            channel = str(self._conn.execute(_CHANNEL).fetchall()[0][0])
            self._conn.execute(f'LISTEN "{channel}"')
        except psycopg.Error as exc:
            raise StorageError(f"cannot connect to {target}: {_one_line(exc)}") from None
        self._checked = 0.0  # monotonic time of the last head read (0: read on the first wait)

    def _head(self) -> int:
        self._checked = time.monotonic()
        rows = self._conn.execute("SELECT version FROM head WHERE id = 0").fetchall()
        if len(rows) != 1:
            raise StorageError(f"{self.target}: the head row is missing")
        return int(rows[0][0])

    def wait(self, seen: int, timeout: float) -> int:
        """The head once it differs from ``seen``, or ``seen`` after about ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                if time.monotonic() - self._checked >= self.RECHECK:
                    head = self._head()
                    if head != seen:
                        return head
                left = deadline - time.monotonic()
                if left <= 0:
                    return seen
                woken = False
                for _ in self._conn.notifies(timeout=min(left, self.RECHECK), stop_after=1):
                    woken = True
                if woken:
                    # Drain the others already queued: one head read covers them all.
                    for _ in self._conn.notifies(timeout=0.0):
                        pass
                    head = self._head()
                    if head != seen:
                        return head
        except self._psycopg.Error as exc:
            raise StorageError(f"{self.target}: {_one_line(exc)}") from None

    def close(self) -> None:
        """Close the watch's connection."""
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
