"""Sync: make a forest equal to a target forest, matching nodes by a key field, with the fewest updates.

``plan_sync(current, target, key)`` reads both forests once and plans ordinary
updates of the registry (``delete``, ``insert_after``/``insert_child``,
``move_after``/``move``, ``set_data``); ``run_sync`` performs them on a transaction,
so a database logs, replays, rebases and diffs them like any other commit.

Nodes match when their data hold the same key (``data[key]``, an int that is not a
bool, or a str).  A node of the current forest keeps its id; only real differences
become updates:

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
and the longest kept runs), plus O(log n) per planned update to run it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Hashable, Iterator, List, Optional, Set, Tuple, Union

from ..errors import InvalidArgument, InvalidOperation
from ..nodetable.attrindex import MISSING, field_value
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


def check_sync_key(key: Any) -> str:
    """``key`` if it names a data field (a non-empty str); ``InvalidArgument`` otherwise. O(1)."""
    if type(key) is not str or not key:
        raise InvalidArgument(f"sync needs the key field's name (a non-empty str), not {key!r}")
    return key


def key_value(data: Any, key: str, where: str) -> Key:
    """``data[key]`` (read as indexed fields are), checked to be an int (not a bool) or a str. O(1).

    ``InvalidArgument`` naming ``where`` when the field is missing or of another type.
    """
    value = field_value(data, key)
    if value is MISSING:
        raise InvalidArgument(f"{where} has no key field {key!r}: its data is {data!r}")
    if type(value) is bool or not isinstance(value, (int, str)):
        raise InvalidArgument(f"{where} has key {key}={value!r}: a key must be an int or a str")
    return value


def _keyed(tree: TreeQueries, key: str, what: str) -> Tuple[List[Tuple[int, Optional[int], int]], List[Key]]:
    """Every node's (id, parent, index) in preorder and its key; raises on a bad or repeated key. O(n)."""
    places = list(tree.places())
    data = tree.data
    keys: List[Key] = []
    seen: Dict[Key, int] = {}
    for node, _, _ in places:
        value = key_value(data(node), key, f"{what} node {node}")
        other = seen.setdefault(value, node)
        if other != node:
            raise InvalidOperation(f"{what} nodes {other} and {node} both hold key {key}={value!r}: keys are unique")
        keys.append(value)
    return places, keys


def plan_sync(current: TreeQueries, target: TreeQueries, key: str) -> SyncPlan:
    """The updates that make ``current`` equal to ``target`` by ``key`` (see the module). O(n log n).

    Reads both forests and changes nothing; a missing, ill-typed or repeated key in
    either raises before any update is planned.
    """
    if not isinstance(target, TreeQueries):
        raise InvalidArgument(f"sync needs a target Tree, not {type(target).__name__}")
    check_sync_key(key)
    now, now_keys = _keyed(current, key, "the current tree's")
    wanted, wanted_keys = _keyed(target, key, "the target's")
    nodes: Dict[Hashable, int] = {k: n for k, (n, _, _) in zip(now_keys, now)}
    where = {n: (p, i) for n, p, i in now}
    in_target = set(wanted_keys)

    # Which current nodes hold a survivor (themselves included): children come after parents in preorder.
    holds: Set[int] = set()
    for (node, parent, _), k in zip(reversed(now), reversed(now_keys)):
        if node in holds or k in in_target:
            holds.add(node)
            if parent is not None:
                holds.add(parent)
    plan = SyncPlan(nodes)
    doomed: Set[int] = set()
    doomed_late: List[int] = []  # the topmost doomed nodes holding survivors, deleted once those left
    for (node, parent, _), k in zip(now, now_keys):
        if k in in_target:
            continue
        plan.deleted += 1
        doomed.add(node)
        if node not in holds:
            if parent is None or parent in holds:  # the top of a subtree without survivors
                plan.steps.append(("delete", node))
        elif parent is None or parent not in doomed:
            doomed_late.append(node)
    del doomed, holds

    # Target order: each node's parent key and previous sibling key.
    parent_key: List[Optional[Key]] = []
    previous: List[Optional[Key]] = []
    last_child: Dict[Optional[int], Key] = {}
    target_key = dict(zip((n for n, _, _ in wanted), wanted_keys))
    for (_, parent, _), k in zip(wanted, wanted_keys):
        parent_key.append(None if parent is None else target_key[parent])
        previous.append(last_child.get(parent))
        last_child[parent] = k
    del target_key, last_child

    # Survivors that keep their parent: under each, move only those outside the longest kept run.
    staying: Dict[Optional[int], List[int]] = {}
    for k, pk in zip(wanted_keys, parent_key):
        if k not in nodes:
            continue
        node = nodes[k]
        if pk is None:
            new_parent: Optional[int] = None
        elif pk in nodes:
            new_parent = nodes[pk]
        else:
            continue  # its parent is a new node: it moves
        if where[node][0] == new_parent:
            staying.setdefault(new_parent, []).append(node)
    still: Set[int] = set()
    for kids in staying.values():
        old_order = sorted(kids, key=lambda n: where[n][1])
        still.update(kids)
        still -= reordered(old_order, kids)
    del staying

    data_now = current.data
    data_wanted = target.data
    for (tnode, _, _), k, pk, prev in zip(wanted, wanted_keys, parent_key, previous):
        data = data_wanted(tnode)
        if k not in nodes:
            plan.steps.append(("insert", k, pk, prev, data))
            continue
        node = nodes[k]
        if node not in still:
            plan.steps.append(("move", k, pk, prev))
        old = data_now(node)
        if old is not data and old != data:
            plan.steps.append(("set_data", node, data))
    plan.steps.extend(("delete", node) for node in doomed_late)
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
