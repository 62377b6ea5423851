"""``Database``: the current tree, concurrent transactions with optimistic commits, history.

* Readers take ``db.tree`` (or ``db.snapshot()``): an immutable ``Tree``. They never
  block and never see a half-committed tree: a commit publishes a new tree with one
  reference assignment.
* ``with db.transaction() as tx:`` works on a private batch and records each logical
  update.  On exit it commits under a short lock.  If another commit landed since the
  transaction began, its updates are replayed on the newer tree: every update must
  still apply (its nodes exist and were not deleted meanwhile, no move into its own
  subtree, runs still siblings, indices in range, no concurrent ``set_data`` on the
  same node) or the commit raises ``ConflictError`` naming the update and nothing is
  committed.  This is snapshot isolation with first-committer-wins on data.
* ``db.transact(fn, retries=...)`` runs ``fn(tx)`` and commits only if no other
  commit landed meanwhile, re-running ``fn`` on a fresh snapshot otherwise:
  serializable, for updates that depend on what ``fn`` read.
* Every commit gets a version; ``as_of``, ``history``, ``changes`` and ``subscribe``
  read the history.  Node ids handed out inside a replayed transaction may differ
  from the committed ones: ``tx.ids`` maps them.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Dict, FrozenSet, List, Mapping, Optional, Set, Tuple, TypeVar

from ..core.bulk import Progress
from ..core.index import DEFAULT_BLOCK_SIZE, TransientIndex, check_block_size, check_fields, check_key_field
from ..errors import (
    BotreeError,
    BranchNotFound,
    ConflictError,
    InvalidArgument,
    InvalidOperation,
    InvariantError,
    NotIndexed,
    VersionNotFound,
)
from ..renamed import renamed
from ..tree.diff import Changes, full_diff, reordered, targeted_diff
from ..tree.sync import SyncReport
from ..tree.tree import Transaction, Tree
from ..tree.updates import UPDATES, Op, Update
from ..tree.values import SCALARS, check_message, check_meta, copy_out, owned
from .branches import DEFAULT, check_name, fork_point, merge_plan, path
from .merge import named_nodes, replay_merge, table_of

Listener = Callable[[int, Changes], None]
T = TypeVar("T")
log = logging.getLogger("botree")


class _Keep:
    """The default of ``replace``'s configuration arguments: keep the database's."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


@dataclass(frozen=True)
class Commit:
    """One entry of the history."""

    version: int
    parent: int
    time: float
    message: Optional[str]
    meta: Mapping[str, Any]
    ops: Optional[Tuple[Op, ...]] = field(repr=False)  # None: ``replace`` put in a whole new tree
    deleted: FrozenSet[int] = field(default=frozenset(), repr=False)  # ids this commit deleted
    merged: Optional[int] = None  # a merge commit's second parent: the source head it merged
    branch: str = DEFAULT  # the branch it was committed on


@dataclass(frozen=True)
class NodeEvent:
    """One change to one node in ``Database.node_history``.

    ``kind`` is ``"inserted"``, ``"deleted"``, ``"moved"`` or ``"data"``; ``old`` and
    ``new`` are the node's ``(parent, index)`` places (inserted: ``new`` only; deleted:
    ``old`` only; moved: both) or, for ``"data"``, its data before and after.
    """

    version: int
    kind: str
    old: Any
    new: Any


class _Shared:
    """What every handle on one database shares: branch heads, listeners, the id range's high mark."""

    __slots__ = ("heads", "listeners", "mark", "cut")

    def __init__(self, head: Tuple[int, Tree]) -> None:
        self.heads: Dict[str, Tuple[int, Tree]] = {DEFAULT: head}
        self.listeners: Dict[str, List[Listener]] = {}
        self.mark = next_node_id(head[1])
        self.cut = 0  # the last ``compact``'s cut: older commits are no longer walked (merge)


def next_node_id(tree: Tree) -> int:
    """The first node id ``tree``'s allocator has not handed out. O(1)."""
    return int(tree.order_index.nodes.node_ids.next_id)


# ``Transaction``'s own slots for ``tree`` and ``_ix``, which ``DbTransaction``'s properties read and set.
_TREE_SLOT: Any = Transaction.__dict__["tree"]
_IX_SLOT: Any = Transaction.__dict__["_ix"]
_INSERT_CHILD: Update = UPDATES["insert_child"]


class _Deferred:
    """The working copy of a transaction whose inserts are still deferred, as ``_resolve`` asks for it.

    ``persistent()`` applies them first: only a commit that stores the transaction's own
    batch needs them run here (not one that replays them on a newer head, or one another
    writer serves).
    """

    __slots__ = ("tx",)

    def __init__(self, tx: "DbTransaction") -> None:
        self.tx = tx

    def persistent(self) -> Any:
        return self.tx._ix.persistent()  # the property runs them


