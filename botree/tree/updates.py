"""The registry of node-level updates: each defined once, used by every layer above.

An ``Update`` names one logical update: the function that runs it on a
``TransientIndex``, which of its arguments are node ids, and its effects (the nodes
it deletes or shifts, whether it moves or changes data).  ``Tree`` and
``Transaction`` get their update methods from ``Updates``; databases record, replay,
rebase and diff by the registry; storage encodes and checks logged updates by it.
Adding an update touches this module only.

Each function validates everything before its first change, so a rejected call
leaves the transient index untouched.  Insert and relocation are
O(B · log n) whatever the number of nodes that move; resolving a child index walks
min(i, -i) siblings (index 0 and -1 are O(1)).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Generic, Iterable, List, Optional, Sequence, Set, Tuple, TypeVar, Union

from ..core.index import TransientIndex
from ..core.reader import Bound, IndexReader
from ..errors import InvalidArgument, InvalidOperation, PositionError
from .queries import Run, TreeQueries, sibling_walk


def _end(parent: Optional[int]) -> Optional[Bound]:
    """The bound a new last child of ``parent`` goes before (None: end of the forest)."""
    return None if parent is None else (parent, False)


def target_for_index(
    ix: IndexReader,
    parent: Optional[int],
    index: int,
    skip: Optional[Run] = None,
    splice: Optional[int] = None,
) -> Optional[Bound]:
    """The bound before which a node goes to end up as child ``index`` of ``parent``.

    ``index`` counts in the resulting child list: 0 first, -1 last, other negatives
    from its end.  Raises ``PositionError`` when the list is too short.
    """
    if type(index) is not int:
        raise InvalidArgument(f"index must be an int, not {type(index).__name__}")
    if parent is not None:
        ix.require(parent)
    if index == -1:
        return _end(parent)  # the common case: append as the last child (whatever is skipped or spliced)
    if index >= 0:
        # Skip `index` children; the new node goes before the next one, or last.
        walk = sibling_walk(ix, parent, True, skip, splice)
        for _ in range(index):
            if next(walk, None) is None:
                raise PositionError(f"index {index} is out of range for the children of {_name(parent)}")
        after = next(walk, None)
        return _end(parent) if after is None else (after, True)
    # Walk back over the -index-1 children that must come after the new node.
    walk = sibling_walk(ix, parent, False, skip, splice)
    found: Optional[int] = None
    for _ in range(-index - 1):
        found = next(walk, None)
        if found is None:
            raise PositionError(f"index {index} is out of range for the children of {_name(parent)}")
    return _end(parent) if found is None else (found, True)


def _name(parent: Optional[int]) -> str:
    return "the top level" if parent is None else f"node {parent}"


def _inside(ix: IndexReader, node: int, first: int, last: int) -> bool:
    """True if ``node`` lies in the subtrees of the sibling run first..last."""
    opening = (node, True)
    return not ix.before(opening, (first, True)) and ix.before(opening, (last, False))


# -- inserts ----------------------------------------------------------------------


def _insert_child(b: TransientIndex, parent: Optional[int], data: Any, index: int = -1) -> int:
    """New node as child ``index`` of ``parent`` (None: top level). Returns its id."""
    if index == -1 and type(index) is int and parent is not None:
        return b.insert_last_child(parent, data)  # the common case, without a target bound
    return b.insert_pair(data, target_for_index(b, parent, index))


def _insert_before(b: TransientIndex, node: int, data: Any) -> int:
    """New node as the sibling just before ``node``."""
    return b.insert_pair(data, (node, True))


def _insert_after(b: TransientIndex, node: int, data: Any) -> int:
    """New node as the sibling just after ``node``."""
    return b.insert_pair(data, b.next_bound((node, False)))


def _insert_root(b: TransientIndex, data: Any) -> int:
    """New node that becomes the parent of the whole current forest."""
    first = b.first_bound()
    last = b.last_bound()
    node = b.insert_pair(data, None)
    if first is not None and last is not None:
        b.relocate(first, last, (node, False), 1)
    return node


def _insert_parent(b: TransientIndex, first: int, data: Any, last: Optional[int] = None) -> int:
    """New node wrapping ``first`` (or the sibling run first..last) at their old place."""
    if last is None:
        last = first
    b.check_run((first, True), (last, False))
    return b.wrap_run(first, last, data)


# -- deletes ----------------------------------------------------------------------


def _delete(b: TransientIndex, node: int) -> None:
    """Remove ``node`` and its whole subtree."""
    b.delete_subtree(node)


def _unwrap(b: TransientIndex, node: int) -> None:
    """Remove ``node`` only; its children take its place."""
    b.delete_pair(node)


# -- moves --------------------------------------------------------------------------


def _move_range(b: TransientIndex, first: int, last: int, parent: Optional[int], index: int = -1) -> None:
    """Move the sibling run first..last to become children ``index``.. of ``parent``."""
    b.check_run((first, True), (last, False))
    if parent is not None:
        b.require(parent)
        if _inside(b, parent, first, last):
            raise InvalidOperation(
                f"cannot move {_describe_run(first, last)} under node {parent}: it lies inside the moved subtree"
            )
    target = target_for_index(b, parent, index, skip=(first, last))
    # The run is checked, and the target (parent's end, or a child of parent outside the run)
    # lies outside it: parent is not inside the run.
    b.relocate_checked((first, True), (last, False), target)


def _describe_run(first: int, last: int) -> str:
    return f"node {first}" if first == last else f"nodes {first}..{last}"


def _move(b: TransientIndex, node: int, parent: Optional[int], index: int = -1) -> None:
    """Move ``node`` with its subtree to become child ``index`` of ``parent``."""
    if index == -1 and type(index) is int and parent is not None and b.move_last_child(node, parent):
        return  # a leaf-local move to the end of the parent's children (the common case)
    _move_range(b, node, node, parent, index)


def _move_before(b: TransientIndex, node: int, target: int) -> None:
    """Move ``node`` with its subtree to just before ``target``."""
    b.require(node)
    b.require(target)
    if target != node and _inside(b, target, node, node):
        raise InvalidOperation(f"cannot move node {node} before node {target}, which lies inside it")
    b.relocate((node, True), (node, False), (target, True))


def _move_after(b: TransientIndex, node: int, target: int) -> None:
    """Move ``node`` with its subtree to just after ``target``."""
    b.require(node)
    b.require(target)
    if target == node:
        return
    if _inside(b, target, node, node):
        raise InvalidOperation(f"cannot move node {node} after node {target}, which lies inside it")
    b.relocate((node, True), (node, False), b.next_bound((target, False)))


def _move_inner(b: TransientIndex, node: int, parent: Optional[int], index: int = -1) -> None:
    """Move ``node`` alone to child ``index`` of ``parent``; its children take its old place.

    ``parent`` may be one of ``node``'s own descendants, since they stay behind.
    """
    b.require(node)
    if parent is not None:
        b.require(parent)
    if parent == node:
        raise InvalidOperation(f"cannot move node {node} under itself")
    # Resolve the target as the child list will be once node's children moved up.
    target = target_for_index(b, parent, index, skip=(node, node), splice=node)
    inner = b.next_bound((node, True))
    if inner is not None and inner[1]:
        last = b.prev_bound((node, False))
        assert last is not None
        b.relocate(inner, last, (node, True), -1)
    b.relocate((node, True), (node, False), target)


def _set_data(b: TransientIndex, node: int, data: Any) -> None:
    """Replace the data of ``node``."""
    b.set_data(node, data)


# -- subtrees: copy, graft, insert from events ---------------------------------------


def subtree_events(ix: IndexReader, node: int) -> List[Tuple[Any, bool]]:
    """``(data, is_open)`` of ``node``'s subtree in document order (closing bounds carry None). O(size)."""
    ix.require(node)
    data = ix.data
    end = (node, False)
    out: List[Tuple[Any, bool]] = []
    for bound in ix.bounds((node, True)):
        out.append((data(bound[0]), True) if bound[1] else (None, False))
        if bound == end:
            break
    return out


