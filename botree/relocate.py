"""Relocation of a bound range by split and join, at a cost independent of its size.

``cut(ed, bound)`` splits every block on the path from ``bound``'s leaf up to (not
including) the root, so that ``bound`` starts a block at every level: the order
index is now a sequence of root children, and any range between two cuts is a run
of whole root children.  Moving the range is then a splice of the root's child
list, and shifting its levels by d adds d to the delta of those top blocks only.
``Editor._settle`` afterwards joins the seams: it merges or refills the underfull
blocks the cuts left along each path and splits the root if it overflowed.

Three cuts of O(B) work per level, one root splice of O(B), and seam repair of
O(B) per block along the cut paths: O(B · h) in all, whatever the range holds.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING, Optional

from .reader import Bound

if TYPE_CHECKING:
    from .editor import Editor


def cut(ed: "Editor", bound: Optional[Bound]) -> None:
    """Make ``bound`` (None: the end) the first item of a block at every level below the root."""
    if bound is None:
        return
    bid, pos = ed._locate(bound)
    blocks = ed._blocks
    level = 0
    root = ed._root
    while bid != root:
        if pos > 0:
            bid = ed._split_off(bid, pos, level)
        parent, pkey, _ = ed._link(bid)
        pos = bisect_left(blocks[parent].keys, pkey)
        bid = parent
        level += 1


def top_index(ed: "Editor", bound: Optional[Bound]) -> int:
    """Index among the root's children of the child holding ``bound`` (None: the end)."""
    blocks = ed._blocks
    root = ed._root
    if bound is None:
        return len(blocks[root].items)
    bid, _ = ed._locate(bound)
    parent, pkey, _ = ed._link(bid)
    while parent != root:
        parent, pkey, _ = ed._link(parent)
    return bisect_left(blocks[root].keys, pkey)


def splice(ed: "Editor", first: Bound, after: Optional[Bound], target: Optional[Bound], d: int) -> None:
    """Move the bounds from ``first`` up to (excluding) ``after`` before ``target``, shifting levels by d.

    The caller has validated the range (balanced, target outside it) and computed d.
    """
    if ed._height == 0:
        ed._grow()
    cut(ed, first)
    cut(ed, after)
    cut(ed, target)
    lo = top_index(ed, first)
    hi = top_index(ed, after)
    at = top_index(ed, target)
    root_id = ed._root
    root = ed._w(root_id)
    level = ed._height
    if at != lo and at != hi:
        items = root.items[lo:hi]
        aux = root.aux[lo:hi]
        counts = root.counts[lo:hi]  # type: ignore[index]
        del root.items[lo:hi], root.aux[lo:hi], root.keys[lo:hi], root.counts[lo:hi]  # type: ignore[index]
        if at > hi:
            at -= hi - lo
        ed._insert_items(root_id, at, items, aux, counts, level)
        lo, hi = at, at + len(items)
    if d:
        root = ed._w(root_id)
        for j in range(lo, hi):
            ed._shift(root.items[j], d)
            root.aux[j] += d
    ed._mark(root_id, level)
    ed._settle()
