"""The field index: per indexed field a B+-tree of ``(family, value, node)`` entries whose
tree nodes live in the slots of one ``ChunkedVector``, so it is stored like the rows.

Entries.  A node whose data holds ``value`` under an indexed field is one entry of that
field's tree.  Values of a family of mutually comparable values (``attrindex.FAMILIES``:
numbers, str, bytes) give ``(family, value, node)``: the tree holds them in value order,
so an equality is the run of one value and a ``Range`` the run between two bounds.
Any other hashable value (None, tuples, frozensets, ...) gives
``(OTHER, stable_hash(value), node, value)``: ordered by a hash that is the same in
every process and agrees with ``==``, found by equality only (a lookup reads the run of
the hash and keeps the entries equal to the value).  Entries of one tree never compare
values of two families: the family decides first, then the value (or the hash), then
the node, which is unique per field.

Tree nodes.  Each is one slot of the vector: a leaf ``(LEAF, entries)``, an inner node
``(INNER, separators, child slots)`` (child ``i`` holds entries ``e`` with
``seps[i-1] <= e < seps[i]``), or a free slot ``(FREE, next free slot)``.  One vector
holds the trees of all fields; ``roots`` and ``counts`` (entries) per field and the
head of the free chain complete the index.  An update rewrites the slots of one
root-to-leaf path in a ``TransientVector`` (so a frozen index never changes, and a
commit stores only the vector leaves it touched).  A node splits above ``FANOUT``
items; nodes never merge, an emptied one is unlinked and its slot freed (as
PostgreSQL's B-trees do), so height is bounded by the peak size.

Costs (n entries, F = FANOUT): equality O(F log_F n + k) for k ids, a range
O(F log_F n + k), insert and remove O(F log_F n) (one path of slots rewritten), the
bulk build O(n log n) (one sort).  Everything is iterative.
"""

from __future__ import annotations

import zlib
from bisect import bisect_left, bisect_right
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Set, Tuple

from ..errors import NotIndexed, TableCorrupt
from .attrindex import FAMILIES, MISSING, Range, family, indexed_values
from .vector import LEAF_BITS, MID_BITS, ChunkedVector

FANOUT = 16  # entries per leaf, children per inner node; a node splits above this
FILL = 12  # entries (children) per node of a bulk-built tree: room for inserts
LEAF, INNER, FREE = 0, 1, 2  # the first item of a slot
OTHER = len(FAMILIES)  # the rank of values of no family, ordered by ``stable_hash``
_AFTER = float("inf")  # greater than every node id: a probe after all entries of one value
_MASK = (1 << 32) - 1

Entry = Tuple[Any, ...]
assert (MID_BITS, LEAF_BITS) == (12, 6)  # ``find`` inlines the vector read


def stable_hash(value: Any) -> int:
    """A 32-bit hash of a hashable value, the same in every process and equal for equal values. O(size).

    Numbers use Python's numeric hash (not randomised, and ``hash(1) == hash(1.0)``),
    str and bytes their CRC-32, tuples and frozensets combine their items' hashes; a
    value of any other type hashes as its type's name (correct, only slower to find:
    every value of that type shares one run).
    """
    kind = type(value)
    if kind is str:
        return zlib.crc32(value.encode("utf-8", "surrogatepass"))
    if kind is bytes:
        return zlib.crc32(value)
    if kind is int or kind is float or kind is bool:
        return hash(value) & _MASK
    if value is None:
        return 0x9E3779B9
    if kind is tuple:
        h = 0x345678 + len(value)
        for item in value:
            h = (h * 1000003 ^ stable_hash(item)) & _MASK
        return h
    if kind is frozenset:
        return (sum(stable_hash(item) for item in value) * 69069 + 0x1F) & _MASK
    return zlib.crc32(kind.__qualname__.encode())


def entry(value: Any, node: int) -> Entry:
    """The tree entry of ``node`` holding ``value``. O(1) (O(size) for a value of no family)."""
    f = family(value)
    if f >= 0:
        return (f, value, node)
    return (OTHER, stable_hash(value), node, value)


def _equal_bounds(value: Any) -> Tuple[Entry, Entry]:
    """Probes before and after every entry whose value may equal ``value``."""
    f = family(value)
    if f >= 0:
        return (f, value, -1), (f, value, _AFTER)
    h = stable_hash(value)
    return (OTHER, h, -1), (OTHER, h, _AFTER)


