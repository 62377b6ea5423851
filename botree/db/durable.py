"""``DurableDatabase``: a ``Database`` whose versions live in SQLite or PostgreSQL.

``Database("org.db")`` (SQLite, created if missing) or
``Database("postgresql://user@host/db")`` return one.  Everything the in-memory
database promises holds, across processes too:

* Opening reads the head commit row only; the head tree's vector leaves load on
  first touch and stay cached (``nodetable.lazy``), so opening a 10^6-node database
  costs milliseconds whatever its size.
* A commit locks the stored head, refreshes this object to it if another process
  committed meanwhile (sharing every leaf that did not change) and replays the
  transaction's logged updates on it exactly as in memory (``ConflictError`` when one
  no longer applies, retry for ``transact``), encodes the leaves its tree does not
  share with that head (found by identity, nothing is scanned; a leaf with few changed
  slots as a patch on its base cell) and stores them with the commit row.  On main
  without branches this is group commit (``_commit_grouped``): a writer that finds
  the lock taken queues its transaction, and the holder commits it too, as its own
  version, in the same transaction; with branches, one commit at a time
  (``Store.commit``).
* ``db.tree`` / ``snapshot()`` check the stored head (one indexed read) and pick up
  other processes' commits.
* ``as_of``, ``history``, ``changes`` read stored versions; ``compact(keep)`` drops
  old ones, explicitly.  ``verify()`` reads every stored record and checks it.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections import OrderedDict
from itertools import compress, count
from operator import is_not
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple, cast

from ..core.bulk import Progress
from ..core.index import DEFAULT_BLOCK_SIZE, check_block_size
from ..errors import BranchNotFound, ConflictError, CorruptDatabase, InvalidArgument, StorageError, VersionNotFound
from ..nodetable.vector import LEAF_BITS, LEAF_MASK, ChunkedVector
from ..renamed import renamed
from ..storage import codec
from ..storage.codec import checksum, layout, vectors
from ..storage.format import OPTIONAL_TABLES, TABLES
from ..storage.store import TICKETS_KEPT, Built, Busy, Cell, CommitRow, HeadWatch, Regroup, Store

if TYPE_CHECKING:
    from ..storage.lazy import MidReuse
from ..tree.tree import Tree
from ..tree.updates import UPDATES
from ..tree.values import check_message
from .branches import DEFAULT
from .database import Commit, Database, DbTransaction, Listener, Op, check_since, next_node_id, own_new

log = logging.getLogger("botree")


class _Skipped(Exception):
    """Inside ``_store_next``'s build: ``make`` stored nothing (a merge that is a no-op); roll back."""

_FEED_TICK = 0.2  # how long the feed thread waits on the head before checking whether it should stop

_CACHED_VERSIONS = 8  # trees kept for as_of besides the head
# Commit rows (and their states) kept decoded: past this many, the oldest are dropped down to half of it
# (``_trim_commits``), so a long-running process that sees every other process's commits stays bounded.
_CACHED_COMMITS = 4096
_PREFETCH = 256  # most manifests or leaf cells a refresh reads ahead in one statement (2 parameters each)
_CACHED_MANIFESTS = 1 << 14  # decoded manifests kept (64 versions each); the cache is cleared when full
_GROUP = 64  # most queued requests one group commit serves
# A request waiting this long (wall clock, as outcomes are pruned by) may have been served and its
# outcome pruned since (``TICKETS_KEPT``): its owner must not serve it again.  Half, for clock skew.
_STALE_AFTER = TICKETS_KEPT // 2
_CACHED_BASES = 256  # decoded whole cells kept as the bases of patches (the leaves commits change most)
_PACKED_BLOCKS = 4096  # blocks whose packed bytes are kept for the next patches (``codec.encode_patch``)
_REUSED_LEAVES = 256  # leaves whose last decoded slots are kept to decode their next cells (codec.SlotReuse)
# What a group commit gave a writer: (version, (previous tree, ops) if built by it, the tree or its loader).
# (The ops are None when ``make`` ran here: it recorded them itself.)
_Landed = Tuple[int, Optional[Tuple[Tree, Optional[Tuple[Op, ...]]]], "Tree | Callable[[], Tree]"]
_CACHED_CELLS = 1 << 16  # (base, patched slots) of cells read or written here; cleared when full
# A leaf whose slots changed since its base's in more than this fraction is written whole again.
_PATCH_SHARE = 4  # at most 64 // 4 = 16 of 64 slots in a patch
_PATCH_HEAD = 16  # bytes of a cell that hold a patch's header and base: [PATCH, base, ... (msgpack)
# make(head version, head) -> (tree to store, its logged updates or None, ids it deleted)
Manifests = Dict[Tuple[str, int, int], List[int]]  # (table, group, version written) -> its leaves' cell versions
Make = Callable[[int, Tree], Tuple[Tree, Optional[Tuple[Op, ...]], Set[int]]]
Notes = Dict[Tuple[str, int, int], Tuple[int, Tuple[int, ...]]]  # (table, leaf, cell version) -> (base, patched slots)
Bases = Dict[Tuple[str, int, int], List[Any]]  # (table, leaf, cell version) -> the slots of a whole cell


def open_store(target: str) -> Store:
    """The store for a file path or a ``postgresql://`` URL."""
    if "://" in target:
        scheme = target.split("://", 1)[0].lower()
        if scheme in ("postgresql", "postgres"):
            from ..storage.postgres import PostgresStore

            return PostgresStore(target)
        if scheme != "file":
            raise InvalidArgument(f"unsupported database URL scheme {scheme!r} (use a file path or postgresql://)")
        target = target.split("://", 1)[1]
    if not target:
        raise InvalidArgument("empty database path")
    from ..storage.sqlite import SQLiteStore

    if os.path.isdir(target):
        raise InvalidArgument(f"{target!r} is a directory, not a database file")
    return SQLiteStore(target)


def _must_exist(target: str) -> None:
    """``StorageError`` unless the SQLite file at ``target`` exists and is not empty (URLs: checked on open)."""
    if "://" in target and not target.lower().startswith("file://"):
        return
    path = target.split("://", 1)[1] if "://" in target else target
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        raise StorageError(f"no botree database at {path!r} (create=False: nothing was created)")


