"""The node-level query vocabulary, shared by ``Tree`` and ``Transaction``.

Every method reads ``self._ix``: an ``OrderIndex`` (a snapshot) or an ``TransientIndex``
(a transaction's working state).  Costs use n for the number of nodes, B for the
block size and h for the index height (log_B n); "O(log n)" below means O(h) or
O(B · h) with the small constants of the order index.
"""

from __future__ import annotations

from functools import cmp_to_key
from typing import Any, Iterator, List, Optional, Tuple

from ..core.reader import Bound, IndexReader
from ..errors import InvalidArgument, InvalidOperation, NotIndexed, PositionError

Run = Tuple[int, int]  # a run of siblings: (first, last)


def sibling_walk(
    ix: IndexReader,
    parent: Optional[int],
    forward: bool = True,
    skip: Optional[Run] = None,
    splice: Optional[int] = None,
) -> Iterator[int]:
    """The children of ``parent`` (None: the top level), first to last or last to first.

    For planning a move, the walk can show the child list as it will be: the sibling
    run ``skip`` left out (jumped over in O(log B), whatever its length) and the child
    ``splice`` replaced by its own children.  O(log B) per step, O(log n) at block edges.
    """
    step = ix.next_bound if forward else ix.prev_bound
    if parent is None:
        bound = ix.first_bound() if forward else ix.last_bound()
    else:
        bound = step((parent, forward))
    back = not forward  # the bound that ends a child walked this way
    if skip is None and splice is None:  # the plain child list: the hot path of children()
        while bound is not None and bound[1] is forward:
            child = bound[0]
            yield child
            bound = step((child, back))
        return
    # Walking forward a child starts at its opening bound, backward at its closing one.
    skip_from, skip_to = (None, None) if skip is None else (skip if forward else (skip[1], skip[0]))
    while bound is not None and bound[1] is forward:
        child = bound[0]
        if child == splice:  # checked first: move_inner skips the node but keeps its children
            inner = step((child, forward))
            while inner is not None and inner[1] is forward:
                yield inner[0]
                inner = step((inner[0], not forward))
        elif child == skip_from:
            bound = step((skip_to, not forward))  # type: ignore[arg-type]
            continue
        else:
            yield child
        bound = step((child, not forward))