def _range_bounds(rng: Range) -> Tuple[Entry, Entry]:
    """Probes before and after the entries inside ``rng``."""
    f = rng.family
    if rng.low is None:
        low: Entry = (f,)
    else:
        low = (f, rng.low, -1 if rng.include_low else _AFTER)
    if rng.high is None:
        high: Entry = (f + 1,)
    else:
        high = (f, rng.high, _AFTER if rng.include_high else -1)
    return low, high


def scan(slots: Any, root: int, low: Entry) -> Iterator[Entry]:
    """Entries ``>= low`` of the tree at ``root``, ascending, lazily: O(F log_F n) to start,
    then amortised O(1) per entry.  A stack of (inner node, next child) replaces sibling links."""
    stack: List[Tuple[Any, int]] = []
    node = slots[root]
    while node[0] == INNER:
        i = bisect_right(node[1], low)
        stack.append((node, i + 1))
        node = slots[node[2][i]]
    entries = node[1]
    pos = bisect_left(entries, low)
    while True:
        for j in range(pos, len(entries)):
            yield entries[j]
        while stack and stack[-1][1] >= len(stack[-1][0][2]):
            stack.pop()
        if not stack:
            return
        parent, i = stack.pop()
        stack.append((parent, i + 1))
        node = slots[parent[2][i]]
        while node[0] == INNER:
            stack.append((node, 1))
            node = slots[node[2][0]]
        entries, pos = node[1], 0


class _TreesReader:
    """Lookups shared by the frozen index and a batch."""

    __slots__ = ()
    fields: Tuple[str, ...]
    slots: Any  # ChunkedVector or TransientVector
    roots: Any  # per field, the root slot

    def _root(self, field: str) -> int:
        try:
            return self.roots[self.fields.index(field)]
        except ValueError:
            raise NotIndexed(f"field {field!r} is not indexed (indexed: {list(self.fields)})") from None

    def find(self, field: str, value: Any) -> List[int]:
        """Ids whose ``field`` equals ``value``, ascending. O(F log_F n + k); ``NotIndexed``.

        The descent and the first leaf are inlined (``ChunkedVector`` reads included):
        this is the hot path of ``find``; a run that goes on past the leaf continues by ``scan``.
        """
        root = self._root(field)
        low, high = _equal_bounds(value)
        chunks = self.slots.chunks
        node = chunks[root >> 12][(root >> 6) & 63][root & 63]
        while node[0] == INNER:
            k = node[2][bisect_right(node[1], low)]
            node = chunks[k >> 12][(k >> 6) & 63][k & 63]
        entries = node[1]
        pos = bisect_left(entries, low)
        end = bisect_left(entries, high, pos)
        if end < len(entries) or pos == end == 0 and not entries:
            hits = entries[pos:end]  # the whole run is in this leaf
        else:
            hits = []
            for e in scan(self.slots, root, low):
                if e >= high:
                    break
                hits.append(e)
        if low[0] == OTHER:
            return [e[2] for e in hits if e[3] == value]
        return [e[2] for e in hits]

    def range_ids(self, field: str, rng: Range) -> Iterator[int]:
        """Ids whose ``field`` lies in ``rng``, by ascending value, lazily.

        ``NotIndexed`` at the call; O(F log_F n) to start, amortised O(1) per id.
        """
        root = self._root(field)
        return self._range_ids(root, rng)

    def _range_ids(self, root: int, rng: Range) -> Iterator[int]:
        low, high = _range_bounds(rng)
        for e in scan(self.slots, root, low):
            if e >= high:
                return
            yield e[2]

    def range_values(self, field: str, rng: Range) -> Iterator[Any]:
        """The distinct values of ``field`` inside ``rng``, ascending, lazily.

        ``NotIndexed`` at the call; O(F log_F n) to start and per value whose ids
        outnumber a leaf (the scan seeks past them), else amortised O(1) per id.
        """
        root = self._root(field)
        return self._range_values(root, rng)

    def _range_values(self, root: int, rng: Range) -> Iterator[Any]:
        low, high = _range_bounds(rng)
        f = rng.family
        while True:
            seen = 0
            last: Any = MISSING
            for e in scan(self.slots, root, low):
                if e >= high:
                    return
                if last is MISSING or e[1] != last:
                    last = e[1]
                    seen = 0
                    yield last
                else:
                    seen += 1
                    if seen > FANOUT:  # a long run of one value: seek past it
                        break
            else:
                return
            low = (f, last, _AFTER)