class DbTransaction(Transaction):
    """A ``Transaction`` that records its updates and commits into a ``Database``.

    It never reuses a freed node id (``fresh_ids``), and refuses node data the
    database could not store exactly (``botree.tree.values``) before the update runs;
    what it stores is its own copy (``owned``), and its reads hand out copies.
    """

    __slots__ = (
        "db", "base_version", "ops", "ids", "deleted", "message", "meta", "serializable", "mark", "committed",
        "_stored", "_pending", "_deferring", "_running",
    )

    def __init__(
        self, db: "Database", message: Optional[str], meta: Optional[Mapping[str, Any]], serializable: bool
    ) -> None:
        check_message(message)
        meta = check_meta(meta)
        version, tree = db.snapshot()
        # Deferred inserts (see ``_defer``): (arguments, the id returned), not yet run on the working copy.
        self._pending: List[Tuple[Tuple[Any, ...], int]] = []
        self._running = threading.Lock()  # one thread runs the deferred inserts; readers wait for them
        nodes = tree.order_index.nodes
        self._deferring = db._defers_inserts() and nodes.key is None and not nodes.fields
        super().__init__(tree, fresh_ids=True)
        # Branches share one range of fresh ids: start past every id any branch handed out.
        self.mark = db._id_mark()
        self._past_mark(_IX_SLOT.__get__(self))
        self.db = db
        self.committed: Optional[int] = None  # the version it committed as, once it has
        self._stored: Optional[Callable[[], Tree]] = None  # loads ``tree`` when another writer stored it
        self.base_version = version
        self.ops: List[Op] = []
        self.ids: Dict[int, int] = {}
        self.deleted: Set[int] = set()
        self.message = message
        self.meta: Mapping[str, Any] = MappingProxyType(meta)
        self.serializable = serializable

    @property  # type: ignore[override]
    def _ix(self) -> TransientIndex:
        """The working copy, with any deferred inserts run on it first (every read comes through here)."""
        if self._pending:
            self._materialize()
        ix: TransientIndex = _IX_SLOT.__get__(self)
        return ix

    @_ix.setter
    def _ix(self, ix: TransientIndex) -> None:
        _IX_SLOT.__set__(self, ix)

    def _apply(self, update: Update, args: Tuple[Any, ...]) -> Any:
        if self._deferring and update is _INSERT_CHILD and self._open:
            node = self._defer(args)
            if node is not None:
                return node
        transient = self._transient()
        self._deferring = False  # an update ran: the working copy is no longer the snapshot
        if update.logged is not None:  # e.g. sort_children by a callable: run and log its storable form
            name, args = update.logged(transient, args)
            update = UPDATES[name]
        at = update.data
        if at is not None and at < len(args):  # checked, and copied: the caller keeps no handle on it
            args = (*args[:at], owned(args[at], "data"), *args[at + 1 :])
        doomed = update.deletes(transient, args)
        result = super()._apply(update, args)
        self.deleted |= doomed
        self.ops.append((update.name, args, update.log_result(transient, result)))
        return result

    def _defer(self, args: Tuple[Any, ...]) -> Optional[int]:
        """Log ``insert_child(parent, data)`` (a last child) without running it yet: the new id, or None.

        A database that group-commits across processes (``_defers_inserts``) replays a
        queued transaction's updates on the head in whichever writer serves it, so a
        transaction that only inserts need not run them on its own snapshot too: that
        run loads the leaves on the root path, which every other writer's commit has
        changed.  Taken only while every update so far was deferred, on a tree with no
        key and no field index, for a last child of a live node of the snapshot or of a
        node this transaction inserted: then the insert cannot fail, and its id is the
        next fresh id (``fresh_ids``), so the caller gets exactly what running it would
        return.  Anything that reads the working copy (``_ix``) or any other update runs
        the deferred ones first, in order, checking each id (``_materialize``).  None:
        not deferrable, run it now.  O(1) plus the data's copy.
        """
        parent = args[0]
        if len(args) != 3 or type(args[2]) is not int or args[2] != -1 or type(parent) is not int:
            return None
        pending = self._pending
        # Fresh ids are handed out in order from ``next_id``, which nothing moves while inserts are
        # deferred (the allocator may still be the snapshot's own: it is only read here).
        first = _IX_SLOT.__get__(self).nodes.node_ids.next_id
        if not (first <= parent < first + len(pending)) and parent not in self.base:
            return None
        args = (parent, owned(args[1], "data"), -1)
        node = first + len(pending)
        pending.append((args, node))
        self.ops.append((_INSERT_CHILD.name, args, node))
        return node

    def rollback(self) -> None:
        """Discard every change (deferred inserts too); reads afterwards answer from ``base``. O(1)."""
        with self._running:
            self._pending.clear()
            self._deferring = False
        super().rollback()

    def _materialize(self) -> None:
        """Run the deferred inserts on the working copy, in order; each must make the id it returned.

        Under the transaction's own lock, and the list emptied in place only once all ran:
        a thread (or a ``copy.copy`` of the transaction, which shares the list) reading
        meanwhile waits, then finds them run, never half.  (Reading a transaction in one
        thread while another commits it can deadlock: the committer holds the store.)  If
        one fails (a leaf of a snapshot compaction dropped: ``VersionNotFound``), the
        working copy goes back to the snapshot with the inserts still deferred, and the
        error propagates: a later read fails the same way, and a commit on a newer head
        replays them there, as it would have without the read.
        """
        with self._running:
            pending = self._pending
            if not pending:
                return
            ix: TransientIndex = _IX_SLOT.__get__(self)
            try:
                for args, node in pending:
                    made = _INSERT_CHILD.run(ix, *args)
                    if made != node:
                        raise InvariantError(f"a deferred insert made node {made}, not the {node} it returned")
            except BaseException:
                _IX_SLOT.__set__(self, self._snapshot_copy())
                raise
            self._deferring = False
            pending.clear()

    def _snapshot_copy(self) -> TransientIndex:
        """A working copy of the snapshot: fresh ids only, past every id a branch handed out (``mark``). O(1)."""
        return self._past_mark(self.base.order_index.transient(True))

    def _past_mark(self, ix: TransientIndex) -> TransientIndex:
        """``ix``, its fresh ids moved past ``mark`` if the snapshot's are below it. O(1)."""
        if self.mark > next_node_id(self.base):
            table_of(ix).skip_to(self.mark)
        return ix

    def commit(self) -> Tree:
        """Commit into the database (replaying on a newer tree if needed); returns the new tree.

        O(1) plus, after a concurrent commit, replaying its updates: O(k log n) for k updates.
        Once the commit is published ``tree`` is set and it returns, whatever the
        listeners do (see ``Database.subscribe``).
        """
        self._close()
        return self.tree  # type: ignore[return-value]  # set by ``_close``

    def _close(self) -> None:
        """Commit; ``tree`` is loaded only if asked for, when another writer stored it (see ``tree``)."""
        batch: Any = _Deferred(self) if self._pending and self._open else self._transient()
        self._open = False
        tree = self.db._commit(self, batch)
        if isinstance(tree, Tree):
            self.tree = tree
        else:
            self._stored = tree

    @property
    def tree(self) -> Optional[Tree]:
        """The committed tree (None before the commit or after a rollback). O(1), or a load once.

        A durable database may have had another writer store this transaction in its
        group commit (docs/storage.md): the tree is then loaded on first access, not
        by the commit, which saves the writer a load it rarely needs.
        """
        stored = self._stored
        if stored is not None:
            _TREE_SLOT.__set__(self, stored())
            self._stored = None
        tree: Optional[Tree] = _TREE_SLOT.__get__(self)
        return tree

    @tree.setter
    def tree(self, tree: Optional[Tree]) -> None:
        _TREE_SLOT.__set__(self, tree)


