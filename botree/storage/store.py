"""The storage layer: append-only tables of versioned cells and commits, in SQL.

Schema (SQLite and PostgreSQL alike; ``BLOB`` is ``BYTEA`` on PostgreSQL)::

    meta(key PRIMARY KEY, value)                      -- format
    head(id = 0 PRIMARY KEY, version, oldest)         -- the compare-and-set word; oldest kept version
    commits(version PRIMARY KEY, parent, time, message, meta, state, ops, deleted, crc)
    blocks / links / nodes(leaf, version, payload, crc, base, PRIMARY KEY (leaf, version))

``base`` is NULL for a whole cell and, for a patch cell, the version of the whole cell
of the same leaf it applies to (a copy of what the checksummed payload says, read only
by ``compact``, which must keep a kept patch's base).  A ``botree-2`` database has no
``base`` column and only whole cells (``Store.patches`` is False).

Branches add two tables, created by the first ``create_branch`` (a database without
them is a botree-2 database with one line of history, ``main``, whose head is ``head``)::

    branches(name PRIMARY KEY, version)              -- every branch's head, main's too
    lineage(version PRIMARY KEY, branch, merged)     -- the branch of each later commit; a merge's source

With them, ``head`` holds the newest version of any branch (still the
compare-and-set word that numbers versions), each commit also moves its branch's
row from the version it built on (a second compare-and-set), and ``meta`` holds
``id_mark``, the first node id no branch has handed out.

A commit inserts one cell per vector leaf it changed, stamped with its version (and
one manifest cell per group of 64 leaves it changed, stored as leaf ``-(group + 1)``),
and one commit row; nothing is updated in place except ``head``.  Reads ask for one
exact ``(leaf, version)``: the version's state pins its manifests and each manifest
pins its leaves' cells, so a damaged index cannot make a read pick another cell.
A commit is one SQL transaction that first locks the head row (SQLite: ``BEGIN
IMMEDIATE`` behind a lock file; PostgreSQL: ``SELECT ... FOR UPDATE``), then builds
the new version on the head it read, moves ``head`` to it and inserts its rows
(``Store.commit``): writers queue on the lock instead of racing, so a commit never
encodes twice.  The move is still a compare-and-set (``UPDATE head SET version = new
WHERE version = old``), for writers that do not lock.

Group commit (``commit_group``): a writer that finds the lock taken ``post``s its
transaction to a queue (a mailbox outside the transactional record: SQLite files in
``PATH-queue/``, a PostgreSQL UNLOGGED table) and ``await_unlocked``; the holder serves
the ``queued`` requests in its own transaction, one version each, and ``settle``s each
request's ticket in ``tickets`` with its version.  An outcome and its version land
together, so a ticket with an outcome was applied exactly once, and its owner learns
it with a plain read (``settled``).

This module knows SQL and bytes, not trees: ``durable.py`` turns versions into
cells and back.  Dialects (``sqlitestore``, ``pgstore``) supply connections,
placeholders and the error mapping.
"""

from __future__ import annotations

import threading
import time
import zlib
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple, TypeVar

from ..errors import CorruptDatabase, OutdatedFormat, StorageError, VersionNotFound
from .format import FORMAT, OPTIONAL_TABLES, TABLES, UPGRADABLE, WHOLE_CELLS_ONLY

_BATCH = 256  # cells ``compact`` deletes in one statement (2 parameters each)
# ``Store.compact``'s plan: (head, branch heads) -> (cut, the (table, leaf, version) cells the kept versions pin)
#   (None: one line of history, where a cell is unread exactly when a newer cell at or before the cut supersedes it)
Plan = Callable[[int, Dict[str, int]], Tuple[int, Optional[Set[Tuple[str, int, int]]]]]
CommitRow = Tuple[int, int, float, Optional[str], bytes, bytes, Optional[bytes], bytes, int]
Cell = Tuple[int, bytes, int, Optional[int]]  # (leaf, payload, crc, base: the whole cell a patch applies to)
Lineage = Tuple[str, int, Optional[int], int]  # (branch, its head the commit built on, merged source, node id mark)

COMMIT_COLUMNS = "version, parent, time, message, meta, state, ops, deleted, crc"
# The head row's version, the newest commit's (they must agree) and whether branch tables exist.
_HEAD_COLUMNS = "{}version, (SELECT max(version) FROM commits), (SELECT count(*) FROM meta WHERE key = 'id_mark')"
T = TypeVar("T")
Built = Tuple[CommitRow, Dict[str, List[Cell]], Optional[Lineage], T]  # a build: row, cells, lineage, extra
BACKOFF = 0.05  # seconds before the first reconnect; doubled before each later one
TICKETS_KEPT = 3600  # seconds a settled request's outcome is kept for its owner to read
_PRUNE_EVERY = 256


BRANCH_SCHEMA = [
    "CREATE TABLE branches (name TEXT PRIMARY KEY, version BIGINT NOT NULL)",
    "CREATE TABLE lineage (version BIGINT PRIMARY KEY, branch TEXT NOT NULL, merged BIGINT)",
]


class _BranchMoved(Exception):
    """Inside ``_append``: the branch head moved; roll the commit back."""


class Busy(Exception):
    """``commit_group(wait=False)``: another writer holds the head lock right now."""


class Regroup(Exception):
    """Inside ``commit_group``: the head or the branch tables changed under the lock; roll back, commit alone."""


class ConnectionLost(StorageError):
    """The connection to the server broke (a dialect with ``attempts > 1`` reconnects and retries)."""


def schema(blob: str, real: str) -> List[str]:
    """The CREATE statements of the current format, with the dialect's blob and float type names."""
    statements = [
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE head (id INTEGER PRIMARY KEY CHECK (id = 0), version BIGINT NOT NULL, oldest BIGINT NOT NULL)",
        f"CREATE TABLE commits (version BIGINT PRIMARY KEY, parent BIGINT NOT NULL, time {real} NOT NULL, "
        f"message TEXT, meta {blob} NOT NULL, state {blob} NOT NULL, ops {blob}, deleted {blob} NOT NULL, "
        "crc BIGINT NOT NULL)",
    ]
    for table in (*TABLES, *OPTIONAL_TABLES):
        statements.append(cell_table(table, blob))
    return statements