class FieldTrees(_TreesReader):
    """The frozen field index: ``fields``, ``slots`` (the node vector), per field ``roots``
    (slot) and ``counts`` (entries), and ``free`` (first free slot, or -1)."""

    __slots__ = ("fields", "slots", "roots", "counts", "free")

    def __init__(
        self, fields: Tuple[str, ...], slots: ChunkedVector, roots: Tuple[int, ...], counts: Tuple[int, ...], free: int
    ) -> None:
        self.fields = fields
        self.slots = slots
        self.roots = roots
        self.counts = counts
        self.free = free

    def transient(self) -> "TransientFieldTrees":
        """A batch of changes to this index. O(1)."""
        return TransientFieldTrees(self)


def build_trees(fields: Tuple[str, ...], pairs: Iterable[Tuple[int, Any]]) -> FieldTrees:
    """The field index of (node, data) pairs. O(n log n) (one sort per field).

    Every indexed value is checked first (``indexed_values``: unhashable or NaN
    raise), so a bad one raises before anything is built.
    """
    lists = _entries(fields, pairs)
    slots: List[Any] = []
    roots = []
    for entries in lists:
        entries.sort()
        roots.append(_pack(_appender(slots), entries))
    return FieldTrees(fields, ChunkedVector(slots), tuple(roots), tuple(len(e) for e in lists), -1)


def _entries(fields: Tuple[str, ...], pairs: Iterable[Tuple[int, Any]]) -> List[List[Entry]]:
    """Per field, the (unsorted) entries of (node, data) pairs; bad values raise (``indexed_values``). O(n)."""
    lists: List[List[Entry]] = [[] for _ in fields]
    if fields:
        for node, data in pairs:
            for entries, value in zip(lists, indexed_values(fields, data, node)):
                if value is not MISSING:
                    entries.append(entry(value, node))
    return lists


def _pack(alloc: Callable[[Any], int], entries: List[Entry]) -> int:
    """A tree of the sorted ``entries``, each node stored by ``alloc(node) -> slot``, level by
    level (leaves first); its root slot. O(n)."""
    level: List[Tuple[Any, int]] = []  # (first entry, slot) of each node of the level
    for j in range(0, max(1, len(entries)), FILL):
        chunk = tuple(entries[j : j + FILL])
        level.append((chunk[0] if chunk else None, alloc((LEAF, chunk))))
    while len(level) > 1:
        upper = []
        for j in range(0, len(level), FILL):
            group = level[j : j + FILL]
            node = (INNER, tuple(first for first, _ in group[1:]), tuple(slot for _, slot in group))
            upper.append((group[0][0], alloc(node)))
        level = upper
    return level[0][1]


def _appender(slots: List[Any]) -> Callable[[Any], int]:
    def alloc(item: Any) -> int:
        slots.append(item)
        return len(slots) - 1

    return alloc


def reconfigure(trees: FieldTrees, fields: Tuple[str, ...], live: Iterable[Tuple[int, Any]]) -> FieldTrees:
    """The index of ``fields`` over the ``live`` (node, data) pairs, keeping the trees of fields
    ``trees`` already has: a dropped field's slots are freed, an added field's tree is
    built (O(n log n)) into free slots and then new ones; values are checked first. O(kept + changed)."""
    if not fields:
        return NO_FIELDS
    added = tuple(f for f in fields if f not in trees.fields)
    lists = _entries(added, live)  # raises before anything changes
    batch = trees.transient()
    for field, root in zip(trees.fields, trees.roots):
        if field not in fields:
            for slot in _tree_slots(batch.slots, root):
                batch._release(slot)
    old = dict(zip(trees.fields, zip(trees.roots, trees.counts)))
    new = dict(zip(added, lists))
    for entries in lists:
        entries.sort()
    roots, counts = [], []
    for field in fields:
        if field in old:
            root, count = old[field]
        else:
            root, count = _pack(batch._alloc, new[field]), len(new[field])
        roots.append(root)
        counts.append(count)
    batch.fields, batch.roots, batch.counts = fields, roots, counts
    return batch.persistent()


def _tree_slots(slots: Any, root: int) -> Iterator[int]:
    """Every slot of the tree at ``root`` (iteratively). O(nodes)."""
    stack = [root]
    while stack:
        slot = stack.pop()
        node = slots[slot]
        if node[0] == INNER:
            stack.extend(node[2])
        yield slot  # after reading it: the caller may free it


NO_FIELDS = build_trees((), ())  # the index of a table without indexed fields


