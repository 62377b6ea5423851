"""The key index: key -> node id for the one key field of a table, a persistent linear hash table.

A keyed table (``NodeTable(key="id")``) requires every node's data to hold the key
field (``data[key]`` for mappings, else ``getattr``, as for indexed fields), with an
``int`` (not ``bool``) or ``str`` value, unique across the table.  node -> key is
reading the row; key -> node is this index.

Layout: a ``ChunkedVector`` of buckets, bucket ``i`` at slot ``i``; a bucket is a flat
tuple ``(key, node, key, node, ...)`` (``()`` when empty).  Linear hashing (Litwin):
with ``N`` buckets and ``2**L <= N < 2**(L+1)``, a key with hash ``h`` lives in bucket
``h mod 2**(L+1)``, or ``h mod 2**L`` when that is ``>= N``.  When the table holds more
than ``LOAD`` keys per bucket one bucket splits: bucket ``N - 2**L`` gives the keys
that now address ``N`` to a new bucket appended at the end.  So an insert copies one
or two leaves of the vector, a lookup reads one slot, and a stored index (the vector
is stored leaf by leaf, like the rows) resolves a key by loading one leaf.  Buckets
never merge: deletes leave the bucket count as it is (an index sized for its peak).

The hash must be the same in every process (a stored index is read by others), so it
is not Python's ``hash(str)`` (randomised per process): ``str`` keys hash as the CRC-32
of their UTF-8 bytes, ``int`` keys as a multiplicative mix of Python's (stable) integer
hash.  A bucket compares keys by exact type and value: the int ``3`` and the str
``"3"`` are different keys, and neither is ever taken for node id 3.
"""

from __future__ import annotations

import zlib
from typing import Any, Dict, Iterable, Iterator, List, Tuple

from ..errors import DuplicateKey, InvalidKey, TableCorrupt
from .attrindex import MISSING, field_value
from .vector import LEAF_BITS, MID_BITS, ChunkedVector, TransientVector

LOAD = 4  # keys per bucket (on average) before a bucket splits
_MASK64 = (1 << 64) - 1
_MIX = 0x9E3779B97F4A7C15  # 2**64 / golden ratio
_crc32 = zlib.crc32
assert (MID_BITS, LEAF_BITS) == (12, 6)  # ``KeyIndex.lookup`` inlines the vector read


def key_hash(key: Any) -> int:
    """The stable 32-bit hash of a key (an int or a str), the same in every process. O(len)."""
    if type(key) is str:
        return zlib.crc32(key.encode("utf-8", "surrogatepass"))
    return (((hash(key) & _MASK64) * _MIX) & _MASK64) >> 32


def check_key(data: Any, key: str, where: object) -> Any:
    """The key ``data`` holds under the field ``key``; ``InvalidKey`` naming ``where`` unless an int or str. O(1)."""
    value = field_value(data, key)
    if value is MISSING:
        raise InvalidKey(f"{_where(where)} has no key field {key!r} (its data: {_short(data)})")
    if type(value) is not int and type(value) is not str:
        raise InvalidKey(
            f"the key {key!r} of {_where(where)} must be an int or a str, not {type(value).__name__}: {_short(value)}"
        )
    return value


def _where(where: object) -> str:
    return f"node {where}" if type(where) is int else str(where)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def bucket_of(h: int, count: int) -> int:
    """The bucket of hash ``h`` among ``count`` buckets (linear hashing). O(1)."""
    low = 1 << (count.bit_length() - 1)  # 2**L <= count < 2**(L+1)
    b = h & ((low << 1) - 1)
    return b if b < count else h & (low - 1)


def find_in(bucket: Tuple[Any, ...], key: Any) -> int:
    """The node of ``key`` in a bucket, or -1 (keys compared by exact type and value). O(bucket)."""
    kind = type(key)
    for i in range(0, len(bucket), 2):
        k = bucket[i]
        if k == key and type(k) is kind:
            return bucket[i + 1]
    return -1


class KeyIndex:
    """The frozen key index of a table: ``field`` (the key field), ``buckets`` and ``count`` (keys held)."""

    __slots__ = ("field", "buckets", "count")

    def __init__(self, field: str, buckets: ChunkedVector, count: int) -> None:
        self.field = field
        self.buckets = buckets
        self.count = count

    def lookup(self, key: Any) -> int:
        """The node holding ``key``, or -1 (also for a value that cannot be a key). O(1).

        ``key_hash``, ``bucket_of`` and the vector read inlined: this is the hot path of ``node_of``.
        """
        kind = type(key)
        if kind is str:
            h = _crc32(key.encode("utf-8", "surrogatepass"))
        elif kind is int:
            h = (((hash(key) & _MASK64) * _MIX) & _MASK64) >> 32
        else:
            return -1
        buckets = self.buckets
        count = buckets.length
        low = 1 << (count.bit_length() - 1)
        b = h & ((low << 1) - 1)
        if b >= count:
            b = h & (low - 1)
        bucket = buckets.chunks[b >> 12][(b >> 6) & 63][b & 63]
        for i in range(0, len(bucket), 2):
            k = bucket[i]
            if k == key and type(k) is kind:
                return bucket[i + 1]
        return -1

    def items(self) -> Iterator[Tuple[Any, int]]:
        """Every (key, node) pair, bucket by bucket. O(n)."""
        for bucket in self.buckets:
            for i in range(0, len(bucket), 2):
                yield bucket[i], bucket[i + 1]

    def transient(self) -> "TransientKeyIndex":
        """A batch of changes to this index. O(1)."""
        return TransientKeyIndex(self)