def cell_table(table: str, blob: str, exists_ok: bool = False, patches: bool = True) -> str:
    """The CREATE statement of one cell table (``exists_ok``: ``IF NOT EXISTS``; ``patches``: with ``base``)."""
    return (
        f"CREATE TABLE {'IF NOT EXISTS ' if exists_ok else ''}{table} (leaf BIGINT NOT NULL, "
        f"version BIGINT NOT NULL, payload {blob} NOT NULL, crc BIGINT NOT NULL, "
        f"{'base BIGINT, ' if patches else ''}PRIMARY KEY (leaf, version))"
    )


class Store:
    """Versioned cells and commits in one SQL database; thread-safe (one connection, one lock)."""

    placeholder = "?"
    blob_type = "BLOB"  # the dialect's name of the payload column type
    attempts = 1  # how many times an operation runs when the connection is lost (1: never reconnect)

    patches = False  # may cells be patches (format botree-3)? Set when the database is opened or created
    grouping = False  # does the dialect queue requests for group commit (``post``, ``queued``, ``unqueue``)?
    # Is a statement a network round trip?  Then a refresh reads ahead the cells of every leaf
    # other writers changed (one statement instead of one per leaf touched later); in-process
    # (SQLite) that read-ahead costs more than the lookups it saves, for leaves never touched.
    remote = False
    closed = False  # set by ``close`` (under ``lock``): every later statement raises StorageError
    _tickets = False  # the tickets table is known to exist
    _group: "Optional[Group]" = None  # inside ``commit_group``: what its work appended and settled so far
    _settled = 0  # outcomes this object settled (every ``_PRUNE_EVERY``-th prunes old ones)

    def __init__(self, target: str) -> None:
        self.target = target
        self.lock = threading.RLock()
        self._depth = 0  # nesting of ``_again`` (only the outermost retries)
        self._branched = False  # the branch tables exist (never dropped once created)
        # The newest head ``head`` read while there were no branch tables: the commits up to it
        # were made before any existed, so none has a lineage row.
        self._unbranched = -1

    # -- dialect hooks --------------------------------------------------------------

    def _run(self, sql: str, params: Sequence[Any] = ()) -> List[Tuple[Any, ...]]:
        """Execute one statement and return its rows (mapping driver errors)."""
        raise NotImplementedError

    def _run_many(self, sql: str, rows: List[Tuple[Any, ...]]) -> None:
        raise NotImplementedError

    def _rowcount(self, sql: str, params: Sequence[Any]) -> int:
        """Execute one statement and return how many rows it changed."""
        raise NotImplementedError

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """A write transaction (exclusive for SQLite); rolls back on any exception."""
        raise NotImplementedError
        yield

    def _tables(self) -> Set[str]:
        raise NotImplementedError

    def _peek_tables(self) -> Set[str]:
        """The tables, read outside any transaction and without waiting for a lock (a new schema
        appears whole: its creator commits it in one transaction)."""
        return self._tables()

    def _reconnect(self) -> None:
        """Replace a lost connection with a fresh one (``ConnectionLost`` if the server does not answer)."""
        raise NotImplementedError

    def _schema(self) -> List[str]:
        raise NotImplementedError

    def close(self) -> None:
        """Close the connection."""
        raise NotImplementedError

    def _announce(self, version: int) -> None:
        """Tell other processes' feeds, inside the publishing transaction, that ``version`` landed."""

    def watch(self) -> "HeadWatch":
        """A ``HeadWatch`` on its own connection: waits for the stored head to move (the change feed)."""
        raise NotImplementedError

    # -- shared logic -------------------------------------------------------------------

    def _q(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    def _again(self, work: Callable[[bool], T]) -> T:
        """``work(retrying)`` under the lock; after a lost connection, reconnect and run it again.

        At most ``attempts`` runs, with a short doubling pause before each reconnect;
        then ``StorageError``.  ``retrying`` is True on every run after the first, so
        a commit can ask the history whether its earlier run landed.  Nested calls
        run once: the outermost one retries the whole operation.
        """
        with self.lock:
            if self.closed:
                raise StorageError(f"{self.target} is closed")
            if self._depth:
                return work(False)
            lost: Optional[ConnectionLost] = None
            for attempt in range(self.attempts):
                self._depth += 1
                try:
                    if lost is not None:
                        time.sleep(BACKOFF * 2 ** (attempt - 1))
                        self._reconnect()
                    return work(lost is not None)
                except ConnectionLost as exc:
                    lost = exc
                finally:
                    self._depth -= 1
            assert lost is not None
            if self.attempts == 1:
                raise lost
            raise StorageError(f"{lost} (gave up after {self.attempts} attempts)") from None

    def query(self, sql: str, params: Sequence[Any] = ()) -> List[Tuple[Any, ...]]:
        """Rows of one read statement (``?`` placeholders); retried once reconnected if the connection is lost."""
        return self._again(lambda retrying: self._run(self._q(sql), params))

    def initialise(self, first: CommitRow, cells: Dict[str, List[Cell]], create: bool = True) -> bool:
        """Create the schema and version 0 unless the database has them; True if it created them.

        Raises ``CorruptDatabase`` when the database holds other tables or another format,
        and ``StorageError`` when it holds nothing and ``create`` is False (nothing is written).
        """
        return self._again(lambda retrying: self._initialise(first, cells, create))

    def _initialise(self, first: CommitRow, cells: Dict[str, List[Cell]], create: bool) -> bool:
        # Looked at without the write lock first: opening a database that has its tables
        # (every opening but the first) must not wait for a writer's transaction, nor need
        # the right to write (a read-only file).
        tables = self._peek_tables()
        if not tables and not create:
            raise StorageError(f"{self.target} holds no botree database (create=False: nothing was created)")
        if not tables:
            with self._transaction():
                tables = self._tables()  # again, serialised with other creators
                if not tables:
                    for statement in self._schema():
                        self._run(statement)
                    self._run(self._q("INSERT INTO meta VALUES (?, ?)"), ("format", FORMAT))
                    self.patches = True
                    self._run(self._q("INSERT INTO head VALUES (0, ?, ?)"), (first[0], first[0]))
                    self._insert(first, cells)
                    return True
        expected = {"meta", "head", "commits", *TABLES}
        if not expected <= tables:
            raise CorruptDatabase(
                f"{self.target} is not a botree database (tables: {sorted(tables)}; missing "
                f"{sorted(expected - tables)})"
            )
        found = self.format()
        if found in UPGRADABLE:
            raise OutdatedFormat(
                f"{self.target} is in storage format {found} (written by {UPGRADABLE[found]}); this library "
                f"reads {FORMAT}. Upgrade it in place, keeping every version, with: botree upgrade {self.target}"
            )
        if found != FORMAT and found not in WHOLE_CELLS_ONLY:
            raise CorruptDatabase(f"{self.target} has format {found!r}, this library reads {FORMAT!r}")
        self.patches = found == FORMAT
        if "branches" in tables:
            self.id_mark()  # CorruptDatabase if gone: the branch tables would go unread, main served the head row's
        return False

    def format(self) -> Optional[str]:
        """The stored format tag (None if missing). O(1)."""
        found = self.query("SELECT value FROM meta WHERE key = ?", ("format",))
        return found[0][0] if len(found) == 1 and isinstance(found[0][0], str) else None

    def head(self) -> int:
        """The committed head version; ``CorruptDatabase`` unless it is the newest commit. O(log).

        The same statement asks whether the branch tables exist (``branched``), so that a
        refresh after another process's commit needs no second round trip to learn it.
        """
        # One statement, so every value comes from one snapshot even while others commit.
        return self._read_head(self.query(f"SELECT {_HEAD_COLUMNS.format('')} FROM head WHERE id = 0"))

    def head_and_commits(self, after: int, most: int) -> Tuple[int, List[CommitRow]]:
        """``head()`` and the commit rows after version ``after`` up to it (none if more than ``most``),
        in one statement: what a refresh after other processes' commits reads first. O(rows).
        """
        columns = ", ".join("c." + name for name in COMMIT_COLUMNS.split(", "))
        rows = self.query(
            f"SELECT {_HEAD_COLUMNS.format('h.')}, {columns} FROM head h LEFT JOIN commits c "
            "ON c.version > ? AND c.version <= h.version AND h.version - ? <= ? WHERE h.id = 0 ORDER BY c.version",
            (after, after, most),
        )
        head = self._read_head(rows[:1])
        return head, [commit_row(r[3:], self.target) for r in rows if r[3] is not None]

    def _read_head(self, rows: List[Tuple[Any, ...]]) -> int:
        """The head from a row of ``_HEAD_COLUMNS`` (and what it says of the branch tables). O(1)."""
        if len(rows) != 1 or rows[0][0] != rows[0][1]:
            raise CorruptDatabase(f"{self.target}: the head {rows[:1]!r} is not the newest commit")
        head = _int(rows[0][0], f"{self.target}: the head")
        if rows[0][2]:
            self._branched = True
        else:
            self._unbranched = head
        return head

    def oldest(self) -> int:
        """The oldest version still stored (kept in ``head``, not read from an index). O(1)."""
        rows = self.query("SELECT oldest FROM head WHERE id = 0")
        if len(rows) != 1:
            raise CorruptDatabase(f"{self.target}: the head row is missing")
        return _int(rows[0][0], f"{self.target}: the oldest version")

    def kept(self) -> Tuple[int, int]:
        """(oldest, head): the versions kept, read in one statement (one snapshot). O(log).

        ``CorruptDatabase`` unless the head row agrees with the commits: the head is
        the newest commit and ``oldest`` the oldest one (a damaged ``oldest`` would
        otherwise hide commits from ``history`` and ``verify``).
        """
        rows = self.query(
            "SELECT oldest, version, (SELECT min(version) FROM commits), (SELECT max(version) FROM commits) "
            "FROM head WHERE id = 0"
        )
        if len(rows) != 1:
            raise CorruptDatabase(f"{self.target}: the head row is missing")
        oldest, head, first, last = rows[0]
        if head != last or type(head) is not int:
            raise CorruptDatabase(f"{self.target}: the head {head!r} is not the newest commit {last!r}")
        if oldest != first or type(oldest) is not int or oldest > head:
            raise CorruptDatabase(f"{self.target}: the head row says the oldest version is {oldest!r}, "
                                  f"the oldest commit is {first!r}")
        return oldest, head

    def commit_rows(self, first: int, last: int) -> List[CommitRow]:
        """Commit rows with first <= version <= last, oldest first. O(rows)."""
        rows = self.query(f"SELECT {COMMIT_COLUMNS} FROM commits WHERE version >= ? AND version <= ? "
                          "ORDER BY version", (first, last))
        return [commit_row(r, self.target) for r in rows]

    def cell(self, table: str, leaf: int, version: int, reading: int) -> Tuple[bytes, int]:
        """(payload, crc) of the cell ``(leaf, version)`` that version ``reading`` pins. O(log).

        ``VersionNotFound`` if ``reading`` was compacted away meanwhile; ``CorruptDatabase``
        if the pinned cell is missing or the row found is another one.
        """
        rows = self.query(
            f"SELECT leaf, version, payload, crc FROM {table} WHERE leaf = ? AND version = ?", (leaf, version)
        )
        where = f"{self.target}: {table} leaf {leaf} version {version}"
        if len(rows) != 1:
            if reading < self.oldest():
                raise VersionNotFound(f"version {reading} was compacted away")
            raise CorruptDatabase(f"{where}: the cell is {'missing' if not rows else 'stored twice'}")
        found_leaf, found_version, payload, crc = rows[0]
        if found_leaf != leaf or found_version != version:
            raise CorruptDatabase(f"{where}: the index led to leaf {found_leaf!r} version {found_version!r}")
        return _blob(payload, where), _int(crc, where)

    def cells_at(self, wanted: Sequence[Tuple[str, int, int]]) -> Dict[Tuple[str, int, int], Tuple[bytes, int]]:
        """(payload, crc) of each stored cell ``(table, leaf, version)`` in ``wanted``, in one statement.

        Cells not found are left out (``cell`` reports why when they are read).
        O(log · len(wanted)); one round trip.
        """
        if not wanted:
            return {}
        parts: List[str] = []
        params: List[Any] = []
        for table in (*TABLES, *OPTIONAL_TABLES):
            keys = [(leaf, version) for t, leaf, version in wanted if t == table]
            if keys:
                where = " OR ".join(["(leaf = ? AND version = ?)"] * len(keys))
                parts.append(f"SELECT '{table}', leaf, version, payload, crc FROM {table} WHERE {where}")
                params.extend(x for key in keys for x in key)
        found: Dict[Tuple[str, int, int], Tuple[bytes, int]] = {}
        for table, leaf, version, payload, crc in self.query(" UNION ALL ".join(parts), params):
            where = f"{self.target}: {table} leaf {leaf} version {version}"
            found[(str(table), _int(leaf, where), _int(version, where))] = (_blob(payload, where), _int(crc, where))
        return found

    def cell_prefixes(self, size: int) -> Iterator[Tuple[str, int, int, Optional[int], bytes]]:
        """Every stored cell of every cell table: (table, leaf, version, base column, the payload's first
        ``size`` bytes). O(stored cells) (for ``compact``, which must not trust the base column alone)."""
        base = "base" if self.patches else "NULL"
        present = self._tables()
        for table in (*TABLES, *(t for t in OPTIONAL_TABLES if t in present)):
            for leaf, version, of, prefix in self.query(
                f"SELECT leaf, version, {base}, substr(payload, 1, {int(size)}) FROM {table}"
            ):
                where = f"{self.target}: a {table} cell"
                yield (
                    table, _int(leaf, where), _int(version, where), None if of is None else _int(of, where),
                    _blob(prefix, where),
                )

    def cells(self, table: str) -> Iterator[Tuple[int, int, bytes, int, Optional[int]]]:
        """Every stored cell of ``table``: (leaf, version, payload, crc, base). O(table) (for ``verify``)."""
        base = "base" if self.patches else "NULL"
        for leaf, version, payload, crc, of in self.query(f"SELECT leaf, version, payload, crc, {base} FROM {table}"):
            where = f"{self.target}: a {table} cell"
            yield (
                _int(leaf, where), _int(version, where), _blob(payload, where), _int(crc, where),
                None if of is None else _int(of, where),
            )

    # -- branches ------------------------------------------------------------------------

    def branched(self, as_of: Optional[int] = None) -> bool:
        """True if the branch tables exist (checked until they do, then remembered). O(log).

        Read from ``meta.id_mark``, which the transaction creating them writes.  ``as_of``:
        the head version the caller just read with ``head``; if that read found no branch
        tables, its answer stands (no second statement).
        """
        if not self._branched and as_of is not None and as_of == self._unbranched:
            return False
        if not self._branched:
            self._branched = bool(self.query("SELECT 1 FROM meta WHERE key = ?", ("id_mark",)))
        return self._branched

    def heads(self) -> Dict[str, int]:
        """Every branch's head version by name (empty without the branch tables). O(branches)."""
        if not self.branched():
            return {}
        return {str(name): _int(v, f"{self.target}: branch {name!r}")
                for name, v in self.query("SELECT name, version FROM branches")}

    def branch_head(self, name: str) -> Optional[int]:
        """The head version of branch ``name`` (None if there is no such branch). O(log)."""
        rows = self.query("SELECT version FROM branches WHERE name = ?", (name,))
        return _int(rows[0][0], f"{self.target}: branch {name!r}") if rows else None

    def create_branch(
        self, name: str, version: int, main: int, mark: int, mark_of: Optional[Callable[[CommitRow], int]] = None
    ) -> Optional[bool]:
        """Add branch ``name`` at ``version``, creating the branch tables first if needed; False if it exists.

        Creating the tables records main's head, ``main`` (every commit so far is
        main's), and ``mark``, the first node id it has not handed out; if the stored
        head is no longer ``main``, the head's own commit row gives the mark instead
        (``mark_of``, which checks the row), read with the head locked; without
        ``mark_of`` nothing is written and None is returned (read it again and retry:
        under a stream of commits such retries could go on until ``version`` was
        compacted away).  ``VersionNotFound`` if ``version`` was compacted away (its
        commit row is checked with the head locked, so a compaction cannot race it).
        One write transaction. O(1).

        After a lost connection the outcome of the lost run is unknown: if the retry
        finds ``name`` at ``version`` it reports it created (by that run, or by
        another writer asking for the very same branch: the same outcome).
        """

        def work(retrying: bool) -> Optional[bool]:
            with self._transaction():
                # Lock the head row first: a commit that does not know of branches waits, then sees them.
                self._rowcount(self._q("UPDATE head SET version = version WHERE id = 0"), ())
                if "branches" not in self._tables():
                    head, first_id = main, mark
                    found_head = self._run(self._q("SELECT version FROM head WHERE id = 0"))
                    if found_head != [(main,)]:
                        if mark_of is None or len(found_head) != 1:
                            return None
                        head = _int(found_head[0][0], f"{self.target}: the head")
                        rows = self._run(self._q(f"SELECT {COMMIT_COLUMNS} FROM commits WHERE version = ?"), (head,))
                        if len(rows) != 1:
                            raise CorruptDatabase(f"{self.target}: the head's commit {head} is missing")
                        first_id = mark_of(commit_row(rows[0], self.target))
                    for statement in BRANCH_SCHEMA:
                        self._run(statement)
                    self._run(self._q("INSERT INTO branches VALUES (?, ?)"), ("main", head))
                    self._run(self._q("INSERT INTO meta VALUES (?, ?)"), ("id_mark", str(first_id)))
                found = self._run(self._q("SELECT version FROM branches WHERE name = ?"), (name,))
                if found:
                    return retrying and found == [(version,)]
                if not self._run(self._q("SELECT 1 FROM commits WHERE version = ?"), (version,)):
                    raise VersionNotFound(f"version {version} was compacted away")  # by another handle, just now
                self._run(self._q("INSERT INTO branches VALUES (?, ?)"), (name, version))
                return True

        created = self._again(work)
        self._branched = created is not None
        return created

    def drop_branch(self, name: str) -> bool:
        """Remove the name ``name`` (its versions stay); False if there was none. O(log).

        After a lost connection the retry cannot tell a name the lost run removed from
        one that was never there: it reports it removed (it is gone either way).
        """
        if not self.branched():
            return False
        return self._again(lambda retrying: self._drop(name, retrying))

    def _drop(self, name: str, retrying: bool) -> bool:
        with self._transaction():
            return self._rowcount(self._q("DELETE FROM branches WHERE name = ?"), (name,)) == 1 or retrying

    def id_mark(self) -> int:
        """The first node id no branch has handed out (``meta.id_mark``). O(1)."""
        rows = self.query("SELECT value FROM meta WHERE key = ?", ("id_mark",))
        if len(rows) != 1 or not str(rows[0][0]).isdigit():
            raise CorruptDatabase(f"{self.target}: meta has no valid id_mark")
        return int(rows[0][0])

    def lineage(self, first: int, last: int) -> Dict[int, Tuple[str, Optional[int]]]:
        """(branch, merged source) of the commits first..last that have a lineage row. O(rows)."""
        if not self._branched and last <= self._unbranched:
            return {}  # committed before the branch tables existed (a head read saw none): none has one
        if not self.branched():
            return {}
        rows = self.query("SELECT version, branch, merged FROM lineage WHERE version >= ? AND version <= ?",
                          (first, last))
        found: Dict[int, Tuple[str, Optional[int]]] = {}
        for v, b, m in rows:
            where = f"{self.target}: the lineage row of version {v!r}"
            if not isinstance(b, str):
                raise CorruptDatabase(f"{where}: its branch is not text")
            found[_int(v, where)] = (b, None if m is None else _int(m, where))
        return found

    # -- committing ----------------------------------------------------------------------

    def commit(self, build: Callable[[int], Built[T]]) -> Tuple[CommitRow, T]:
        """Store the next version: lock the head, ``build(head)`` the commit on it, insert it. O(build + cells).

        ``build(head)`` returns (row, cells, lineage, extra) for the version after
        ``head``; it runs inside the write transaction, after the head is locked (SQLite:
        ``BEGIN IMMEDIATE`` behind a lock file; PostgreSQL: ``SELECT ... FOR UPDATE`` on
        the head row), so no other writer can move the head under it: writers queue
        instead of racing, and no encoding is thrown away.  ``build`` may read the
        store (the same connection, inside the transaction).  Returns (row, extra).

        ``lineage`` = (branch name, the branch head the commit built on, merged source
        or None, node id mark) on a database with branches: the branch row moves with
        the head, and the commit's lineage row and ``id_mark`` are written in the same
        transaction.  Without it the commit is refused if the branch tables exist by
        then, and ``build`` runs again (it must look for them again).

        If the connection is lost, the outcome of the lost run may be unknown (COMMIT
        sent, no answer).  The run after reconnecting settles it: locking the head
        waits for any transaction still holding it, and if the head has reached the
        lost run's version, the stored commit row tells whether that run landed (same
        checksum: its row is returned, never applied twice) or another writer's did
        (``build`` runs again on the new head).
        """
        tried: List[Tuple[CommitRow, T]] = []

        def attempt(retrying: bool) -> Tuple[CommitRow, T]:
            while True:
                try:
                    with self._writing() as head:
                        if retrying and tried and head >= tried[-1][0][0] and self._landed(tried[-1][0]):
                            row, extra = tried[-1]
                        else:
                            row, cells, lineage, extra = build(head)
                            tried.append((row, extra))
                            if not self._append(head, row, cells, lineage):
                                raise _Moved()  # rolls the transaction back
                    self._flush()
                    return row, extra
                except _Moved:
                    retrying = True  # a writer that does not lock (an older botree) moved the head

        try:
            return self._again(attempt)
        except StorageError as exc:
            if type(exc) is not StorageError or not tried:
                raise  # damage, or nothing was sent: nothing can have landed
            raise StorageError(
                f"{exc}; whether the commit landed is unknown: look at the history before retrying it"
            ) from None

    @contextmanager
    def _writing(self, wait: bool = True) -> Iterator[int]:
        """A write transaction holding the head: yields the head version (dialects lock it first).

        ``wait=False``: raise ``Busy`` at once if another writer holds the lock.
        """
        with self._transaction():
            rows = self._run(self._q(self._lock_head if wait else self._try_lock_head))
            if not rows and not wait:
                raise Busy()
            if len(rows) != 1:
                raise CorruptDatabase(f"{self.target}: the head row is missing")
            yield _int(rows[0][0], f"{self.target}: the head")

    _lock_head = "SELECT version FROM head WHERE id = 0"  # inside the write transaction
    _try_lock_head = _lock_head  # the same without waiting: no rows if another writer holds it

    # -- group commit: requests queued behind the lock, served by whoever holds it --------------

    def commit_group(self, work: Callable[[int, bool], T], wait: bool = True) -> T:
        """``work(head, retrying)`` in one write transaction holding the head, then made durable.

        ``work`` may ``append`` several versions and ``settle`` the tickets of the requests
        it served (``queued``): they land together, with one flush.  After a lost
        connection it runs again with ``retrying`` True (it must look at its tickets'
        ``outcome`` first: an outcome is stored in the same transaction as its version, so
        a ticket with an outcome landed, exactly once).  ``wait=False``: ``Busy`` instead of
        waiting for the lock.  ``Regroup`` from ``work`` rolls back and propagates.
        """

        def attempt(retrying: bool) -> T:
            try:
                with self._writing(wait) as head:
                    self._group = Group(head)
                    try:
                        result = work(head, retrying)
                        self._write_group(self._group)
                    finally:
                        self._group = None
            except Busy:
                raise  # nothing was written
            except BaseException:
                self._forget_tables()  # a table the transaction made (tickets, queue) went with it
                raise
            self._flush()
            return result

        return self._again(attempt)

    def _forget_tables(self) -> None:
        """A write transaction rolled back: the tables it may have made are looked for again when needed.

        Before, a group that made the tickets table and then rolled back (a lost connection
        before COMMIT, ``Regroup``) left it "known": every later outcome read and settle of
        this object failed on the missing table, the retry of that very commit included.
        """
        self._tickets = False

    def append(self, expected: int, row: CommitRow, cells: Dict[str, List[Cell]], ticket: int, outcome: bytes) -> None:
        """Inside ``commit_group``: the next version on ``expected`` (main, no branch tables), and the
        outcome of the request it serves (``settle``). O(cells).

        Kept until the group's work is done, then written with the group's other versions:
        one statement per table for the whole group, one head move, one announcement.
        """
        group = self._group
        if group is None:
            raise StorageError("append outside commit_group")
        if expected != group.last:
            raise Regroup()
        group.commits.append(row)
        for table, items in cells.items():
            if items:
                group.cells.setdefault(table, []).extend((row[0], cell) for cell in items)
        group.last = row[0]
        self.settle(ticket, row[0], outcome)

    def _write_group(self, group: "Group") -> None:
        """The versions and outcomes a group's work appended and settled: a statement per table. O(cells).

        ``Regroup`` (the transaction rolls back) if branch tables appeared, or if a writer
        that does not lock (an older botree) moved the head.
        """
        if group.commits and self._branch_tables_now():
            raise Regroup()  # branch tables: every commit moves a branch row, alone
        if group.commits and self._rowcount(
            self._q("UPDATE head SET version = ? WHERE id = 0 AND version = ?"), (group.last, group.first)
        ) != 1:
            raise Regroup()
        for sql, rows in self._group_writes(group):
            if rows:
                self._run_many(sql, rows)
            else:
                self._run(sql)
        if group.commits:
            self._announce(group.last)  # inside the transaction: heard only if the commit lands

    def _group_writes(self, group: "Group") -> List[Tuple[str, List[Tuple[Any, ...]]]]:
        """The inserts of a group's commits, cells and outcomes: (SQL, rows), no rows for a CREATE."""
        writes: List[Tuple[str, List[Tuple[Any, ...]]]] = []
        if group.commits:
            writes.append((self._q(f"INSERT INTO commits ({COMMIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                           list(group.commits)))
        for table, items in group.cells.items():
            if table in OPTIONAL_TABLES:
                writes.append((cell_table(table, self.blob_type, exists_ok=True, patches=self.patches), []))
            writes.append((self._cell_sql(table), [self._cell_row(version, cell) for version, cell in items]))
        if group.tickets:
            writes.extend(self._settling(group.tickets))
        return writes

    def outcome(self, ticket: int) -> Optional[Tuple[Optional[int], bytes]]:
        """Inside ``commit_group``: (version or None, outcome) settled for ``ticket``, or None. O(log).

        ``CorruptDatabase`` if the stored outcome fails its checksum.  An outcome this group
        settled already counts (not written yet): a ticket queued twice (``post`` run again
        after its answer was lost) is served once, and its second outcome never collides
        with the first in ``tickets``.
        """
        group = self._group
        if group is not None:
            for row in group.tickets:
                if row[0] == ticket:
                    return row[1], row[2]
        if not self._has_tickets():
            return None
        rows = self._run(self._q("SELECT version, outcome, crc FROM tickets WHERE ticket = ?"), (ticket,))
        if not rows:
            return None
        where = f"{self.target}: the outcome of request {ticket}"
        version = None if rows[0][0] is None else _int(rows[0][0], where)
        payload = _blob(rows[0][1], where)
        if _ticket_checksum(ticket, version, payload) != _int(rows[0][2], where):
            raise CorruptDatabase(f"{where}: bad checksum")
        return version, payload

    def with_outcomes(self, tickets: Sequence[int]) -> Set[int]:
        """Inside ``commit_group``: those of ``tickets`` that have an outcome, stored or settled by this
        group (as ``outcome`` counts them, its checksum not read). One statement for all. O(k log).

        What a group serving the queue asks of every request it read, in one round trip
        instead of one each.  A damaged outcome row counts as an outcome: its request is
        not served again, and its owner reads the damage (``settled``: ``CorruptDatabase``).
        """
        group = self._group
        found = {row[0] for row in group.tickets if row[0] in tickets} if group is not None else set()
        if tickets and self._has_tickets():
            marks = ", ".join("?" * len(tickets))
            query = self._q(f"SELECT ticket FROM tickets WHERE ticket IN ({marks})")
            found.update(_int(row[0], f"{self.target}: a ticket") for row in self._run(query, tuple(tickets)))
        return found

    def settled(self, ticket: int) -> Optional[Tuple[Optional[int], bytes]]:
        """``outcome(ticket)`` outside any transaction: only a landed outcome is visible. O(log).

        A found outcome is made durable first (``_flush``: dialects that commit early
        make the serving transaction visible before its flush).
        """
        found = self._again(lambda retrying: self.outcome(ticket))
        if found is not None:
            self._again(lambda retrying: self._flush())
        return found

    def settle(self, ticket: int, version: Optional[int], outcome: bytes) -> None:
        """Inside ``commit_group``: record request ``ticket``'s outcome (its version, or None: refused). O(log).

        Written with the group's versions (``_write_group``), in the same transaction.
        """
        group = self._group
        if group is None:
            raise StorageError("settle outside commit_group")
        group.tickets.append((ticket, version, outcome, _ticket_checksum(ticket, version, outcome), int(time.time())))

    def _settling(self, tickets: List[Tuple[Any, ...]]) -> List[Tuple[str, List[Tuple[Any, ...]]]]:
        """The statements storing ``tickets`` rows (creating the table the first time, pruning now and then)."""
        statements: List[Tuple[str, List[Tuple[Any, ...]]]] = []
        if not self._has_tickets():
            statements.append((
                "CREATE TABLE IF NOT EXISTS tickets (ticket BIGINT PRIMARY KEY, version BIGINT, "
                f"outcome {self.blob_type} NOT NULL, crc BIGINT NOT NULL, time BIGINT NOT NULL)", [],
            ))
            self._tickets = True
        statements.append(
            (self._q("INSERT INTO tickets (ticket, version, outcome, crc, time) VALUES (?, ?, ?, ?, ?)"), tickets)
        )
        settled, self._settled = self._settled, self._settled + len(tickets)
        if settled // _PRUNE_EVERY != self._settled // _PRUNE_EVERY:  # an owner reads its outcome within moments
            statements.append((self._q("DELETE FROM tickets WHERE time < ?"), [(tickets[-1][4] - TICKETS_KEPT,)]))
        return statements

    def _has_tickets(self) -> bool:
        # Without waiting for a lock: only the writers' lock holder makes the table, in one transaction.
        if not self._tickets:
            self._tickets = "tickets" in self._peek_tables()
        return self._tickets

    def await_unlocked(self) -> None:
        """Wait (outside any transaction) until no writer holds the head lock; every waiter wakes at once."""
        time.sleep(0.001)  # dialects block on the lock itself

    def take_turn(self) -> bool:
        """Block until this store holds the writers' lock itself (outside any transaction); False if it cannot.
        O(1) plus the wait.

        For a waiter whose request the last group did not serve and whose try found the
        lock taken: waiting for the lock itself, not for it to be free (``await_unlocked``),
        is what keeps such waiters from spinning while they wake each other (see
        ``SQLiteStore``).  The next ``commit_group`` finds the lock held and keeps it; it
        is released when that ends, or by ``end_turn``.  Dialects without it: False.
        """
        return False

    def end_turn(self) -> None:
        """Release the lock ``take_turn`` took, if a ``commit_group`` did not already (idempotent). O(1)."""

    def post(self, ticket: int, request: bytes) -> None:
        """Queue a request for whoever holds the head lock next (outside any transaction). O(request)."""
        raise NotImplementedError

    def queued(self, limit: int) -> List[Tuple[int, bytes]]:
        """Inside ``commit_group``: up to ``limit`` queued (ticket, request), oldest first."""
        raise NotImplementedError

    def unqueue(self, tickets: Sequence[int]) -> None:
        """Drop served requests from the queue (after their outcomes landed; outside any transaction)."""
        raise NotImplementedError

    def _append(
        self, expected: int, row: CommitRow, cells: Dict[str, List[Cell]], lineage: Optional[Lineage] = None
    ) -> bool:
        """Inside ``_writing``: move the head from ``expected`` to ``row``'s version, insert row and cells.

        False (roll back and build again) if the head moved, the branch row moved, or
        branch tables appeared for a commit made without ``lineage``.
        """
        moved = self._rowcount(self._q("UPDATE head SET version = ? WHERE id = 0 AND version = ?"), (row[0], expected))
        if moved != 1:
            return False
        try:
            if lineage is not None:
                self._advance(row[0], *lineage)
            elif self._branch_tables_now():
                return False  # branches appeared since the caller looked: it must move main's row
        except _BranchMoved:
            return False
        self._insert(row, cells)
        self._announce(row[0])  # inside the transaction: heard only if the commit lands
        return True

    def _flush(self) -> None:
        """After a commit's transaction: make sure it is durable (dialects that commit early flush here)."""

    def _advance(self, version: int, name: str, old: int, merged: Optional[int], mark: int) -> None:
        """Inside ``_append``: move branch ``name`` from ``old`` to ``version``, note its lineage and the id mark."""
        if self._rowcount(self._q("UPDATE branches SET version = ? WHERE name = ? AND version = ?"),
                          (version, name, old)) != 1:
            raise _BranchMoved(name)
        self._run(self._q("INSERT INTO lineage (version, branch, merged) VALUES (?, ?, ?)"), (version, name, merged))
        found = self._run(self._q("SELECT value FROM meta WHERE key = ?"), ("id_mark",))
        if not found or int(found[0][0]) < mark:
            self._run(self._q("UPDATE meta SET value = ? WHERE key = ?"), (str(mark), "id_mark"))


    def _landed(self, row: CommitRow) -> bool:
        """True if the stored commit of ``row``'s version is ``row`` (same checksum)."""
        found = self._run(self._q("SELECT crc FROM commits WHERE version = ?"), (row[0],))
        return found == [(row[8],)]

    def tables(self) -> Set[str]:
        """The names of the tables the database holds. O(tables)."""
        return self._again(lambda retrying: self._tables())

    def _insert(self, row: CommitRow, cells: Dict[str, List[Cell]]) -> None:
        self._run(self._q(f"INSERT INTO commits ({COMMIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"), row)
        for sql, params in self._cell_writes(row[0], cells):
            if params:
                self._run_many(sql, params)
            else:
                self._run(sql)

    def _cell_writes(self, version: int, cells: Dict[str, List[Cell]]) -> List[Tuple[str, List[Tuple[Any, ...]]]]:
        """The statements writing a commit's cells: (SQL, rows to insert), rows empty for a CREATE. O(cells).

        A database created before an optional table existed gets it with its first cell, in
        the committing transaction (after the head is locked, so writers never race here).
        """
        writes: List[Tuple[str, List[Tuple[Any, ...]]]] = []
        for table, items in cells.items():
            if not items:
                continue
            if table in OPTIONAL_TABLES:
                writes.append((cell_table(table, self.blob_type, exists_ok=True, patches=self.patches), []))
            writes.append(self._cell_insert(table, version, items))
        return writes

    def _cell_insert(self, table: str, version: int, cells: List[Cell]) -> Tuple[str, List[Tuple[Any, ...]]]:
        """The INSERT of ``cells`` of ``version`` and its rows; ``StorageError`` for a patch in a botree-2 store."""
        return self._cell_sql(table), [self._cell_row(version, cell) for cell in cells]

    def _cell_sql(self, table: str) -> str:
        if self.patches:
            return self._q(f"INSERT INTO {table} (leaf, version, payload, crc, base) VALUES (?, ?, ?, ?, ?)")
        return self._q(f"INSERT INTO {table} (leaf, version, payload, crc) VALUES (?, ?, ?, ?)")

    def _cell_row(self, version: int, cell: Cell) -> Tuple[Any, ...]:
        leaf, payload, crc, base = cell
        if self.patches:
            return leaf, version, payload, crc, base
        if base is not None:
            raise StorageError(f"{self.target}: a patch cell for a database whose format has none")
        return leaf, version, payload, crc

    def compact(self, plan: Plan) -> Tuple[int, int]:
        """Drop the commits before a cut and every cell no kept version reads; returns (cut, cells dropped).

        One write transaction holding the head (a kill leaves the old or the new state):
        ``plan(head, branch heads)`` runs inside it (it may read the store on the same
        connection) and returns the cut and the (table, leaf, version) cells the versions
        from the cut on pin.  Every commit and lineage row before the cut goes, and every
        cell older than the cut that no kept version pins (with branches a cell superseded
        on one branch may still be pinned by another, so "superseded" is not enough).
        ``plan`` returns None for the pins on one line of history: there a cell is unread
        exactly when a newer cell at or before the cut supersedes it, one ``DELETE`` per
        table.  O(stored cells older than the cut + plan).
        """
        return self._again(lambda retrying: self._compact(plan))

    def _compact(self, plan: Plan) -> Tuple[int, int]:
        dropped = 0
        with self._writing() as head:
            cut, needed = plan(head, self._heads_now())
            present = self._tables()
            for table in (*TABLES, *(t for t in OPTIONAL_TABLES if t in present)):
                dropped += self._drop_superseded(table, cut) if needed is None else self._drop_unpinned(
                    table, cut, needed
                )
            self._rowcount(self._q("DELETE FROM commits WHERE version < ?"), (cut,))
            if "lineage" in present:
                self._rowcount(self._q("DELETE FROM lineage WHERE version < ?"), (cut,))
            self._rowcount(self._q("UPDATE head SET oldest = ? WHERE id = 0 AND oldest < ?"), (cut, cut))
        return cut, dropped

    def _branch_tables_now(self) -> bool:
        """Inside a transaction: whether the branch tables exist, asked now (``meta.id_mark``). O(log).

        A yes is remembered (``branched``): the tables are never dropped, and a rebuild after
        a write refused for them must not trust an older head read's "none".
        """
        found = bool(self._run(self._q("SELECT 1 FROM meta WHERE key = ?"), ("id_mark",)))
        if found:
            self._branched = True
        return found

    def _heads_now(self) -> Dict[str, int]:
        """Inside a transaction: every branch head, asked now (a branch another object just created
        counts, whatever ``branched()`` remembers); empty without the branch tables. O(branches)."""
        if not self._branch_tables_now():
            return {}
        rows = self._run(self._q("SELECT name, version FROM branches"))
        return {str(name): _int(v, f"{self.target}: branch {name!r}") for name, v in rows}

    def _drop_superseded(self, table: str, cut: int) -> int:
        """Delete the cells of ``table`` before ``cut`` that a newer cell at or before it supersedes.

        With patch cells, first the superseded patches, then the superseded whole cells
        that no patch left applies to (a kept patch's base stays, however old).
        """
        superseded = (
            f"version < ? AND EXISTS (SELECT 1 FROM {table} AS newer WHERE newer.leaf = {table}.leaf "
            f"AND newer.version > {table}.version AND newer.version <= ?)"
        )
        if not self.patches:
            return self._rowcount(self._q(f"DELETE FROM {table} WHERE {superseded}"), (cut, cut))
        dropped = self._rowcount(self._q(f"DELETE FROM {table} WHERE base IS NOT NULL AND {superseded}"), (cut, cut))
        return dropped + self._rowcount(
            self._q(
                f"DELETE FROM {table} WHERE base IS NULL AND {superseded} AND NOT EXISTS (SELECT 1 FROM "
                f"{table} AS patch WHERE patch.leaf = {table}.leaf AND patch.base = {table}.version)"
            ),
            (cut, cut),
        )

    def _drop_unpinned(self, table: str, cut: int, needed: Set[Tuple[str, int, int]]) -> int:
        """Delete the cells of ``table`` before ``cut`` that are not ``needed`` (nor a needed patch's base)."""
        if self.patches:
            patches = self._run(self._q(f"SELECT leaf, version, base FROM {table} WHERE base IS NOT NULL"))
            needed = needed | {(table, int(leaf), int(base)) for leaf, version, base in patches
                               if (table, leaf, version) in needed}
        older = self._run(self._q(f"SELECT leaf, version FROM {table} WHERE version < ?"), (cut,))
        gone = [(leaf, version) for leaf, version in older if (table, leaf, version) not in needed]
        for start in range(0, len(gone), _BATCH):
            batch = gone[start : start + _BATCH]
            where = " OR ".join(["(leaf = ? AND version = ?)"] * len(batch))
            self._run(self._q(f"DELETE FROM {table} WHERE {where}"), [x for key in batch for x in key])
        return len(gone)

    def integrity(self) -> List[str]:
        """The storage engine's own integrity check: problems found (empty when sound). O(file size)."""
        return []

    # -- rewriting in place (``botree upgrade``) -------------------------------------------

    @contextmanager
    def rewriting(self) -> Iterator[None]:
        """One write transaction for an in-place rewrite: all of it lands, or none."""
        with self.lock:
            with self._transaction():
                yield

    def execute(self, sql: str, params: Sequence[Any] = ()) -> List[Tuple[Any, ...]]:
        """Run one statement inside ``rewriting()`` (``?`` placeholders). O(statement)."""
        return self._run(self._q(sql), params)

    def insert_cells(self, table: str, version: int, cells: List[Cell]) -> None:
        """Insert cells of ``version`` inside ``rewriting()``. O(cells)."""
        if cells:
            self._run_many(*self._cell_insert(table, version, cells))


class Group:
    """What one ``commit_group``'s work appended and settled, written once the work is done."""

    __slots__ = ("first", "last", "commits", "cells", "tickets")

    def __init__(self, head: int) -> None:
        self.first = self.last = head  # the head the group found, and its newest version so far
        self.commits: List[CommitRow] = []
        self.cells: Dict[str, List[Tuple[int, Cell]]] = {}  # table -> (version, cell)
        self.tickets: List[Tuple[Any, ...]] = []  # rows of the tickets table


class _Moved(Exception):
    """The head moved under a locked write (only a writer that does not lock can do that): roll back, retry."""


class HeadWatch:
    """Waits for the stored head to move, on a connection of its own (one feed thread uses it)."""

    def wait(self, seen: int, timeout: float) -> int:
        """The head version once it differs from ``seen``, or after at most about ``timeout`` seconds."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the connection."""
        raise NotImplementedError


def _ticket_checksum(ticket: int, version: Optional[int], outcome: bytes) -> int:
    """CRC-32 of a settled outcome, seeded with its ticket and version (as cells are with their place)."""
    return zlib.crc32(outcome, zlib.crc32(repr(("ticket", ticket, version)).encode()))


def _int(value: Any, where: str) -> int:
    if type(value) is not int:
        raise CorruptDatabase(f"{where}: expected an integer, found {type(value).__name__}")
    return value


def _blob(value: Any, where: str) -> bytes:
    if not isinstance(value, (bytes, memoryview)):
        raise CorruptDatabase(f"{where}: expected bytes, found {type(value).__name__}")
    return bytes(value)


def commit_row(r: Tuple[Any, ...], target: str) -> CommitRow:
    """A commit row's columns with their types checked (``CorruptDatabase`` otherwise). O(1)."""
    version, parent, time, message, meta, state, ops, deleted, crc = r
    where = f"{target}: commit {version!r}"
    if type(time) not in (int, float) or not (message is None or isinstance(message, str)):
        raise CorruptDatabase(f"{where}: malformed time or message")
    return (
        _int(version, where),
        _int(parent, where),
        float(time),
        message,
        _blob(meta, where),
        _blob(state, where),
        None if ops is None else _blob(ops, where),
        _blob(deleted, where),
        _int(crc, where),
    )
