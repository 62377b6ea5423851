"""Sync: make a forest equal to a target forest, matching nodes by a key field, with the fewest updates.

``plan_sync(current, target, key)`` reads both forests once and plans ordinary
updates of the registry (``delete``, ``insert_after``/``insert_child``,
``move_after``/``move``, ``set_data``); ``run_sync`` performs them on a transaction,
so a database logs, replays, rebases and diffs them like any other commit.

Nodes match when their data hold the same key (``data[key]``, an int that is not a
bool, or a str, unique in each forest: ``InvalidKey`` and ``DuplicateKey`` otherwise).
A node of the current forest keeps its id; only real differences become updates:

* deleted: current nodes whose key the target lacks.  Those with no surviving node
  below them go first (one ``delete`` per largest such subtree); those that still
  hold survivors go last, once every survivor has left them.
* placed: the target is walked in preorder and each node goes right after its
  previous target sibling (or first under its target parent), which is already in
  its final place.  A surviving node is left alone when its parent is the same and
  it belongs to the longest run of siblings that kept their relative order
  (``botree.tree.diff.reordered``, the same choice ``changes`` makes), so exactly
  the nodes ``changes`` reports as moved are moved.
* changed: ``set_data`` where the data differ (``!=``).

Cost: O(n log n) to plan for n nodes in both forests (one scan of each, hashing,
and the longest kept runs), plus O(log n) per planned update to run it.  An equal
target is recognised first by one walk of both forests side by side (stopping at the
first difference), without building the plan's tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Hashable, Iterator, List, Optional, Set, Tuple, Union

from ..core.gcpause import gc_paused
from ..core.index import check_key_field
from ..errors import DuplicateKey, InvalidArgument
from ..nodetable.attrindex import MISSING
from ..nodetable.keyindex import check_key
from .diff import reordered
from .queries import TreeQueries
from .updates import Updates

Key = Union[int, str]


@dataclass(frozen=True)
class SyncReport:
    """What a sync did: how many nodes it inserted, deleted, moved and re-valued.

    ``version``: the version a ``Database.sync`` committed (None when nothing
    changed, and always for ``Transaction.sync``).
    """

    inserted: int = 0
    deleted: int = 0
    moved: int = 0
    changed: int = 0
    version: Optional[int] = None

    def __bool__(self) -> bool:
        return bool(self.inserted or self.deleted or self.moved or self.changed)


# A planned step names nodes of the current forest by id and new or placed ones by key:
#   ("delete", node) | ("set_data", node, data)
#   ("insert", key, parent key, previous sibling key, data) | ("move", key, parent key, previous sibling key)
Step = Tuple[Any, ...]


@dataclass
class SyncPlan:
    """The updates that turn the current forest into the target, and the counts they add up to."""

    nodes: Dict[Hashable, int]  # key -> current node id (inserted nodes are added as they are made)
    steps: List[Step] = field(default_factory=list)
    deleted: int = 0

    def written(self) -> Iterator[Any]:
        """The node data the plan writes (inserts and data changes), for a value check first. O(steps)."""
        for step in self.steps:
            if step[0] == "insert":
                yield step[4]
            elif step[0] == "set_data":
                yield step[2]

    def report(self) -> SyncReport:
        """The counts of the planned updates (no version). O(steps)."""
        kinds = [step[0] for step in self.steps]
        return SyncReport(kinds.count("insert"), self.deleted, kinds.count("move"), kinds.count("set_data"))


class Keyed:
    """One forest read once in preorder: per node (by its position in preorder) its id, parent's position, key, data.

    Keys are checked as a keyed tree checks them (``check_key``: ``InvalidKey``) and
    must be unique (``DuplicateKey``), whether or not the tree itself is keyed.
    Siblings' positions increase with their order, so positions also order them.
    """

    __slots__ = ("nodes", "parents", "keys", "data", "position")

    def __init__(self, tree: TreeQueries, key: str, what: str) -> None:
        """Read every node of ``tree``; a missing, ill-typed or repeated key raises. O(n)."""
        self.nodes: List[int] = []
        self.parents: List[Optional[int]] = []  # None: top level
        self.keys: List[Key] = []
        self.data: List[Any] = []
        ix = tree.order_index
        read = ix.nodes.row  # the row itself: one call per node (IndexReader.data adds two)
        add_node, add_parent = self.nodes.append, self.parents.append
        add_key, add_data = self.keys.append, self.data.append
        open_nodes: List[int] = []  # positions of the nodes whose subtree the walk is in
        position = 0
        for node, is_open in ix.bounds():
            if not is_open:
                open_nodes.pop()
                continue
            add_parent(open_nodes[-1] if open_nodes else None)
            open_nodes.append(position)
            position += 1
            add_node(node)
            data = read(node).data
            value = data.get(key, MISSING) if type(data) is dict else MISSING
            if type(value) is not int and type(value) is not str:  # the fast path is for plain dicts
                value = check_key(data, key, f"{what} node {node}")
            add_key(value)
            add_data(data)
        self.position: Dict[Key, int] = {k: i for i, k in enumerate(self.keys)}
        if len(self.position) != len(self.keys):
            seen: Dict[Key, int] = {}
            for node, k in zip(self.nodes, self.keys):
                other = seen.setdefault(k, node)
                if other != node:
                    raise DuplicateKey(f"{what} nodes {other} and {node} both hold the key {key}={k!r}")


def plan_sync(current: TreeQueries, target: TreeQueries, key: str) -> SyncPlan:
    """The updates that make ``current`` equal to ``target`` by ``key`` (see the module). O(n log n).

    Reads both forests and changes nothing; a missing, ill-typed or repeated key in
    either raises before any update is planned.
    """
    if not isinstance(target, TreeQueries):
        raise InvalidArgument(f"sync needs a target Tree, not {type(target).__name__}")
    if check_key_field(key) is None:
        raise InvalidArgument("sync needs a key field (key=FIELD)")
    with gc_paused():  # millions of small containers, no cycles: see botree.core.gcpause
        if _same(current, target, key):
            return SyncPlan({})
        now = Keyed(current, key, "the current tree's")
        wanted = Keyed(target, key, "the target's")
        return _plan(now, wanted)


def _same(current: TreeQueries, target: TreeQueries, key: str) -> bool:
    """True if both forests are equal node for node in preorder, with valid unique keys of the same types.

    The fast path of an unchanged target: one walk of both, stopping at the first
    difference, O(n) when there is none (then nothing else is read) and O(prefix)
    otherwise.  Anything unusual (not dict data, a key of a bad type, a repeated key)
    answers False, for the full planning to report.
    """
    mine, theirs = current.order_index, target.order_index
    if len(mine) != len(theirs):
        return False
    read_mine, read_theirs = mine.nodes.row, theirs.nodes.row
    seen: Set[Any] = set()
    for (a, a_open), (b, b_open) in zip(mine.bounds(), theirs.bounds()):
        if a_open is not b_open:
            return False
        if a_open:
            old, new = read_mine(a).data, read_theirs(b).data
            if type(old) is not dict or type(new) is not dict or (old is not new and old != new):
                return False
            value = new.get(key)
            kind = type(value)
            if (kind is not int and kind is not str) or type(old.get(key)) is not kind or value in seen:
                return False
            seen.add(value)
    return True


def _plan(now: Keyed, wanted: Keyed) -> SyncPlan:
    """The plan from both forests read. O(n log n)."""
    plan = SyncPlan(dict(zip(now.keys, now.nodes)))
    steps = plan.steps
    in_target = wanted.position
    at = now.position
    now_parents, now_nodes, now_keys = now.parents, now.nodes, now.keys

    # Which current nodes hold a survivor (themselves included): children come after parents in preorder.
    holds = [k in in_target for k in now_keys]
    for i in range(len(holds) - 1, -1, -1):
        parent = now_parents[i]
        if holds[i] and parent is not None:
            holds[parent] = True
    doomed = [False] * len(holds)
    late: List[int] = []  # the topmost doomed nodes holding survivors, deleted once those left
    for i, k in enumerate(now_keys):
        if k in in_target:
            continue
        plan.deleted += 1
        doomed[i] = True
        parent = now_parents[i]
        if not holds[i]:
            if parent is None or holds[parent]:  # the top of a subtree without survivors
                steps.append(("delete", now_nodes[i]))
        elif parent is None or not doomed[parent]:
            late.append(now_nodes[i])
    del holds, doomed

    # Survivors that keep their parent stay put unless, under a parent whose kept children changed
    # order, they fall outside the longest run kept in order.
    parent_keys = [None if p is None else wanted.keys[p] for p in wanted.parents]
    stays = [False] * len(parent_keys)  # by target position
    last: Dict[Optional[Key], int] = {}  # parent key -> current position of its kept child seen last
    tangled: Set[Optional[Key]] = set()
    for j, (k, pk) in enumerate(zip(wanted.keys, parent_keys)):
        here = at.get(k)
        if here is not None:
            parent = now_parents[here]
            if (None if parent is None else now_keys[parent]) == pk:
                stays[j] = True
                if here < last.get(pk, -1):  # positions order siblings as their indexes do
                    tangled.add(pk)
                last[pk] = here
    del last
    if tangled:
        groups: Dict[Optional[Key], List[int]] = {}  # parent key -> its kept children's target positions
        for j, pk in enumerate(parent_keys):
            if stays[j] and pk in tangled:
                groups.setdefault(pk, []).append(j)
        for kept in groups.values():
            kids = [at[wanted.keys[j]] for j in kept]
            moved = reordered(sorted(kids), kids)
            for j, here in zip(kept, kids):
                if here in moved:
                    stays[j] = False

    now_data = now.data
    previous: Dict[Optional[Key], Key] = {}  # parent key -> its child placed last
    for k, pk, data, stay in zip(wanted.keys, parent_keys, wanted.data, stays):
        prev = previous.get(pk)
        previous[pk] = k
        here = at.get(k)
        if here is None:
            steps.append(("insert", k, pk, prev, data))
            continue
        if not stay:
            steps.append(("move", k, pk, prev))
        old = now_data[here]
        if old is not data and old != data:
            steps.append(("set_data", now_nodes[here], data))
    steps.extend(("delete", node) for node in late)
    return plan


def run_sync(tx: Updates[int, None], plan: SyncPlan) -> SyncReport:
    """Perform ``plan``'s updates on the transaction ``tx`` (which it was planned on). O(log n) per update."""
    nodes = plan.nodes
    for step in plan.steps:
        kind = step[0]
        if kind == "delete":
            tx.delete(step[1])
        elif kind == "set_data":
            tx.set_data(step[1], step[2])
        else:
            pk, prev = step[2], step[3]
            if kind == "insert":
                if prev is None:
                    nodes[step[1]] = tx.insert_child(None if pk is None else nodes[pk], step[4], 0)
                else:
                    nodes[step[1]] = tx.insert_after(nodes[prev], step[4])
            elif prev is None:
                tx.move(nodes[step[1]], None if pk is None else nodes[pk], 0)
            else:
                tx.move_after(nodes[step[1]], nodes[prev])
    return plan.report()
