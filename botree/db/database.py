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
    ConflictError,
    InvalidArgument,
    InvalidOperation,
    InvariantError,
    NotIndexed,
    VersionNotFound,
)
from ..renamed import renamed
from ..tree.diff import Changes, full_diff, targeted_diff
from ..tree.sync import SyncReport
from ..tree.tree import Transaction, Tree
from ..tree.updates import UPDATES, Op, Update
from ..tree.values import check_message, check_meta, check_value

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


class DbTransaction(Transaction):
    """A ``Transaction`` that records its updates and commits into a ``Database``.

    It never reuses a freed node id (``fresh_ids``), and refuses node data the
    database could not store exactly (``botree.tree.values``) before the update runs.
    """

    __slots__ = ("db", "base_version", "ops", "ids", "deleted", "message", "meta", "serializable")

    def __init__(
        self, db: "Database", message: Optional[str], meta: Optional[Mapping[str, Any]], serializable: bool
    ) -> None:
        check_message(message)
        meta = check_meta(meta)
        version, tree = db.snapshot()
        super().__init__(tree, fresh_ids=True)
        self.db = db
        self.base_version = version
        self.ops: List[Op] = []
        self.ids: Dict[int, int] = {}
        self.deleted: Set[int] = set()
        self.message = message
        self.meta: Mapping[str, Any] = MappingProxyType(meta)
        self.serializable = serializable

    def _apply(self, update: Update, args: Tuple[Any, ...]) -> Any:
        transient = self._transient()
        if update.logged is not None:  # e.g. sort_children by a callable: run and log its storable form
            name, args = update.logged(transient, args)
            update = UPDATES[name]
        if update.data is not None and update.data < len(args):
            self._check_data(args[update.data])
        doomed = update.deletes(transient, args)
        result = super()._apply(update, args)
        self.deleted |= doomed
        self.ops.append((update.name, args, update.log_result(transient, result)))
        return result

    def _check_data(self, data: Any) -> None:
        """Refuse node data the database could not store exactly (``InvalidArgument``). O(size of data)."""
        check_value(data, "data")

    def commit(self) -> Tree:
        """Commit into the database (replaying on a newer tree if needed); returns the new tree.

        O(1) plus, after a concurrent commit, replaying its updates: O(k log n) for k updates.
        Once the commit is published ``tree`` is set and it returns, whatever the
        listeners do (see ``Database.subscribe``).
        """
        transient = self._transient()
        self._open = False
        self.tree = self.db._commit(self, transient)
        return self.tree


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
            start = Tree(size, () if fields is None else fields, key)
        elif not isinstance(tree, Tree):
            raise InvalidArgument(f"a Database starts from a Tree, not {type(tree).__name__}")
        else:
            start = conform(tree, block_size, fields, key)
            _check_tree_data(start)
        self._lock = threading.Lock()
        self._head: Tuple[int, Tree] = (0, start)
        self._keep = keep
        self._trees: Dict[int, Tree] = {0: start}
        self._log: List[Commit] = [Commit(0, -1, time.time(), "initial", MappingProxyType({}), ())]
        self._listeners: List[Listener] = []

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

    def snapshot(self) -> Tuple[int, Tree]:
        """(version, tree), read together. O(1)."""
        return self._head

    def as_of(self, version: int) -> Tree:
        """The tree committed as ``version``; ``VersionNotFound`` if unknown or dropped. O(1)."""
        tree = self._trees.get(version) if type(version) is int else None
        if tree is None:
            raise VersionNotFound(f"version {version!r} does not exist or is no longer kept (keep={self._keep})")
        return tree

    def history(self, since: Optional[int] = None) -> List[Commit]:
        """Every commit, oldest first (version, parent, time, message, meta, ops); only those after ``since`` if given.

        O(versions), O(commits returned) with ``since``.
        """
        return list(self._log) if since is None else self._log[check_since(since) + 1 :]

    def _commits(self, first: int, last: int) -> List[Commit]:
        """The commits with first <= version <= last. O(count)."""
        return self._log[first : last + 1]

    def changes(self, v1: int, v2: int) -> Changes:
        """What changed from version ``v1`` to ``v2`` (v1 <= v2).

        Replays the logged updates of the commits in between on ``as_of(v1)``,
        noting every node they touch, then compares only those nodes: cost
        O(updates · log n + nodes whose parent or data changed), not O(n).
        """
        if type(v1) is not int or type(v2) is not int:
            raise InvalidArgument(f"changes(v1, v2) needs int versions, got {v1!r}, {v2!r}")
        if v1 > v2:
            raise InvalidArgument(f"changes(v1, v2) needs v1 <= v2, got {v1} > {v2}")
        old = self.as_of(v1)
        new = self.as_of(v2)
        op_lists = [commit.ops for commit in self._commits(v1 + 1, v2)]
        if any(ops is None for ops in op_lists):  # a replaced tree: nothing to replay
            return full_diff(old, new)
        return _replayed_changes(old, new, op_lists)  # type: ignore[arg-type]

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
        version = self.version
        start = self._oldest()
        commits = self._commits(start + 1, version)
        for commit in commits:
            if commit.ops is None:
                start = commit.version
        transient = self.as_of(start).order_index.transient()
        for commit in commits:
            if commit.version > start:
                for name, args, result in commit.ops or ():
                    run_logged(transient, UPDATES[name], args, result)
        return Tree.from_order_index(transient.persistent())

    def _oldest(self) -> int:
        """The oldest version ``as_of`` can read. O(kept versions)."""
        return min(self._trees)

    def compact(self, keep: int) -> int:
        """Drop every version but the newest ``keep``: ``as_of`` then refuses them. Returns the oldest kept.

        Explicit and never automatic for stored databases.  O(dropped versions) in
        memory; stored, one ``DELETE`` per table over the superseded cells.
        """
        if type(keep) is not int or keep < 1:
            raise InvalidArgument(f"keep must be a positive int, not {keep!r}")
        with self._lock:
            return self._drop_before(keep)

    def _drop_before(self, keep: int) -> int:
        """Forget the versions older than the newest ``keep`` (the caller holds the lock); the oldest kept."""
        cut = max(0, self._head[0] - keep + 1)
        for version in [v for v in self._trees if v < cut]:
            del self._trees[version]
        return cut

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
        """Commit the head with its (fields, key) replaced by ``change(fields, key)``; the new version."""
        check_message(message)

        def make(head: Tree) -> Tree:
            fields, key = change(head.order_index.nodes.fields, head.key)
            return Tree.from_order_index(head.order_index.configured(fields, key))

        meta = MappingProxyType({"configure": what})
        version, previous, tree = self._append(make, message, meta, None)
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
            try:
                tx.commit()
                return result
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
        if type(retries) is not int or retries < 0:
            raise InvalidArgument(f"retries must be a non-negative int, not {retries!r}")
        attempt = 0
        while True:
            tx = DbTransaction(self, message, meta, serializable=True)
            try:
                report = tx.sync(target, key)
            except BaseException:
                tx.rollback()
                raise
            if not tx.ops:
                tx.rollback()
                return report
            try:
                tx.commit()
                return dataclasses.replace(report, version=tx.base_version + 1)
            except ConflictError as exc:
                attempt += 1
                if attempt > retries:
                    raise ConflictError(f"gave up after {retries} retries: {exc}") from exc

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
        _check_tree_data(tree)

        def make(head: Tree) -> Tree:
            return _conformed(
                tree,
                head.block_size if block_size is KEEP else block_size,
                head.order_index.nodes.fields if fields is KEEP else fields,
                head.key if key is KEEP else key,
            )

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
            self._publish(Commit(version + 1, version, time.time(), message, meta, None), tree)
        if progress is not None:
            progress(len(tree), len(tree))
        return version + 1, previous, tree

    def _resolve(
        self, tx: DbTransaction, batch: Any, version: int, head: Tree, persisted: Optional[Tree]
    ) -> Tuple[Tree, Tuple[Op, ...], Dict[int, int], Set[int]]:
        """The tree ``tx`` commits on top of ``head`` (at ``version``), its updates, id map and deleted ids."""
        if version == tx.base_version:
            ops = tuple(tx.ops)
            tree = persisted if persisted is not None else Tree.from_order_index(batch.persistent())
            return tree, ops, {r: r for name, _, result in ops for r in UPDATES[name].created(result)}, tx.deleted
        if tx.serializable:
            raise ConflictError(f"version {version} was committed after this transaction began at {tx.base_version}")
        return self._rebase(tx, head, version)

    def _commit(self, tx: DbTransaction, batch: Any) -> Tree:
        with self._lock:
            version, previous = self._head
            tree, ops, tx.ids, deleted = self._resolve(tx, batch, version, previous, None)
            self._publish(Commit(version + 1, version, time.time(), tx.message, tx.meta, ops, frozenset(deleted)), tree)
        tx.tree = tree  # published: committed, whatever a listener does next
        self._notify(version + 1, previous, tree, ops)
        return tree

    def _publish(self, commit: Commit, tree: Tree) -> None:
        """Make ``tree`` the head as ``commit`` (the caller holds the lock). O(1)."""
        self._log.append(commit)
        self._trees[commit.version] = tree
        self._head = (commit.version, tree)
        if self._keep is not None:
            self._trees.pop(commit.version - self._keep, None)

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
            between = self._commits(tx.base_version + 1, version)
        except VersionNotFound:
            raise ConflictError(
                f"the history after version {tx.base_version} was compacted since this transaction began"
            ) from None
        for commit in between:
            if commit.ops is None:
                raise ConflictError(f"version {commit.version} replaced the whole tree after this transaction began")
            deleted_since |= commit.deleted
            data_set_since.update(args[0] for name, args, _ in commit.ops if UPDATES[name].changes_data)
        batch = head.order_index.transient(fresh_ids=True)
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
    """Replay the logged updates on ``old``, noting what they touch, and diff only that.

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
    return targeted_diff(old, new, touched, moved, parents)


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


def _check_tree_data(tree: Tree) -> None:
    """Refuse a whole tree whose node data breaks the value policy. O(n)."""
    data = tree.order_index.data
    for node in tree.preorder():
        check_value(data(node), f"data of node {node}")


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
        nodes.fresh_ids = created[0] == nodes.node_ids.next_id  # type: ignore[attr-defined]
    else:
        nodes.fresh_ids = False  # type: ignore[attr-defined]
    new = update.log_result(transient, update.run(transient, *args))
    if update.inserts and update.created(new) != created:
        raise InvariantError(f"replaying {update.name}{args!r} gave node {new}, but the log recorded {result!r}")