def empty_keys(field: str) -> KeyIndex:
    """An empty key index (one empty bucket). O(1)."""
    return KeyIndex(field, ChunkedVector([()]), 0)


def build_keys(field: str, pairs: Iterable[Tuple[int, Any]]) -> KeyIndex:
    """The key index of (node, data) pairs: every key checked, then built in O(n).

    ``InvalidKey`` or ``DuplicateKey`` (naming both nodes) before anything is built.
    """
    seen: Dict[Any, int] = {}  # one dict: an int key never equals a str key (bools are refused)
    for node, data in pairs:
        key = data.get(field, MISSING) if type(data) is dict else MISSING
        kind = type(key)
        if kind is not int and kind is not str:
            key = check_key(data, field, node)  # a mapping of another type, an object, or an error
        other = seen.setdefault(key, node)
        if other != node:
            raise DuplicateKey(f"key {field}={key!r} is held by node {other} and node {node}")
    count = len(seen)
    nbuckets = max(1, -(-count // LOAD))
    low = 1 << (nbuckets.bit_length() - 1)  # ``bucket_of`` inlined
    wide, narrow = (low << 1) - 1, low - 1
    lists: List[List[Any]] = [[] for _ in range(nbuckets)]
    for key, node in seen.items():
        h = _crc32(key.encode("utf-8", "surrogatepass")) if type(key) is str else key_hash(key)
        b = h & wide
        bucket = lists[b if b < nbuckets else h & narrow]
        bucket.append(key)
        bucket.append(node)
    return KeyIndex(field, ChunkedVector(tuple(b) for b in lists), count)


class TransientKeyIndex:
    """The key index of a batch: its bucket vector changes in place; ``persistent()`` freezes it."""

    __slots__ = ("field", "_buckets", "count")

    def __init__(self, base: KeyIndex) -> None:
        self.field = base.field
        self._buckets: TransientVector = base.buckets.transient()
        self.count = base.count

    def lookup(self, key: Any) -> int:
        """The node holding ``key`` in the batch's current state, or -1. O(1)."""
        if type(key) is not int and type(key) is not str:
            return -1
        buckets = self._buckets
        return find_in(buckets[bucket_of(key_hash(key), len(buckets))], key)

    def add(self, key: Any, node: int) -> None:
        """Map ``key`` (checked absent by the caller) to ``node``; may split one bucket. O(1) amortised."""
        buckets = self._buckets
        b = bucket_of(key_hash(key), len(buckets))
        buckets[b] = (*buckets[b], key, node)
        self.count += 1
        if self.count > LOAD * len(buckets):
            self._split()

    def remove(self, key: Any) -> None:
        """Forget ``key`` (which must be present). O(1)."""
        buckets = self._buckets
        b = bucket_of(key_hash(key), len(buckets))
        bucket = buckets[b]
        kind = type(key)
        for i in range(0, len(bucket), 2):
            k = bucket[i]
            if k == key and type(k) is kind:
                buckets[b] = bucket[:i] + bucket[i + 2 :]
                self.count -= 1
                return
        raise TableCorrupt(f"key {key!r} is missing from the key index")

    def _split(self) -> None:
        """Split bucket ``N - 2**L`` into itself and a new bucket ``N``. O(bucket)."""
        buckets = self._buckets
        count = len(buckets)
        low = 1 << (count.bit_length() - 1)
        s = count - low
        stay: List[Any] = []
        move: List[Any] = []
        bucket = buckets[s]
        for i in range(0, len(bucket), 2):
            key = bucket[i]
            (move if bucket_of(key_hash(key), count + 1) == count else stay).extend((key, bucket[i + 1]))
        buckets[s] = tuple(stay)
        buckets.append(tuple(move))

    def persistent(self) -> KeyIndex:
        """The frozen index. O(1)."""
        return KeyIndex(self.field, self._buckets.persistent(), self.count)


def check_keys(index: KeyIndex, live: Iterable[Tuple[int, Any]]) -> None:
    """The index holds exactly the live rows' keys, each in its hash's bucket; raises ``TableCorrupt``. O(n)."""
    field = index.field
    buckets = index.buckets
    nbuckets = len(buckets)
    if nbuckets < 1:
        raise TableCorrupt("the key index has no bucket")
    expect: Dict[Tuple[type, Any], int] = {}
    for node, data in live:
        try:
            key = check_key(data, field, node)
        except InvalidKey as exc:
            raise TableCorrupt(str(exc)) from None
        other = expect.setdefault((type(key), key), node)
        if other != node:
            raise TableCorrupt(f"key {key!r} is held by nodes {other} and {node}")
    found = 0
    for b in range(nbuckets):
        bucket = buckets[b]
        if type(bucket) is not tuple or len(bucket) % 2:
            raise TableCorrupt(f"key index bucket {b} is malformed: {_short(bucket)}")
        for i in range(0, len(bucket), 2):
            key, node = bucket[i], bucket[i + 1]
            if type(key) not in (int, str) or bucket_of(key_hash(key), nbuckets) != b:
                raise TableCorrupt(f"key {key!r} is in key index bucket {b}, not its own")
            if expect.get((type(key), key)) != node:
                raise TableCorrupt(f"the key index maps {key!r} to node {node}, the rows do not")
            found += 1
    if found != len(expect) or index.count != found:
        raise TableCorrupt(
            f"the key index holds {found} keys (count {index.count}) for {len(expect)} keyed nodes"
        )

