"""Semantic merge: replay one branch's logged updates on another's head, collecting every conflict.

The rules are a rebase's (``Database._rebase``), applied to a whole branch and
reporting all conflicts instead of stopping at the first:

* an update naming a node the target deleted (or that an earlier refused update
  of the source would have created) does not apply;
* an update that fails on the target's tree (a move into the node's own subtree,
  a run that is no longer a run, an index out of range) does not apply;
* ``set_data`` on a node whose data the target changed too is a *data-only*
  conflict: ``resolve="ours"`` keeps the target's value, ``"theirs"`` takes the
  source's, and equal values are no conflict;
* a ``delete`` (or ``unwrap``) that would remove a node the target inserted,
  moved or re-valued does not apply (the target's work would be lost silently);
  deleting a node the target deleted too is no conflict;
* a commit that logged no updates (``replace``) cannot be replayed at all.

Inserted nodes keep their ids: a database's branches draw fresh ids from one
shared range, so the source's ids are unused on the target (``claim``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Set, Tuple, cast

from ..core.index import TransientIndex
from ..errors import BotreeError, InvariantError, MergeConflict
from ..nodetable.table import TransientNodeTable
from ..tree.tree import Tree
from ..tree.updates import UPDATES, Op


@dataclass(frozen=True)
class Conflict:
    """One source update that no longer applies on the target.

    ``node``: the node concerned; ``reason``: why; ``ours``: the target's update of
    that node (None if none names it directly); ``theirs``: the source's update;
    ``version``: the source commit that logged it; ``data_only``: both sides set the
    node's data (``resolve="ours"``/``"theirs"`` settles it).
    """

    node: Optional[int]
    reason: str
    ours: Optional[Op]
    theirs: Optional[Op]
    version: int
    data_only: bool = False

    def __str__(self) -> str:
        return f"version {self.version}: {self.reason}"


def named_nodes(op: Op) -> List[int]:
    """The node ids a logged update names in its arguments. O(arguments)."""
    name, args, _ = op
    update = UPDATES[name]
    out = [args[i] for i in update.nodes if i < len(args) and args[i] is not None]
    for i in update.node_lists:
        out.extend(args[i])
    return out


def table_of(batch: TransientIndex) -> TransientNodeTable:
    """The node table of a batch (typed as the batch's, which ``claim`` and ``skip_to`` need). O(1)."""
    return cast(TransientNodeTable, batch.nodes)


class _Ours:
    """What the target changed since the common history, by node."""

    def __init__(self, commits: List[Any]) -> None:
        self.deleted: Dict[int, int] = {}  # node -> the target version that deleted it
        self.data: Dict[int, Any] = {}  # node -> the data the target last set
        self.touched: Set[int] = set()  # nodes the target inserted, moved or re-valued
        self.by_node: Dict[int, Op] = {}  # node -> the target's last update naming it
        for commit in commits:
            for node in commit.deleted:
                self.deleted[node] = commit.version
            for op in commit.ops or ():
                name, args, result = op
                update = UPDATES[name]
                created = update.created(result)
                for node in (*named_nodes(op), *created):
                    self.by_node[node] = op
                self.touched.update(created)
                if update.moves or update.changes_data:
                    self.touched.add(args[0])
                if update.changes_data:
                    self.data[args[0]] = args[1]


def replay_merge(
    head: Tree, ours: List[Any], theirs: List[Any], resolve: Optional[str]
) -> Tuple[Tree, Tuple[Op, ...], Set[int]]:
    """The target ``head`` with the updates of the ``theirs`` commits replayed; (tree, ops, deleted ids).

    ``MergeConflict`` lists every update that does not apply; nothing is changed then.
    O(k log n) for k replayed updates, plus the size of deleted subtrees.
    """
    mine = _Ours(ours)
    batch = head.order_index.transient(fresh_ids=True)
    nodes = table_of(batch)
    out: List[Op] = []
    deleted: Set[int] = set()
    conflicts: List[Conflict] = []
    for commit in theirs:
        if commit.ops is None:
            conflicts.append(
                Conflict(None, f"version {commit.version} replaced the whole tree (replace logs no updates): "
                         "it cannot be replayed, nor anything after it", None, None, commit.version)
            )
            break
        for op in commit.ops:
            name, args, result = op
            update = UPDATES[name]

            def refuse(node: Optional[int], reason: str, data_only: bool = False) -> None:
                conflicts.append(Conflict(node, reason, mine.by_node.get(node) if node is not None else None,
                                          op, commit.version, data_only))  # noqa: B023

            missing = [n for n in named_nodes(op) if n not in batch]
            if missing:
                node = missing[0]
                if name == "delete" and node in mine.deleted:
                    continue  # both sides deleted it
                if node in mine.deleted:
                    refuse(node, f"{name}: node {node} was deleted on the target (version {mine.deleted[node]})")
                else:
                    refuse(node, f"{name}: node {node} does not exist on the target (an earlier source update "
                           "that would have created or kept it did not apply)")
                continue
            if update.changes_data and args[0] in mine.data:
                if mine.data[args[0]] == args[1] or resolve == "ours":
                    continue
                if resolve != "theirs":
                    refuse(args[0], f"set_data: node {args[0]}'s data was changed on both branches", True)
                    continue
            doomed = update.deletes(batch, args)
            lost = sorted(doomed & mine.touched)
            if lost:
                refuse(args[0], f"{name}: it would remove node(s) {lost[:10]} that the target inserted, "
                       "moved or changed")
                continue
            created = update.created(result)
            nodes.claim(created)
            try:
                new = update.run(batch, *args)
            except BotreeError as exc:
                refuse(args[0] if update.nodes else None, f"{name}{args!r} no longer applies: {exc}")
                continue
            finally:
                nodes.wanted = []
            new = update.log_result(batch, new)
            if update.created(new) != created:
                raise InvariantError(f"merging {name}{args!r} gave node(s) {new!r}, the log recorded {result!r}")
            deleted |= doomed
            out.append((name, args, new))
    if conflicts:
        shown = "; ".join(str(c) for c in conflicts[:5])
        more = f" (and {len(conflicts) - 5} more)" if len(conflicts) > 5 else ""
        raise MergeConflict(f"{len(conflicts)} update(s) do not apply: {shown}{more}", conflicts)
    return Tree.from_order_index(batch.persistent()), tuple(out), deleted
