"""The PostgreSQL dialect of the storage layer, through psycopg 3.

Several processes (or machines) open the same database URL; each commit is one
transaction whose first statement locks the head row (``SELECT version FROM head
... FOR UPDATE``): a second writer waits in the server's lock queue and, under READ
COMMITTED, reads the head the first one committed, so it builds on it directly
(no lost race, no second encoding).  The writes (the head's compare-and-set, the
commit row, the cells, ``pg_notify``) go in one pipeline: one round trip, then
COMMIT (measured: one statement doing all of it, with ``unnest`` arrays in
data-modifying CTEs, took twice as long as the pipeline).

Early commits (off unless ``PostgresStore.early_commit`` is set): the commit
transaction runs with ``synchronous_commit = off``, so the head row lock is released
as soon as the commit record is in the WAL buffer, not after the disk flush; then,
lock released, one more statement writes a WAL message in a synchronous transaction
of its own (``_flush``, ``pg_logical_emit_message``) and waits for its flush, which
covers the commit (the WAL is flushed in order).  ``commit`` returns only after that,
so a returned commit is as durable as before, and the next writer's work overlaps
this one's flush.  Measured with 4 writers: about 1.4x the commits/s; with 1 writer
slower (one more round trip).  It is off because of its price: another process may
read (and build on, and its feed deliver) a version for the few milliseconds before
it is durable; if the server crashes then, that version and every version built on
it are lost together (never a gap, and none of their committers was told they
landed), but a listener may have heard a version that no longer exists.

Creating the
schema is serialised with an advisory lock.  Tables live in the connection's
``search_path`` schema, so one server can hold many hierarchies
(``postgresql://host/db?options=-csearch_path%3Dmyschema``).

A lost connection (server restart, idle timeout, ``pg_terminate_backend``) is
replaced: each operation runs at most ``attempts`` times (``Store._again``), and a
commit whose outcome is unknown is settled from the history (``Store.commit``).
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple

from ..errors import CorruptDatabase, StorageError
from .store import (
    COMMIT_COLUMNS,
    Busy,
    Cell,
    CommitRow,
    ConnectionLost,
    Group,
    HeadWatch,
    Lineage,
    Regroup,
    Store,
    schema,
)

# What libpq says when the server went away mid-statement, before psycopg marks the connection
# broken (seen under pg_terminate_backend: "connection socket closed" from the wait loop).
_PASSWORD_PARAMETER = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)
_USERINFO = re.compile(r"([^@/]*)@")  # a URL's user[:password]@ (libpq stops looking at the first /)
_LOST_TEXT = re.compile(r"socket closed|server closed the connection|terminating connection|connection is lost")
_INIT_LOCK = 0x626F74726565  # "botree": the advisory lock taken while creating the schema
# The NOTIFY channel of a schema: one per database and schema (an identifier of at most 63 bytes).
# Early commits (see the module docstring) when the session commits synchronously and may write WAL messages.
_EARLY = (
    "SELECT current_setting('synchronous_commit') <> 'off' AND "
    "has_function_privilege('pg_logical_emit_message(boolean, text, text)', 'execute')"
)
_QUEUE_TABLE = (
    "CREATE UNLOGGED TABLE IF NOT EXISTS queue "
    "(seq BIGSERIAL PRIMARY KEY, ticket BIGINT NOT NULL, payload BYTEA NOT NULL)"
)
# The writers' advisory lock of a schema (the two-int key space: apart from _INIT_LOCK's).
_WRITER = "1651471474, hashtext(current_schema())"
# ``_writing(wait=False)``'s try of the writers' lock and read of the head, locked only once the try succeeded
# (the head has one row: the function runs once).
_TRY_LOCK_HEAD = f"SELECT version FROM head WHERE id = 0 AND pg_try_advisory_xact_lock({_WRITER}) FOR UPDATE"
_CHANNEL = "SELECT 'botree_' || md5(current_database() || '.' || current_schema())"


class PostgresStore(Store):
    """A botree database in a PostgreSQL schema."""

    placeholder = "%s"
    blob_type = "BYTEA"
    attempts = 3
    early_commit = False  # release the head lock before the WAL flush (see the module docstring)
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
        self._early: Optional[bool] = None  # early_commit and possible here (None: not probed yet)
        self._waiting: Optional[Any] = None  # the connection ``await_unlocked`` waits on
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
        if isinstance(exc, psycopg.OperationalError) and (self._lost() or _LOST_TEXT.search(str(exc))):
            return ConnectionLost(f"{self.target}: connection lost: {_one_line(exc)}")
        return StorageError(f"{self.target}: {_one_line(exc)}")

    def _lost(self) -> bool:
        """True if the connection is gone. psycopg's wait loop can raise "connection socket
        closed" before it marks the connection broken, so the socket's status counts too."""
        conn = self._conn
        if conn.broken:
            return True
        if conn.closed:
            return False  # closed by us (``close``): not to be reopened
        return bool(conn.pgconn.status != self._psycopg.pq.ConnStatus.OK)

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

    _lock_head = "SELECT version FROM head WHERE id = 0 FOR UPDATE"

    @contextmanager
    def _writing(self, wait: bool = True) -> Iterator[int]:
        """The head row locked ``FOR UPDATE``, behind this schema's exclusive advisory lock (``_WRITER``).

        The advisory lock is what ``wait=False`` tries, and what ``await_unlocked`` waits on
        in shared mode: every waiter wakes when the writer's transaction ends.
        """
        if self._early is None:
            self._early = self.early_commit and self._run(_EARLY) == [(True,)]
        with self._transaction():
            if wait:
                self._run(f"SELECT pg_advisory_xact_lock({_WRITER})")
                rows = self._run(self._lock_head)
            else:
                # The try and the head in one round trip: the row is locked only if the try succeeds.
                rows = self._run(_TRY_LOCK_HEAD)
                if not rows and self._run("SELECT 1 FROM head WHERE id = 0"):
                    raise Busy()
            if len(rows) != 1:
                raise CorruptDatabase(f"{self.target}: the head row is missing")
            yield int(rows[0][0])

    def await_unlocked(self) -> None:
        """Wait on the writers' lock in shared mode, on a connection of its own (opened on first use).

        Not on the store's connection: this store's other threads (readers of the same
        ``Database``) keep using it meanwhile.  A lost wait connection only ends the
        wait early; the caller looks at its ticket and at the lock again.
        """
        psycopg = self._psycopg
        try:
            waiting = self._waiting
            if waiting is None or waiting.closed or waiting.broken:
                waiting = self._waiting = self._connect()
            waiting.execute(f"SELECT pg_advisory_lock_shared({_WRITER}), pg_advisory_unlock_shared({_WRITER})")
        except psycopg.Error:
            self._close_waiting()
            time.sleep(0.01)

    def _close_waiting(self) -> None:
        if self._waiting is not None:
            try:
                self._waiting.close()
            except self._psycopg.Error:
                pass
        self._waiting = None

    # The request queue of group commit: an UNLOGGED table (no WAL, no flush: a mailbox,
    # not a record; an outcome lands in ``tickets`` with its version, and a request the
    # server lost in a crash only means its owner serves itself once it holds the lock).

    grouping = True
    remote = True
    _queue_known = False

    def post(self, ticket: int, request: bytes) -> None:
        def work(retrying: bool) -> None:
            with self._transaction():
                self._run("SET LOCAL synchronous_commit = off")
                self._make_queue()
                self._run("INSERT INTO queue (ticket, payload) VALUES (%s, %s)", (ticket, request))
            self._queue_known = True

        self._again(work)  # posted twice after a lost answer: the group serving it applies it once

    def _forget_tables(self) -> None:
        """``Store._forget_tables``, and the queue's table (``queued`` may have made it in the rolled-back group)."""
        super()._forget_tables()
        self._queue_known = False

    def _make_queue(self) -> None:
        """Inside a transaction: make sure the queue's table exists (known after the first time).

        ``_INIT_LOCK`` (held to the end of the transaction) is taken only if the table is
        missing: a group holding it would make every other writer's first ``post`` wait
        for the group's whole transaction.
        """
        if self._queue_known or "queue" in self._peek_tables():
            return
        self._run("SELECT pg_advisory_xact_lock(%s)", (_INIT_LOCK,))
        self._run(_QUEUE_TABLE)

    def queued(self, limit: int) -> List[Tuple[int, bytes]]:
        if not self._queue_known:  # inside a commit: the queue's table may be made here
            self._make_queue()
            self._queue_known = True
        rows = self._run("SELECT ticket, payload FROM queue ORDER BY seq LIMIT %s", (limit,))
        return [(int(t), bytes(p)) for t, p in rows]

    def unqueue(self, tickets: Sequence[int]) -> None:
        if tickets:
            self._again(lambda retrying: self._run("DELETE FROM queue WHERE ticket = ANY(%s)", (list(tickets),)))

    def _flush(self) -> None:
        """After an early commit: one WAL-writing transaction with the session's ``synchronous_commit``.

        Its commit record follows ours in the WAL, so waiting for it to be flushed (and,
        with synchronous replication, confirmed) makes ours durable too.  Several
        writers' flushes are grouped by the server into one WAL write.
        """
        if self._early:
            self._run("SELECT pg_logical_emit_message(true, 'botree', '')")

    def _write_group(self, group: Group) -> None:
        """``Store._write_group`` in one pipeline: one round trip for all of a group's versions and outcomes."""
        if not group.commits and not group.tickets:
            return
        if self._channel is None:
            self._channel = str(self._run(_CHANNEL)[0][0])
        conn = self._conn
        moved = branched = None
        try:
            with conn.pipeline():
                if self._early:
                    conn.execute("SET LOCAL synchronous_commit = off")
                if group.commits:
                    branched = conn.execute("SELECT 1 FROM meta WHERE key = 'id_mark'")
                    moved = conn.execute(
                        "UPDATE head SET version = %s WHERE id = 0 AND version = %s", (group.last, group.first)
                    )
                with conn.cursor() as cur:
                    for sql, rows in self._group_writes(group):
                        if rows:
                            cur.executemany(sql, rows)
                        else:
                            cur.execute(sql)
                if group.commits:
                    conn.execute("SELECT pg_notify(%s, %s)", (self._channel, str(group.last)))
            if branched is not None and branched.fetchall():
                self._branched = True  # the commit alone must see them, not an older head read's "none"
                raise Regroup()  # rolled back: branch tables appeared
            if branched is not None and (moved is None or moved.rowcount != 1):
                raise Regroup()  # rolled back: a writer that does not lock moved the head
        except self._psycopg.Error as exc:
            raise self._map(exc) from None

    def _append(
        self,
        expected: int,
        row: CommitRow,
        cells: Dict[str, List[Cell]],
        lineage: Optional[Lineage] = None,
    ) -> bool:
        """The compare-and-set, the inserts and ``pg_notify`` in one pipeline (one round trip).

        A branch commit (``lineage``) moves its branch row statement by statement
        (``Store._append``).  Without one, the pipeline also asks whether branch tables
        exist; if they do the transaction is rolled back (``False``: build again).
        """
        if lineage is not None:
            return super()._append(expected, row, cells, lineage)
        if self._channel is None:
            self._channel = str(self._run(_CHANNEL)[0][0])
        version = row[0]
        conn = self._conn
        try:
            with conn.pipeline():
                if self._early:
                    conn.execute("SET LOCAL synchronous_commit = off")
                moved = conn.execute("UPDATE head SET version = %s WHERE id = 0 AND version = %s", (version, expected))
                branched = conn.execute("SELECT 1 FROM meta WHERE key = 'id_mark'")
                conn.execute(f"INSERT INTO commits ({COMMIT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", row)
                with conn.cursor() as cur:
                    for sql, params in self._cell_writes(version, cells):
                        if params:
                            cur.executemany(sql, params)
                        else:
                            cur.execute(sql)
                conn.execute("SELECT pg_notify(%s, %s)", (self._channel, str(version)))
            if branched.fetchall():
                self._branched = True  # the rebuild must see them, not an older head read's "none"
                return False  # branches appeared since the caller looked: rolled back by the caller
            return bool(moved.rowcount == 1)
        except self._psycopg.Error as exc:
            raise self._map(exc) from None

    def _tables(self) -> Set[str]:
        """The schema's tables, once whoever makes tables is done (``_INIT_LOCK``, held to the end of a transaction)."""
        return self._table_names(lock=True)

    def _peek_tables(self) -> Set[str]:
        """The schema's tables without ``_INIT_LOCK``: a writer's group may hold it for its whole transaction."""
        return self._table_names(lock=False)

    def _table_names(self, lock: bool) -> Set[str]:
        if self._run("SELECT current_schema()") == [(None,)]:
            raise StorageError(f"{self.target}: no schema selected (does the search_path schema exist?)")
        if lock:
            self._run("SELECT pg_advisory_xact_lock(%s)", (_INIT_LOCK,))
        rows = self._run(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        return {r[0] for r in rows}

    def _schema(self) -> List[str]:
        return schema("BYTEA", "DOUBLE PRECISION")

    def close(self) -> None:
        """Close the connection (and the one ``await_unlocked`` waits on); later statements raise, never reconnect."""
        with self.lock:
            self.closed = True
            self._conn.close()
        self._close_waiting()

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
    safety net (e.g. a commit made by an older botree that does not notify).  A lost
    connection (``pg_terminate_backend``, a server restart) is replaced by the next wait.
    """

    RECHECK = 2.0

    def __init__(self, url: str, target: str) -> None:
        import psycopg

        self._psycopg = psycopg
        self._url = url
        self.target = target
        self._checked = 0.0  # monotonic time of the last head read (0: read on the next wait)
        try:
            self._conn = self._listen()
        except psycopg.Error as exc:
            raise StorageError(f"cannot connect to {target}: {_one_line(exc)}") from None

    def _listen(self) -> Any:
        """A new connection listening on the schema's channel; the head is read on the next wait."""
        conn = self._psycopg.connect(self._url, autocommit=True, connect_timeout=PostgresStore.connect_timeout)
        try:
            channel = str(conn.execute(_CHANNEL).fetchall()[0][0])
            conn.execute(f'LISTEN "{channel}"')
        except BaseException:
            conn.close()
            raise
        self._checked = 0.0  # notifications sent while no connection listened are lost: read the head
        return conn

    @property
    def backend_pid(self) -> int:
        """The server process serving the current connection (changes after a reconnect)."""
        return int(self._conn.info.backend_pid)

    def _head(self) -> int:
        self._checked = time.monotonic()
        rows = self._conn.execute("SELECT version FROM head WHERE id = 0").fetchall()
        if len(rows) != 1:
            raise StorageError(f"{self.target}: the head row is missing")
        return int(rows[0][0])

    def wait(self, seen: int, timeout: float) -> int:
        """The head once it differs from ``seen``, or ``seen`` after about ``timeout`` seconds.

        A lost connection is replaced (``StorageError`` if the server does not answer;
        the feed thread logs it and waits again); the head is read at once on the new
        connection, so a commit made while none listened is not missed.
        """
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
            if not (self._conn.closed or self._conn.broken):
                raise StorageError(f"{self.target}: {_one_line(exc)}") from None
        self._conn.close()
        try:
            self._conn = self._listen()
        except self._psycopg.Error as exc:
            raise StorageError(f"{self.target}: the feed lost its connection: {_one_line(exc)}") from None
        return seen

    def close(self) -> None:
        """Close the watch's connection."""
        self._conn.close()


def _one_line(exc: Exception) -> str:
    """A driver message on one line (psycopg's span several)."""
    return " ".join(str(exc).split())


def _redact(url: str) -> str:
    """The URL without its password (the userinfo's, and a ``password`` parameter's), for messages."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    userinfo = _USERINFO.match(rest)  # libpq's rule: an @ before any / ends the user's part
    if userinfo is not None:
        rest = userinfo.group(1).split(":", 1)[0] + rest[userinfo.end() - 1 :]
    return scheme + "://" + _PASSWORD_PARAMETER.sub(r"\1***", rest)