class TreeQueries:
    """Read-only node-level queries over an order index."""

    __slots__ = ()
    _ix: IndexReader

    # -- basics ---------------------------------------------------------------

    @property
    def order_index(self) -> IndexReader:
        """The underlying order index (bounds, ranks, invariant checks). O(1)."""
        return self._ix

    def __len__(self) -> int:
        """Number of nodes. O(1)."""
        return len(self._ix)

    def __contains__(self, node: object) -> bool:
        """True if ``node`` is a node id of this tree. O(1)."""
        return node in self._ix

    def data(self, node: int) -> Any:
        """The data stored at ``node``. O(1)."""
        return self._ix.data(node)

    def find(self, **equalities: Any) -> List[int]:
        """Nodes whose indexed fields equal the given values, in document order.

        ``t.find(name="bob", dept="sales")`` intersects the attribute indexes.
        O(log n · fields + k log k · h) for k matches.
        """
        if not equalities:
            raise InvalidArgument("find() needs at least one field=value pair")
        found: Optional[frozenset[int]] = None
        for field, value in equalities.items():
            try:
                ids = self._ix.nodes.find(field, value)
            except NotIndexed as exc:
                raise InvalidOperation(str(exc)) from None
            except TypeError:
                raise InvalidArgument(f"find({field}=...) needs a hashable value, not {type(value).__name__}") from None
            found = ids if found is None else found & ids
        assert found is not None
        return sorted(found, key=cmp_to_key(self.compare))

    # -- structural predicates ------------------------------------------------

    def level(self, node: int) -> int:
        """Depth of ``node``: top-level nodes have level 0. O(log n)."""
        return self._ix.level(node)

    def parent(self, node: int) -> Optional[int]:
        """The parent of ``node``, or None for a top-level node. O(B · log n)."""
        return self._ix.enclosing(node)

    def is_descendant(self, a: int, b: int) -> bool:
        """True if ``a`` lies strictly inside ``b``'s subtree. O(log n)."""
        return self._ix.inside(a, b)

    def is_ancestor(self, a: int, b: int) -> bool:
        """True if ``a`` is a proper ancestor of ``b``. O(log n)."""
        return self.is_descendant(b, a)

    def is_child(self, a: int, b: int) -> bool:
        """True if ``a`` is a child of ``b``. O(log n)."""
        ix = self._ix
        return ix.inside(a, b) and ix.level(a) == ix.level(b) + 1

    def is_parent(self, a: int, b: int) -> bool:
        """True if ``a`` is the parent of ``b``. O(log n)."""
        return self.is_child(b, a)

    def is_sibling(self, a: int, b: int) -> bool:
        """True if ``a`` and ``b`` are distinct nodes with the same parent (top level counts). O(B · log n)."""
        ix = self._ix
        ix.require(a)
        ix.require(b)
        if a == b:
            return False
        return ix.level(a) == ix.level(b) and ix.enclosing(a) == ix.enclosing(b)

    def is_before_pre(self, a: int, b: int) -> bool:
        """True if ``a`` comes before ``b`` in preorder. O(log n)."""
        return self._ix.before((a, True), (b, True))

    def is_before_post(self, a: int, b: int) -> bool:
        """True if ``a`` comes before ``b`` in postorder. O(log n)."""
        return self._ix.before((a, False), (b, False))

    def is_preceding(self, a: int, b: int) -> bool:
        """True if ``a`` ends before ``b`` starts (XPath's preceding axis). O(log n)."""
        return self._ix.before((a, False), (b, True))

    def is_following(self, a: int, b: int) -> bool:
        """True if ``a`` starts after ``b`` ends (XPath's following axis). O(log n)."""
        return self._ix.before((b, False), (a, True))

    def is_leaf(self, node: int) -> bool:
        """True if ``node`` has no children. O(log B), O(h) at a block edge."""
        return self._ix.next_bound((node, True)) == (node, False)

    def is_root(self, node: int) -> bool:
        """True if ``node`` is a top-level node (it has no parent). O(log n)."""
        return self._ix.level(node) == 0

    def compare(self, a: int, b: int) -> int:
        """-1, 0 or 1 as ``a`` comes before, is, or comes after ``b`` in document order. O(log n)."""
        self._ix.require(a)
        self._ix.require(b)
        if a == b:
            return 0
        return -1 if self._ix.before((a, True), (b, True)) else 1

    # -- ranks and sizes -------------------------------------------------------

    def rank(self, node: int) -> int:
        """Preorder position of ``node``, 0-based. O(B · log n).

        Bounds before the opening bound are opens plus closes; their difference is
        the level, so the number of opens is (bound rank + level) / 2.
        """
        ix = self._ix
        return (ix.rank((node, True)) + ix.level(node)) // 2

    def post_rank(self, node: int) -> int:
        """Postorder position of ``node``, 0-based. O(B · log n)."""
        ix = self._ix
        return (ix.rank((node, False)) - ix.level(node) - 1) // 2

    def size(self, node: int) -> int:
        """Number of nodes in ``node``'s subtree, itself included. O(B · log n)."""
        ix = self._ix
        return (ix.rank((node, False)) - ix.rank((node, True)) + 1) // 2

    def at_rank(self, k: int) -> int:
        """The node at preorder position ``k`` (negative: from the end). O(B · log² n).

        Binary search over bound ranks r: the opens among bounds 0..r number
        (r + depth) / 2, computed from the bound at rank r and its level.
        """
        if type(k) is not int:
            raise InvalidArgument(f"rank must be an int, not {type(k).__name__}")
        ix = self._ix
        n = len(ix)
        if k < 0:
            k += n
        if not 0 <= k < n:
            raise PositionError(f"preorder rank {k} out of range for {n} nodes")
        lo, hi = k, min(2 * k, 2 * n - 1)
        while lo < hi:
            mid = (lo + hi) // 2
            node, is_open = ix.at_rank(mid)
            level = ix.level(node)
            # opens among bounds 0..mid inclusive
            opens = (mid + level) // 2 + 1 if is_open else (mid + level + 1) // 2
            if opens >= k + 1:
                hi = mid
            else:
                lo = mid + 1
        return ix.at_rank(lo)[0]

    # -- navigation -----------------------------------------------------------

    def roots(self) -> Iterator[int]:
        """Top-level nodes in order. O(log B) per step."""
        return self.children(None)

    def children(self, node: Optional[int]) -> Iterator[int]:
        """Children of ``node`` in order (None: the top-level nodes). O(log B) per step."""
        return sibling_walk(self._ix, node)

    def children_reversed(self, node: Optional[int]) -> Iterator[int]:
        """Children of ``node`` from last to first (None: top level). O(log B) per step."""
        return sibling_walk(self._ix, node, False)

    def child(self, node: Optional[int], i: int) -> int:
        """The ``i``-th child of ``node`` (negative ``i`` from the end). O(min(i, -i)) steps."""
        if type(i) is not int:
            raise InvalidArgument(f"child index must be an int, not {type(i).__name__}")
        if node is not None:
            self._ix.require(node)
        walk = self.children(node) if i >= 0 else self.children_reversed(node)
        steps = i if i >= 0 else -i - 1
        for j, child in enumerate(walk):
            if j == steps:
                return child
        raise PositionError(f"node {node} has no child at index {i}")

    def ancestors(self, node: int) -> Iterator[int]:
        """Proper ancestors of ``node``, nearest first. O(B · log n) per step."""
        ix = self._ix
        parent = ix.enclosing(node)
        while parent is not None:
            yield parent
            parent = ix.enclosing(parent)

    def descendants(self, node: int, max_depth: Optional[int] = None) -> Iterator[int]:
        """Proper descendants of ``node`` in preorder, at most ``max_depth`` levels below.

        Amortised O(1) per bound scanned (the whole subtree is scanned).
        """
        ix = self._ix
        ix.require(node)
        if max_depth is not None and (type(max_depth) is not int or max_depth < 0):
            raise InvalidArgument(f"max_depth must be a non-negative int, not {max_depth!r}")
        end = (node, False)
        depth = 0
        it = ix.bounds((node, True))
        next(it)
        for bound in it:
            if bound == end:
                return
            if bound[1]:
                depth += 1
                if max_depth is None or depth <= max_depth:
                    yield bound[0]
            else:
                depth -= 1

    def siblings(self, node: int) -> Iterator[int]:
        """The other children of ``node``'s parent, in order (``node`` excluded). O(B log n), then O(log B) per step."""
        parent = self._ix.enclosing(node)
        return (child for child in self.children(parent) if child != node)

    def events(self, node: Optional[int] = None) -> Iterator[Bound]:
        """(node, is_open) bounds of ``node``'s subtree (None: the forest) in document order.

        Amortised O(1) per event.
        """
        ix = self._ix
        if node is None:
            yield from ix.bounds()
            return
        end = (node, False)
        for bound in ix.bounds((node, True)):
            yield bound
            if bound == end:
                return

    def places(self) -> Iterator[Tuple[int, Optional[int], int]]:
        """``(node, parent, index among its siblings)`` for every node, in preorder. Amortised O(1) each."""
        stack: List[List[int]] = []  # [node, children seen so far]
        tops = 0
        for node, is_open in self._ix.bounds():
            if is_open:
                if stack:
                    frame = stack[-1]
                    yield node, frame[0], frame[1]
                    frame[1] += 1
                else:
                    yield node, None, tops
                    tops += 1
                stack.append([node, 0])
            else:
                stack.pop()

    def preorder(self, node: Optional[int] = None) -> Iterator[int]:
        """Nodes of ``node``'s subtree (None: the forest) in preorder. Amortised O(1) each."""
        return (n for n, is_open in self.events(node) if is_open)

    def postorder(self, node: Optional[int] = None) -> Iterator[int]:
        """Nodes of ``node``'s subtree (None: the forest) in postorder. Amortised O(1) each."""
        return (n for n, is_open in self.events(node) if not is_open)
