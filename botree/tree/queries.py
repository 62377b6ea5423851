"""The node-level query vocabulary, shared by ``Tree`` and ``Transaction``.

Every method reads ``self._ix``: an ``OrderIndex`` (a snapshot) or an ``TransientIndex``
(a transaction's working state).  Costs use n for the number of nodes, B for the
block size and h for the index height (log_B n); "O(log n)" below means O(h) or
O(B · h) with the small constants of the order index.
"""

from __future__ import annotations

from collections import deque
from itertools import chain
from typing import Any, Callable, Deque, Iterator, List, Optional, Tuple

from ..core.reader import Bound, IndexReader
from ..errors import InvalidArgument, InvalidOperation, PositionError, UnknownKey
from ..renamed import renamed
from . import search

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
    if skip is None and splice is None:  # the plain child list
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
            bound = step((skip_to, not forward))
            continue
        else:
            yield child
        bound = step((child, not forward))


def _breadth_first(children: Callable[[int], Iterator[int]], queue: Deque[int]) -> Iterator[int]:
    while queue:
        n = queue.popleft()
        yield n
        queue.extend(children(n))


def _leaves(events: Iterator[Bound]) -> Iterator[int]:
    last = -1
    for n, is_open in events:
        if not is_open and n == last:
            yield n
        last = n if is_open else -1


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

    # -- keys -------------------------------------------------------------------

    @property
    def key(self) -> Optional[str]:
        """The key field's name (``Tree(key="id")``), or None for a tree without keys. O(1)."""
        return self._ix.nodes.key

    def node_of(self, key: Any) -> int:
        """The node whose data holds ``key`` in the key field. O(1) (a stored tree: one bucket leaf loaded).

        ``key`` is a key, never a node id: ``node_of(3)`` looks up the int key 3 and
        ``node_of("3")`` the str key "3" (different keys).  ``UnknownKey`` (a
        ``NodeNotFound``) when no node holds it; ``InvalidOperation`` if the tree has no key field.
        """
        node = self._ix.nodes.node_of_key(key)
        if node < 0:
            raise UnknownKey(key)
        return node

    def key_of(self, node: int) -> Any:
        """The key of ``node``: its data's key field. O(1); ``NodeNotFound`` for an unknown node."""
        self._ix.require(node)
        return self._ix.nodes.key_of(node)

    def has_key(self, key: Any) -> bool:
        """True if some node holds ``key`` (an int or a str; anything else: False). O(1)."""
        return self._ix.nodes.node_of_key(key) >= 0

    def find(
        self,
        where: Optional[Callable[[Any], Any]] = None,
        under: Optional[int] = None,
        max_depth: Optional[int] = None,
        **equalities: Any,
    ) -> List[int]:
        """Nodes matching every given criterion, in document order.

        * ``field=value``: the indexed field equals ``value``; ``field=Range(low, high)``:
          its value lies in the range (``Range`` from ``botree``: numbers, str or bytes,
          ``low <= v < high`` by default).  Only fields declared with ``Tree(fields=...)``
          (``InvalidOperation``, a ValueError, for another).
        * ``where``: a predicate called with a node's **data** (``where(data) -> bool``),
          at most once per candidate, in no particular order.
        * ``under``: only proper descendants of that node (``under`` itself excluded, as
          in ``descendants``).
        * ``max_depth``: at most that many levels below ``under``; without ``under``,
          below the top level (``max_depth=0``: top-level nodes only).

        At least one criterion is needed (``InvalidArgument``).  Cost: with an indexed
        criterion selecting k nodes (equality: the smallest set, O(log n) to find;
        a range: O(log n + k) to list through the ordered index), O(k · h + k log k):
        each hit gets its position key (the gap keys from the root down, O(h)), which
        sorts hits into document order and answers ``under`` as an interval of
        positions (between ``under``'s two bounds; no per-hit ancestor test), plus
        O(log n) per hit for ``max_depth``.  When k exceeds half the number of nodes in scope
        (found from ``under``'s bound ranks, O(B log n)), or without an indexed
        criterion, the scope is walked instead: amortised O(1) per node, subtrees below
        ``max_depth`` jumped over in O(log B) each.
        """
        return search.find(self._ix, where, under, max_depth, equalities)

    # -- structural predicates ------------------------------------------------

    def level(self, node: int) -> int:
        """Depth of ``node``: top-level nodes have level 0. O(log n)."""
        return self._ix.level(node)

    def parent(self, node: int) -> Optional[int]:
        """The parent of ``node``, or None for a top-level node. O(1): read from its row
        (O(B · log n) for a row from a file written before rows kept their parent)."""
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
        """True if ``a`` and ``b`` are distinct nodes with the same parent (top level counts). O(log n)."""
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
        return self._ix.child_walk(node)

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
        """Proper ancestors of ``node``, nearest first. O(1) per step (parents are kept in rows)."""
        ix = self._ix
        parent = ix.enclosing(node)
        while parent is not None:
            yield parent
            parent = ix.enclosing(parent)

    @renamed(max_distance="max_depth")
    def descendants(self, node: int, max_depth: Optional[int] = None) -> Iterator[int]:
        """Proper descendants of ``node`` in preorder, at most ``max_depth`` levels below.

        Amortised O(1) per node yielded, plus O(log B) per node at the depth limit that
        has children: its subtree is jumped over (from its opening to its closing
        bound), never scanned.  Arguments are checked at the call.
        """
        self._ix.require(node)
        return search.limited_preorder(self._ix, node, search.check_max_depth(max_depth))

    # -- traversals -----------------------------------------------------------

    def level_order(self, node: Optional[int] = None) -> Iterator[int]:
        """``node``'s subtree (None: the forest) breadth-first: level by level, each left to right.

        Lazy; O(log B) per node (one child walk per node), memory O(widest level).
        """
        if node is not None:
            self._ix.require(node)
        return _breadth_first(self.children, deque(self.children(None) if node is None else (node,)))

    def level_groups(self, node: Optional[int] = None, zigzag: bool = False) -> List[List[int]]:
        """``node``'s subtree (None: the forest) as one list per level, each left to right.

        ``zigzag=True`` reverses every second list (the first, ``node`` or the top level,
        reads left to right).  One scan of the subtree's bounds (nodes of one depth come
        in preorder in left-to-right order): amortised O(1) per node.
        """
        if type(zigzag) is not bool:
            raise InvalidArgument(f"zigzag must be a bool, not {type(zigzag).__name__}")
        groups: List[List[int]] = []
        depth = -1
        for n, is_open in self.events(node):
            if is_open:
                depth += 1
                if depth == len(groups):
                    groups.append([])
                groups[depth].append(n)
            else:
                depth -= 1
        if zigzag:
            for group in groups[1::2]:
                group.reverse()
        return groups

    def leaves(self, node: Optional[int] = None) -> Iterator[int]:
        """Nodes without children in ``node``'s subtree (None: the forest), in document order.

        ``node`` itself when it is a leaf.  Amortised O(1) per bound of the subtree.
        """
        if node is not None:
            self._ix.require(node)
        return _leaves(self.events(node))

    def lca(self, a: int, b: int) -> Optional[int]:
        """The lowest common ancestor of ``a`` and ``b`` (a node is its own ancestor here:
        ``lca(a, a) == a``, ``lca(a, b) == a`` when b is below a); None when they are in
        different top-level trees.  O(B log n), found from the order index, not by walking
        ancestors: with a before b and neither inside the other, the bound of minimum
        level between a's closing bound and b's opening bound belongs to a child of the
        LCA (``IndexReader.min_level``, a range-minimum query over the inner blocks'
        per-child minimum levels); its parent is the answer.
        """
        ix = self._ix
        ix.require(a)
        ix.require(b)
        if a == b:
            return a
        if ix.before((b, True), (a, True)):
            a, b = b, a
        if ix.before((b, True), (a, False)):
            return a
        (child, _), level = ix.min_level((a, False), (b, True))
        return None if level == 0 else ix.enclosing(child)

    def height(self, node: int) -> int:
        """Levels below ``node``: 0 for a leaf. O(size of the subtree): the index keeps
        minimum levels per block, not maxima, so every bound of the subtree is read."""
        self._ix.require(node)
        depth = top = 0
        for _, is_open in self.events(node):
            depth += 1 if is_open else -1
            if depth > top:
                top = depth
        return top - 1

    def distance(self, a: int, b: int) -> int:
        """Number of edges on the path between ``a`` and ``b`` (0 when equal).

        ``InvalidOperation`` when they are in different top-level trees (no path).
        O(B log n): two levels and one ``lca``.
        """
        c = self.lca(a, b)
        if c is None:
            raise InvalidOperation(f"nodes {a} and {b} are in different top-level trees: no path joins them")
        ix = self._ix
        return ix.level(a) + ix.level(b) - 2 * ix.level(c)

    def path(self, node: int) -> List[int]:
        """The nodes from the top level down to ``node``, both included. O(d · B log n) at depth d."""
        out = [node, *self.ancestors(node)]
        out.reverse()
        return out

    def siblings(self, node: int) -> Iterator[int]:
        """The other children of ``node``'s parent, in order (``node`` excluded). O(B log n), then O(log B) per step."""
        parent = self._ix.enclosing(node)
        return (child for child in self.children(parent) if child != node)

    def events(self, node: Optional[int] = None) -> Iterator[Bound]:
        """(node, is_open) bounds of ``node``'s subtree (None: the forest) in document order.

        Lazy, a leaf of the order index at a time; a bad ``node`` raises at the first
        step.  Amortised O(1) per event.
        """
        return chain.from_iterable(
            [(item >> 1, not item & 1) for item in run] for run in self._ix.subtree_runs(node)
        )

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
        """Nodes of ``node``'s subtree (None: the forest) in preorder. Amortised O(1) each.

        Lazy, a leaf of the order index at a time (one comprehension per leaf, no
        generator step per node); a bad ``node`` raises at the first step.
        """
        return chain.from_iterable([item >> 1 for item in run if not item & 1] for run in self._ix.subtree_runs(node))

    def postorder(self, node: Optional[int] = None) -> Iterator[int]:
        """Nodes of ``node``'s subtree (None: the forest) in postorder. Amortised O(1) each (as ``preorder``)."""
        return chain.from_iterable([item >> 1 for item in run if item & 1] for run in self._ix.subtree_runs(node))
