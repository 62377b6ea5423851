"""A persistent ordered set of mutually comparable values: a copy-on-write B+-tree.

The range half of the field index (``attrindex``): for each indexed field and each
*family* of mutually comparable values (numbers, str, bytes) one set of the distinct
values present, so a range query walks only the values inside the range.

Leaves hold sorted values; an inner node holds its children and ``len(children) - 1``
separators (child i holds values v with ``seps[i-1] <= v < seps[i]``).  Every node
carries the token of the batch that may change it in place (as ``core.blocks.Block``
does): a ``TransientOrderedSet`` copies a node the first time it writes it, and
``persistent()`` retires the token, so a frozen set never changes again.

Costs, n distinct values and fan-out F (default 32): insert and remove O(F log_F n)
(one path copied at most), ``range`` O(F log_F n + k) for k values yielded.
Everything is iterative.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any, Iterator, List, Optional, Tuple

FANOUT = 32  # a node splits above FANOUT items and merges below FANOUT // 4


class OrderedNode:
    """One node: ``values`` (leaf) or ``seps`` + ``kids`` (inner), and its owner token."""

    __slots__ = ("values", "kids", "owner")

    def __init__(self, values: List[Any], kids: Optional[List["OrderedNode"]], owner: object) -> None:
        self.values = values  # leaf: the sorted values; inner: the separators
        self.kids = kids  # None for a leaf
        self.owner = owner

    def copy(self, owner: object) -> "OrderedNode":
        """A copy owned by ``owner``. O(F)."""
        return OrderedNode(self.values[:], None if self.kids is None else self.kids[:], owner)

    def size(self) -> int:
        """Number of items (values or children). O(1)."""
        return len(self.values) if self.kids is None else len(self.kids)


EMPTY = OrderedNode([], None, None)


def range_values(
    root: OrderedNode,
    low: Any = None,
    high: Any = None,
    include_low: bool = True,
    include_high: bool = False,
) -> Iterator[Any]:
    """Values v of the set rooted at ``root`` with low <(=) v <(=) high, ascending.

    ``None`` for ``low`` or ``high`` leaves that side open.  O(F log_F n + k).
    A stack of (inner node, next child) replaces sibling links, which a
    path-copied tree cannot keep.
    """
    stack: List[Tuple[OrderedNode, int]] = []
    node = root
    while node.kids is not None:
        i = 0 if low is None else bisect_right(node.values, low)
        stack.append((node, i + 1))
        node = node.kids[i]
    values = node.values
    if low is None:
        pos = 0
    else:
        pos = bisect_left(values, low) if include_low else bisect_right(values, low)
    while True:
        for j in range(pos, len(values)):
            v = values[j]
            if high is not None and (v > high or (v == high and not include_high)):
                return
            yield v
        # the next leaf: climb to the first inner node with a child left, then go down its left edge
        while stack and stack[-1][1] >= len(stack[-1][0].kids):  # type: ignore[arg-type]
            stack.pop()
        if not stack:
            return
        parent, i = stack.pop()
        stack.append((parent, i + 1))
        node = parent.kids[i]  # type: ignore[index]
        while node.kids is not None:
            stack.append((node, 1))
            node = node.kids[0]
        values = node.values
        pos = 0


def contains(root: OrderedNode, value: Any) -> bool:
    """True if ``value`` is in the set. O(log_F n · log F)."""
    node = root
    while node.kids is not None:
        node = node.kids[bisect_right(node.values, value)]
    i = bisect_left(node.values, value)
    return i < len(node.values) and node.values[i] == value


class TransientOrderedSet:
    """The batch form of an ordered set: changed in place, frozen by ``persistent()``."""

    __slots__ = ("root", "_token")

    def __init__(self, root: OrderedNode = EMPTY) -> None:
        self.root = root
        self._token = object()

    def _own(self, node: OrderedNode) -> OrderedNode:
        return node if node.owner is self._token else node.copy(self._token)

    def _path(self, value: Any) -> Tuple[List[OrderedNode], List[int]]:
        """The owned path from the root to the leaf for ``value`` (copied as needed), and child indexes."""
        node = self.root = self._own(self.root)
        path = [node]
        idxs: List[int] = []
        while node.kids is not None:
            i = bisect_right(node.values, value)
            kid = node.kids[i]
            if kid.owner is not self._token:
                kid = node.kids[i] = kid.copy(self._token)
            idxs.append(i)
            path.append(kid)
            node = kid
        return path, idxs

    def add(self, value: Any) -> None:
        """Insert ``value`` (no effect if present). O(F log_F n)."""
        if contains(self.root, value):
            return
        path, idxs = self._path(value)
        leaf = path[-1]
        leaf.values.insert(bisect_left(leaf.values, value), value)
        # split bottom-up while a node overflows
        level = len(path) - 1
        while path[level].size() > FANOUT:
            node = path[level]
            right, sep = _split(node, self._token)
            if level == 0:
                self.root = OrderedNode([sep], [node, right], self._token)
                return
            parent = path[level - 1]
            i = idxs[level - 1]
            parent.values.insert(i, sep)
            assert parent.kids is not None
            parent.kids.insert(i + 1, right)
            level -= 1

    def remove(self, value: Any) -> None:
        """Delete ``value`` (no effect if absent). O(F log_F n)."""
        if not contains(self.root, value):
            return
        path, idxs = self._path(value)
        leaf = path[-1]
        del leaf.values[bisect_left(leaf.values, value)]
        level = len(path) - 1
        while level > 0 and path[level].size() < FANOUT // 4:
            parent = path[level - 1]
            _merge(parent, idxs[level - 1], self._token)
            level -= 1
        root = self.root
        while root.kids is not None and len(root.kids) == 1:
            root = root.kids[0]
        self.root = root

    def persistent(self) -> OrderedNode:
        """The frozen root; the batch may go on, copying again before it writes. O(1)."""
        self._token = object()
        return self.root


def _split(node: OrderedNode, token: object) -> Tuple[OrderedNode, Any]:
    """Move the upper half of ``node`` into a new node; returns (it, separator)."""
    half = node.size() // 2
    if node.kids is None:
        right = OrderedNode(node.values[half:], None, token)
        del node.values[half:]
        return right, right.values[0]
    sep = node.values[half - 1]
    right = OrderedNode(node.values[half:], node.kids[half:], token)
    del node.values[half - 1 :]
    del node.kids[half:]
    return right, sep


def _merge(parent: OrderedNode, i: int, token: object) -> None:
    """Join child ``i`` of ``parent`` with a neighbour (splitting again if too large)."""
    kids = parent.kids
    assert kids is not None
    if len(kids) < 2:
        return
    j = i - 1 if i > 0 else i  # merge kids[j] and kids[j + 1]
    left = kids[j] = kids[j] if kids[j].owner is token else kids[j].copy(token)
    right = kids[j + 1]
    if left.kids is None:
        left.values.extend(right.values)
    else:
        left.values.append(parent.values[j])
        left.values.extend(right.values)
        left.kids.extend(right.kids)  # type: ignore[arg-type]
    del parent.values[j]
    del kids[j + 1]
    if left.size() > FANOUT:
        new, sep = _split(left, token)
        parent.values.insert(j, sep)
        kids.insert(j + 1, new)


def build(values: List[Any]) -> OrderedNode:
    """A frozen set of ``values`` (sorted, distinct), built bottom-up. O(n)."""
    if not values:
        return EMPTY
    fill = FANOUT * 3 // 4
    level = [OrderedNode(values[i : i + fill], None, None) for i in range(0, len(values), fill)]
    lows = [node.values[0] for node in level]
    while len(level) > 1:
        parents = []
        plows = []
        for i in range(0, len(level), fill):
            kids = level[i : i + fill]
            parents.append(OrderedNode(lows[i + 1 : i + len(kids)], kids, None))
            plows.append(lows[i])
        level, lows = parents, plows
    return level[0]


def check_ordered(root: OrderedNode) -> List[Any]:
    """Verify ordering, separators and equal leaf depth; returns the values. O(n). Raises AssertionError."""
    out: List[Any] = []
    depths = set()
    stack: List[Tuple[OrderedNode, Any, Any, int]] = [(root, None, None, 0)]  # node, lo, hi (None: open), depth
    while stack:
        node, lo, hi, depth = stack.pop()
        if node.kids is None:
            depths.add(depth)
            for v in node.values:
                if (lo is not None and v < lo) or (hi is not None and not v < hi):
                    raise AssertionError(f"value {v!r} outside its separators")
            out.extend(node.values)
            continue
        if len(node.values) != len(node.kids) - 1 or not node.kids:
            raise AssertionError("an inner node's separators and children disagree")
        bounds = [lo, *node.values, hi]
        for k in range(len(node.kids) - 1, -1, -1):
            stack.append((node.kids[k], bounds[k], bounds[k + 1], depth + 1))
    if len(depths) > 1:
        raise AssertionError("leaves at different depths")
    if any(not a < b for a, b in zip(out, out[1:])):
        raise AssertionError("values not strictly increasing")
    return out