class TransientFieldTrees(_TreesReader):
    """The field index of a batch: its node vector changes in place; ``persistent()`` freezes it."""

    __slots__ = ("fields", "slots", "roots", "counts", "free")

    def __init__(self, base: FieldTrees) -> None:
        self.fields = base.fields
        self.slots = base.slots.transient()  # typed Any in _TreesReader (mypyc)
        self.roots = list(base.roots)
        self.counts = list(base.counts)
        self.free = base.free

    def add(self, node: int, values: List[Any]) -> None:
        """Index ``node`` under each present value (one per field). O(fields · F log_F n)."""
        for i, value in enumerate(values):
            if value is not MISSING:
                self._insert(i, entry(value, node))

    def remove(self, node: int, values: List[Any]) -> None:
        """Unindex ``node`` from each present value; ``TableCorrupt`` if one is missing. O(fields · F log_F n)."""
        for i, value in enumerate(values):
            if value is not MISSING:
                self._remove(i, entry(value, node))

    def change(self, node: int, old: List[Any], new: List[Any]) -> None:
        """Reindex ``node`` from ``old`` to ``new`` values; an unchanged field stays. O(fields · F log_F n)."""
        for i, (before, after) in enumerate(zip(old, new)):
            if type(before) is not type(after) or before != after:
                if before is not MISSING:
                    self._remove(i, entry(before, node))
                if after is not MISSING:
                    self._insert(i, entry(after, node))

    def _alloc(self, item: Any) -> int:
        """A slot holding ``item``: the first free one, else a new one at the end. O(1) amortised."""
        slots = self.slots
        slot = self.free
        if slot < 0:
            slots.append(item)
            return len(slots) - 1
        self.free = slots[slot][1]
        slots[slot] = item
        return slot

    def _release(self, slot: int) -> None:
        self.slots[slot] = (FREE, self.free)
        self.free = slot

    def _descend(self, i: int, e: Entry) -> Tuple[List[Tuple[int, Any, int]], int, Any]:
        """(path of (slot, inner node, child index), leaf slot, leaf) towards ``e`` in field ``i``'s tree."""
        slots = self.slots
        path = []
        s = self.roots[i]
        node = slots[s]
        while node[0] == INNER:
            k = bisect_right(node[1], e)
            path.append((s, node, k))
            s = node[2][k]
            node = slots[s]
        return path, s, node

    def _insert(self, i: int, e: Entry) -> None:
        slots = self.slots
        path, s, leaf = self._descend(i, e)
        entries = leaf[1]
        p = bisect_left(entries, e)
        if p < len(entries) and entries[p] == e:
            raise TableCorrupt(f"node {e[2]} is indexed twice under field {self.fields[i]!r}")
        entries = (*entries[:p], e, *entries[p:])
        self.counts[i] += 1
        if len(entries) <= FANOUT:
            slots[s] = (LEAF, entries)
            return
        half = len(entries) // 2
        slots[s] = (LEAF, entries[:half])
        sep = entries[half]
        new = self._alloc((LEAF, entries[half:]))
        while path:
            s, parent, k = path.pop()
            seps = (*parent[1][:k], sep, *parent[1][k:])
            kids = (*parent[2][: k + 1], new, *parent[2][k + 1 :])
            if len(kids) <= FANOUT:
                slots[s] = (INNER, seps, kids)
                return
            half = len(kids) // 2
            slots[s] = (INNER, seps[: half - 1], kids[:half])
            sep = seps[half - 1]
            new = self._alloc((INNER, seps[half:], kids[half:]))
        self.roots[i] = self._alloc((INNER, (sep,), (s, new)))  # the root split: one level more

    def _remove(self, i: int, e: Entry) -> None:
        slots = self.slots
        path, s, leaf = self._descend(i, e)
        entries = leaf[1]
        p = bisect_left(entries, e)
        if p == len(entries) or entries[p] != e:
            raise TableCorrupt(f"node {e[2]} is missing from the index of field {self.fields[i]!r}")
        entries = entries[:p] + entries[p + 1 :]
        self.counts[i] -= 1
        if entries or not path:
            slots[s] = (LEAF, entries)
            return
        self._release(s)  # an emptied leaf goes, and each ancestor it leaves without children
        while path:
            s, parent, k = path.pop()
            kids = parent[2][:k] + parent[2][k + 1 :]
            if kids:
                seps = parent[1][: k - 1] + parent[1][k:] if k else parent[1][1:]
                slots[s] = (INNER, seps, kids)
                break
            self._release(s)
        root = self.roots[i]
        node = slots[root]
        while node[0] == INNER and len(node[2]) == 1:  # a root with one child: one level less
            self._release(root)
            root = node[2][0]
            node = slots[root]
        self.roots[i] = root

    def persistent(self) -> FieldTrees:
        """The frozen index. O(1)."""
        return FieldTrees(self.fields, self.slots.persistent(), tuple(self.roots), tuple(self.counts), self.free)