def _check_events(events: Any) -> List[Tuple[Any, bool]]:
    """``events`` as a list of ``(data, is_open)`` pairs of exactly one subtree; ``InvalidArgument`` if not."""
    if type(events) not in (list, tuple):
        raise InvalidArgument(f"events must be a list of (data, is_open) pairs, not {type(events).__name__}")
    out: List[Tuple[Any, bool]] = []
    depth = 0
    for i, event in enumerate(events):
        if type(event) not in (list, tuple) or len(event) != 2 or type(event[1]) is not bool:
            raise InvalidArgument(f"event {i} must be a (data, is_open) pair with a bool is_open, not {event!r}")
        if i and not depth:
            raise InvalidArgument(f"event {i} starts a second subtree: the events must hold exactly one")
        depth += 1 if event[1] else -1
        if depth < 0 or (i == 0 and not event[1]):
            raise InvalidArgument(f"event {i} closes a node that was not opened")
        out.append((event[0], event[1]))
    if not out or depth:
        raise InvalidArgument("the events must hold exactly one whole subtree (every opened node closed)")
    return out


def _insert_subtree(b: TransientIndex, parent: Optional[int], events: Any, index: int = -1) -> int:
    """New nodes from ``(data, is_open)`` events as child ``index`` of ``parent``; returns the subtree's root.

    The new ids are handed out in preorder.
    """
    checked = _check_events(events)
    target = target_for_index(b, parent, index)
    b.nodes.check_inserts([data for data, is_open in checked if is_open])  # keys unique: before any insert
    root = b.insert_pair(checked[0][0], target)
    open_nodes = [root]
    for data, is_open in checked[1:]:
        if is_open:
            open_nodes.append(b.insert_pair(data, (open_nodes[-1], False)))
        else:
            open_nodes.pop()
    return root