class Database:
    """A database holding the current version of one forest and its history.

    ``Database()`` starts empty in memory; ``Database(tree)`` starts from a tree
    (version 0).  ``keep`` bounds how many versions stay readable with ``as_of``
    (None: all).  ``key``, ``fields`` and ``block_size`` configure the tree (given with
    a tree, the tree is re-keyed / re-indexed to them); the database keeps them across
    ``replace`` and changes them only by ``set_key``, ``add_index``, ``drop_index``.
    ``Database("file.db")`` or ``Database("postgresql://...")`` opens durable storage instead (see ``DurableDatabase``).
    """

    # The class that opens a file or URL: ``DurableDatabase``, which ``botree.db`` sets
    # once both are defined (the stored class builds on this one, so this module
    # cannot import it).
    stored: "Optional[type[Database]]" = None

    def __new__(cls, *args: Any, **kwargs: Any) -> "Database":
        source = args[0] if args else kwargs.get("tree", kwargs.get("source"))
        if cls is Database and isinstance(source, (str, os.PathLike)) and Database.stored is not None:
            return super().__new__(Database.stored)
        return super().__new__(cls)

    @renamed(index="fields")
    def __init__(
        self,
        tree: "Tree | str | os.PathLike[str] | None" = None,
        keep: Optional[int] = None,
        block_size: Any = None,
        fields: Any = None,
        key: Optional[str] = None,
    ) -> None:
        if keep is not None and (type(keep) is not int or keep < 1):
            raise InvalidArgument(f"keep must be a positive int or None, not {keep!r}")
        if tree is None:
            size = DEFAULT_BLOCK_SIZE if block_size is None else block_size
            start = own_new(Tree(size, () if fields is None else fields, key))
        elif not isinstance(tree, Tree):
            raise InvalidArgument(f"a Database starts from a Tree, not {type(tree).__name__}")
        else:
            start = adopt(conform(tree, block_size, fields, key))
        self._lock = threading.Lock()
        self._branch = DEFAULT
        self._shared = _Shared((0, start))
        self._keep = keep
        self._trees: Dict[int, Tree] = {0: start}
        self._log: List[Commit] = [Commit(0, -1, time.time(), "initial", MappingProxyType({}), ())]

    # -- this handle's branch (see ``branch``) -------------------------------------

    @property
    def _head(self) -> Tuple[int, Tree]:
        """(version, tree) of this handle's branch head."""
        try:
            return self._shared.heads[self._branch]
        except KeyError:
            raise BranchNotFound(f"branch {self._branch!r} does not exist (deleted?)") from None

    @_head.setter
    def _head(self, value: Tuple[int, Tree]) -> None:
        if value[1].order_index.nodes.copy_out is None:  # every head hands out copies (``adopt``)
            raise InvariantError(f"version {value[0]} would hand out the stored values themselves")
        self._shared.heads[self._branch] = value

    @property
    def _listeners(self) -> List[Listener]:
        """The listeners of this handle's branch."""
        return self._shared.listeners.setdefault(self._branch, [])

    # -- lifetime (the same calls as a stored database) --------------------------

    def close(self) -> None:
        """Nothing to release in memory; a stored database closes its connection. O(1)."""

    def verify(self) -> None:
        """Check the current tree's invariants (a stored database checks every record too). O(n)."""
        self.tree.check()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------

    @property
    def tree(self) -> Tree:
        """The current tree. O(1), never blocks."""
        return self._head[1]

    @property
    def version(self) -> int:
        """The current version number. O(1)."""
        return self._head[0]

    def _defers_inserts(self) -> bool:
        """Whether this database's transactions defer their leading inserts (``DbTransaction._defer``). O(1).

        Only where another writer may replay a transaction anyway: a durable store that
        group-commits (``DurableDatabase``).  In memory every commit uses its own batch.
        """
        return False

    def snapshot(self) -> Tuple[int, Tree]:
        """(version, tree), read together. O(1)."""
        return self._head

    def as_of(self, version: Optional[int] = None, time: Optional[float] = None) -> Tree:
        """The tree committed as ``version``, or this branch's tree at ``time``; ``VersionNotFound`` if unknown.

        O(1) by version (``VersionNotFound`` if dropped); by ``time`` (a
        ``time.time()`` value) see ``version_at``.
        """
        if time is not None:
            version = self.version_at(time)
        tree = self._trees.get(version) if type(version) is int else None
        if tree is None:
            raise VersionNotFound(f"version {version!r} does not exist or is no longer kept (keep={self._keep})")
        return tree

    def version_at(self, when: float) -> int:
        """The version this branch's head was at ``when`` (a ``time.time()`` value): its newest commit by then.

        Walks this branch's first-parent chain back from the head: O(commits since ``when``).
        ``VersionNotFound`` if ``when`` is before the oldest kept commit.
        """
        if type(when) not in (int, float):
            raise InvalidArgument(f"time must be a number (seconds since the epoch), not {when!r}")
        version = self.version
        while version >= 0:
            try:
                commit = self._commit_at(version)
            except VersionNotFound:
                break
            if commit.time <= when:
                return version
            version = commit.parent
        raise VersionNotFound(f"no version of branch {self._branch!r} was committed by time {when!r}")

    def history(self, since: Optional[int] = None, all_branches: bool = False) -> List[Commit]:
        """This branch's commits, oldest first: its head's first-parent chain (``all_branches``: every commit).

        Only the commits after version ``since`` if given, and never those ``compact``
        dropped (as stored: history starts at the cut).  Each ``Commit`` has version,
        parent, time, message, meta, ops and, for a merge, ``merged`` (the source head).
        O(versions), O(commits after ``since``) with ``since``.
        """
        first = 0 if since is None else check_since(since) + 1
        return self._history(all_branches, max(first, self._shared.cut), self.version)

    def _history(self, all_branches: bool, oldest: int, head: int) -> List[Commit]:
        """``history`` of ``head`` over the commits from ``oldest`` on (one range read), handed out
        (``handed_out``). O(versions + size of their mutable arguments and meta)."""
        commits = self._commits(oldest, self._newest())
        if all_branches:
            return [handed_out(c) for c in commits]
        by_version = {c.version: c for c in commits}
        out = []
        version = head
        while version in by_version:
            commit = by_version[version]
            out.append(handed_out(commit))
            version = commit.parent
        out.reverse()
        return out

    def _newest(self) -> int:
        """The newest version of any branch. O(1)."""
        return self._log[-1].version

    def _commits(self, first: int, last: int) -> List[Commit]:
        """The commits with first <= version <= last. O(count)."""
        return self._log[first : last + 1]

    def _commit_at(self, version: int) -> Commit:
        """The commit of ``version``; ``VersionNotFound`` if unknown. O(1)."""
        found = self._commits(version, version) if type(version) is int and version >= 0 else []
        if not found:
            raise VersionNotFound(f"version {version!r} does not exist")
        return found[0]

    def _path(self, old: int, new: int) -> Optional[List[Commit]]:
        """The commits taking ``old`` to ``new`` along ``new``'s first parents (None: not an ancestor).

        One range read of the commits in between. O(new - old).
        """
        if old > new:
            return None
        by_version = {c.version: c for c in self._commits(old + 1, new)}

        def commit_at(version: int) -> Commit:
            found = by_version.get(version)
            if found is None:
                raise VersionNotFound(f"version {version} is not stored")
            return found

        return path(commit_at, old, new)

    def changes(self, v1: int, v2: int) -> Changes:
        """What changed from version ``v1`` to ``v2``, of the same branch or of any two branches.

        On one line of history (``v1`` an ancestor of ``v2``) it replays the logged
        updates in between on ``as_of(v1)``, noting every node they touch, then
        compares only those nodes: cost O(updates · log n + nodes whose parent or
        data changed), not O(n).  Across branches it replays both sides' updates
        since their newest common first-parent ancestor and compares the nodes either
        touched.  ``v1`` newer than ``v2`` on one line raises ``InvalidArgument``.
        """
        if type(v1) is not int or type(v2) is not int:
            raise InvalidArgument(f"changes(v1, v2) needs int versions, got {v1!r}, {v2!r}")
        old = self.as_of(v1)
        new = self.as_of(v2)
        line = self._path(v1, v2)
        if line is not None:
            op_lists = [commit.ops for commit in line]
            if any(ops is None for ops in op_lists):  # a replaced tree: nothing to replay
                return full_diff(old, new)
            return _replayed_changes(old, new, op_lists)  # type: ignore[arg-type]
        if v1 > v2 and self._path(v2, v1) is not None:
            raise InvalidArgument(f"changes(v1, v2) needs v1 <= v2 on one line of history, got {v1} > {v2}")
        base = fork_point(self._commit_at, v1, v2)
        sides = [self._path(base, v) or [] for v in (v1, v2)]
        if any(c.ops is None for side in sides for c in side):
            return full_diff(old, new)
        root = self.as_of(base)
        touched: Set[int] = set()
        moved: Set[int] = set()
        parents: Set[Optional[int]] = set()
        for side in sides:
            t, m, p = _touched(root, [c.ops for c in side if c.ops is not None])
            touched |= t
            moved |= m
            parents |= p
        return targeted_diff(old, new, touched, moved, parents)

    def since(self, version: int) -> Changes:
        """What changed on this branch after ``version`` (``changes(version, head)``); O(as ``changes``)."""
        return self.changes(version, self.version)

    def node_history(self, node: int) -> List[NodeEvent]:
        """Every version of this branch in which ``node`` was inserted, moved, re-valued or deleted, oldest first.

        Walks this branch's first-parent chain (back to the oldest readable version)
        and compares the node before and after only the commits whose logged updates
        name it or may move it (moves, reorders, wraps and unwraps, replaced trees):
        O(commits · updates) to filter plus O(siblings + depth) per such commit.  A move is reported as ``changes``
        reports it: a node is moved when its parent changed, or its order among the
        siblings it kept (inserting a sibling before it does not move it).
        """
        if type(node) is not int:
            raise InvalidArgument(f"node_history needs an int node id, not {node!r}")
        events: List[NodeEvent] = []
        for commit in self.history():
            if commit.parent < 0 or not _may_touch(commit, node):
                continue
            try:
                before, after = self.as_of(commit.parent), self.as_of(commit.version)
            except VersionNotFound:
                continue  # no longer readable
            events.extend(_node_events(before, after, node, commit.version))
        return events

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback(version, changes)`` after each commit; returns an unsubscribe function. O(1).

        Listeners run in the committing thread once the commit is published, in the
        order they subscribed.  One that raises is logged (logger ``"botree"``,
        level ERROR, with the traceback) and the others still run: the commit has
        happened and is reported as such (``tx.tree`` set, ``version`` advanced).
        """
        if not callable(callback):
            raise InvalidArgument(f"subscribe needs a callable, not {type(callback).__name__}")
        with self._lock:
            self._listeners.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return unsubscribe

    def replay(self) -> Tree:
        """Apply the logged updates to the oldest readable version again: equals ``db.tree``.

        Starts after the last ``replace`` if there is one. O(total updates).
        """
        commits = self.history()
        while len(commits) > 1 and not self._readable(commits[0].version):
            commits.pop(0)
        start = commits[0].version
        for commit in commits:
            if commit.ops is None:
                start = commit.version
        transient = self.as_of(start).order_index.transient()
        for commit in commits:
            if commit.version > start:
                for name, args, result in commit.ops or ():
                    run_logged(transient, UPDATES[name], args, result)
        return Tree.from_order_index(transient.persistent())

    def _readable(self, version: int) -> bool:
        """True if ``as_of(version)`` can read it. O(1)."""
        return version in self._trees

    def _oldest(self) -> int:
        """The oldest version ``as_of`` can read. O(kept versions)."""
        return min(self._trees)

    def compact(self, keep: int) -> int:
        """Keep each branch's newest ``keep`` versions and every newer version; drop the rest. Returns the cut.

        The cut is the oldest of the versions ``keep - 1`` first-parent steps back from
        each branch head (fewer where the chain ends sooner): every version from the cut
        on stays readable, every older one is dropped (``as_of`` then raises
        ``VersionNotFound``), whichever branch made it. A deleted branch no longer holds
        the cut back, so its old versions go with the next compaction. A merge whose
        fork point is older than the cut raises ``VersionNotFound``. See
        docs/concurrency.md, "Compaction with branches". Explicit and never automatic
        for stored databases (one write transaction).  O(dropped versions + branches ·
        keep) in memory; stored, O(stored cells older than the cut + the kept versions' pins).
        """
        if type(keep) is not int or keep < 1:
            raise InvalidArgument(f"keep must be a positive int, not {keep!r}")
        with self._lock:
            return self._drop_before(keep)

    def _drop_before(self, keep: int) -> int:
        """Forget the versions older than the cut (the caller holds the lock); returns the cut."""
        cut = self._cut(keep, self._head_versions(), self._readable)
        for version in [v for v in self._trees if v < cut]:
            del self._trees[version]
        self._shared.cut = max(self._shared.cut, cut)
        return cut

    def _cut(self, keep: int, heads: Set[int], readable: Callable[[int], bool]) -> int:
        """The oldest of the versions ``keep - 1`` first-parent steps back from each head (while ``readable``).

        O(branches · keep).
        """
        cut = min(heads)
        for head in heads:
            version = head
            for _ in range(keep - 1):
                parent = self._commit_at(version).parent
                if parent < 0 or not readable(parent):
                    break
                version = parent
            cut = min(cut, version)
        return cut

    # -- branches ----------------------------------------------------------------

    @property
    def branch_name(self) -> str:
        """The branch this handle reads and writes (``"main"`` for the database itself). O(1)."""
        return self._branch

    def branches(self) -> Dict[str, int]:
        """Every branch with its head version, by name. O(branches)."""
        return {name: head[0] for name, head in sorted(self._shared.heads.items())}

    def _head_versions(self) -> Set[int]:
        """The head versions of every branch (kept whatever ``keep`` or ``compact`` say). O(branches)."""
        return {head[0] for head in self._shared.heads.values()}

    def branch(self, name: str, at: Optional[int] = None) -> "Database":
        """Create branch ``name`` at version ``at`` (default: this branch's head); returns a handle on it.

        The handle has the whole ``Database`` API (``tree``, ``transaction``,
        ``transact``, ``history``, ``as_of``, ``changes``, ``subscribe``, ``snapshot``,
        ``merge``...) working on the branch.  ``InvalidArgument`` if the name is taken;
        ``VersionNotFound`` if ``at`` is not readable.  O(1) (stored: one write).
        """
        name = check_name(name)
        version = self.version if at is None else at
        tree = self.as_of(version)
        self._create_branch(name, version, tree)
        return self._handle(name)

    def _create_branch(self, name: str, version: int, tree: Tree) -> None:
        with self._lock:
            if name in self._shared.heads:
                raise InvalidArgument(f"branch {name!r} already exists")
            self._shared.heads[name] = (version, tree)

    def on(self, name: str) -> "Database":
        """A handle on the existing branch ``name`` (``BranchNotFound`` if there is none). O(1)."""
        name = check_name(name)
        if name not in self.branches():
            raise BranchNotFound(f"branch {name!r} does not exist (branches: {sorted(self.branches())})")
        return self._handle(name)

    def _handle(self, name: str) -> "Database":
        view = copy.copy(self)
        view._branch = name
        return view

    def delete_branch(self, name: str) -> None:
        """Drop the name ``name``: its versions stay until ``compact`` drops them. ``main`` cannot go. O(1)."""
        name = check_name(name)
        if name == DEFAULT:
            raise InvalidArgument("the default branch 'main' cannot be deleted")
        self._drop_branch(name)

    def _drop_branch(self, name: str) -> None:
        with self._lock:
            if self._shared.heads.pop(name, None) is None:
                raise BranchNotFound(f"branch {name!r} does not exist")

    def merge(
        self,
        source: "str | Database",
        message: Optional[str] = None,
        meta: Optional[Mapping[str, Any]] = None,
        resolve: Optional[str] = None,
    ) -> int:
        """Merge branch ``source`` into this branch; returns the version now at this branch's head.

        Replays the source's logged updates since the common history on this
        branch's head, with a rebase's rules, and commits them as one version whose
        ``Commit.merged`` is the source head (``parent``: this branch's previous head).
        Every update that no longer applies is listed in one ``MergeConflict`` and
        nothing is committed; ``resolve="ours"`` or ``"theirs"`` settles the data-only
        ones (both sides set a node's data).  Merging a branch into itself or an
        ancestor of this branch's head is a no-op (the head's version is returned).
        ``source`` is a branch name or a handle of this database (``InvalidArgument`` for
        a handle of another one).
        O(k log n) for k replayed updates, plus walking the versions since the
        branches' common history.  See docs/concurrency.md, "Branches and merge".
        """
        if resolve not in (None, "ours", "theirs"):
            raise InvalidArgument(f"resolve must be None, 'ours' or 'theirs', not {resolve!r}")
        if isinstance(source, Database) and not self._same_database(source):
            raise InvalidArgument(
                "merge's source is a handle of another database; to merge this database's branch of that "
                f"name, pass the name ({source.branch_name!r})"
            )
        name = source.branch_name if isinstance(source, Database) else check_name(source)
        check_message(message)
        checked = MappingProxyType(check_meta(meta))
        if name not in self.branches():
            raise BranchNotFound(f"branch {name!r} does not exist")
        return self._append_merge(name, resolve, message, checked)

    def _same_database(self, other: "Database") -> bool:
        """Whether ``other`` is a handle of this database (a branch of it, or itself). O(1)."""
        return other._shared is self._shared

    def _merged(
        self, version: int, head: Tree, source: int, resolve: Optional[str]
    ) -> Optional[Tuple[Tree, Tuple[Op, ...], Set[int]]]:
        """The merge of version ``source`` into ``head`` (at ``version``): tree, ops, deleted ids; None: a no-op."""
        def commit_at(at: int) -> Commit:  # in memory too, the history before a compaction's cut is gone
            if at < self._shared.cut:
                raise VersionNotFound(f"version {at} was compacted away")
            return self._commit_at(at)

        try:
            plan = merge_plan(commit_at, version, source)
        except VersionNotFound as exc:
            raise VersionNotFound(f"cannot merge version {source} into {version}: their common history was "
                                  f"compacted away ({exc})") from None
        if plan.noop:
            return None
        return replay_merge(head, plan.ours, plan.theirs, resolve)

    def _append_merge(self, name: str, resolve: Optional[str], message: Optional[str], meta: Mapping[str, Any]) -> int:
        with self._lock:
            version, previous = self._head
            source = self._shared.heads[name][0]
            merged = self._merged(version, previous, source, resolve)
            if merged is None:
                return version
            tree, ops, deleted = merged
            new = self._newest() + 1
            commit = Commit(new, version, time.time(), message, meta, ops, frozenset(deleted), source, self._branch)
            self._publish(commit, tree)
        self._notify(new, previous, tree, ops)
        return new

    def _id_mark(self) -> int:
        """No branch has handed out an id at or past this one. O(1)."""
        return self._shared.mark

    # -- configuration: the key field and the indexed fields ------------------------

    @property
    def key(self) -> Optional[str]:
        """The key field of the current tree (None: no keys). O(1) (stored: checks the head)."""
        return self.tree.key

    @property
    def fields(self) -> Tuple[str, ...]:
        """The indexed fields of the current tree. O(1) (stored: checks the head)."""
        return self.tree.order_index.nodes.fields

    @property
    def block_size(self) -> int:
        """The block size of the current tree. O(1) (stored: checks the head)."""
        return self.tree.block_size

    def set_key(self, field: Optional[str], message: Optional[str] = None) -> int:
        """Make ``field`` the key field (None: no keys), in a commit of its own; returns its version.

        O(n) to build the key index (stored: its buckets are written, no row is).
        ``InvalidKey`` / ``DuplicateKey`` if some node lacks a valid key or two share
        one; nothing is committed then.  The commit logs no updates (as ``replace``):
        a transaction begun before it cannot be rebased over it.
        """
        check_key_field(field)
        return self._reconfigure(lambda fields, key: (fields, field), message, f"key {field!r}")

    def add_index(self, field: str, message: Optional[str] = None) -> int:
        """Index ``field`` too (see ``Tree.find``), in a commit of its own; returns its version.

        O(n log n) to build the index once.  ``InvalidOperation`` if it is already indexed.
        """
        check_fields((field,))

        def change(fields: Tuple[str, ...], key: Optional[str]) -> Tuple[Tuple[str, ...], Optional[str]]:
            if field in fields:
                raise InvalidOperation(f"field {field!r} is already indexed")
            return (*fields, field), key

        return self._reconfigure(change, message, f"index {field!r}")

    def drop_index(self, field: str, message: Optional[str] = None) -> int:
        """Stop indexing ``field``, in a commit of its own; returns its version.

        O(1) (the index is dropped, the rows are untouched).  ``NotIndexed`` if it is not indexed.
        """
        check_fields((field,))

        def change(fields: Tuple[str, ...], key: Optional[str]) -> Tuple[Tuple[str, ...], Optional[str]]:
            if field not in fields:
                raise NotIndexed(f"field {field!r} is not indexed (indexed: {list(fields)})")
            return tuple(f for f in fields if f != field), key

        return self._reconfigure(change, message, f"drop index {field!r}")

    def _reconfigure(
        self,
        change: Callable[[Tuple[str, ...], Optional[str]], Tuple[Tuple[str, ...], Optional[str]]],
        message: Optional[str],
        what: str,
    ) -> int:
        """Commit the head with its (fields, key) replaced by ``change(fields, key)``; the new version.

        The commit's message is ``message``, or ``what`` (e.g. ``index 'name'``) if None.
        """
        check_message(message)

        def make(head: Tree) -> Tree:
            fields, key = change(head.order_index.nodes.fields, head.key)
            return Tree.from_order_index(head.order_index.configured(fields, key))

        meta = MappingProxyType({"configure": what})
        version, previous, tree = self._append(make, what if message is None else message, meta, None)
        self._notify(version, previous, tree, None)
        return version

    # -- writing ----------------------------------------------------------------

    def transaction(self, message: Optional[str] = None, meta: Optional[Mapping[str, Any]] = None) -> DbTransaction:
        """A transaction on the current tree, committed on leaving ``with`` (snapshot isolation). O(1)."""
        return DbTransaction(self, message, meta, serializable=False)

    def transact(
        self,
        fn: Callable[[DbTransaction], T],
        retries: int = 10,
        message: Optional[str] = None,
        meta: Optional[Mapping[str, Any]] = None,
    ) -> T:
        """Run ``fn(tx)`` and commit serializably, re-running it on ``ConflictError``.

        Raises the last ``ConflictError`` after ``retries`` re-runs; an exception from
        ``fn`` rolls back and propagates.  Only a refused commit re-runs ``fn``: once
        one is published, listeners cannot make it run again.
        O(cost of fn) per attempt.
        """
        if not callable(fn):
            raise InvalidArgument(f"transact needs a callable fn(tx), not {type(fn).__name__}")
        return self._serially(fn, retries, message, meta, commit_empty=True)[0]

    def _serially(
        self,
        fn: Callable[[DbTransaction], T],
        retries: int,
        message: Optional[str],
        meta: Optional[Mapping[str, Any]],
        commit_empty: bool,
    ) -> Tuple[T, Optional[int]]:
        """``fn(tx)`` in a serializable transaction, committed; re-run on ``ConflictError`` up to ``retries`` times.

        Returns ``fn``'s result and the version committed (None when ``fn`` logged no
        update and ``commit_empty`` is False: nothing is committed).  An exception
        from ``fn`` rolls back and propagates.
        """
        if type(retries) is not int or retries < 0:
            raise InvalidArgument(f"retries must be a non-negative int, not {retries!r}")
        last: Optional[ConflictError] = None
        for _ in range(retries + 1):
            tx = DbTransaction(self, message, meta, serializable=True)
            try:
                result = fn(tx)
            except BaseException:
                tx.rollback()
                raise
            if not commit_empty and not tx.ops:
                tx.rollback()
                return result, None
            try:
                tx.commit()
                return result, tx.committed
            except ConflictError as exc:
                last = exc
        assert last is not None
        raise ConflictError(f"gave up after {retries} retries: {last}") from last

    def sync(
        self,
        target: Tree,
        message: Optional[str] = None,
        meta: Optional[Mapping[str, Any]] = None,
        key: Optional[str] = None,
        retries: int = 10,
    ) -> SyncReport:
        """Make the current tree equal to ``target`` by its key field, committing only the differences.

        The key field is the tree's (``Tree(key=...)``), or ``key`` for a tree without
        one.  One commit of ordinary logged updates (see ``Transaction.sync``): nodes keep
        their ids, so ``changes`` across it lists exactly the inserted, deleted,
        moved and re-valued nodes, and an equal ``target`` commits nothing (the
        report's ``version`` is None; otherwise the version committed).  It is
        planned on a snapshot and committed only if no other commit landed
        meanwhile, planned again on the newer tree otherwise (up to ``retries``
        times, then ``ConflictError``).  Bad keys or data raise before anything is
        committed.  O(n log n) for n nodes in both trees, plus O(log n) per update;
        storing the commit costs what its updates touch.
        """
        report, version = self._serially(lambda tx: tx.sync(target, key), retries, message, meta, commit_empty=False)
        return report if version is None else dataclasses.replace(report, version=version)

    def replace(
        self,
        tree: Tree,
        message: Optional[str] = None,
        meta: Optional[Mapping[str, Any]] = None,
        progress: Optional[Progress] = None,
        *,
        key: Any = KEEP,
        fields: Any = KEEP,
        block_size: Any = KEEP,
    ) -> int:
        """Commit ``tree`` as the next version, whatever the current one holds (bulk imports).

        The database keeps its configuration: ``tree`` is stored with the database's key
        field, indexed fields and block size, whatever it was built with, unless
        ``key=``, ``fields=`` or ``block_size=`` say otherwise (``key=None``: no keys).
        Re-keying or re-indexing costs O(n); another block size rebuilds the tree
        (O(n), node ids then in preorder).  A tree that cannot be keyed so raises
        ``InvalidKey`` / ``DuplicateKey`` and nothing is committed.

        Such a commit logs no updates: a transaction that began before it cannot be
        rebased over it (``ConflictError``), and ``changes`` across it compares whole
        trees.  Returns the new version.  O(n): every node's data is checked against
        the value policy (``botree.tree.values``) first; storing is O(n) too.

        Node ids are the new tree's own: a node of ``tree`` is not the node of the
        same id in older versions (ids are unambiguous among the versions from this
        one on).  Later commits hand out ids ``tree`` never used.  ``progress(rows
        stored, total rows)`` is called as the nodes are written (a stored database
        calls it once per 64-row leaf; in memory, once).
        """
        if not isinstance(tree, Tree):
            raise InvalidArgument(f"replace needs a Tree, not {type(tree).__name__}")
        check_message(message)
        checked = check_meta(meta)
        if key is not KEEP:
            check_key_field(key)
        if fields is not KEEP:
            fields = check_fields(fields)
        if block_size is not KEEP:
            check_block_size(block_size)
        tree = adopt(tree)

        def make(head: Tree) -> Tree:
            conformed = _conformed(
                tree,
                head.block_size if block_size is KEEP else block_size,
                head.order_index.nodes.fields if fields is KEEP else fields,
                head.key if key is KEEP else key,
            )
            # Rebuilt for another block size from ``tree``'s data (copies already): new, so ours to mark.
            return conformed if conformed.order_index.nodes.copy_out is not None else own_new(conformed)

        version, previous, stored = self._append(make, message, MappingProxyType(checked), progress)
        self._notify(version, previous, stored, None)
        return version

    def _append(
        self,
        make: Callable[[Tree], Tree],
        message: Optional[str],
        meta: Mapping[str, Any],
        progress: Optional[Progress],
    ) -> Tuple[int, Tree, Tree]:
        """Commit ``make(head)``, a whole tree that logs no updates; (its version, the previous head, it)."""
        with self._lock:
            version, previous = self._head
            tree = make(previous)
            new = self._newest() + 1
            self._publish(Commit(new, version, time.time(), message, meta, None, branch=self._branch), tree)
        if progress is not None:
            progress(len(tree), len(tree))
        return new, previous, tree

    def _resolve(
        self, tx: DbTransaction, batch: Any, version: int, head: Tree, persisted: Optional[Tree]
    ) -> Tuple[Tree, Tuple[Op, ...], Dict[int, int], Set[int]]:
        """The tree ``tx`` commits on top of ``head`` (at ``version``), its updates, id map and deleted ids."""
        if version == tx.base_version and not self._ids_taken(tx):
            ops = tuple(tx.ops)
            tree = persisted if persisted is not None else Tree.from_order_index(batch.persistent())
            return tree, ops, {r: r for name, _, result in ops for r in UPDATES[name].created(result)}, tx.deleted
        if tx.serializable:
            if version == tx.base_version:
                raise ConflictError("another branch handed out the node ids this transaction inserted with")
            raise ConflictError(f"version {version} was committed after this transaction began at {tx.base_version}")
        return self._rebase(tx, head, version)

    def _ids_taken(self, tx: DbTransaction) -> bool:
        """True if ``tx`` inserted nodes and another branch has since handed out ids it may have used. O(updates)."""
        return self._id_mark() > tx.mark and any(UPDATES[name].inserts for name, _, _ in tx.ops)

    def _commit(self, tx: DbTransaction, batch: Any) -> "Tree | Callable[[], Tree]":
        """Store ``tx`` as the next version: its tree, or (durable) a loader of the tree another writer stored."""
        with self._lock:
            version, previous = self._head
            tree, ops, tx.ids, deleted = self._resolve(tx, batch, version, previous, None)
            new = self._newest() + 1
            commit = Commit(new, version, time.time(), tx.message, tx.meta, ops, frozenset(deleted), None, self._branch)
            self._publish(commit, tree)
        tx.tree = tree  # published: committed, whatever a listener does next
        tx.committed = new
        self._notify(new, previous, tree, ops)
        return tree

    def _publish(self, commit: Commit, tree: Tree) -> None:
        """Make ``tree`` the head as ``commit`` (the caller holds the lock). O(branches)."""
        self._log.append(commit)
        self._trees[commit.version] = tree
        self._head = (commit.version, tree)
        self._shared.mark = max(self._shared.mark, next_node_id(tree))
        if self._keep is not None:
            heads = self._head_versions()
            for old in (commit.version - self._keep, commit.parent):
                if old <= commit.version - self._keep and old not in heads:
                    self._trees.pop(old, None)

    def _notify(self, version: int, previous: Tree, tree: Tree, ops: Optional[Tuple[Op, ...]]) -> None:
        """Tell the listeners what the published commit of ``version`` changed (from the trees in hand).

        Never raises an ``Exception``: a listener's is logged and the next listener runs.
        """
        listeners = list(self._listeners)
        if not listeners:
            return
        try:
            changes = self._commit_changes(previous, tree, ops)
        except Exception:
            log.exception(
                "botree: version %d was committed, but computing its changes for the listeners failed", version
            )
            return
        for listener in listeners:
            try:
                listener(version, changes)
            except Exception:
                log.exception("botree: version %d was committed; listener %r raised", version, listener)

    @staticmethod
    def _commit_changes(previous: Tree, tree: Tree, ops: Optional[Tuple[Op, ...]]) -> Changes:
        """What one commit changed, from the trees in hand and its logged updates (None: a replaced tree)."""
        return full_diff(previous, tree) if ops is None else _replayed_changes(previous, tree, [ops])

    def _rebase(
        self, tx: DbTransaction, head: Tree, version: int
    ) -> Tuple[Tree, Tuple[Op, ...], Dict[int, int], Set[int]]:
        """Replay ``tx``'s updates on ``head``; ConflictError if any no longer applies."""
        deleted_since: Set[int] = set()
        data_set_since: Set[int] = set()  # nodes whose data a commit since the base replaced
        try:
            between = self._path(tx.base_version, version)
        except VersionNotFound:
            between = None
        if between is None:
            raise ConflictError(
                f"the history after version {tx.base_version} was compacted since this transaction began"
            ) from None
        for commit in between:
            if commit.ops is None:
                raise ConflictError(f"version {commit.version} replaced the whole tree after this transaction began")
            deleted_since |= commit.deleted
            data_set_since.update(args[0] for name, args, _ in commit.ops if UPDATES[name].changes_data)
        batch = head.order_index.transient(fresh_ids=True)
        table_of(batch).skip_to(self._id_mark())
        tx.mark = self._id_mark()
        ids: Dict[int, int] = {}
        out: List[Op] = []
        deleted: Set[int] = set()
        def place(name: str, node: int) -> int:
            """The replay's id for ``node``, named by the logged update ``name``."""
            if node in ids:  # a node this transaction inserted: its id in the replay
                node = ids[node]
            elif node in deleted_since or node not in head:
                raise ConflictError(f"{name}: node {node} was deleted by a concurrent commit")
            if node not in batch:  # checked against the tree being replayed, at this step
                raise ConflictError(
                    f"{name}: node {node} no longer exists in the replay: an earlier update of this "
                    "transaction deleted it after a concurrent commit moved it"
                )
            return node

        for name, args, result in tx.ops:
            update = UPDATES[name]
            mapped = list(args)
            for i in update.nodes:
                if mapped[i] is not None:
                    mapped[i] = place(name, mapped[i])
            for i in update.node_lists:
                mapped[i] = [place(name, node) for node in mapped[i]]
            if update.changes_data and args[0] not in ids and args[0] in data_set_since:
                raise ConflictError(f"set_data: node {args[0]}'s data was changed by a concurrent commit")
            try:
                doomed = update.deletes(batch, tuple(mapped))
                new = update.run(batch, *mapped)
            except BotreeError as exc:
                raise ConflictError(f"{name}{tuple(mapped)!r} no longer applies: {exc}") from exc
            deleted |= doomed
            new = update.log_result(batch, new)
            ids.update(zip(update.created(result), update.created(new)))
            out.append((name, tuple(mapped), new))
        return Tree.from_order_index(batch.persistent()), tuple(out), ids, deleted


def _replayed_changes(old: Tree, new: Tree, op_lists: List[Tuple[Op, ...]]) -> Changes:
    """Replay the logged updates on ``old``, noting what they touch, and diff only that."""
    return targeted_diff(old, new, *_touched(old, op_lists))


def _touched(old: Tree, op_lists: List[Tuple[Op, ...]]) -> Tuple[Set[int], Set[int], Set[Optional[int]]]:
    """Replay the logged updates on ``old``: (touched, moved, parents).

    ``touched``: every node whose presence, data, parent or place may have changed;
    ``moved``: the subset whose place may have changed (for reused ids too);
    ``parents``: parents whose child order may have changed.
    """
    touched: Set[int] = set()
    moved: Set[int] = set()
    parents: Set[Optional[int]] = set()
    transient = old.order_index.transient()
    for ops in op_lists:
        for name, args, result in ops:
            update = UPDATES[name]
            if update.changes_data:
                touched.add(args[0])
            shifted = update.shifts(transient, args)
            touched.update(shifted)
            moved.update(shifted)
            if update.moves:
                parents.add(transient.enclosing(args[0]))
            run_logged(transient, update, args, result)
            created = update.created(result)
            touched.update(created)
            moved.update(created)
            if update.moves:
                parents.add(transient.enclosing(args[0]))
    return touched, moved, parents


# Updates that may move a node they do not name (its parent's, or a sibling's, move changes its place).
_INDIRECT = frozenset(name for name, u in UPDATES.items() if u.moves) | {
    "reorder_children", "sort_children", "unwrap", "insert_parent", "insert_root"
}


def _may_touch(commit: Commit, node: int) -> bool:
    """True unless ``commit``'s logged updates certainly leave ``node`` alone. O(updates)."""
    if commit.ops is None or node in commit.deleted:
        return True
    for op in commit.ops:
        name, _, result = op
        if name in _INDIRECT or node in named_nodes(op) or node in UPDATES[name].created(result):
            return True
    return False


def _node_events(before: Tree, after: Tree, node: int, version: int) -> List[NodeEvent]:
    """What happened to ``node`` from ``before`` to ``after``, as ``full_diff`` would say. O(siblings)."""
    was, now = node in before, node in after
    if not was or not now:
        if now:
            return [NodeEvent(version, "inserted", None, (after.parent(node), _index(after, node)))]
        return [NodeEvent(version, "deleted", (before.parent(node), _index(before, node)), None)] if was else []
    out = []
    parent = before.parent(node)
    moved = parent != after.parent(node)
    if not moved:  # the same parent: moved if its order among the siblings it kept changed
        old_kids = list(before.children(parent))
        new_kids = list(after.children(parent))
        kept_old, kept_new = set(old_kids), set(new_kids)
        moved = node in reordered([n for n in old_kids if n in kept_new], [n for n in new_kids if n in kept_old])
    if moved:
        old_place = (parent, _index(before, node))
        out.append(NodeEvent(version, "moved", old_place, (after.parent(node), _index(after, node))))
    old_data, new_data = before.data(node), after.data(node)
    if old_data is not new_data and old_data != new_data:
        out.append(NodeEvent(version, "data", old_data, new_data))
    return out


def _index(tree: Tree, node: int) -> int:
    """``node``'s index among its siblings. O(index)."""
    for i, sibling in enumerate(tree.children(tree.parent(node))):
        if sibling == node:
            return i
    raise InvariantError(f"node {node} is not among its parent's children")


def conform(tree: Tree, block_size: Optional[int], fields: Any, key: Optional[str]) -> Tree:
    """``tree`` with the given block size, indexed fields and key field (None: as ``tree`` has them).

    O(1) when nothing changes; O(n) to build a changed index; another block size
    rebuilds the tree from its bounds (ids in preorder).  ``key`` None keeps the tree's key.
    """
    ix = tree.order_index
    fields = ix.nodes.fields if fields is None else check_fields(fields)
    key = tree.key if key is None else check_key_field(key)
    return _conformed(tree, block_size, fields, key)


def _conformed(tree: Tree, block_size: Optional[int], fields: Tuple[str, ...], key: Optional[str]) -> Tree:
    ix = tree.order_index
    if block_size is not None and check_block_size(block_size) != tree.block_size:
        return Tree.from_events(tree.data_events(), block_size, fields, key=key)
    if fields == ix.nodes.fields and key == tree.key:
        return tree
    return Tree.from_order_index(ix.configured(fields, key))


def check_since(since: object) -> int:
    """``history(since=...)``'s argument, checked: a version (an int >= -1)."""
    if type(since) is not int or since < -1:
        raise InvalidArgument(f"since must be a version (an int >= -1) or None, not {since!r}")
    return since


def handed_out(commit: Commit) -> Commit:
    """``commit`` as ``history`` hands it out: its logged arguments and meta values copied where
    they have a mutable part (``copy_out``), so a caller's edits never reach the log a rebase,
    a merge or ``replay`` reads.  The commit itself when nothing is mutable. O(size of its ops and meta).
    """
    ops = commit.ops if commit.ops is None else copy_out(commit.ops)
    meta = commit.meta
    if not SCALARS.issuperset(map(type, meta.values())):
        meta = MappingProxyType(copy_out(dict(meta)))
    if ops is commit.ops and meta is commit.meta:
        return commit
    return dataclasses.replace(commit, ops=ops, meta=meta)


def adopt(tree: Tree) -> Tree:
    """``tree`` as a database holds it: its node data checked against the value policy and
    copied (``owned``), its reads handing out copies (``NodeTable.copy_out``).

    ``InvalidArgument`` for a value the policy refuses, nothing changed.  ``tree`` itself
    is left as it is (a plain tree keeps handing out what it holds).  A tree derived from a
    database's (``db.tree.set_data(n, value)``) is copied too: its new rows hold the
    caller's values.  Node ids, blocks and indexes are shared; only rows whose data has
    a mutable part are copied.  O(n + size of the data).
    """
    batch = tree.order_index.transient()
    nodes = batch.nodes
    row = nodes.row
    for node in tree.preorder():
        data = row(node).data
        mine = owned(data, f"data of node {node}")
        if mine is not data:
            nodes.writable(node).data = mine  # an equal value: the field and key indexes stay right
    nodes.copy_out = copy_out
    return Tree.from_order_index(batch.persistent())


def own_new(tree: Tree) -> Tree:
    """Mark ``tree`` as a database's, in place: its reads hand out copies from now on. O(1).

    Only for a tree no caller holds (just built or loaded), whose data no caller can reach.
    """
    tree.order_index.nodes.copy_out = copy_out
    return tree


def run_logged(transient: TransientIndex, update: Update, args: Tuple[Any, ...], result: Any) -> None:
    """Run a logged update again so that an insert gets the id the log recorded. O(update).

    Commits hand out fresh ids; logs written before that rule (botree 0.1) may reuse
    the most recently freed id, so freed ids stay on the stack here and each insert
    takes whichever of the two the log names.  A log that names neither is not a
    log of this tree: ``InvariantError``.
    """
    nodes = transient.nodes
    created = update.created(result)
    if created:  # several (a subtree) are handed out fresh, one after the other
        alloc = nodes.node_ids
        nodes.fresh_ids = created[0] == alloc.next_id
        if not nodes.fresh_ids and not (alloc.free is not None and alloc.free[0] == created[0]):
            nodes.claim(created)  # an id of a branch or a merge: take it as logged
    else:
        nodes.fresh_ids = False
    try:
        new = update.log_result(transient, update.run(transient, *args))
    finally:
        nodes.wanted = []
    if update.inserts and update.created(new) != created:
        raise InvariantError(f"replaying {update.name}{args!r} gave node {new}, but the log recorded {result!r}")