class DurableDatabase(Database):
    """A ``Database`` stored in SQLite (a file path) or PostgreSQL (a URL); see the module docstring.

    ``block_size``, ``fields`` and ``key`` configure a new database and are stored with
    every version; reopening with None uses the stored ones, with others raises
    ``InvalidArgument`` (``add_index``, ``drop_index``, ``set_key`` change them in a commit).
    """

    @renamed(index="fields")
    def __init__(
        self,
        tree: "str | os.PathLike[str]",
        keep: Optional[int] = None,
        block_size: Optional[int] = None,
        fields: Optional[Tuple[str, ...]] = None,
        create: bool = True,
        cache_leaves: Optional[int] = None,
        key: Optional[str] = None,
    ) -> None:
        from ..storage.lazy import LeafCache

        if keep is not None:
            raise InvalidArgument("a stored database keeps every version until compact(keep) is called")
        if block_size is not None:
            check_block_size(block_size)
        if type(create) is not bool:
            raise InvalidArgument(f"create must be True or False, not {create!r}")
        if cache_leaves is not None and (type(cache_leaves) is not int or cache_leaves < 1):
            raise InvalidArgument(f"cache_leaves must be a positive int or None, not {cache_leaves!r}")
        # Validates the arguments before connecting; marked: its reads hand out copies (``own_new``).
        empty = own_new(Tree(block_size or DEFAULT_BLOCK_SIZE, fields or (), key))
        target = os.fspath(tree)
        if not create:
            _must_exist(target)
        self._store = open_store(target)
        self._opened_as = target  # with its password (``target`` has none): ``_withdraw`` opens a store of its own
        super().__init__(empty)
        # Commit rows read or written here, by version: checked when read, decoded (a ``Commit``) when
        # first asked (``_commits``).  A writer catching up reads every other writer's rows but a
        # rebase asks for their updates only when its head moved, and never for their meta.
        self._commit_cache: Dict[int, "Commit | Tuple[CommitRow, Optional[Tuple[str, Optional[int]]]]"] = {}
        self._state_cache: Dict[int, "bytes | Dict[str, Any]"] = {}  # a commit's state, decoded once asked
        self._tree_cache: "OrderedDict[int, Tree]" = OrderedDict()
        self._manifests: Manifests = {}
        self._prefetched: Dict[Tuple[str, int, int], Tuple[bytes, int]] = {}  # cells read ahead (_prefetch)
        # Commits of this object's threads take the writer lock first, for the whole commit (waits
        # included), then ``_lock`` (the state: head, caches) only while they change it; the other
        # threads' transactions queue meanwhile in ``_waiters`` (see ``_writer_or_wait``).
        self._writer = threading.Lock()
        self._waiters: List[_Waiter] = []
        self._waiters_lock = threading.Lock()
        # (table, leaf, cell version) -> (its base, the slots it patches; the base is itself and () for a whole
        # cell), for cells read or written here: a commit changing that leaf writes a patch on the same base.
        self._cell_bases: Notes = {}
        self._wholes: "OrderedDict[Tuple[str, int, int], List[Any]]" = OrderedDict()  # decoded bases (copies)
        self._leaf_cache = LeafCache(cache_leaves)
        # The last decoded slots of recently loaded leaves: a new cell of one decodes only its changed slots.
        self._slot_reuse = codec.SlotReuse(min(_REUSED_LEAVES, cache_leaves or _REUSED_LEAVES))
        # The bytes of blocks this object packed lately: a patch repeats them commit after commit.
        self._packed: codec.Packed = {}
        # Shared by every branch handle: whether the branch tables exist, as of which stored head.
        self._branch_info: Dict[str, Any] = {"branched": False, "checked": -1}
        try:
            first, cells = self._encode(-1, None, empty, time.time(), "initial", {}, (), set())
            created = self._store.initialise(first, cells, create)
            head = self._stored_head(catching_up=False)
            loaded = empty if created else self._load_tree(head, None)
        except BaseException:
            self._store.close()
            raise
        self._trees = {}
        self._log = []
        self._head = (head, loaded)
        # The change feed: listeners with the version they subscribed after, the last version
        # delivered, and the feed thread (running while there are listeners).
        self._subscribers: List[Tuple[Listener, int, str]] = []
        self._deliver_lock = threading.RLock()
        self._feed_state: Dict[str, Any] = {"delivered": self._store.head(), "feed": None}  # shared by handles
        self._watch: Optional[HeadWatch] = None  # the feed thread's watch (the newest one started)
        stored = loaded.order_index
        mismatch = None
        if block_size is not None and block_size != stored.block_size:
            mismatch = f"{self._store.target} has block size {stored.block_size}, not {block_size}"
        elif fields is not None and tuple(fields) != stored.nodes.fields:
            mismatch = (
                f"{self._store.target} indexes {stored.nodes.fields}, not {tuple(fields)} "
                "(db.add_index / db.drop_index change that in a commit)"
            )
        elif key is not None and key != stored.nodes.key:
            mismatch = (
                f"{self._store.target} has the key field {stored.nodes.key!r}, not {key!r} "
                "(db.set_key changes it in a commit)"
            )
        if mismatch is not None:
            self._store.close()
            raise InvalidArgument(mismatch)

    # The feed's state lives in one dict that every branch handle shares (``copy.copy``).

    @property
    def _delivered(self) -> int:
        return int(self._feed_state["delivered"])

    @_delivered.setter
    def _delivered(self, version: int) -> None:
        self._feed_state["delivered"] = version

    @property
    def _feed(self) -> Optional[Tuple[threading.Thread, threading.Event]]:
        return self._feed_state["feed"]

    @_feed.setter
    def _feed(self, feed: Optional[Tuple[threading.Thread, threading.Event]]) -> None:
        self._feed_state["feed"] = feed

    # -- opening and closing ---------------------------------------------------------

    @property
    def leaf_stats(self) -> Dict[str, Optional[int]]:
        """Leaf cache counters: ``cap`` (``cache_leaves``), ``loaded`` now, ``loads``, ``evictions``,
        ``rescues`` (reads that found a leaf the clock had demoted still in memory: loads saved),
        ``slots_decoded`` and ``slots_reused`` (slots of loaded cells decoded, or taken from the
        last decoded cell of the same leaf because their bytes were identical). O(1).

        With a cap, ``loaded`` never exceeds it; uncapped, it also counts leaves of trees
        since dropped.
        """
        cache = self._leaf_cache
        reuse = self._slot_reuse
        return {
            "cap": cache.cap, "loaded": cache.loaded, "loads": cache.loads, "evictions": cache.evictions,
            "rescues": cache.rescues, "slots_decoded": reuse.decoded, "slots_reused": reuse.reused,
        }

    @property
    def target(self) -> str:
        """The file path or URL (without password). O(1)."""
        return self._store.target

    def _same_database(self, other: Database) -> bool:
        """``Database._same_database``: also a handle opened separately on the same file or URL. O(1)."""
        if other._shared is self._shared:
            return True
        if not isinstance(other, DurableDatabase):
            return False
        if "://" in self.target or "://" in other.target:
            return self.target == other.target
        try:
            return os.path.samefile(self.target, other.target)
        except OSError:
            return False

    def close(self) -> None:
        """Stop the change feed and close the connection; trees already loaded stay usable for what they loaded.

        O(1) (waits up to a fraction of a second for the feed thread to stop).
        """
        with self._deliver_lock:
            self._subscribers.clear()
            feed, self._feed = self._feed, None
        self._stop_feed(feed)
        self._store.close()

    # -- the change feed -----------------------------------------------------------------

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback(version, changes)`` after each commit of any process; returns an unsubscribe function.

        Every version committed after the call, by this object or by any other process
        or object sharing the storage, is delivered once, in version order, with
        ``changes == db.changes(version - 1, version)``.  A commit made through this
        object is delivered in the committing thread before ``commit`` returns (after
        any earlier versions not yet delivered), unless the feed thread got there first;
        other commits are delivered by a daemon thread that waits on the stored head
        (PostgreSQL: ``LISTEN``/``NOTIFY``; SQLite: ``PRAGMA data_version`` every 50 ms)
        on a connection of its own, running while there are listeners.  A listener that
        raises is logged (logger ``"botree"``) and the others still run.  O(1) plus
        starting the thread for the first listener.
        """
        if not callable(callback):
            raise InvalidArgument(f"subscribe needs a callable, not {type(callback).__name__}")
        entry: Tuple[Listener, int, str]
        with self._deliver_lock:
            head = self._store.head()
            if self._feed is None:
                self._delivered = head
                stop = threading.Event()
                watch = self._watch = self._store.watch()
                thread = threading.Thread(target=self._run_feed, args=(watch, stop), name="botree-feed", daemon=True)
                self._feed = (thread, stop)
                thread.start()
            entry = (callback, max(head, self._delivered), self._branch)
            self._subscribers.append(entry)

        def unsubscribe() -> None:
            with self._deliver_lock:
                if entry in self._subscribers:
                    self._subscribers.remove(entry)
                feed = None
                if not self._subscribers:
                    feed, self._feed = self._feed, None
            self._stop_feed(feed)

        return unsubscribe

    @staticmethod
    def _stop_feed(feed: Optional[Tuple[threading.Thread, threading.Event]]) -> None:
        if feed is None:
            return
        thread, stop = feed
        stop.set()
        if thread is not threading.current_thread():
            thread.join(timeout=5.0)

    def _run_feed(self, watch: Any, stop: threading.Event) -> None:
        """The feed thread: wait for the stored head to move, deliver every version up to it."""
        try:
            while not stop.is_set():
                try:
                    head = watch.wait(self._delivered, _FEED_TICK)
                    if head > self._delivered and not stop.is_set():
                        self._deliver(head, stop=stop)
                except Exception:
                    log.exception("botree: the change feed of %s failed; retrying", self.target)
                    stop.wait(1.0)
        finally:
            watch.close()

    def _deliver(
        self,
        upto: int,
        own: Optional[Tuple[Tree, Tree, Optional[Tuple[Op, ...]]]] = None,
        stop: Optional[threading.Event] = None,
    ) -> None:
        """Deliver every version after the last delivered one up to ``upto``, in order, once each.

        ``own`` is (previous, tree, ops) of version ``upto`` when it was committed here.
        """
        with self._deliver_lock:
            while self._delivered < upto and self._subscribers and not (stop is not None and stop.is_set()):
                version = self._delivered + 1
                try:
                    commit = self._commit_at(version)
                    if not any(branch == commit.branch for _, _, branch in self._subscribers):
                        self._delivered = version  # no listener on that commit's branch
                        continue
                    if own is not None and version == upto:
                        changes = self._commit_changes(*own)
                    else:
                        changes = self.changes(commit.parent, version)
                except VersionNotFound:  # compacted away before it was read: skip to what is still stored
                    self._delivered = max(version, self._store.oldest())
                    log.error("botree: version %d was compacted away before the change feed read it", version)
                    continue
                self._delivered = version  # first: a listener that commits delivers the next version itself
                for listener, since, branch in list(self._subscribers):
                    if version <= since or branch != commit.branch:
                        continue
                    try:
                        listener(version, changes)
                    except Exception:
                        log.exception("botree: version %d was committed; listener %r raised", version, listener)

    def _notify(self, version: int, previous: Tree, tree: Tree, ops: Optional[Tuple[Op, ...]]) -> None:
        """A commit made here: deliver it (and any earlier versions not yet delivered) now."""
        if not self._subscribers:
            return
        try:
            self._deliver(version, (previous, tree, ops))
        except Exception:
            log.exception("botree: version %d was committed, but delivering it to the listeners failed", version)

    def __repr__(self) -> str:
        loaded = self._shared.heads.get(self._branch)  # not ``_head``: a repr never raises (deleted branch)
        branch = "" if self._branch == DEFAULT else f", branch={self._branch!r}"
        return f"Database({self.target!r}{branch}, version={loaded[0] if loaded is not None else '?'})"

    # -- reading -----------------------------------------------------------------------

    @property
    def tree(self) -> Tree:
        """The current tree (checks the stored head: other processes' commits appear). O(log)."""
        return self.snapshot()[1]

    @property
    def version(self) -> int:
        """The current version (from storage). O(log)."""
        return self.snapshot()[0]

    def _defers_inserts(self) -> bool:
        """Transactions defer their leading inserts where commits are grouped (main, a grouping store). O(1)."""
        return bool(self._store.grouping) and self._branch == DEFAULT

    def snapshot(self) -> Tuple[int, Tree]:
        """(version, tree) of the stored head. O(log) if nothing changed, else O(leaves changed + n/64)."""
        with self._lock:
            return self._refresh(self._stored_head())

    def _stored_head(self, catching_up: bool = True) -> int:
        """This handle's branch head as stored (main without branch tables: the head row). O(log).

        ``catching_up`` (on main): the commit rows after the head this object holds come in
        the same statement (at most ``_PREFETCH``), for the refresh that follows
        (``_refresh``).  Opening and ``verify`` load the head afresh and read no other row:
        damage in an older commit row is reported when that version is read, not on open.
        """
        if not catching_up or self._branch != DEFAULT or self._branch_info["branched"]:
            newest = self._store.head()
        else:
            held = self._shared.heads[DEFAULT][0]
            newest, rows = self._store.head_and_commits(held, _PREFETCH)
            if rows and not self._store.branched(newest):  # else their lineage is read with them (``_commits``)
                for row in rows:
                    if row[0] not in self._commit_cache:
                        self._remember(row)
        return self._branch_head(newest) if self._branched(newest) else self._main_head(newest)

    def _branched(self, newest: int) -> bool:
        """True if the branch tables exist, asked again only when the head moved since the last answer. O(log).

        Creating a branch does not move the head, so a handle on a branch other than
        main asks every time until they exist (another object may have just created
        them); the store remembers a yes.
        """
        info = self._branch_info
        if not info["branched"] and (info["checked"] != newest or self._branch != DEFAULT):
            # main's question follows a head read (``_stored_head``), which asked it too
            info["branched"] = self._store.branched(newest if self._branch == DEFAULT else None)
            info["checked"] = newest
        return bool(info["branched"])

    def as_of(self, version: Optional[int] = None, time: Optional[float] = None) -> Tree:
        """The tree committed as ``version`` (loading lazily); ``VersionNotFound`` if unknown or compacted.

        O(n / 64) to build its leaf placeholders, then O(1) per read from cache.
        By ``time``: this branch's version then (``version_at``).
        """
        if time is not None:
            version = self.version_at(time)
        if type(version) is not int or not 0 <= version < 1 << 63:
            raise VersionNotFound(f"version {version!r} does not exist")
        with self._lock:
            # Checked first, even for the head or a cached tree: another Database
            # object on the same storage may have compacted.
            if version < self._store.oldest():
                self._missing(version)
            # This branch's head as loaded so far (main's for a handle that has not read its
            # branch yet, e.g. the one whose feed thread calls this): never ``self._head``,
            # which would refuse a branch not loaded here yet.
            heads = self._shared.heads
            head_version, head = heads.get(self._branch) or heads[DEFAULT]
            if version == head_version:
                return head
            cached = self._tree_cache.get(version)
            if cached is not None:
                self._tree_cache.move_to_end(version)
                return cached
            tree = self._load_tree(version, (head_version, head))
            self._tree_cache[version] = tree
            if len(self._tree_cache) > _CACHED_VERSIONS:
                self._tree_cache.popitem(last=False)
            return tree

    def history(self, since: Optional[int] = None, all_branches: bool = False) -> List[Commit]:
        """This branch's stored commits (its first-parent chain; ``all_branches``: every one), oldest first.

        Only those after version ``since`` if given.  O(versions), O(commits after ``since``) with ``since``.
        """
        after = None if since is None else check_since(since)
        head = self.version
        with self._lock:
            oldest = self._store.kept()[0]
            return self._history(all_branches, oldest if after is None else max(oldest, after + 1), head)

    def _newest(self) -> int:
        return self._store.head()

    def _readable(self, version: int) -> bool:
        return version >= self._store.oldest()

    # -- branches (see ``Database.branch``) -----------------------------------------------

    def branches(self) -> Dict[str, int]:
        """Every branch with its stored head version, by name. O(branches)."""
        heads = self._store.heads()
        if not heads:
            return {DEFAULT: self._store.head()}
        return dict(sorted(heads.items()))

    def _head_versions(self) -> Set[int]:
        return set(self.branches().values())

    def _create_branch(self, name: str, version: int, tree: Tree) -> None:
        while True:  # no lock held: reading main's tree takes it
            main = self._store.head() if not self._store.branched() else -1
            mark = self._store.id_mark() if main < 0 else next_node_id(self.as_of(main))
            created = self._store.create_branch(name, version, main, mark, self._mark_of)
            if created is not None:
                break
        self._branch_info["branched"] = True
        if not created:
            raise InvalidArgument(f"branch {name!r} already exists")

    def _mark_of(self, row: CommitRow) -> int:
        """The first node id a stored commit's tree has not handed out, from its checked row (no lock taken:
        ``Store.create_branch`` asks it with the head locked). O(state)."""
        self._check_row(row)
        version, state = row[0], row[5]
        allocated = codec.decode_state(state, f"{self.target}: commit {version}").get("node_ids")
        if not isinstance(allocated, list) or not allocated or type(allocated[0]) is not int:
            raise CorruptDatabase(f"{self.target}: commit {version}: its state has no node id allocator")
        return int(allocated[0])

    def _drop_branch(self, name: str) -> None:
        with self._lock:
            if not self._store.drop_branch(name):
                raise BranchNotFound(f"branch {name!r} does not exist")
            self._shared.heads.pop(name, None)

    def _id_mark(self) -> int:
        if not self._branch_info["branched"]:
            return next_node_id(self._head[1])
        return self._store.id_mark()

    def _append_merge(self, name: str, resolve: Optional[str], message: Optional[str], meta: Mapping[str, Any]) -> int:
        with self._lock:
            source = self._store.branch_head(name)
            if source is None:
                raise BranchNotFound(f"branch {name!r} does not exist")
            ops: Tuple[Op, ...] = ()
            noop: List[int] = []

            def make(version: int, head: Tree) -> Tuple[Tree, Optional[Tuple[Op, ...]], Set[int]]:
                nonlocal ops
                merged = self._merged(version, head, source, resolve)
                if merged is None:
                    noop.append(version)
                    return head, (), set()
                tree, ops, deleted = merged
                return tree, ops, deleted

            version, previous = self._store_next(make, message, meta, merged=source, skip=noop)
            tree = self._head[1]
        if noop:
            return noop[-1]
        self._notify(version, previous, tree, ops)
        return version

    def _commits(self, first: int, last: int) -> List[Commit]:
        missing = [v for v in range(first, last + 1) if v not in self._commit_cache]
        if missing:
            lineage = self._store.lineage(missing[0], missing[-1])
            for row in self._store.commit_rows(missing[0], missing[-1]):
                self._remember(row, lineage.get(row[0]))
        try:
            return [self._decoded_commit(v) for v in range(first, last + 1)]
        except KeyError as exc:
            self._missing(exc.args[0])
            raise  # unreachable: _missing always raises

    def _missing(self, version: int) -> None:
        """Explain a commit row that is not there: compacted away (``VersionNotFound``) or damage."""
        # One statement: another handle's compaction between separate reads of the head
        # row and of the commits would look like the two disagreeing (damage).
        oldest, head = self._store.kept()
        if version > head:
            raise VersionNotFound(f"version {version} does not exist")
        if version < oldest:
            raise VersionNotFound(f"version {version} was compacted away")
        raise CorruptDatabase(f"{self.target}: commit {version} is missing (versions {oldest}..{head} are kept)")

    def _oldest(self) -> int:
        return self._store.oldest()

    def verify(self) -> None:
        """Check every stored record, every kept version's pins and the head tree. O(stored size).

        Runs the storage engine's own integrity check (SQLite ``PRAGMA integrity_check``),
        then reads every commit and cell and checks its checksum (and that every patch cell
        names a stored, older, whole base), then checks that every cell each kept version
        pins is there, then loads the head and runs ``check()``.
        Damage raises ``CorruptDatabase``; a lost connection stays a ``StorageError``.
        """
        with self._lock:
            problems = self._store.integrity()
            if problems:
                raise CorruptDatabase(f"{self.target}: the storage engine's check failed: {'; '.join(problems[:5])}")
            oldest, head = self._store.kept()
            self._commit_cache.clear()
            self._state_cache.clear()
            self._manifests.clear()
            try:
                commits = self._commits(oldest, head)
            except VersionNotFound as exc:
                raise CorruptDatabase(f"{self.target}: commits {oldest}..{head} are not all there: {exc}") from None
            if [c.version for c in commits] != list(range(oldest, head + 1)):
                raise CorruptDatabase(f"{self.target}: commits {oldest}..{head} are not contiguous")
            stored: Set[Tuple[str, int, int]] = set()
            bases: Dict[Tuple[str, int, int], int] = {}  # patch cell -> the whole cell it applies to
            present = self._store.tables()
            for table in (*TABLES, *(t for t in OPTIONAL_TABLES if t in present)):
                for leaf, version, payload, crc, base in self._store.cells(table):
                    where = f"{self.target}: {table} leaf {leaf} version {version}"
                    if checksum(payload, table, leaf, version) != crc:
                        raise CorruptDatabase(f"{where}: bad checksum")
                    if leaf >= 0 and codec.patch_base(payload) != base:
                        raise CorruptDatabase(f"{where}: its base column does not name the base its payload does")
                    stored.add((table, leaf, version))
                    if base is not None:
                        bases[(table, leaf, version)] = base
            for (table, leaf, version), base in bases.items():
                if not base < version or (table, leaf, base) not in stored or (table, leaf, base) in bases:
                    raise CorruptDatabase(
                        f"{self.target}: {table} leaf {leaf} version {version} patches {base}, not a stored older "
                        "whole cell"
                    )
            self._check_pins(oldest, head, stored)
            self._check_branches(oldest, head, present)
            self._tree_cache.clear()
            head = self._stored_head(catching_up=False)
            self._head = (head, self._load_tree(head, None))
            tree = self._head[1]
        try:
            tree.check()
        except StorageError:
            raise  # CorruptDatabase from a leaf that fails to load, or a lost connection: as it is
        except Exception as exc:  # an InvariantError or a decoding failure deep in a read
            raise CorruptDatabase(f"{self.target}: version {head} fails its check: {exc}") from exc

    def _check_branches(self, oldest: int, head: int, present: Set[str]) -> None:
        """``CorruptDatabase`` unless the branch tables (if any) hold a valid ``id_mark``, a row for main,
        every branch head a kept version, and every lineage row's merged version an older one. O(branches + rows)."""
        if "branches" not in present and not self._store.branched():
            return
        self._store.id_mark()  # missing (the tables would go unread: every branch but main unlisted) or not a number
        heads = self._store.heads()
        if DEFAULT not in heads:
            raise CorruptDatabase(f"{self.target}: the branch tables have no row for {DEFAULT!r}")
        for name, version in heads.items():
            if not oldest <= version <= head:
                raise CorruptDatabase(f"{self.target}: branch {name!r} is at version {version}, not a kept one "
                                      f"({oldest}..{head})")
        for version, (_, merged) in self._store.lineage(oldest, head).items():
            if merged is not None and not 0 <= merged < version:
                raise CorruptDatabase(f"{self.target}: version {version} merged version {merged}, not an older one")

    def _check_pins(self, oldest: int, head: int, stored: Set[Tuple[str, int, int]]) -> None:
        """Every manifest and leaf cell that versions oldest..head pin is stored. O(pins + manifests · 64)."""
        self._pinned(oldest, head, stored)

    def _pinned(
        self, oldest: int, head: int, stored: Optional[Set[Tuple[str, int, int]]] = None
    ) -> Set[Tuple[str, int, int]]:
        """The (table, leaf, version) cells versions oldest..head pin, manifests included. O(pins + manifests · 64).

        Each distinct manifest is read once, those not cached ahead in batches (a round
        trip per ``_PREFETCH``).  With ``stored``, ``CorruptDatabase`` for a pinned cell
        that is not in it.
        """
        groups: Dict[Tuple[str, int, int], Tuple[int, int]] = {}  # (table, group, pin) -> (first reader, length)
        self._commits(oldest, head)  # their states, in one range read
        for version in range(oldest, head + 1):
            state = self._state(version)
            for table, length in layout(state):
                for group, pin in enumerate(state["manifests"][table]):
                    groups.setdefault((table, group, pin), (version, length))
        wanted = [(t, -(g + 1), p) for t, g, p in groups if (t, g, p) not in self._manifests]
        if stored is not None:
            wanted = [cell for cell in wanted if cell in stored]
        for start in range(0, len(wanted), _PREFETCH):
            self._prefetched.update(self._store.cells_at(wanted[start : start + _PREFETCH]))
        pinned: Set[Tuple[str, int, int]] = set()
        for (table, group, pin), (version, length) in groups.items():
            pinned.add((table, -(group + 1), pin))
            if stored is not None and (table, -(group + 1), pin) not in stored:
                raise CorruptDatabase(f"{self.target}: version {version} pins a missing {table} manifest")
            versions = self._manifest(table, group, pin, version)
            if len(versions) != codec.group_leaves(length, group):
                raise CorruptDatabase(f"{self.target}: {table} manifest {group} has {len(versions)} leaves")
            for i, written in enumerate(versions):
                cell = (table, (group << 6) + i, written)
                pinned.add(cell)
                if stored is not None and cell not in stored:
                    raise CorruptDatabase(
                        f"{self.target}: version {version} pins a missing {table} leaf {(group << 6) + i}"
                    )
        return pinned

    # -- loading -------------------------------------------------------------------

    def _remember(self, row: CommitRow, lineage: Optional[Tuple[str, Optional[int]]] = None) -> None:
        """Keep a commit row read or written here, its checksum checked; decoded when first asked. O(row)."""
        self._check_row(row)
        self._commit_cache[row[0]] = (row, lineage)
        self._state_cache[row[0]] = row[5]  # the state, decoded when asked: a rebase over it reads only its updates

    def _check_row(self, row: CommitRow) -> None:
        """``CorruptDatabase`` unless a commit row's checksum matches its fields. O(row)."""
        version, parent, when, message, meta, state, ops, deleted, crc = row
        if codec.commit_checksum(version, parent, when, message, meta, state, ops, deleted) != crc:
            raise CorruptDatabase(f"{self.target}: commit {version}: bad checksum")

    def _decoded_commit(self, version: int) -> Commit:
        """The ``Commit`` of a cached row, decoded on first use (``KeyError`` if not cached). O(row)."""
        entry = self._commit_cache[version]
        if isinstance(entry, Commit):
            return entry
        row, lineage = entry
        version, parent, when, message, meta, _, ops, deleted, _ = row
        where = f"{self.target}: commit {version}"
        dead = codec.decode_deleted(deleted, where)
        commit = Commit(
            version,
            parent,
            when,
            message,
            MappingProxyType(codec.decode_meta(meta, where)),
            codec.decode_ops(ops, where),
            frozenset(dead),
            lineage[1] if lineage is not None else None,
            lineage[0] if lineage is not None else DEFAULT,
        )
        self._commit_cache[version] = commit
        return commit

    def _state(self, version: int) -> Dict[str, Any]:
        """The decoded state of ``version`` (its checksummed commit row was checked when read). O(state), cached."""
        if version not in self._state_cache:
            self._commit_cache.pop(version, None)  # (kept in step with the states; never only one of them)
            self._commits(version, version)
        state = self._state_cache[version]
        if isinstance(state, bytes):
            state = self._state_cache[version] = codec.decode_state(state, f"{self.target}: commit {version}")
        return state

    def _manifest(self, table: str, group: int, pinned: int, reading: int) -> List[int]:
        """The cell versions the leaves of ``group`` read, from its manifest written at ``pinned``. O(64), cached."""
        key = (table, group, pinned)
        versions = self._manifests.get(key)
        if versions is None:
            leaf = -(group + 1)
            payload, crc = self._read_cell(table, leaf, pinned, reading)
            where = f"{self.target}: {table} manifest {group} version {pinned}"
            if checksum(payload, table, leaf, pinned) != crc:
                raise CorruptDatabase(f"{where}: bad checksum")
            versions = codec.decode_manifest(payload, pinned, where)
            if len(self._manifests) >= _CACHED_MANIFESTS:
                self._manifests.clear()
            self._manifests[key] = versions
        return versions

    def _pinned_cell(self, table: str, version: int, number: int) -> int:
        """The version of the cell that leaf ``number`` of ``table`` reads in ``version``. O(1) cached."""
        pins = self._state(version)["manifests"][table]
        group = number >> 6
        versions = self._manifest(table, group, pins[group], version)
        if (number & 63) >= len(versions):
            raise CorruptDatabase(f"{self.target}: {table} manifest {group} of version {version} lacks leaf {number}")
        return versions[number & 63]

    def _load_tree(self, version: int, share: Optional[Tuple[int, Tree]]) -> Tree:
        """Version ``version`` with lazy leaves, reusing ``share``'s leaves that read the same cells."""
        from ..storage.lazy import lazy_vector

        state = self._state(version)
        old = vectors(share[1].order_index) if share is not None else None
        old_state = self._shared_state(share[0]) if share is not None else None
        if share is not None and old_state is not None:
            self._prefetch(version, state, share[0], old_state)
        vecs = {}
        for table, length in layout(state):
            load, part = self._leaf_loader(table, version)
            reuse_mid = None
            if old is not None and old_state is not None and table in old and table in old_state["manifests"]:
                assert share is not None
                reuse_mid = self._reuse(table, version, share[0], old_state, old[table].chunks)
            vecs[table] = lazy_vector(length, load, self._leaf_cache, reuse_mid, part if table == "nodes" else None)
        return own_new(Tree.from_order_index(codec.index_from_state(state, vecs, f"{self.target}: version {version}")))

    def _leaf_loader(
        self, table: str, version: int
    ) -> Tuple[Callable[[int, int], List[Any]], Callable[[int, int], Any]]:
        """The loaders of ``version``'s leaves of ``table`` (``lazy_vector``'s ``load`` and ``part``)."""

        def read(number: int, size: int, in_part: bool) -> Any:
            try:
                return self._load_leaf(table, version, number, size, in_part)
            except VersionNotFound:
                # ``version`` was compacted away, but a newer version may share this very
                # leaf object (the same cell): read which cell through that one instead.
                newer = self._sharing_version(table, number, load)
                if newer is None:
                    raise
                return self._load_leaf(table, newer, number, size, in_part)

        def load(number: int, size: int) -> List[Any]:
            slots: List[Any] = read(number, size, False)
            return slots

        def part(number: int, size: int) -> Any:
            return read(number, size, True)

        return load, part

    def _sharing_version(self, table: str, number: int, load: Callable[..., Any]) -> Optional[int]:
        """The newest version held here (a branch head, a cached ``as_of`` tree) whose tree holds the unloaded
        leaf ``number`` of ``table`` that ``load`` was made for; None if none does. O(trees held).

        A refresh shares every leaf whose cell did not change with the older tree, unloaded
        ones included, and such a leaf keeps the loader of the version it was made for.
        Once compaction drops that version, its manifests can no longer say which cell
        the leaf reads, though the cell itself is kept for the newer versions that share
        it; without this the leaf failed to load in every tree sharing it, for good.
        Sound because a leaf object is shared only between versions that read the same cell.
        """
        held = [*self._shared.heads.values(), *self._tree_cache.items()]
        for version, tree in sorted(held, key=lambda item: item[0], reverse=True):
            vector = vectors(tree.order_index).get(table)
            source = getattr(_leaf_at(vector, number), "_source", None) if vector is not None else None
            if source is not None and source[0] is load:
                return version
        return None

    def _read_cell(self, table: str, leaf: int, version: int, reading: int) -> Tuple[bytes, int]:
        """The stored cell, from the read-ahead if ``_prefetch`` fetched it (``Store.cell`` otherwise)."""
        found = self._prefetched.pop((table, leaf, version), None)
        return found if found is not None else self._store.cell(table, leaf, version, reading)

    def _prefetch(self, version: int, state: Dict[str, Any], old: int, old_state: Dict[str, Any]) -> None:
        """Read in one statement the manifests that moving from ``old`` to ``version`` needs.

        The manifests of the groups whose pins differ (both versions'), at most
        ``_PREFETCH``: the new tree shares each leaf whose cell did not change, and finding
        those reads both manifests of a changed group.  Kept in ``_prefetched`` until read
        or until the next refresh.  The changed leaves themselves load when first read:
        since transactions defer their inserts (``DbTransaction._defer``) a writer reads
        few of them, and reading them all ahead (as this did before) cost PostgreSQL
        writers more than it saved (16 writers: 210 -> 280-296 commits/s without; 4:
        330 -> 363).  O(groups changed).
        """
        self._prefetched.clear()
        groups = []
        for table, _ in layout(state):
            if table not in old_state["manifests"]:
                continue  # the key table appeared since: nothing of it to compare
            pins, old_pins = state["manifests"][table], old_state["manifests"][table]
            for group in range(min(len(pins), len(old_pins))):
                if pins[group] != old_pins[group]:
                    groups.append((table, group, pins[group], old_pins[group]))
        wanted = [(t, -(g + 1), v) for t, g, *pinned in groups for v in pinned if (t, g, v) not in self._manifests]
        if not groups or len(wanted) > _PREFETCH:
            return
        self._prefetched.update(self._store.cells_at(wanted))

    def _fetch(self, cells: List[Tuple[str, int, int]]) -> None:
        """Read ``cells`` (table, leaf, cell version) ahead into ``_prefetched``, and the bases of the
        patches among them unless decoded here already: two statements at most. O(cells)."""
        if not cells:
            return
        found = self._store.cells_at(cells)
        self._prefetched.update(found)
        bases = []  # the whole cells the patches among them apply to, unless decoded here already
        for (table, number, _), (payload, _) in found.items():
            base = codec.patch_base(payload)
            if base is not None and (table, number, base) not in self._wholes:
                bases.append((table, number, base))
        if bases:
            self._prefetched.update(self._store.cells_at(sorted(set(bases))))

    def _read_ahead(self, requests: Sequence["_Request"]) -> None:
        """On a remote store, read ahead the cold leaves the queued ``requests`` will replay on. O(nodes named).

        A group replays each request on the head, and the head's leaves a request names
        (its nodes' rows, the blocks holding their bounds and those blocks' links) are
        often ones this writer never loaded: on PostgreSQL a round trip each, inside the
        writers' lock.  Read here in two rounds of at most two statements: the rows' leaves,
        then, from the rows, their bounds' leaves.  Leaves already loaded are skipped;
        what is read is only kept for ``_read_cell`` (decoded when the replay touches it).
        """
        from ..storage.lazy import LazyLeaf

        if not self._store.remote or not requests:
            return
        version, tree = self._head
        vecs = vectors(tree.order_index)
        rows = tree.order_index.nodes.rows
        named = set()
        for request in requests:
            for name, args, _ in request.ops:
                update = UPDATES.get(name)
                for i in update.nodes if update is not None else ():
                    if i < len(args) and type(args[i]) is int and 0 <= args[i] < rows.length:
                        named.add(args[i])

        def cold(table: str, numbers: Set[int]) -> List[Tuple[str, int, int]]:
            vector = vecs.get(table)
            out = []
            for number in sorted(numbers):
                leaf = _leaf_at(vector, number) if vector is not None else None
                if type(leaf) is LazyLeaf and not list.__len__(leaf):
                    out.append((table, number, self._pinned_cell(table, version, number)))
            return out

        try:
            self._fetch(cold("nodes", {node >> LEAF_BITS for node in named})[:_PREFETCH])
            blocks: Set[int] = set()
            for node in named:
                row = rows[node]  # from what was just read: no round trip
                if row is not None:
                    blocks.update((row.open_leaf >> LEAF_BITS, row.close_leaf >> LEAF_BITS))
            self._fetch((cold("blocks", blocks) + cold("links", blocks))[:_PREFETCH])
        except (VersionNotFound, CorruptDatabase):
            pass  # reported by the replay that reads it for real

    def _reuse(self, table: str, version: int, other: int, other_state: Dict[str, Any], chunks: Any) -> "MidReuse":
        """``reuse_mid`` for ``lazy_vector``: ``other``'s middle lists, stale where the two versions' cells differ.

        A group whose manifest pin is the same in both versions is shared whole, unread;
        for the others both manifests are read (cached; ``_prefetch`` read them ahead)
        and compared: O(64) per changed group, leaves reading the same cell are shared.
        """
        pins = self._state(version)["manifests"][table]
        other_pins = other_state["manifests"][table]

        def reuse_mid(group: int, leaves: int) -> Optional[Tuple[List[Any], Sequence[int]]]:
            if group >= len(chunks) or group >= len(pins) or group >= len(other_pins):
                return None
            if pins[group] == other_pins[group]:
                return chunks[group], ()
            mine = self._manifest(table, group, pins[group], version)
            try:
                theirs = self._manifest(table, group, other_pins[group], other)
            except VersionNotFound:  # the other version was compacted away: load afresh
                return None
            shared = min(len(mine), len(chunks[group]))
            return chunks[group], [i for i in range(shared) if i >= len(theirs) or mine[i] != theirs[i]]

        return reuse_mid

    def _shared_state(self, version: int) -> Optional[Dict[str, Any]]:
        """The state of a version whose leaves a newer load may share; None if it was compacted away."""
        try:
            return self._state(version)
        except VersionNotFound:
            return None

    def _load_leaf(self, table: str, version: int, number: int, size: int, in_part: bool = False) -> Any:
        """The slots of leaf ``number`` of ``table`` in ``version``: its pinned cell, and a patch's base. O(64).

        ``in_part``: a whole cell of small slots the process never decoded comes as a
        ``codec.PartialCell`` (read slot by slot, ``lazy._slot``); anything else as its slots.
        """
        written = self._pinned_cell(table, version, number)
        payload, where = self._checked_cell(table, number, written, version)
        if in_part and codec.patch_base(payload) is None:
            self._note_cell(table, number, written, written, ())
            return codec.PartialCell(table, payload, size, where)
        cell = self._slot_reuse.decode(table, number, written, payload, size, where)
        if not isinstance(cell, codec.Patch):
            self._note_cell(table, number, written, written, ())
            return cell
        base = cell.base
        if not 0 <= base < written:
            raise CorruptDatabase(f"{where}: a patch of version {base}, not an older cell")
        whole = self._whole(table, number, base, version, where)
        self._note_cell(table, number, written, base, tuple(cell.changed))
        return cell.apply(whole, size, where)

    def _decoded_cell(
        self, table: str, number: int, written: int, reading: int, size: Optional[int]
    ) -> "List[Any] | codec.Patch":
        """Cell ``(number, written)`` of ``table``, its checksum checked, decoded. O(its size).

        Slots whose bytes equal those of the leaf's last decoded cell are that cell's
        objects (``codec.SlotReuse``): O(changed slots' size) to decode, plus a scan.
        """
        payload, where = self._checked_cell(table, number, written, reading)
        return self._slot_reuse.decode(table, number, written, payload, size, where)

    def _checked_cell(self, table: str, number: int, written: int, reading: int) -> Tuple[bytes, str]:
        """(payload, where) of cell ``(number, written)`` of ``table``, its checksum checked. O(its size)."""
        payload, crc = self._read_cell(table, number, written, reading)
        where = f"{self.target}: {table} leaf {number} version {written}"
        if checksum(payload, table, number, written) != crc:
            raise CorruptDatabase(f"{where}: bad checksum")
        return payload, where

    def _whole(self, table: str, number: int, base: int, reading: int, where: str) -> List[Any]:
        """The slots of the whole cell ``(number, base)`` a patch applies to (never to be changed). O(64), cached."""
        key = (table, number, base)
        whole = self._wholes.get(key)
        if whole is not None:
            self._wholes.move_to_end(key)
            return whole
        cell = self._decoded_cell(table, number, base, reading, None)
        if isinstance(cell, codec.Patch):
            raise CorruptDatabase(f"{where}: its base, version {base}, is a patch, not a whole cell")
        self._keep_whole(key, cell)
        return cell

    def _keep_whole(self, key: Tuple[str, int, int], slots: List[Any]) -> None:
        self._wholes[key] = slots
        if len(self._wholes) > min(_CACHED_BASES, self._leaf_cache.cap or _CACHED_BASES):
            self._wholes.popitem(last=False)

    def _note_cell(self, table: str, number: int, written: int, base: int, changed: Tuple[int, ...]) -> None:
        if len(self._cell_bases) >= _CACHED_CELLS:
            self._cell_bases.clear()
        self._cell_bases[(table, number, written)] = (base, changed)

    def _trim_commits(self) -> None:
        """Past ``_CACHED_COMMITS`` cached commit rows, drop all but the newest half (and their states).

        Called where a version lands or the head moves (the caller holds the lock), never inside
        a read of many commits (``history``, ``verify``), which may cache more for a moment.
        Amortised O(1) per commit remembered.
        """
        cache = self._commit_cache
        if len(cache) <= _CACHED_COMMITS:
            return
        for version in sorted(cache)[: len(cache) - _CACHED_COMMITS // 2]:
            del cache[version]
            self._state_cache.pop(version, None)

    def _refresh(self, stored: int) -> Tuple[int, Tree]:
        """Make the stored head ours (the caller holds the lock)."""
        self._trim_commits()
        heads = self._shared.heads
        version, tree = heads.get(self._branch) or heads[DEFAULT]  # a branch new here shares main's leaves
        if stored != version or self._branch not in heads:
            if version < stored <= version + _PREFETCH and stored not in self._commit_cache:
                try:
                    self._commits(version + 1, stored)  # one read for the rows a rebase over them needs too
                except VersionNotFound:
                    pass  # compacted meanwhile: the head's own row is read below
            self._head = (stored, self._load_tree(stored, (version, tree)))
        return self._head

    # -- writing -------------------------------------------------------------------

    def _encode(
        self,
        parent: int,
        head: Optional[Tree],
        tree: Tree,
        when: float,
        message: Optional[str],
        meta: Any,
        ops: Optional[Tuple[Op, ...]],
        deleted: Set[int],
        progress: Optional[Progress] = None,
        written: Optional[Manifests] = None,
        number: Optional[int] = None,
        notes: Optional[Notes] = None,
        bases: Optional[Bases] = None,
    ) -> Tuple[CommitRow, Dict[str, List[Cell]]]:
        """The commit row and cells that store ``tree`` as version ``number`` (default: ``parent + 1``).

        ``progress(rows encoded, total rows)`` is called after each node-table leaf;
        the manifests written are added to ``written`` (keyed like ``_manifests``), and
        each leaf cell's (base, patched slots) to ``notes`` (keyed like ``_cell_bases``;
        the caller keeps them once the commit has landed).  A changed leaf is written as
        a patch on its base when this object knows the parent's cell of that leaf and few
        slots changed (``_patch``); otherwise whole, and its slots go to ``bases`` (keyed
        like ``_wholes``; kept once landed: a patch another process writes on it then
        needs no read of its base).  The cells of a small commit also seed the slot reuse.
        """
        from ..storage.lazy import changed_leaves

        version = parent + 1 if number is None else number
        old = vectors(head.order_index) if head is not None else None
        old_pins = self._state(parent)["manifests"] if head is not None else None
        cells: Dict[str, List[Cell]] = {}
        pins: Dict[str, List[int]] = {}
        reuse = self._slot_reuse
        # The cells of a small commit seed the slot reuse (a bulk store would only churn it), once this
        # object decodes leaves again (other writers' cells: a lone writer's own leaves stay in memory).
        seeds = reuse.cap if reuse.again else 0
        packed = self._packed if head is not None else None  # (a whole new tree would only churn it)
        if packed is not None and len(packed) > _PACKED_BLOCKS:
            packed.clear()
        for table, vec in vectors(tree.order_index).items():
            items = []
            changed: Dict[int, List[int]] = {}  # group -> its leaves this commit writes
            base = old.get(table) if old is not None and old_pins is not None and table in old_pins else None
            # (a vector the parent has but did not store, e.g. a field index built on a legacy version's
            # first use, is written whole)
            for number, leaf in changed_leaves(base, vec):
                patch = self._patch(table, parent, base, number, leaf) if base is not None else None
                if patch is None:
                    payload = codec.encode_leaf(table, leaf, packed)
                    cell_base, note = None, (version, cast(Tuple[int, ...], ()))
                    if seeds > 0:
                        reuse.wrote(table, number, version, payload, range(len(leaf)), leaf)
                        if bases is not None:
                            bases[(table, number, version)] = list(leaf)
                else:
                    cell_base, slots = patch
                    payload = codec.encode_patch(table, cell_base, leaf, slots, packed)
                    note = (cell_base, tuple(slots))
                    if seeds > 0:
                        reuse.wrote(table, number, version, payload, slots, [leaf[i] for i in slots])
                seeds -= 1
                if notes is not None:
                    notes[(table, number, version)] = note
                if progress is not None and table == "nodes":
                    progress(min(len(vec), (number + 1) << 6), len(vec))
                items.append((number, payload, checksum(payload, table, number, version), cell_base))
                changed.setdefault(number >> 6, []).append(number)
            previous = old_pins.get(table, []) if base is not None and old_pins is not None else []
            pins[table] = self._write_manifests(table, parent, version, len(vec), previous, changed, items, written)
            cells[table] = items
        check_message(message)
        state = codec.encode_state(tree.order_index, pins)
        meta_b = codec.encode_meta(meta)
        ops_b = codec.encode_ops(ops)
        deleted_b = codec.encode_deleted(deleted)
        crc = codec.commit_checksum(version, parent, when, message, meta_b, state, ops_b, deleted_b)
        return (version, parent, when, message, meta_b, state, ops_b, deleted_b, crc), cells

    def _patch(
        self, table: str, parent: int, old: ChunkedVector, number: int, leaf: List[Any]
    ) -> Optional[Tuple[int, List[int]]]:
        """(base, slots) to write leaf ``number`` as a patch, or None to write it whole. O(64).

        The slots are those the parent's cell patches on its base plus those that differ
        (by identity: unchanged slots are the very same objects) from the parent's leaf.
        None when the store takes no patches, the leaf is new or not loaded here, the
        parent's cell was neither read nor written by this object, or too many slots changed.
        """
        from ..storage.lazy import LazyLeaf

        old_leaf = _leaf_at(old, number)
        if not self._store.patches or old_leaf is None:
            return None
        if type(old_leaf) is LazyLeaf:
            return None  # evicted or never read: nothing to compare with
        old_slots = list.copy(old_leaf)  # one C call: another thread's eviction empties it whole or not at all
        known = self._cell_bases.get((table, number, self._pinned_cell(table, parent, number)))
        if known is None or not old_slots:
            return None
        base, prior = known
        changed = set(prior)
        changed.update(compress(count(), map(is_not, leaf, old_slots)))  # slots now another object: in C
        changed.update(range(len(old_slots), len(leaf)))  # and those past the parent's end
        if len(changed) * _PATCH_SHARE > len(leaf):
            return None
        return base, sorted(changed)

    def _write_manifests(
        self,
        table: str,
        parent: int,
        version: int,
        length: int,
        previous: List[int],
        changed: Dict[int, List[int]],
        cells: List[Cell],
        written: Optional[Manifests] = None,
    ) -> List[int]:
        """Add the manifest cells of the groups ``changed`` touches; the new pins. O(64 · groups changed)."""
        groups = codec.group_count(length)
        pins = list(previous[:groups]) + [version] * max(0, groups - len(previous))
        for group in range(len(previous), groups):
            changed.setdefault(group, [])  # a new group gets its manifest even if (oddly) no leaf in it changed
        for group, numbers in changed.items():
            leaves = codec.group_leaves(length, group)
            versions = list(self._manifest(table, group, previous[group], parent)) if group < len(previous) else []
            versions = versions[:leaves] + [version] * max(0, leaves - len(versions))
            for number in numbers:
                versions[number & 63] = version
            payload = codec.encode_manifest(versions)
            if written is not None:
                written[(table, group, version)] = versions
            leaf = -(group + 1)
            cells.append((leaf, payload, checksum(payload, table, leaf, version), None))
            pins[group] = version
        return pins

    def _store_next(
        self,
        make: Make,
        message: Optional[str],
        meta: Mapping[str, Any],
        progress: Optional[Progress] = None,
        merged: Optional[int] = None,
        skip: Optional[List[int]] = None,
    ) -> Tuple[int, Tree]:
        """Store ``make(head version, head)``'s tree as the next version; (that version, the head it replaced).

        ``make`` runs while the store holds the head locked (``Store.commit``), on this
        branch's stored head refreshed into this object, so it runs once per commit
        (again only after a lost connection, or when branch tables appeared meanwhile).
        With branches the version is the next of any branch, and this branch's row
        moves too (``merged``: a merge's source head).  If ``make`` appends to ``skip``
        nothing is stored.  The caller holds the lock.
        """
        info = self._branch_info
        runs: List[int] = []

        def build(stored: int) -> Built[_Version]:
            if runs:
                info["checked"] = -1  # a run again: branch tables may have appeared
            runs.append(stored)
            branched = self._branched(stored)
            built = self._build(
                stored, self._branch_head(stored) if branched else self._main_head(stored), make, message, meta,
                progress, skip,
            )
            lineage = None
            if branched:
                lineage = (self._branch, built.parent, merged, max(self._id_mark(), next_node_id(built.tree)))
            built.branched = branched
            return built.row, built.cells, lineage, built

        try:
            row, built = self._store.commit(build)
        except _Skipped:
            return self._head
        self._landed(built, (self._branch, merged) if built.branched else None)
        return row[0], built.head

    def _build(
        self,
        stored: int,
        parent: int,
        make: Make,
        message: Optional[str],
        meta: Mapping[str, Any],
        progress: Optional[Progress] = None,
        skip: Optional[List[int]] = None,
    ) -> "_Version":
        """Inside a write transaction: ``make``'s tree on ``parent`` (this branch's head), encoded as ``stored + 1``."""
        version, head = self._refresh(parent)
        tree, ops, deleted = make(version, head)
        if skip:
            raise _Skipped()  # rolls the write transaction back: nothing stored
        built = _Version(version, head, tree, ops)
        row, cells = self._encode(
            version, head, tree, time.time(), message, meta, ops, deleted, progress, built.written, stored + 1,
            built.notes, built.bases,
        )
        built.row, built.cells = row, cells
        return built

    def _landed(self, built: "_Version", lineage: Optional[Tuple[str, Optional[int]]]) -> None:
        """``built`` was stored (its transaction committed): remember it and make it this handle's head."""
        for (table, number, version), (base, slots) in built.notes.items():  # later commits patch on these
            self._note_cell(table, number, version, base, slots)
        for key, whole in built.bases.items():  # and other processes' patches on these need not read them
            self._keep_whole(key, whole)
        self._remember(built.row, lineage)
        self._trim_commits()
        if lineage is None:
            self._branch_info["checked"] = built.row[0]  # the commit saw no branch tables
        if len(self._manifests) + len(built.written) > _CACHED_MANIFESTS:
            self._manifests.clear()
        self._manifests.update(built.written)  # the next commit needs them and need not read them back
        self._head = (built.row[0], built.tree)

    def _main_head(self, stored: int) -> int:
        """The head to build on without branch tables: the stored head, on main only. O(1)."""
        if self._branch != DEFAULT:
            raise BranchNotFound(f"branch {self._branch!r} does not exist")
        return stored

    def _branch_head(self, stored: int) -> int:
        """This branch's stored head (branch tables exist). O(log)."""
        head = self._store.branch_head(self._branch)
        if head is None and self._branch == DEFAULT:  # ``delete_branch`` refuses main: its row is gone by damage
            raise CorruptDatabase(f"{self.target}: the branch tables have no row for {DEFAULT!r}")
        if head is None:
            raise BranchNotFound(f"branch {self._branch!r} does not exist (deleted?)")
        return head

    def _commit(self, tx: DbTransaction, batch: Any) -> "Tree | Callable[[], Tree]":
        persisted: Optional[Tree] = None
        ops: Tuple[Op, ...] = ()

        def make(version: int, head: Tree) -> Tuple[Tree, Optional[Tuple[Op, ...]], Set[int]]:
            nonlocal persisted, ops
            tree, ops, tx.ids, deleted = self._resolve(tx, batch, version, head, persisted)
            if version == tx.base_version:
                persisted = tree  # a batch freezes once; after a lost race the updates are replayed instead
            return tree, ops, deleted

        previous: Optional[Tree]
        tree: "Tree | Callable[[], Tree]"
        if not (self._store.grouping and self._branch == DEFAULT):
            with self._writer, self._lock:
                version, previous = self._store_next(make, tx.message, tx.meta)
                tree = self._head[1]
        else:
            # Only the writer lock is held while waiting for other processes' groups: this
            # object's readers go on, and its other threads queue behind this commit.
            waiter = self._writer_or_wait(tx)
            try:
                served = self._claim(waiter, tx) if waiter is not None else None
                if served is not None:  # another thread's commit stored it, in its group
                    version, previous, tree, ops = served
                else:
                    version, own, tree = self._commit_grouped(tx, make, waiter.ticket if waiter is not None else None)
                    previous = own[0] if own is not None else None
                    if own is not None and own[1] is not None:
                        ops = own[1]
            finally:
                self._writer.release()
        tx.committed = version  # stored: committed, whatever a listener does next
        if previous is not None:
            assert isinstance(tree, Tree)
            self._notify(version, previous, tree, ops)
        elif self._subscribers:
            self._deliver(version)  # served by another writer: its changes are read back
        return tree

    # -- group commit ----------------------------------------------------------------

    def _writer_or_wait(self, tx: DbTransaction) -> "Optional[_Waiter]":
        """Take this object's writer lock; if another thread holds it, queue ``tx`` in memory first.

        The thread committing serves the queued transactions of this object's other
        threads in its own group (``_serve``), as it serves other processes' requests,
        so threads sharing one ``Database`` share its flush too.  Returns the waiter, or
        None if the lock was free.
        """
        if self._writer.acquire(blocking=False):
            return None
        waiter = _Waiter(tx)
        try:
            with self._waiters_lock:
                self._waiters.append(waiter)
            self._writer.acquire()
        except BaseException:  # an interrupt while waiting: a group that did not take it yet never will
            with self._waiters_lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            raise
        return waiter

    def _claim(self, waiter: "_Waiter", tx: DbTransaction) -> Optional[Tuple[int, Tree, Tree, Tuple[Op, ...]]]:
        """(version, previous, tree, ops) if a thread's group stored ``waiter``; None: commit it here.

        A waiter taken by a group that did not land (or whose answer was lost) commits
        itself, its ticket first: ``_commit_grouped`` looks whether it landed after all.
        """
        with self._waiters_lock:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
                return None
        if waiter.refused is not None:
            raise waiter.refused
        if waiter.landed is not None:
            tx.ids = waiter.request.ids
        return waiter.landed

    def _commit_grouped(self, tx: DbTransaction, make: Make, ticket: Optional[int] = None) -> _Landed:
        """Commit ``tx`` by group commit: (version, (previous tree, ops) if built here, tree or its loader).

        If the head lock is free, take it, commit ``tx`` and serve the requests other
        writers queued meanwhile, all in one transaction (one flush).  If it is held,
        queue ``tx`` as a request (``Store.post``) and wait until the holder's transaction
        ends (``Store.await_unlocked``: every waiter wakes at once); then either its outcome
        is there (stored with its version, in the transaction of the writer that served
        it: a plain read, no lock) or this writer takes the lock, serving itself and the
        queue as above.  When branch tables exist a commit moves its branch row: alone.
        ``ticket``: this transaction's, if a thread's group took it from this object's
        queue and did not land; whether it stored it after all is looked at first.
        """
        taken = ticket is not None  # by a thread's group that did not land: it may have stored it anyway
        ticket = secrets.randbits(62) + 1 if ticket is None else ticket
        try:
            return self._serve(ticket, tx, make, posted=taken)
        except Busy:
            pass
        except Regroup:
            return self._commit_alone(tx, make, ticket)
        request = codec.encode_request(ticket, *_Request.fields(tx))
        self._store.post(ticket, request)
        posted = time.time()
        try:
            while True:  # until another writer served this one, or the lock is free (then serve the queue)
                self._store.await_unlocked()  # woken, with every other waiter, when the holder's group lands
                found = self._store.settled(ticket)  # a plain read: waiters never take turns on the lock
                if found is not None:
                    return self._served(ticket, tx, found)
                self._check_stale(posted)
                try:
                    return self._serve(ticket, tx, make, posted=True)
                except Busy:
                    pass
                if self._store.take_turn():  # wait for the lock itself: no spinning among waiters
                    try:
                        found = self._store.settled(ticket)  # served by the group that held it meanwhile
                        if found is not None:
                            return self._served(ticket, tx, found)
                        self._check_stale(posted)
                        return self._serve(ticket, tx, make, posted=True)
                    except Busy:
                        pass
                    finally:
                        self._store.end_turn()
        except Regroup:
            return self._commit_alone(tx, make, ticket, posted)
        except ConflictError:
            raise  # refused, and settled so: nothing left in the queue to withdraw
        except BaseException as exc:
            # Its own build failed in its group, which rolled back, or the wait failed (the
            # server unreachable past its retries, an interrupt): the posted copy must not be
            # served by another writer's group after this raises, unless one already did.
            # (Before, only a failed build withdrew it: a caller that saw StorageError and
            # retried could find its first attempt stored too.)
            try:
                found = self._withdraw(ticket)
            except Exception:
                if type(exc) is StorageError:  # (not damage, not an interrupt: those go on as they are)
                    raise StorageError(
                        f"{exc}; the commit was queued and could not be withdrawn, so whether it lands is "
                        "unknown: look at the history before retrying it"
                    ) from None
                raise exc from None  # not withdrawn either: its outcome stays unknown
            if found is None or not isinstance(exc, Exception):
                raise  # refused for good (an interrupt goes on as an interrupt, landed or not)
            return self._served(ticket, tx, found)

    def _check_stale(self, posted: float) -> None:
        """``StorageError`` if a request posted at ``posted`` (wall clock) and still without an outcome
        waited past ``_STALE_AFTER``: a group may have served it and its outcome been pruned since,
        so serving it now could store it twice.  The caller withdraws it (``_withdraw``). O(1).

        A waiter stalls that long when its process was suspended or stopped, or behind a
        commit holding the lock for half an hour.
        """
        waited = time.time() - posted
        if waited > _STALE_AFTER:
            raise StorageError(
                f"{self.target}: the commit waited {waited:.0f} s in the queue, longer than outcomes are surely "
                "kept, so whether a group stored it meanwhile is unknown: look at the history before retrying"
            )

    def _withdraw(self, ticket: int) -> Optional[Tuple[Optional[int], bytes]]:
        """Settle queued request ``ticket`` as refused unless a group stored it meanwhile: that outcome, or None.

        If another thread closed this object meanwhile, through a connection of its own
        (opened and closed here): a request left queued would be stored by the next group
        of any writer, after its commit raised.
        """
        if not self._store.closed:
            return _withdrawn(self._store, ticket)
        own = open_store(self._opened_as)
        try:
            return _withdrawn(own, ticket)
        finally:
            own.close()

    def _commit_alone(self, tx: DbTransaction, make: Make, ticket: int, posted: Optional[float] = None) -> _Landed:
        """Branch tables appeared: ``tx`` is committed alone, unless a group stored it already.

        No writer serves a queue once branch tables exist, and one that served this
        request before then stored its outcome with it: that is looked at first.
        ``posted``: when its request was queued, if it was (see ``_check_stale``).
        """
        self._store.unqueue([ticket])
        with self._lock:
            found = self._store.commit_group(lambda head, retrying: self._store.outcome(ticket))
            if found is not None:
                return self._served(ticket, tx, found)
            if posted is not None:
                self._check_stale(posted)
            version, previous = self._store_next(make, tx.message, tx.meta)
            return version, (previous, None), self._head[1]

    def _serve(self, ticket: int, tx: DbTransaction, make: Make, posted: bool) -> _Landed:
        """Take the head lock if it is free (else ``Busy``): commit ``tx`` (unless already served) and the queue.

        The queue: other processes' requests (``Store.queued``), then this object's other
        threads' transactions (``_waiters``).  Holds this object's state lock throughout:
        its readers never see a version of the group before the group has landed.
        """
        with self._lock:
            return self._serve_group(ticket, tx, make, posted)

    def _serve_group(self, ticket: int, tx: DbTransaction, make: Make, posted: bool) -> _Landed:
        saved = self._head
        built: List[_Version] = []
        served: List[int] = []
        failed: List[ConflictError] = []
        taken: List[_Waiter] = []  # this object's other threads' transactions, taken from its queue
        threads: List[Tuple[_Waiter, Optional[_Version], Optional[ConflictError]]] = []

        def serve(head: int, other: int, request: _Request) -> Tuple[int, Optional[_Version], Optional[ConflictError]]:
            try:
                theirs = self._build(head, head, self._replaying(request), request.message, request.meta)
            except ConflictError as exc:
                self._store.settle(other, None, codec.encode_refusal(codec.OUTCOME_CONFLICT, str(exc)))
                return head, None, exc
            built.append(theirs)
            return self._add(theirs, other, request.ids), theirs, None

        def work(stored: int, retrying: bool) -> Optional[Tuple[Optional[int], bytes]]:
            if built:  # an earlier run's versions did not land
                self._forget_after(saved[0])
            self._head = saved
            del built[:], served[:], failed[:], threads[:]
            if posted or retrying:
                found = self._store.outcome(ticket)  # served while this writer waited, or before a lost answer
                if found is not None:
                    return found
            if self._branched(stored):
                raise Regroup()
            head = stored
            try:
                own = self._build(head, head, make, tx.message, tx.meta)
            except ConflictError as exc:
                failed.append(exc)
                # Settled as refused in this group: a posted copy of it may still sit in the queue,
                # and another writer's group must find it settled, not serve it.
                self._store.settle(ticket, None, codec.encode_refusal(codec.OUTCOME_CONFLICT, str(exc)))
            else:
                head = self._add(own, ticket, tx.ids)
                built.append(own)
            queued = self._store.queued(_GROUP)
            served.extend(other for other, _ in queued)
            landed = self._store.with_outcomes([other for other, _ in queued])  # one statement for all
            requests = []
            for other, payload in queued:
                if other == ticket or other in landed:
                    continue
                landed.add(other)  # a request queued twice (a post run again) is served once
                where = f"{self.target}: queued request {other}"
                try:
                    requests.append((other, _Request(*codec.decode_request(other, payload, where))))
                except CorruptDatabase as exc:
                    self._store.settle(other, None, codec.encode_refusal(codec.OUTCOME_DAMAGED, str(exc)))
            self._read_ahead([request for _, request in requests])
            for other, request in requests:
                head = serve(head, other, request)[0]
            with self._waiters_lock:
                taken.extend(self._waiters)
                self._waiters.clear()
            for waiter in taken:
                if retrying and self._store.outcome(waiter.ticket) is not None:
                    continue  # landed in an earlier run after all: its thread reads its ticket
                head, theirs, refused = serve(head, waiter.ticket, waiter.request)
                threads.append((waiter, theirs, refused))
            return None

        try:
            found = self._store.commit_group(work, wait=False)
        except BaseException:
            if built:
                self._forget_after(saved[0])
            self._head = saved
            raise
        for waiter, theirs, refused in threads:  # each finds its outcome once it has the lock (``_claim``)
            waiter.refused = refused
            if theirs is not None:
                waiter.landed = (theirs.row[0], theirs.head, theirs.tree, theirs.ops)
        if found is not None:
            return self._served(ticket, tx, found)
        self._store.unqueue(served)
        if failed:
            raise failed[0]
        own = built[0]
        return own.row[0], (own.head, own.ops), own.tree

    def _add(self, built: "_Version", ticket: int, ids: Mapping[int, int]) -> int:
        """Inside a group commit: append ``built`` after the head, settle its ticket, take it as the head."""
        version = built.row[0]
        self._store.append(version - 1, built.row, built.cells, ticket, codec.encode_ids(ids))
        self._landed(built, None)  # undone by ``_forget_after`` if the transaction does not commit
        return version

    def _replaying(self, request: "_Request") -> Make:
        """``make`` for a request another writer queued: its updates replayed on the head, as a rebase."""

        def make(version: int, head: Tree) -> Tuple[Tree, Optional[Tuple[Op, ...]], Set[int]]:
            if request.serializable and (version != request.base_version or self._ids_taken(cast(Any, request))):
                raise ConflictError(
                    f"version {version} was committed after this transaction began at {request.base_version}"
                )
            tree, ops, request.ids, deleted = self._rebase(cast(Any, request), head, version)
            return tree, ops, deleted

        return make

    def _served(
        self, ticket: int, tx: DbTransaction, found: Tuple[Optional[int], bytes]
    ) -> _Landed:
        """``tx`` was served by another writer: its version and tree, or its refusal raised."""
        version, payload = found
        kind, value = codec.decode_outcome(payload, f"{self.target}: the outcome of request {ticket}")
        if version is None or kind != "ids":
            if kind == codec.OUTCOME_CONFLICT:
                raise ConflictError(str(value))
            raise StorageError(f"{self.target}: the commit was not stored: {value}")
        tx.ids = dict(value)
        # The tree is loaded when ``tx.tree`` is first read, not here: a writer that goes on
        # to its next transaction loads only the head then, once, whatever the group stored.
        return version, None, lambda: self._stored_tree(version)

    def _stored_tree(self, version: int) -> Tree:
        """Version ``version``'s tree: the head if it still is, else loaded sharing the head's leaves."""
        with self._lock:
            if version == self._head[0]:
                return self._head[1]
            if version > self._head[0] and version == self._stored_head():
                return self._refresh(version)[1]
        return self.as_of(version)

    def _forget_after(self, version: int) -> None:
        """Drop what this object remembers of versions after ``version`` (a group commit that did not land)."""
        for cache in (self._commit_cache, self._state_cache, self._tree_cache):
            for v in [v for v in cache if v > version]:
                del cache[v]
        for keyed in (self._manifests, self._cell_bases, self._wholes):
            for key in [k for k in keyed if k[2] > version]:
                del keyed[key]
        if self._branch_info["checked"] > version:
            self._branch_info["checked"] = -1  # ask the store again whether branch tables exist

    def _append(
        self, make: "Callable[[Tree], Tree]", message: Optional[str], meta: Mapping[str, Any], progress: Progress | None
    ) -> Tuple[int, Tree, Tree]:
        """Store ``make(head)``, a whole tree, as the next version (``replace``, ``set_key``, ...).

        O(n) to encode and write a new tree; a reconfigured head writes only its changed
        leaves (e.g. the key index's).  After a lost race ``make`` runs on the newer head.
        """
        with self._lock:
            version, previous = self._store_next(
                lambda version, head: (make(head), None, set()), message, meta, progress
            )
            return version, previous, self._head[1]

    def _check_base_columns(self) -> None:
        """Inside ``compact``: ``CorruptDatabase`` unless every cell's ``base`` column names the base its
        payload names (None for a whole cell). O(stored cells), a short prefix of each read.

        Reads never use the column (the payload, under its checksum, names the base), so
        damage to it goes unnoticed until compaction trusts it to keep the patches' bases:
        a patch whose column was emptied would lose its base, and the versions reading it
        their data.  Compaction refuses instead (``verify`` says where).
        """
        if not self._store.patches:
            return
        for table, leaf, version, base, prefix in self._store.cell_prefixes(_PATCH_HEAD):
            named = codec.patch_base(prefix)
            if named != base:
                raise CorruptDatabase(
                    f"{self.target}: {table} leaf {leaf} version {version}: its base column says {base}, its "
                    f"payload {named}; not compacting over the damage"
                )

    def _drop_before(self, keep: int) -> int:
        """``compact``: keep each branch's newest ``keep`` first-parent versions and all newer; drop the rest.

        One write transaction: the cut (``Database._cut``) is found with the head locked,
        then every older commit and every cell no kept version pins is deleted. With
        branches the pins are read from the kept versions' manifests, O(stored cells
        older than the cut + the kept versions' pins); without, one line of history, a
        cell is unread exactly when a newer cell at or before the cut supersedes it.
        """

        def plan(head: int, heads: Dict[str, int]) -> Tuple[int, Optional[Set[Tuple[str, int, int]]]]:
            self._check_base_columns()
            oldest = self._store.oldest()
            tips = set(heads.values()) or {head}
            self._commits(max(oldest, min(tips) - keep + 1), head)  # one range read, all at or after the cut
            cut = self._cut(keep, tips, lambda version: version >= oldest)
            return cut, self._pinned(cut, head) if heads else None  # one line of history: the store's rule

        cut, _ = self._store.compact(plan)
        for version in [v for v in self._tree_cache if v < cut]:
            del self._tree_cache[version]
        for version in [v for v in self._commit_cache if v < cut]:
            del self._commit_cache[version]
            self._state_cache.pop(version, None)
        return cut


def _withdrawn(store: Store, ticket: int) -> Optional[Tuple[Optional[int], bytes]]:
    """``DurableDatabase._withdraw`` through ``store``: the outcome a group stored for ``ticket``, or None once
    it is settled as refused (and taken off the queue). O(log) plus the wait for the writers' lock."""

    def work(head: int, retrying: bool) -> Optional[Tuple[Optional[int], bytes]]:
        found = store.outcome(ticket)
        if found is None:
            store.settle(ticket, None, codec.encode_refusal(codec.OUTCOME_CONFLICT, "withdrawn"))
        return found

    found = store.commit_group(work)
    store.unqueue([ticket])
    return found


def _leaf_at(vector: ChunkedVector, number: int) -> Any:
    """Leaf ``number`` of ``vector`` (a middle list holds 64 leaves), or None past its end. O(1)."""
    if not 0 <= number < (vector.length + LEAF_MASK) >> LEAF_BITS:
        return None
    return vector.chunks[number >> LEAF_BITS][number & LEAF_MASK]


class _Request:
    """A transaction another writer queued for group commit: what its rebase reads (as ``DbTransaction``)."""

    __slots__ = ("base_version", "mark", "serializable", "message", "meta", "ops", "ids")

    def __init__(
        self, base_version: int, mark: int, serializable: bool, message: Optional[str], meta: Dict[str, Any],
        ops: Tuple[Op, ...],
    ) -> None:
        self.base_version = base_version
        self.mark = mark
        self.serializable = serializable
        self.message = message
        self.meta = meta
        self.ops = ops
        self.ids: Dict[int, int] = {}

    @staticmethod
    def fields(tx: DbTransaction) -> Tuple[int, int, bool, Optional[str], Dict[str, Any], Tuple[Op, ...]]:
        """What a request holds of ``tx``, in ``__init__``'s (and ``codec.encode_request``'s) order. O(ops)."""
        return tx.base_version, tx.mark, tx.serializable, tx.message, dict(tx.meta), tuple(tx.ops)


class _Waiter:
    """A transaction of one thread, queued in memory behind another thread's commit on the same object."""

    __slots__ = ("ticket", "request", "landed", "refused")

    def __init__(self, tx: DbTransaction) -> None:
        self.ticket = secrets.randbits(62) + 1  # its outcome is settled in the store too, as a request's
        self.request = _Request(*_Request.fields(tx))
        # Set by the thread that stored it, once its group landed: (version, previous, tree, ops).
        self.landed: Optional[Tuple[int, Tree, Tree, Tuple[Op, ...]]] = None
        self.refused: Optional[ConflictError] = None  # or the conflict its replay met (settled as refused)


class _Version:
    """A version built inside a write transaction: its parent, trees, row and cells, and what to remember."""

    __slots__ = ("parent", "head", "tree", "ops", "row", "cells", "written", "notes", "bases", "branched")

    def __init__(self, parent: int, head: Tree, tree: Tree, ops: Optional[Tuple[Op, ...]]) -> None:
        self.parent = parent
        self.head = head  # the tree it was built on
        self.tree = tree
        self.ops: Tuple[Op, ...] = ops or ()
        self.row: CommitRow = (0, 0, 0.0, None, b"", b"", None, b"", 0)
        self.cells: Dict[str, List[Cell]] = {}
        self.written: Manifests = {}
        self.notes: Notes = {}
        self.bases: Bases = {}  # the slots of the whole cells it writes (see ``_encode``)
        self.branched = False


__all__ = ["DurableDatabase", "VersionNotFound"]