def _copy(b: TransientIndex, node: int, parent: Optional[int], index: int = -1) -> int:
    """A copy of ``node``'s subtree (new ids, equal data) as child ``index`` of ``parent``."""
    return _insert_subtree(b, parent, subtree_events(b, node), index)


def _source(other: Any, node: int) -> IndexReader:
    """The order index of ``other``, a tree holding ``node``."""
    if not isinstance(other, TreeQueries):
        raise InvalidArgument(f"graft copies from a Tree or Transaction, not {type(other).__name__}")
    ix = other.order_index
    ix.require(node)
    return ix


def _graft(b: TransientIndex, other: Any, node: int, parent: Optional[int], index: int = -1) -> int:
    """A copy of ``node``'s subtree in the tree ``other`` as child ``index`` of ``parent``."""
    return _insert_subtree(b, parent, subtree_events(_source(other, node), node), index)


# -- child order: sort and reorder --------------------------------------------------------


def _reorder_children(b: TransientIndex, parent: Optional[int], order: Any) -> None:
    """Put the children listed in ``order`` in that order, in the places they hold among the children.

    Children not listed keep their places (with every child listed: the new child order).
    """
    if type(order) not in (list, tuple) or any(type(n) is not int for n in order):
        raise InvalidArgument(f"order must be a list of node ids, not {order!r}")
    if parent is not None:
        b.require(parent)
    kids = list(sibling_walk(b, parent))
    place = {kid: i for i, kid in enumerate(kids)}
    for n in order:
        if n not in place:
            raise InvalidOperation(f"node {n} is not a child of {_name(parent)}")
    if len(set(order)) != len(order):
        raise InvalidArgument(f"order names a node twice: {order!r}")
    wanted = list(kids)
    for slot, n in zip(sorted(place[n] for n in order), order):
        wanted[slot] = n
    before = b.next_bound((parent, True)) if parent is not None else b.first_bound()
    for n in wanted:  # invariant: the children placed so far come first, and `before` follows them
        if before != (n, True):
            b.relocate((n, True), (n, False), before)
        before = b.next_bound((n, False))


