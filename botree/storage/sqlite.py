"""The SQLite dialect of the storage layer: an embedded file, WAL mode, one writer at a time.

Writes run in ``BEGIN IMMEDIATE`` transactions (the file's write lock is taken up
front, so two writers never deadlock upgrading a read lock); readers never block in
WAL mode.  A commit first takes an exclusive ``flock`` on ``PATH-lock`` (created by
the first commit, left in place), so committing processes queue in the kernel and the
next one wakes as soon as the lock is free; SQLite's own busy handler instead sleeps
1, 2, 5 ... 100 ms between tries, which leaves the file idle while waiters sleep and
lets a lucky writer overtake the others.  Where ``fcntl`` is missing (Windows) or the
lock file cannot be created, commits rely on ``BEGIN IMMEDIATE`` alone.
``synchronous=FULL`` makes each commit durable once ``commit`` returns, across a
crash of the process or of the machine.  SQLite's own "malformed" / "not a database"
errors become ``CorruptDatabase``; a file shorter than its header says is reported
as truncated before anything is read.
"""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import time
import urllib.parse
from contextlib import contextmanager
from typing import Any, Iterator, List, Optional, Sequence, Set, Tuple

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from ..errors import CorruptDatabase, StorageError
from .store import Busy, HeadWatch, Store, schema

_HEADER = b"SQLite format 3\x00"
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_REQUEST = re.compile(r"[0-9]+-([0-9]{1,19})\.req")  # a queued request's file: <time in ns>-<ticket>.req
_STRAY = re.compile(r"[0-9]+-[0-9]{1,19}\.tmp")  # one ``post`` was writing when its process died
_STRAY_AFTER = 60.0  # seconds: a live ``post`` renames its file within moments
# OperationalError texts that mean the file's content is damaged, not that it is busy or unreachable.
_DAMAGE = ("malformed", "no such column", "no such table", "decode", "not a database", "corrupt")


def check_header(path: str, attempts: int = 5) -> None:
    """Raise ``CorruptDatabase`` if ``path`` is not an SQLite file or is shorter than its header says.

    The size and the header are read without a lock, so another process's checkpoint
    may grow the file between the two reads: a shortfall is reported only when it is
    seen ``attempts`` times in a row (a real truncation does not go away).
    """
    for attempt in range(attempts):
        shortfall = _shortfall(path)
        if shortfall is None:
            return
        time.sleep(0.01 * (attempt + 1))
    raise CorruptDatabase(f"{path} is truncated: {shortfall}")


def _shortfall(path: str) -> Optional[str]:
    """What a truncated file lacks, or None if its size agrees with its header."""
    size = os.path.getsize(path)
    if size == 0:
        return None  # a new, empty file: SQLite will initialise it
    with open(path, "rb") as f:
        header = f.read(100)
    if len(header) < 100 or not header.startswith(_HEADER):
        raise CorruptDatabase(f"{path} is not an SQLite database (bad header)")
    # Read the size again after the header: a checkpoint only grows the file.
    size = os.path.getsize(path)
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    valid = header[24:28] == header[92:96]  # SQLite trusts the page count only when these agree
    wal = path + "-wal"
    if valid and pages and size < pages * page_size and not (os.path.exists(wal) and os.path.getsize(wal)):
        return f"its header says {pages * page_size} bytes, it holds {size}"
    return None