def check_trees(trees: FieldTrees, live: Iterable[Tuple[int, Any]]) -> None:
    """The index is well formed and holds exactly the live rows' entries; raises ``TableCorrupt``. O(n log n).

    Every tree: nodes well formed, entries sorted and inside their separators, all
    leaves at one depth, only the root without entries when empty, counts right; every
    slot is in exactly one tree or on the free chain.
    """
    fields = trees.fields
    expect = _entries(fields, live)
    slots = trees.slots
    n = len(slots)
    owner: Dict[int, str] = {}
    if len(trees.roots) != len(fields) or len(trees.counts) != len(fields):
        raise TableCorrupt(f"the field index has {len(trees.roots)} roots for {len(fields)} fields")
    for field, root, count, want in zip(fields, trees.roots, trees.counts, expect):
        got = _walk(field, slots, root, owner)
        want.sort()
        if count != len(got) or got != want or any(type(a[1]) is not type(b[1]) for a, b in zip(got, want)):
            raise TableCorrupt(f"the index of field {field!r} disagrees with the rows")
    free: Set[int] = set()
    slot = trees.free
    while slot >= 0:
        item = slots[slot] if slot < n else None
        if slot in owner or slot in free or type(item) is not tuple or len(item) != 2 or item[0] != FREE:
            raise TableCorrupt(f"field index slot {slot} on the free chain is not free")
        free.add(slot)
        slot = item[1]
    if len(owner) + len(free) != n:
        raise TableCorrupt(f"{n - len(owner) - len(free)} field index slots are neither used nor free")


def _walk(field: str, slots: Any, root: int, owner: Dict[int, str]) -> List[Entry]:
    """The entries of one tree in order, its structure checked (iteratively)."""
    out: List[Entry] = []
    leaf_depth: Optional[int] = None
    # (slot, depth, low bound or None, high bound or None)
    stack: List[Tuple[int, int, Optional[Entry], Optional[Entry]]] = [(root, 0, None, None)]
    while stack:
        slot, depth, low, high = stack.pop()
        if type(slot) is not int or not 0 <= slot < len(slots) or slot in owner:
            raise TableCorrupt(f"the index of field {field!r} reaches slot {slot!r} twice or outside the vector")
        owner[slot] = field
        node = slots[slot]
        items = _node_items(field, slot, node, root)
        if any(items[j] >= items[j + 1] for j in range(len(items) - 1)) or (
            items and ((low is not None and items[0] < low) or (high is not None and items[-1] >= high))
        ):
            raise TableCorrupt(f"field index slot {slot} ({field!r}) is out of order")
        if node[0] == LEAF:
            if leaf_depth is None:
                leaf_depth = depth
            elif depth != leaf_depth:
                raise TableCorrupt(f"the index of field {field!r} has leaves at depths {leaf_depth} and {depth}")
            out.extend(items)
            continue
        kids = node[2]
        bounds = (low, *items, high)
        for j in range(len(kids) - 1, -1, -1):  # pushed in reverse: popped in order
            stack.append((kids[j], depth + 1, bounds[j], bounds[j + 1]))
    return out


def _node_items(field: str, slot: int, node: Any, root: int) -> Tuple[Entry, ...]:
    """The entries (leaf) or separators (inner) of a tree node, its shape checked."""
    ok = type(node) is tuple and len(node) >= 2 and node[0] in (LEAF, INNER) and type(node[1]) is tuple
    if ok and node[0] == LEAF:
        ok = len(node) == 2 and (bool(node[1]) or slot == root)
    elif ok:
        ok = len(node) == 3 and type(node[2]) is tuple and len(node[2]) == len(node[1]) + 1
        ok = ok and (len(node[2]) >= 2 or slot != root)
    ok = ok and all(type(e) is tuple and len(e) in (3, 4) and type(e[0]) is int for e in node[1])
    if not ok:
        raise TableCorrupt(f"field index slot {slot} ({field!r}) is malformed: {node!r:.120}")
    return node[1]