def sort_key(key: Union[None, str, Callable[[Any], Any]]) -> Callable[[Any], Any]:
    """The sort key on node data for ``sort_children``'s ``key``: None (the data), a field name or a callable."""
    if key is None:
        return lambda data: data
    if isinstance(key, str):
        name = key

        def field_of(data: Any) -> Any:
            if type(data) is not dict or name not in data:
                raise InvalidArgument(f"cannot sort by field {name!r}: a child's data {data!r} has no such field")
            return data[name]

        return field_of
    if callable(key):
        return key
    raise InvalidArgument(f"key must be None, a field name or a callable, not {type(key).__name__}")


def sorted_children(ix: IndexReader, parent: Optional[int], key: Any = None, reverse: bool = False) -> List[int]:
    """The children of ``parent`` sorted stably by ``key`` of their data. O(k log k) for k children."""
    if type(reverse) is not bool:
        raise InvalidArgument(f"reverse must be a bool, not {reverse!r}")
    of = sort_key(key)
    if parent is not None:
        ix.require(parent)
    data = ix.data
    try:
        return sorted(sibling_walk(ix, parent), key=lambda n: of(data(n)), reverse=reverse)
    except TypeError as exc:
        raise InvalidArgument(f"cannot sort the children of {_name(parent)}: {exc}") from None


def _sort_children(b: TransientIndex, parent: Optional[int], key: Any = None, reverse: bool = False) -> None:
    """Sort the children of ``parent`` stably by ``key`` of their data."""
    _reorder_children(b, parent, sorted_children(b, parent, key, reverse))


# -- effects: what an update touches, for conflict checks and targeted diffs -----------


def sibling_run(ix: IndexReader, first: int, last: int) -> List[int]:
    """The siblings first..last; ``InvalidOperation`` if they are not a run. O(run length · log B)."""
    out = [first]
    node = first
    while node != last:
        bound = ix.next_bound((node, False))
        if bound is None or not bound[1]:
            raise InvalidOperation(f"nodes {first}..{last} are not a run of siblings")
        node = bound[0]
        out.append(node)
    return out


def _children(ix: IndexReader, node: int) -> List[int]:
    return list(sibling_walk(ix, node))


def subtree_nodes(ix: IndexReader, node: int) -> List[int]:
    """``node`` and its descendants, in preorder. O(size)."""
    end = (node, False)
    found = []
    for bound in ix.bounds((node, True)):
        if bound == end:
            break
        if bound[1]:
            found.append(bound[0])
    return found


def _subtree(ix: IndexReader, node: int) -> Set[int]:
    """``node`` and its descendants. O(size)."""
    return set(subtree_nodes(ix, node))


def _nothing(ix: IndexReader, args: Tuple[Any, ...]) -> List[int]:
    return []


def _no_deletes(ix: IndexReader, args: Tuple[Any, ...]) -> Set[int]:
    return set()


# -- the registry --------------------------------------------------------------------

Effect = Callable[[IndexReader, Tuple[Any, ...]], List[int]]
Deletes = Callable[[IndexReader, Tuple[Any, ...]], Set[int]]


