"""Node-level structural updates, built from the order-index primitives.

Each function takes an ``IndexBatch`` and validates everything before its first
change, so a rejected call leaves the batch untouched.  Insert and relocation are
O(B · log n) whatever the number of nodes that move; resolving a child index walks
min(i, -i) siblings (index 0 and -1 are O(1)).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, Optional, Tuple

from .batch import IndexBatch
from .errors import InvalidArgument, InvalidOperation, PositionError
from .reader import Bound, IndexReader

Run = Tuple[int, int]


def _end(parent: Optional[int]) -> Optional[Bound]:
    """The bound a new last child of ``parent`` goes before (None: end of the forest)."""
    return None if parent is None else (parent, False)


def _forward(ix: IndexReader, parent: Optional[int], skip: Optional[Run], splice: Optional[int]) -> Iterator[int]:
    """Children of ``parent`` as they will be: the run ``skip`` left out, ``splice`` replaced by its children."""
    bound = ix.first_bound() if parent is None else ix.next_bound((parent, True))
    while bound is not None and bound[1]:
        child = bound[0]
        if child == splice:  # checked first: move_inner skips the node but keeps its children
            inner = ix.next_bound((child, True))
            while inner is not None and inner[1]:
                yield inner[0]
                inner = ix.next_bound((inner[0], False))
        elif skip is not None and child == skip[0]:
            bound = ix.next_bound((skip[1], False))
            continue
        else:
            yield child
        bound = ix.next_bound((child, False))


def _backward(ix: IndexReader, parent: Optional[int], skip: Optional[Run], splice: Optional[int]) -> Iterator[int]:
    """``_forward`` in reverse order."""
    bound = ix.last_bound() if parent is None else ix.prev_bound((parent, False))
    while bound is not None and not bound[1]:
        child = bound[0]
        if child == splice:
            inner = ix.prev_bound((child, False))
            while inner is not None and not inner[1]:
                yield inner[0]
                inner = ix.prev_bound((inner[0], True))
        elif skip is not None and child == skip[1]:
            bound = ix.prev_bound((skip[0], True))
            continue
        else:
            yield child
        bound = ix.prev_bound((child, True))


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
        ix._row(parent)
    if index == -1 and skip is None and splice is None:
        return _end(parent)  # the common case: append as the last child
    if index >= 0:
        # Skip `index` children; the new node goes before the next one, or last.
        walk = _forward(ix, parent, skip, splice)
        for _ in range(index):
            if next(walk, None) is None:
                raise PositionError(f"index {index} is out of range for the children of {_name(parent)}")
        after = next(walk, None)
        return _end(parent) if after is None else (after, True)
    # Walk back over the -index-1 children that must come after the new node.
    walk = _backward(ix, parent, skip, splice)
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


def insert_child(b: IndexBatch, parent: Optional[int], data: Any, index: int = -1) -> int:
    """New node as child ``index`` of ``parent`` (None: top level). Returns its id."""
    return b.insert_pair(data, target_for_index(b, parent, index))


def insert_before(b: IndexBatch, node: int, data: Any) -> int:
    """New node as the sibling just before ``node``."""
    return b.insert_pair(data, (node, True))


def insert_after(b: IndexBatch, node: int, data: Any) -> int:
    """New node as the sibling just after ``node``."""
    return b.insert_pair(data, b.next_bound((node, False)))


def insert_root(b: IndexBatch, data: Any) -> int:
    """New node that becomes the parent of the whole current forest."""
    first = b.first_bound()
    last = b.last_bound()
    node = b.insert_pair(data, None)
    if first is not None and last is not None:
        b.relocate(first, last, (node, False), 1)
    return node


def insert_parent(b: IndexBatch, first: int, data: Any, last: Optional[int] = None) -> int:
    """New node wrapping ``first`` (or the sibling run first..last) at their old place."""
    if last is None:
        last = first
    b.check_run((first, True), (last, False))
    node = b.insert_pair(data, (first, True))
    b.relocate((first, True), (last, False), (node, False), 1)
    return node


# -- deletes ----------------------------------------------------------------------


def delete(b: IndexBatch, node: int) -> None:
    """Remove ``node`` and its whole subtree."""
    b.delete_range((node, True), (node, False))


def unwrap(b: IndexBatch, node: int) -> None:
    """Remove ``node`` only; its children take its place."""
    b.delete_pair(node)


# -- moves --------------------------------------------------------------------------


def move_range(b: IndexBatch, first: int, last: int, parent: Optional[int], index: int = -1) -> None:
    """Move the sibling run first..last to become children ``index``.. of ``parent``."""
    b.check_run((first, True), (last, False))
    if parent is not None:
        b._row(parent)
        if _inside(b, parent, first, last):
            raise InvalidOperation(
                f"cannot move {_run(first, last)} under node {parent}: it lies inside the moved subtree"
            )
    target = target_for_index(b, parent, index, skip=(first, last))
    b.relocate((first, True), (last, False), target)


def _run(first: int, last: int) -> str:
    return f"node {first}" if first == last else f"nodes {first}..{last}"


def move(b: IndexBatch, node: int, parent: Optional[int], index: int = -1) -> None:
    """Move ``node`` with its subtree to become child ``index`` of ``parent``."""
    move_range(b, node, node, parent, index)


def move_before(b: IndexBatch, node: int, target: int) -> None:
    """Move ``node`` with its subtree to just before ``target``."""
    b._row(node)
    b._row(target)
    if target != node and _inside(b, target, node, node):
        raise InvalidOperation(f"cannot move node {node} before node {target}, which lies inside it")
    b.relocate((node, True), (node, False), (target, True))


def move_after(b: IndexBatch, node: int, target: int) -> None:
    """Move ``node`` with its subtree to just after ``target``."""
    b._row(node)
    b._row(target)
    if target == node:
        return
    if _inside(b, target, node, node):
        raise InvalidOperation(f"cannot move node {node} after node {target}, which lies inside it")
    b.relocate((node, True), (node, False), b.next_bound((target, False)))


def move_inner(b: IndexBatch, node: int, parent: Optional[int], index: int = -1) -> None:
    """Move ``node`` alone to child ``index`` of ``parent``; its children take its old place.

    ``parent`` may be one of ``node``'s own descendants, since they stay behind.
    """
    b._row(node)
    if parent is not None:
        b._row(parent)
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


def set_data(b: IndexBatch, node: int, data: Any) -> None:
    """Replace the data of ``node``."""
    b.set_data(node, data)


# Every logical update, by name: what transactions record and databases replay.
UPDATES: Dict[str, Callable[..., Any]] = {
    "insert_root": insert_root,
    "insert_child": insert_child,
    "insert_before": insert_before,
    "insert_after": insert_after,
    "insert_parent": insert_parent,
    "delete": delete,
    "unwrap": unwrap,
    "move": move,
    "move_before": move_before,
    "move_after": move_after,
    "move_range": move_range,
    "move_inner": move_inner,
    "set_data": set_data,
}

# Positions of the node-id arguments of each update (after the batch argument).
NODE_ARGS = {
    "insert_root": (),
    "insert_child": (0,),
    "insert_before": (0,),
    "insert_after": (0,),
    "insert_parent": (0, 2),
    "delete": (0,),
    "unwrap": (0,),
    "move": (0, 1),
    "move_before": (0, 1),
    "move_after": (0, 1),
    "move_range": (0, 1, 2),
    "move_inner": (0, 1),
    "set_data": (0,),
}
