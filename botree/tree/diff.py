"""What changed between two trees: inserted, deleted, moved and re-valued nodes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Set, Tuple

from .queries import TreeQueries

Place = Tuple[Optional[int], int]  # (parent, index among its children)


@dataclass(frozen=True)
class Changes:
    """The difference from an old tree to a new one.

    * ``inserted`` / ``deleted``: nodes only in the new / only in the old tree;
    * ``moved``: node -> ((old parent, old index), (new parent, new index)) for nodes
      in both whose parent changed, or whose order among the siblings they kept
      changed (the fewest such nodes: those outside a longest run of siblings that
      kept their relative order);
    * ``data_changed``: nodes in both whose data differs.

    Lists are in increasing node id order.
    """

    inserted: List[int] = field(default_factory=list)
    deleted: List[int] = field(default_factory=list)
    moved: Dict[int, Tuple[Place, Place]] = field(default_factory=dict)
    data_changed: List[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.inserted or self.deleted or self.moved or self.data_changed)


def reordered(old_order: List[int], new_order: List[int]) -> Set[int]:
    """Nodes of ``old_order`` outside one longest subsequence kept in ``new_order``.

    Both lists hold the same nodes. Deterministic: O(k log k) patience sorting.
    """
    rank = {node: i for i, node in enumerate(old_order)}
    seq = [rank[node] for node in new_order]
    tails: List[int] = []  # tails[j]: index in seq of the smallest tail of a run of length j+1
    back = [-1] * len(seq)
    for i, value in enumerate(seq):
        j = _search(seq, tails, value)
        if j > 0:
            back[i] = tails[j - 1]
        if j == len(tails):
            tails.append(i)
        else:
            tails[j] = i
    keep: Set[int] = set()
    i = tails[-1] if tails else -1
    while i >= 0:
        keep.add(new_order[i])
        i = back[i]
    return {node for node in new_order if node not in keep}


def _search(seq: List[int], tails: List[int], value: int) -> int:
    """First j with seq[tails[j]] >= value (binary search)."""
    lo, hi = 0, len(tails)
    while lo < hi:
        mid = (lo + hi) // 2
        if seq[tails[mid]] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


def places(tree: TreeQueries) -> Dict[int, Place]:
    """(parent, index) of every node, by one scan. O(n)."""
    return {node: (parent, index) for node, parent, index in tree.places()}


def full_diff(old: TreeQueries, new: TreeQueries) -> Changes:
    """Compare every node of two trees. O(n log n): the reference for ``targeted_diff``."""
    before = places(old)
    after = places(new)
    inserted = sorted(n for n in after if n not in before)
    deleted = sorted(n for n in before if n not in after)
    common = [n for n in before if n in after]
    moved_nodes = {n for n in common if before[n][0] != after[n][0]}
    moved_nodes |= _reorders(old, new, {before[n][0] for n in common if n not in moved_nodes})
    moved = {n: (before[n], after[n]) for n in sorted(moved_nodes)}
    changed = sorted(n for n in common if _differs(old.data(n), new.data(n)))
    return Changes(inserted, deleted, moved, changed)


def _differs(a: object, b: object) -> bool:
    return a is not b and a != b


def _reorders(old: TreeQueries, new: TreeQueries, parents: Iterable[Optional[int]]) -> Set[int]:
    """Nodes that changed order among the siblings they kept, under each parent."""
    out: Set[int] = set()
    for parent in parents:
        if parent is not None and (parent not in old or parent not in new):
            continue
        old_kids = list(old.children(parent))
        new_kids = list(new.children(parent))
        kept_new = set(new_kids)
        kept_old = set(old_kids)
        old_order = [n for n in old_kids if n in kept_new]
        new_order = [n for n in new_kids if n in kept_old]
        out |= reordered(old_order, new_order)
    return out


def targeted_diff(
    old: TreeQueries,
    new: TreeQueries,
    touched: Iterable[int],
    moved: Iterable[int],
    parents: Iterable[Optional[int]],
) -> Changes:
    """The changes between two versions, looking only where updates happened.

    ``touched``: every node an update inserted, deleted, moved or re-valued, or whose
    parent changed (e.g. the children of an unwrapped node).  ``moved``: those whose
    place may have changed; one present in both versions under the same parent (a
    moved node, or an id deleted and reused) has its parent's child order compared,
    as do ``parents`` (the old and new parents of moves).  Cost O(k · log n) for k
    touched nodes, plus the children of those parents; it never scans the whole tree.
    """
    placed = set(moved)
    parents = set(parents)
    inserted: List[int] = []
    deleted: List[int] = []
    moved_nodes: Set[int] = set()
    changed: List[int] = []
    for n in sorted(set(touched)):
        was = n in old
        now = n in new
        if now and not was:
            inserted.append(n)
        elif was and not now:
            deleted.append(n)
        elif was and now:
            if n in placed:
                before, after = old.parent(n), new.parent(n)
                if before != after:
                    moved_nodes.add(n)
                else:
                    parents.add(before)
            if _differs(old.data(n), new.data(n)):
                changed.append(n)
    moved_nodes |= _reorders(old, new, parents)
    moved = {n: (_place(old, n), _place(new, n)) for n in sorted(moved_nodes)}
    return Changes(inserted, deleted, moved, changed)


def _place(tree: TreeQueries, node: int) -> Place:
    """(parent, index) of one node: the index counts earlier siblings."""
    parent = tree.parent(node)
    index = 0
    for sibling in tree.children(parent):
        if sibling == node:
            break
        index += 1
    return parent, index