@dataclass(frozen=True)
class Update:
    """One logical update: its name, how to run it, and what it affects.

    * ``run(transient, *args)`` performs it; it returns the new node id for inserts.
    * ``nodes``: positions in ``args`` of node ids (None allowed where a parent may be the top level).
    * ``inserts``: it creates a node and returns its id.
    * ``shifts(ix, args)``: before it runs, the nodes whose place it may change.
    * ``deletes(ix, args)``: before it runs, the node ids it is about to delete.
    * ``moves``: it moves ``args[0]`` (its old and new parent's child order change).
    * ``changes_data``: it replaces ``args[0]``'s data.
    * ``data``: the position in ``args`` of the node data it writes (None: it writes none).
    * ``subtree``: it creates a whole subtree and returns its root; its logged result
      lists every id it created (``log_result``, ``created``).
    * ``node_lists``: positions in ``args`` of lists of node ids (mapped like ``nodes``).
    * ``logged(ix, args)``: for an update a database cannot log as called (its arguments
      hold a callable or another tree, or its replay must not read later state): before
      it runs, the name and storable arguments of the update that does the same.  A
      database runs and logs that one; logs never hold an update with ``logged`` set.
    """

    name: str
    run: Callable[..., Any]
    nodes: Tuple[int, ...]
    inserts: bool = False
    shifts: Effect = field(default=_nothing)
    deletes: Deletes = field(default=_no_deletes)
    moves: bool = False
    changes_data: bool = False
    data: Optional[int] = None
    subtree: bool = False
    node_lists: Tuple[int, ...] = ()
    logged: Optional[Callable[[IndexReader, Tuple[Any, ...]], Tuple[str, Tuple[Any, ...]]]] = None

    def created(self, result: Any) -> List[int]:
        """The node ids a logged ``result`` of this update says it created, in the order it made them. O(k)."""
        if not self.inserts:
            return []
        return list(result) if self.subtree else [result]

    def log_result(self, ix: IndexReader, result: Any) -> Any:
        """What a log records for ``result``, read from ``ix`` just after the update ran.

        A subtree insert returns its root but logs every id it created, in preorder, so
        that a rebase can map each of them: O(size).  Others: ``result`` itself, O(1).
        """
        return subtree_nodes(ix, result) if self.subtree else result


def _subtree_of_first(ix: IndexReader, args: Tuple[Any, ...]) -> Set[int]:
    return _subtree(ix, args[0]) if args[0] in ix else set()


def _first_only(ix: IndexReader, args: Tuple[Any, ...]) -> Set[int]:
    return {args[0]} if args[0] in ix else set()


UPDATES: Dict[str, Update] = {
    u.name: u
    for u in (
        Update(
            "insert_root", _insert_root, (), inserts=True, data=0, shifts=lambda ix, a: list(sibling_walk(ix, None))
        ),
        Update("insert_child", _insert_child, (0,), inserts=True, data=1),
        Update("insert_before", _insert_before, (0,), inserts=True, data=1),
        Update("insert_after", _insert_after, (0,), inserts=True, data=1),
        Update(
            "insert_parent",
            _insert_parent,
            (0, 2),
            inserts=True,
            data=1,
            shifts=lambda ix, a: sibling_run(ix, a[0], a[2] if a[2] is not None else a[0]),
        ),
        Update("delete", _delete, (0,), shifts=lambda ix, a: list(_subtree_of_first(ix, a)), deletes=_subtree_of_first),
        Update(
            "unwrap",
            _unwrap,
            (0,),
            shifts=lambda ix, a: [*_first_only(ix, a), *_children(ix, a[0])],
            deletes=_first_only,
        ),
        Update("move", _move, (0, 1), shifts=lambda ix, a: [a[0]], moves=True),
        Update("move_before", _move_before, (0, 1), shifts=lambda ix, a: [a[0]], moves=True),
        Update("move_after", _move_after, (0, 1), shifts=lambda ix, a: [a[0]], moves=True),
        Update("move_range", _move_range, (0, 1, 2), shifts=lambda ix, a: sibling_run(ix, a[0], a[1]), moves=True),
        Update("move_inner", _move_inner, (0, 1), shifts=lambda ix, a: [a[0], *_children(ix, a[0])], moves=True),
        Update("set_data", _set_data, (0,), changes_data=True, data=1),
        Update("insert_subtree", _insert_subtree, (0,), inserts=True, data=1, subtree=True),
        Update(
            "copy",
            _copy,
            (0, 1),
            inserts=True,
            subtree=True,
            logged=lambda ix, a: ("insert_subtree", (a[1], subtree_events(ix, a[0]), *a[2:])),
        ),
        Update(
            "graft",
            _graft,
            (2,),
            inserts=True,
            subtree=True,
            logged=lambda ix, a: ("insert_subtree", (a[2], subtree_events(_source(a[0], a[1]), a[1]), *a[3:])),
        ),
        Update(
            "reorder_children",
            _reorder_children,
            (0,),
            node_lists=(1,),
            shifts=lambda ix, a: [n for n in a[1] if n in ix],
        ),
        Update(
            "sort_children",
            _sort_children,
            (0,),
            logged=lambda ix, a: ("reorder_children", (a[0], sorted_children(ix, *a))),
        ),
    )
}