def connect(path: str) -> sqlite3.Connection:
    """A connection to ``path`` in autocommit mode; read-only (``immutable``) when nothing here can write.

    A WAL database needs its ``-shm`` file even to be read.  In a directory this process
    cannot write, with no ``-wal`` file (its last writer closed cleanly, so every commit is
    in the main file), that file cannot be made, and SQLite refuses every read with
    "attempt to write a readonly database": such a file is opened ``immutable`` (read
    only, no side files); it does not see commits made after it opened (by a user who
    may write there).  O(1): one statement.
    """
    conn = sqlite3.connect(path, timeout=60.0, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        return conn
    except (sqlite3.Error, UnicodeError) as exc:
        directory = os.path.dirname(os.path.abspath(path))
        if ("readonly" not in str(exc) or os.access(directory, os.W_OK) or not os.path.getsize(path)
                or (os.path.exists(path + "-wal") and os.path.getsize(path + "-wal"))):
            return conn  # the caller's first statement meets the error again and reports it
    conn.close()
    uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?immutable=1"
    return sqlite3.connect(uri, uri=True, timeout=60.0, isolation_level=None, check_same_thread=False)


class SQLiteStore(Store):
    """A botree database in one SQLite file."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        try:
            if os.path.exists(path):
                check_header(path)
            self._conn = connect(path)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open {path!r}: {exc}") from None
        self._lock_fd: Optional[int] = None  # the commit lock file, opened by the first commit
        self._wait_fd: Optional[int] = None  # the same file, opened again to wait on (``await_unlocked``)
        try:
            self._run("PRAGMA journal_mode=WAL")
            self._run("PRAGMA synchronous=FULL")
        except BaseException:
            self._conn.close()
            raise

    def _map(self, exc: Exception) -> Exception:
        """Damage -> CorruptDatabase; a closed, locked or unreachable file -> StorageError."""
        text = str(exc)
        if isinstance(exc, (sqlite3.ProgrammingError, sqlite3.InterfaceError)):
            return StorageError(f"{self.target}: {text}")
        if isinstance(exc, sqlite3.OperationalError) and not any(sign in text for sign in _DAMAGE):
            return StorageError(f"{self.target}: {text}")
        return CorruptDatabase(f"{self.target}: {text}")

    def _run(self, sql: str, params: Sequence[Any] = ()) -> List[Tuple[Any, ...]]:
        try:
            return self._conn.execute(sql, tuple(params)).fetchall()
        except (sqlite3.Error, UnicodeError) as exc:
            raise self._map(exc) from None

    def _run_many(self, sql: str, rows: List[Tuple[Any, ...]]) -> None:
        try:
            self._conn.executemany(sql, rows)
        except (sqlite3.Error, UnicodeError) as exc:
            raise self._map(exc) from None

    def _rowcount(self, sql: str, params: Sequence[Any]) -> int:
        try:
            return self._conn.execute(sql, tuple(params)).rowcount
        except (sqlite3.Error, UnicodeError) as exc:
            raise self._map(exc) from None

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._run("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            try:
                self._conn.rollback()
            except sqlite3.Error:
                pass
            raise
        self._run("COMMIT")

    @contextmanager
    def _writing(self, wait: bool = True) -> Iterator[int]:
        """``BEGIN IMMEDIATE`` behind an exclusive ``flock`` on ``PATH-lock`` (see the module docstring)."""
        fd = self._commit_lock()
        if fd is None:
            with super()._writing() as head:
                yield head
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy() from None
        try:
            with super()._writing() as head:
                yield head
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    # The request queue of group commit: one file per request in ``PATH-queue/``, named
    # ``<time in ns>-<ticket>.req`` (written under a temporary name, then renamed, so a
    # reader never sees half of one).  It is a mailbox, not a record: an outcome lands in
    # the database's ``tickets`` table with its version, and a lost file only means its
    # owner serves itself once it holds the lock.

    grouping = True

    def await_unlocked(self) -> None:
        """A shared ``flock`` on ``PATH-lock``, taken and dropped: granted once the writer's exclusive one goes.

        Through a descriptor of its own: ``flock`` locks belong to the open file, so on the
        commit lock's descriptor this would turn a commit of another thread of this
        store, holding it exclusively, into a shared lock (and then drop it).
        """
        if self._commit_lock() is None:
            time.sleep(0.001)
            return
        if self._wait_fd is None:
            try:
                self._wait_fd = os.open(self.target + "-lock", os.O_RDWR)
            except OSError:
                time.sleep(0.001)
                return
        try:
            fcntl.flock(self._wait_fd, fcntl.LOCK_SH)
            fcntl.flock(self._wait_fd, fcntl.LOCK_UN)
        except (OSError, TypeError):  # closed meanwhile (``close``): the caller's next statement says so
            time.sleep(0.001)

    def take_turn(self) -> bool:
        """A blocking exclusive ``flock`` on ``PATH-lock``, on the commit lock's own descriptor. O(1) plus the wait.

        Waiters wait with a shared lock (``await_unlocked``), so a waiter's non-blocking
        exclusive try fails whenever another waiter holds its shared lock for that moment;
        at 16 writer processes such waiters went round wake, read, try, wait ~95 times per
        commit.  Blocking on the exclusive lock instead puts an unserved waiter in the
        kernel's queue.  ``_writing`` then finds it held (the same open file: granted again)
        and releases it when the transaction ends.
        """
        fd = self._commit_lock()
        if fd is None:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            return False
        return True

    def end_turn(self) -> None:
        """Release the ``flock`` ``take_turn`` took, if ``_writing`` did not already (idempotent). O(1)."""
        fd = self._lock_fd
        if fd is not None and fd >= 0:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            except OSError:
                pass

    def _queue(self) -> str:
        return self.target + "-queue"

    def post(self, ticket: int, request: bytes) -> None:
        directory = self._queue()
        name = os.path.join(directory, f"{time.time_ns():020d}-{ticket}")
        try:
            os.makedirs(directory, exist_ok=True)
            with open(name + ".tmp", "wb") as out:
                out.write(request)
            os.replace(name + ".tmp", name + ".req")
        except OSError as exc:
            raise StorageError(f"{self.target}: cannot queue a commit request: {exc}") from None

    def _names(self) -> List[str]:
        """The queue's file names, sorted (oldest request first); none without a readable queue. O(queue)."""
        try:
            return sorted(os.listdir(self._queue()))
        except OSError:
            return []  # no queue (or none readable): nothing to serve; a waiting owner serves itself

    def _requests(self, names: Optional[List[str]] = None) -> List[Tuple[str, int]]:
        """(file name, ticket) of the request files in the queue (or among ``names``), oldest first.

        Only names ``post`` writes count, with a ticket a BIGINT holds: another file (a
        stray name, a ticket out of range) is never served, so it cannot fail a group.
        """
        found = []
        for name in self._names() if names is None else names:
            match = _REQUEST.fullmatch(name)
            if match is not None and 0 < int(match.group(1)) < 1 << 63:
                found.append((name, int(match.group(1))))
        return found

    def queued(self, limit: int) -> List[Tuple[int, bytes]]:
        found = []
        for name, ticket in self._requests()[:limit]:
            try:  # never blocks (a FIFO), never follows a link (to /dev/zero, say): only a plain file is read
                fd = os.open(os.path.join(self._queue(), name), os.O_RDONLY | _NONBLOCK | _NOFOLLOW)
            except OSError:
                continue  # served and removed meanwhile, or not a file
            try:
                with os.fdopen(fd, "rb") as f:
                    if stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                        found.append((ticket, f.read()))
            except OSError:
                continue
        return found

    def unqueue(self, tickets: Sequence[int]) -> None:
        """Remove the served requests' files, and any half-written one (``post``'s temporary file)
        older than ``_STRAY_AFTER`` seconds: its writer died between writing and renaming it."""
        wanted = set(tickets)
        names = self._names()  # one listing for both
        for name, ticket in self._requests(names):
            if ticket in wanted:
                try:
                    os.unlink(os.path.join(self._queue(), name))
                except OSError:
                    pass
        self._drop_strays(names)

    def _drop_strays(self, names: List[str]) -> None:
        """Unlink the ``*.tmp`` files among ``names`` not touched for ``_STRAY_AFTER`` seconds. O(names)."""
        now = time.time()
        for name in names:
            if not _STRAY.fullmatch(name):
                continue
            path = os.path.join(self._queue(), name)
            try:
                if now - os.lstat(path).st_mtime > _STRAY_AFTER:
                    os.unlink(path)
            except OSError:
                pass  # renamed or removed meanwhile

    def _commit_lock(self) -> Optional[int]:
        if self._lock_fd is None and fcntl is not None:
            try:
                self._lock_fd = os.open(self.target + "-lock", os.O_RDWR | os.O_CREAT, 0o644)
            except OSError:
                self._lock_fd = -1  # e.g. a read-only directory: BEGIN IMMEDIATE alone
        return None if self._lock_fd is None or self._lock_fd < 0 else self._lock_fd

    def _tables(self) -> Set[str]:
        return {r[0] for r in self._run("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def _schema(self) -> List[str]:
        return schema("BLOB", "REAL")

    def integrity(self) -> List[str]:
        """``PRAGMA integrity_check``: SQLite's own check of every page and index. O(file size)."""
        with self.lock:
            rows = self._run("PRAGMA integrity_check")
        return [] if rows == [("ok",)] else [str(r[0]) for r in rows]

    def close(self) -> None:
        """Close the file (the last connection checkpoints the WAL) and the commit lock file.

        Under the store's lock: a statement another thread is running ends first (closing
        the connection under it would crash the process), and every later one raises.
        """
        with self.lock:
            self.closed = True
            self._conn.close()
        if self._lock_fd is not None and self._lock_fd >= 0:
            os.close(self._lock_fd)
        if self._wait_fd is not None:
            os.close(self._wait_fd)
        self._lock_fd = self._wait_fd = None

    def watch(self) -> HeadWatch:
        """A ``SQLiteWatch`` on the same file."""
        return SQLiteWatch(self.target)


class SQLiteWatch(HeadWatch):
    """Polls ``PRAGMA data_version`` (no I/O: it changes when another connection commits) every 50 ms.

    The head row is read only when it changed, so an idle feed costs one cheap pragma per tick.
    """

    TICK = 0.05

    def __init__(self, path: str) -> None:
        self.target = path
        try:
            self._conn = connect(path)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open {path!r}: {exc}") from None
        self._data_version: Optional[int] = None

    def wait(self, seen: int, timeout: float) -> int:
        """The head once it differs from ``seen``, or ``seen`` after about ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                data_version = self._conn.execute("PRAGMA data_version").fetchone()[0]
                if data_version != self._data_version:
                    self._data_version = data_version
                    head = self._conn.execute("SELECT version FROM head WHERE id = 0").fetchone()
                    if head is not None and head[0] != seen:
                        return int(head[0])
                if time.monotonic() >= deadline:
                    return seen
                time.sleep(self.TICK)
        except sqlite3.Error as exc:
            raise StorageError(f"{self.target}: {exc}") from None

    def close(self) -> None:
        """Close the watch's connection."""
        self._conn.close()