Op = Tuple[str, Tuple[Any, ...], Any]  # a logged update: (name, arguments, result)

def _listed(values: Any, what: str) -> List[Any]:
    """``values`` as a list (a storable argument); ``InvalidArgument`` if it is not iterable. O(k)."""
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
        raise InvalidArgument(f"{what} must be an iterable, not {type(values).__name__}")
    return list(values)


NodeOut = TypeVar("NodeOut")  # what an insert returns: (Tree, id) or id
Out = TypeVar("Out")  # what another update returns: Tree or None

_U = UPDATES


class Updates(Generic[NodeOut, Out]):
    """The update methods of ``Tree`` (persistent: they return new trees) and ``Transaction``.

    A ``Tree`` returns ``(new tree, new node id)`` from inserts and the new tree from
    other updates; a ``Transaction`` changes itself and returns the new node id from
    inserts and None otherwise.  Subclasses define ``_insert`` and ``_change``.
    Costs are the same for both (a transaction's copies are amortised over the batch).
    """

    __slots__ = ()

    def _insert(self, update: Update, *args: Any) -> NodeOut:
        raise NotImplementedError

    def _change(self, update: Update, *args: Any) -> Out:
        raise NotImplementedError

    # -- inserts ----------------------------------------------------------------

    def insert_root(self, data: Any = None) -> NodeOut:
        """A new node that becomes the parent of the whole current forest. O(log n + k) for k top-level nodes."""
        return self._insert(_U["insert_root"], data)

    def insert_child(self, parent: Optional[int], data: Any = None, index: int = -1) -> NodeOut:
        """A new node as child ``index`` of ``parent`` (None: top level). O(log n + min(i, -i)).

        ``index`` is the position among the children after the insert: 0 first,
        -1 last, other negatives from the end.
        """
        return self._insert(_U["insert_child"], parent, data, index)

    def insert_before(self, node: int, data: Any = None) -> NodeOut:
        """A new node as the sibling just before ``node``. O(log n)."""
        return self._insert(_U["insert_before"], node, data)

    def insert_after(self, node: int, data: Any = None) -> NodeOut:
        """A new node as the sibling just after ``node``. O(log n)."""
        return self._insert(_U["insert_after"], node, data)

    def insert_parent(self, first: int, data: Any = None, last: Optional[int] = None) -> NodeOut:
        """A new node wrapping ``first`` (or the sibling run first..last) in place. O(log n + k) for k nodes wrapped."""
        return self._insert(_U["insert_parent"], first, data, last)

    # -- deletes ----------------------------------------------------------------

    def delete(self, node: int) -> Out:
        """Remove ``node`` and its subtree. O(log n) to cut, O(size) to free the rows."""
        return self._change(_U["delete"], node)

    def unwrap(self, node: int) -> Out:
        """Remove ``node`` alone: its children take its place. O(log n + k) for k children."""
        return self._change(_U["unwrap"], node)

    # -- moves ------------------------------------------------------------------

    def move(self, node: int, parent: Optional[int], index: int = -1) -> Out:
        """Move ``node`` with its subtree to child ``index`` of ``parent``. O(log n)."""
        return self._change(_U["move"], node, parent, index)

    def move_before(self, node: int, target: int) -> Out:
        """Move ``node`` with its subtree to just before ``target``. O(log n)."""
        return self._change(_U["move_before"], node, target)

    def move_after(self, node: int, target: int) -> Out:
        """Move ``node`` with its subtree to just after ``target``. O(log n)."""
        return self._change(_U["move_after"], node, target)

    def move_range(self, first: int, last: int, parent: Optional[int], index: int = -1) -> Out:
        """Move the sibling run first..last to children ``index``.. of ``parent``. O(log n + k) for k siblings."""
        return self._change(_U["move_range"], first, last, parent, index)

    def move_inner(self, node: int, parent: Optional[int], index: int = -1) -> Out:
        """Move ``node`` alone to child ``index`` of ``parent``; its children stay. O(log n + k) for k children."""
        return self._change(_U["move_inner"], node, parent, index)

    def set_data(self, node: int, data: Any) -> Out:
        """Replace ``node``'s data. O(1), O(log n) with indexed fields."""
        return self._change(_U["set_data"], node, data)

    # -- subtrees and child order ---------------------------------------------------

    def insert_subtree(
        self, parent: Optional[int], events: Iterable[Tuple[Any, bool]], index: int = -1
    ) -> NodeOut:
        """New nodes from ``(data, is_open)`` events of one subtree (as ``data_events`` gives), as child ``index``.

        Returns the new subtree's root; ids are handed out in preorder.  The events must
        hold exactly one whole subtree (``InvalidArgument`` otherwise, nothing inserted).
        O(k log n) for k events: one insert per node (a bulk splice of a built subtree
        is not implemented).
        """
        return self._insert(_U["insert_subtree"], parent, _listed(events, "events"), index)

    def copy(self, node: int, parent: Optional[int], index: int = -1) -> NodeOut:
        """A copy of ``node``'s subtree (new ids, equal data) as child ``index`` of ``parent``; returns its root.

        ``parent`` may lie inside ``node``'s subtree: what is copied is the subtree
        before the copy.  O(size · log n): the subtree is read (O(size)) and its nodes
        inserted one by one, each O(log n) (a bulk splice is not implemented).  A
        database logs it as ``insert_subtree`` of the copied events.
        """
        return self._insert(_U["copy"], node, parent, index)

    def graft(self, other: TreeQueries, node: int, parent: Optional[int], index: int = -1) -> NodeOut:
        """A copy of ``node``'s subtree in the tree ``other`` (a ``Tree`` or ``Transaction``) as child ``index``.

        Returns the new root; ids are this tree's, data equal to ``other``'s.
        O(size · log n), as ``copy``.  A database logs it as ``insert_subtree`` of the
        copied events (the other tree is not stored).
        """
        return self._insert(_U["graft"], other, node, parent, index)

    def sort_children(
        self, node: Optional[int], key: Union[None, str, Callable[[Any], Any]] = None, reverse: bool = False
    ) -> Out:
        """Sort ``node``'s children (None: the top level) stably by ``key`` of their data.

        ``key``: None (the data itself), a field name (``data[field]`` of dict data;
        ``InvalidArgument`` if a child lacks it) or a callable on the data.  Equal keys
        keep their order, also with ``reverse``.  Data that cannot be compared raises
        ``InvalidArgument``; nothing changes.  O(k log k) to sort k children plus
        O(log n) per child out of place.  A database logs it as ``reorder_children``
        with the resulting order (a callable is not stored).
        """
        return self._change(_U["sort_children"], node, key, reverse)

    def reorder_children(self, node: Optional[int], order: Sequence[int]) -> Out:
        """Put the children of ``node`` listed in ``order`` in that order, in the places they hold.

        With every child listed, ``order`` is the new child order; children left out keep
        their places (a rebased reorder leaves the children a concurrent commit added
        where they are).  A listed node that is not a child raises ``InvalidOperation``.
        O(k) for k children plus O(log n) per child out of place.
        """
        return self._change(_U["reorder_children"], node, _listed(order, "order"))
