"""The persistent node table and its transient (batch) form.

Rows live in a ``ChunkedVector`` indexed by node id (``None`` marks a free slot):
reads are two list subscripts, a snapshot O(1), and the garbage collector only
walks the chunks an update touched (see ``vector.py``).  A batch
(``TransientNodeTable``) writes through a ``TransientVector`` and copies a row the
first time it changes it; ``persistent()`` freezes the batch into a new
``NodeTable`` and retires the batch's ownership token, so no committed row is ever
changed in place.
"""

from __future__ import annotations

from typing import Any, Collection, Iterable, Iterator, List, Optional, Tuple

from ..errors import DuplicateKey, InvalidOperation, TableCorrupt, UnknownNode
from .allocator import IdAllocator
from .attrindex import Range, indexed_values
from .fieldtree import NO_FIELDS, FieldTrees, TransientFieldTrees, build_trees, check_trees, reconfigure
from .keyindex import KeyIndex, build_keys, check_key, check_keys, empty_keys
from .rows import UNKNOWN, NodeArg, OwnedRow, Row
from .vector import ChunkedVector


class _TableReader:
    """Read operations shared by the persistent table and a batch."""

    __slots__ = ()
    _rows: Any
    _alloc: IdAllocator
    _fields: Tuple[str, ...]
    _keys: Any  # KeyIndex, TransientKeyIndex or None (no key field)
    # ``copy_out``: None (a plain table hands out the data it holds), or the function a
    # database sets (``botree.tree.values.copy_out``) that ``data`` reads go through, so
    # that no caller can mutate a stored value.  Kept by ``transient``, ``persistent``
    # and ``configured``; this layer never calls it on its own rows.
    copy_out: Any

    def __len__(self) -> int:
        return self._alloc.live_count

    def __contains__(self, node: object) -> bool:
        """True when ``node`` is a live id. O(1)."""
        if type(node) is not int or node < 0:  # bool is not a node id
            return False
        try:
            return self._rows[node] is not None
        except IndexError:
            return False

    def row(self, node: NodeArg) -> Row:
        """The row of ``node``; raises ``UnknownNode`` (a KeyError). O(1).

        The returned row must not be modified: use a batch's ``writable``.
        """
        rows = self._rows
        if type(node) is int and 0 <= node < rows.length:
            # Inlined ChunkedVector read (MID_BITS = 12, LEAF_BITS = 6): this is the hottest read.
            row = rows.chunks[node >> 12][(node >> 6) & 63][node & 63]
            if row is not None:
                return row
        raise UnknownNode(node)

    @property
    def node_ids(self) -> IdAllocator:
        """The allocator of node ids (live count, freed ids to reuse). O(1)."""
        return self._alloc

    # ``rows``: the row vector, for read-only scans (``rows[node]`` is a Row or None).  A plain
    # attribute beside ``_rows`` (set together at construction), not a property: the order
    # index reads it on every update and query, and a property is a Python call.
    rows: Any

    def data(self, node: NodeArg) -> Any:
        """The user data of ``node`` (through ``copy_out`` if the table has one). O(1) (O(size) copied)."""
        data = self.row(node).data
        copy = self.copy_out
        return data if copy is None else copy(data)

    def ids(self) -> Iterator[int]:
        """Live ids in increasing order. O(capacity)."""
        rows = self._rows
        for node in range(len(rows)):
            if rows[node] is not None:
                yield node

    @property
    def fields(self) -> Tuple[str, ...]:
        """The indexed field names. O(1)."""
        return self._fields

    def _trees(self) -> Any:
        """The field index (``FieldTrees`` or a batch's ``TransientFieldTrees``)."""
        raise NotImplementedError

    @property
    def key(self) -> Optional[str]:
        """The key field's name, or None for a table without keys. O(1)."""
        keys = self._keys
        return None if keys is None else keys.field

    def node_of_key(self, key: Any) -> int:
        """The node whose data holds ``key`` in the key field, or -1 (none, or not a key). O(1).

        Keys compare by exact type: the str ``"3"`` is not the int ``3``.  An unkeyed
        table raises ``InvalidOperation``.
        """
        keys = self._keys
        if keys is None:
            raise InvalidOperation("this tree has no key field (give key= when building it)")
        return keys.lookup(key)

    def _new_key(self, data: Any, where: object) -> Any:
        """The key of ``data`` about to be stored; ``InvalidKey``, or ``DuplicateKey`` if a node holds it. O(1)."""
        keys = self._keys
        assert keys is not None
        key = check_key(data, keys.field, where)
        other = keys.lookup(key)
        if other >= 0:
            raise DuplicateKey(f"key {keys.field}={key!r} is already held by node {other}")
        return key

    def check_inserts(self, datas: List[Any]) -> None:
        """Raise what inserting every item of ``datas`` would raise, changing nothing. O(k).

        Indexed values are checked, and in a keyed table each key must be valid, held
        by no node and by no other item (``DuplicateKey``).
        """
        if self._fields:
            for i, data in enumerate(datas):
                indexed_values(self._fields, data, f"item {i}")
        if self._keys is not None:
            seen: dict[Tuple[type, Any], int] = {}
            for i, data in enumerate(datas):
                key = self._new_key(data, f"item {i}")
                j = seen.setdefault((type(key), key), i)
                if j != i:
                    raise DuplicateKey(f"key {self._keys.field}={key!r} is held by items {j} and {i}")

    def key_of(self, node: NodeArg) -> Any:
        """The key of ``node`` (``UnknownNode`` if not live; ``InvalidOperation`` if unkeyed). O(1)."""
        keys = self._keys
        if keys is None:
            raise InvalidOperation("this tree has no key field (give key= when building it)")
        return check_key(self.row(node).data, keys.field, node)

    def find(self, field: str, value: Any) -> frozenset[int]:
        """Ids of nodes whose ``field`` equals ``value`` (a batch: in its current state). O(log n + result)."""
        return frozenset(self.find_ids(field, value))

    def find_ids(self, field: str, value: Any) -> Collection[int]:
        """Ids of nodes whose ``field`` equals ``value`` (or lies in it, for a ``Range``).

        Equality: ascending ids, O(log n + k).  A ``Range``: by ascending value,
        O(log n + k) for k ids.  ``NotIndexed`` for an unindexed field.  A batch
        answers from its current state.
        """
        if isinstance(value, Range):
            return list(self._trees().range_ids(field, value))
        return self._trees().find(field, value)

    def range_values(self, field: str, rng: Range) -> Iterator[Any]:
        """The distinct values of ``field`` inside ``rng``, ascending, lazily (no ids are read):
        O(log n) to start, then amortised O(1) per id (O(log n) per value with many ids).
        ``NotIndexed`` at the call."""
        return self._trees().range_values(field, rng)

    def range_ids(self, field: str, rng: Range) -> Iterator[int]:
        """Ids whose ``field`` lies in ``rng``, by ascending value, lazily: O(log n) to start,
        then amortised O(1) per id (a batch must not change while this is consumed).
        ``NotIndexed`` for an unindexed field, at the call."""
        return self._trees().range_ids(field, rng)


class NodeTable(_TableReader):
    """An immutable table of node rows with dense, reused integer ids.

    ``NodeTable(fields=("name",))`` indexes the ``name`` field of node data.
    Every update returns a new table and leaves this one unchanged.
    """

    __slots__ = ("_rows", "rows", "_alloc", "_fields", "_index", "_keys", "copy_out")

    def __init__(self, fields: Iterable[str] = (), key: Optional[str] = None) -> None:
        fields = tuple(fields)
        for field in fields:
            if not isinstance(field, str):
                raise TypeError(f"indexed field names must be str, not {type(field).__name__}")
        self.rows = self._rows = ChunkedVector()
        self._alloc = IdAllocator()
        self._fields = fields
        self._index: Optional[FieldTrees] = build_trees(fields, ())
        self._keys = None if key is None else empty_keys(key)  # typed Any in _TableReader (mypyc)
        self.copy_out = None

    @classmethod
    def from_parts(
        cls,
        rows: ChunkedVector,
        alloc: IdAllocator,
        fields: Tuple[str, ...],
        field_index: Optional[FieldTrees],
        keys: Optional[KeyIndex] = None,
    ) -> "NodeTable":
        """A table from its parts; ``field_index=None`` builds the field index from the rows on first use
        (a stored version written before field indexes were stored).

        ``keys``: the key index (None: the table has no key field); it must agree with the rows.
        """
        new = cls.__new__  # not cls.__new__(cls): mypyc fails on that spelling in a subclass
        table = new(cls)
        table.rows = table._rows = rows
        table._alloc = alloc
        table._fields = fields
        table._index = field_index
        table._keys = keys
        table.copy_out = None
        return table

    @classmethod
    def from_rows(cls, rows: List[Row], fields: Iterable[str] = (), key: Optional[str] = None) -> "NodeTable":
        """A table whose ids 0..len(rows)-1 hold ``rows`` (bulk load). O(n).

        The rows become part of an immutable table: the caller must not keep
        changing them.  Indexed values and keys are checked first; a bad one raises
        (``InvalidKey``, ``DuplicateKey``, ...) and nothing is built.
        """
        fields = tuple(fields)
        keys = None if key is None else build_keys(key, ((node, row.data) for node, row in enumerate(rows)))
        trees = build_trees(fields, ((node, row.data) for node, row in enumerate(rows)))
        return cls.from_parts(ChunkedVector(rows), IdAllocator(len(rows)), fields, trees, keys)

    def configured(self, fields: Iterable[str], key: Optional[str]) -> "NodeTable":
        """The same rows and ids with other indexed ``fields`` and key field. O(n log n) to build the indexes.

        Indexes that do not change are shared (an added field's tree goes beside the
        kept ones, a dropped field's slots are freed).  A row without a valid key, or two rows
        holding the same key, raise (``InvalidKey``, ``DuplicateKey``); nothing changes.
        """
        fields = tuple(fields)
        if key is None:
            keys = None
        elif self._keys is not None and self._keys.field == key:
            keys = self._keys
        else:
            keys = build_keys(key, self._live())
        trees = self._trees() if fields == self._fields else reconfigure(self._trees(), fields, self._live())
        table = NodeTable.from_parts(self._rows, self._alloc, fields, trees, keys)
        table.copy_out = self.copy_out
        return table

    def _live(self) -> Iterator[Tuple[int, Any]]:
        """(node, data) of every live row. O(capacity)."""
        return ((node, row.data) for node, row in enumerate(self._rows) if row is not None)

    @property
    def keys(self) -> Optional[KeyIndex]:
        """The frozen key index (None: no key field). O(1)."""
        return self._keys

    @property
    def field_index(self) -> Optional[FieldTrees]:
        """The frozen field index as it is now: None while a table loaded without one has not built it. O(1)."""
        return self._index

    def _trees(self) -> FieldTrees:
        """The field index; a table loaded without one builds it from the rows on first use: O(n log n) once."""
        trees = self._index
        if trees is None:
            trees = self._index = build_trees(self._fields, self._live())
        return trees

    def transient(self, fresh_ids: bool = False) -> "TransientNodeTable":
        """A batch starting from this table. O(1).

        ``fresh_ids=True``: the batch never reuses a freed id (inserts take ids never
        handed out, deletes retire their ids), so an id names one node in every table
        derived from it.
        """
        return TransientNodeTable(self, fresh_ids)

    # Persistent single-step updates, each a one-operation batch: O(log n).

    def insert(
        self, data: Any = None, links: Tuple[int, int, int, int] = (0, 0, 0, 0)
    ) -> Tuple["NodeTable", int]:
        """A new table with one more row; returns (table, new id). O(log n)."""
        batch = self.transient()
        node = batch.insert(data, links)
        return batch.persistent(), node

    def insert_many(self, datas: Iterable[Any]) -> Tuple["NodeTable", List[int]]:
        """A new table with one row per item of ``datas``; returns (table, ids). O(k log n)."""
        batch = self.transient()
        ids = batch.insert_many(datas)
        return batch.persistent(), ids

    def set_data(self, node: NodeArg, data: Any) -> "NodeTable":
        """A new table where ``node`` holds ``data``. O(log n)."""
        batch = self.transient()
        batch.set_data(node, data)
        return batch.persistent()

    def update(self, node: NodeArg, **fields: Any) -> "NodeTable":
        """A new table with the named row fields of ``node`` replaced. O(log n)."""
        batch = self.transient()
        batch.update(node, **fields)
        return batch.persistent()

    def delete(self, node: NodeArg) -> "NodeTable":
        """A new table without ``node``; its id may be reused later. O(log n)."""
        batch = self.transient()
        batch.delete(node)
        return batch.persistent()

    # One-update forms for the order index's single updates (``OrderIndex.single_*``): no batch,
    # the new table is made from this one's parts with the few written slots path-copied.  A
    # table with indexed fields or a key field goes through a batch (the indexes' own updates).

    def _with(self, rows: ChunkedVector, alloc: IdAllocator) -> "NodeTable":
        table = NodeTable.from_parts(rows, alloc, self._fields, self._index, self._keys)
        table.copy_out = self.copy_out
        return table

    def with_row(self, data: Any, links: Tuple[int, int, int, int], parent: int) -> Tuple["NodeTable", int]:
        """``insert`` of a row made frozen (``Row``, no owner); returns (table, new id). O(n / 4096 + 64)."""
        if self._fields or self._keys is not None:
            batch = self.transient()
            node = batch.insert(data, links, parent)
            return batch.persistent_last(), node
        alloc = self._alloc.copy()
        node = alloc.allocate()
        row = Row(links[0], links[1], links[2], links[3], data, None, parent)
        rows = self._rows
        return self._with(rows.appended(row) if node == rows.length else rows.written([node], [row]), alloc), node

    def without(self, nodes: List[int]) -> "NodeTable":
        """A new table without the rows of ``nodes`` (distinct live ids): ``delete`` of each. O(k + n / 4096)."""
        if self._fields or self._keys is not None:
            batch = self.transient()
            for node in nodes:
                batch.delete(node)
            return batch.persistent_last()
        alloc = self._alloc.copy()
        for node in nodes:
            alloc.release(node)
        return self._with(self._rows.written(nodes, [None] * len(nodes)), alloc)

    def with_rows(self, nodes: List[int], rows: List[Row]) -> "NodeTable":
        """A new table whose live ``nodes`` hold ``rows`` (frozen ``Row``s with the same data: links and
        parents changed, so no index changes). O(k + n / 4096)."""
        return self._with(self._rows.written(nodes, rows), self._alloc)

    def check(self) -> None:
        """Verify allocator and attribute-index consistency; raises ``TableCorrupt``. O(n)."""
        rows = self._rows
        alloc = self._alloc
        if len(rows) != alloc.next_id:
            raise TableCorrupt(f"{len(rows)} slots but allocator next id {alloc.next_id}")
        free = list(alloc.free_ids())
        if len(free) != alloc.nfree or len(set(free)) != len(free) or alloc.holes < 0:
            raise TableCorrupt("free list length or uniqueness broken")
        for node in free:
            if not 0 <= node < len(rows) or rows[node] is not None:
                raise TableCorrupt(f"id {node} is both free and live (or out of range)")
        live = [n for n, r in enumerate(rows) if r is not None]
        if len(live) + len(free) + alloc.holes != len(rows):
            raise TableCorrupt("some id is neither live nor free")
        check_trees(self._trees(), self._live())
        if self._keys is not None:
            check_keys(self._keys, self._live())


class TransientNodeTable(_TableReader):
    """A batch of changes to a ``NodeTable``, applied in place and frozen by ``persistent()``.

    Rows this batch created or copied are changed in place; any other row is copied
    on its first write (``writable``).  After ``persistent()`` the batch may go on,
    but it copies again before writing, so the frozen table never changes.
    """

    __slots__ = (
        "_rows",
        "rows",
        "_alloc",
        "_alloc_owned",
        "_fields",
        "_index",
        "_keys",
        "_token",
        "fresh_ids",
        "wanted",
        "copy_out",
    )

    def __init__(self, base: NodeTable, fresh_ids: bool = False) -> None:
        self.rows = self._rows = base._rows.transient()
        # Copy-on-write: the base's allocator is shared until an insert or delete changes it.
        self._alloc = base._alloc
        self._alloc_owned = False
        self._fields = base._fields
        self._index: Optional[TransientFieldTrees] = base._trees().transient() if base._fields else None
        self._keys = None if base._keys is None else base._keys.transient()
        self._token = object()
        self.fresh_ids = fresh_ids  # True: never reuse a freed id (see ``NodeTable.transient``)
        # Ids the next inserts must take, last one first (``claim``); empty: allocate as usual.
        self.wanted: List[int] = []
        self.copy_out = base.copy_out

    def claim(self, ids: Iterable[int]) -> None:
        """Make the next inserts take exactly ``ids``, in order (a merge or replay keeping logged ids). O(k).

        Each id must be unused: at or past the allocator's next id (the ids between
        become holes), or a hole below it (a retired or skipped id).
        """
        self.wanted = list(ids)[::-1]

    def skip_to(self, next_id: int) -> None:
        """Never hand out ids below ``next_id``: those not yet used become holes. O(next_id - current next id).

        Branches of one database draw fresh ids from one shared range this way.
        """
        alloc = self._own_alloc()
        rows = self._rows
        while alloc.next_id < next_id:
            rows.append(None)
            alloc.next_id += 1
            alloc.holes += 1

    def _take(self, node: int) -> None:
        """Reserve the unused id ``node`` for the insert in progress (see ``claim``). O(gap)."""
        alloc = self._own_alloc()
        if node >= alloc.next_id:
            self.skip_to(node)
            alloc.next_id += 1
            self._rows.append(None)
        elif self._rows[node] is not None or alloc.holes < 1:
            raise TableCorrupt(f"cannot insert node {node} again: the id is in use or was never retired")
        else:
            alloc.holes -= 1

    def _own_alloc(self) -> IdAllocator:
        """The allocator, copied first if it is still shared with a frozen table. O(1)."""
        if not self._alloc_owned:
            self._alloc = self._alloc.copy()
            self._alloc_owned = True
        return self._alloc

    @property
    def owner_token(self) -> object:
        """The token of rows this batch may change in place (``row.owner is owner_token``). O(1)."""
        return self._token

    def writable(self, node: NodeArg) -> Row:
        """The row of ``node``, owned by this batch and safe to change. O(1)."""
        rows = self._rows
        if type(node) is int and 0 <= node < rows.length:
            # Inlined ChunkedVector read, as in ``row``.
            row = rows.chunks[node >> 12][(node >> 6) & 63][node & 63]
            if row is None:
                raise UnknownNode(node)
        else:
            row = self.row(node)  # raises UnknownNode
        if row.owner is not self._token:
            row = row.copy(self._token)
            self._rows[node] = row
        return row

    def insert(self, data: Any = None, links: Tuple[int, int, int, int] = (0, 0, 0, 0), parent: int = UNKNOWN) -> int:
        """Add a row and return its id (a freed id is reused first, unless ``fresh_ids``). O(log n).

        ``parent``: the new row's ``Row.parent`` (parent id << 1, ``TOP`` at top level, ``UNKNOWN``: not kept).
        """
        try:
            open_leaf, open_key, close_leaf, close_key = links
        except (TypeError, ValueError):
            raise TypeError(f"links must be four ints (open/close leaf and key), not {links!r}") from None
        alloc = self._alloc if self._alloc_owned else self._own_alloc()
        wanted = self.wanted
        keys = self._keys
        values = None
        if self._index is None and keys is None and not wanted:
            # The common table (no indexed field, no key, no claimed id): nothing to check.
            free = alloc.free
            if free is None or self.fresh_ids:
                node = alloc.next_id
                alloc.next_id = node + 1
            else:
                node, alloc.free = free  # ``allocate`` inlined
                alloc.nfree -= 1
        else:
            fresh = self.fresh_ids or alloc.free is None
            if wanted:
                node = wanted[-1]
            else:
                node = alloc.next_id if fresh else alloc.free[0]  # type: ignore[index]
            values = indexed_values(self._fields, data, node) if self._index is not None else None
            if keys is not None:
                key = self._new_key(data, node)
            if wanted:
                self._take(wanted.pop())
            else:
                node = alloc.allocate_fresh() if fresh else alloc.allocate()
        row = OwnedRow(open_leaf, open_key, close_leaf, close_key, data, self._token, parent)
        rows = self._rows
        if node == rows.length:
            rows.append(row)
        else:
            rows[node] = row
        if values is not None:
            self._index.add(node, values)  # type: ignore[union-attr]
        if keys is not None:
            keys.add(key, node)
        return node

    def insert_many(self, datas: Iterable[Any]) -> List[int]:
        """Add one row per item; returns the ids in order. O(k log n).

        All data is checked before any row is added, so a bad item changes nothing.
        """
        datas = list(datas)
        self.check_inserts(datas)
        return [self.insert(data) for data in datas]

    def set_data(self, node: NodeArg, data: Any) -> None:
        """Replace the data of ``node``. O(log n) with indexed fields, else O(1)."""
        row = self.row(node)
        keys = self._keys
        if keys is not None:
            key = check_key(data, keys.field, node)
            old_key = check_key(row.data, keys.field, node)
            same = type(key) is type(old_key) and key == old_key
            if not same:
                key = self._new_key(data, node)
        if self._index is not None:
            new_values = indexed_values(self._fields, data, node)
            self._index.change(node, indexed_values(self._fields, row.data, node), new_values)
        if keys is not None and not same:
            keys.remove(old_key)
            keys.add(key, node)
        self.writable(node).data = data

    def update(self, node: NodeArg, **fields: Any) -> None:
        """Replace named fields of the row of ``node`` (``data`` goes through ``set_data``). O(log n)."""
        allowed = ("open_leaf", "open_key", "close_leaf", "close_key", "parent", "data")
        for name in fields:
            if name not in allowed:
                raise TypeError(f"unknown row field {name!r}")
        self.row(node)
        if "data" in fields:
            self.set_data(node, fields.pop("data"))
        row = self.writable(node)
        for name, value in fields.items():
            setattr(row, name, value)

    def delete(self, node: NodeArg) -> None:
        """Remove ``node``; its id goes to the free list (with ``fresh_ids``: retired for good). O(log n)."""
        row = self.row(node)
        if self._index is not None:
            self._index.remove(node, indexed_values(self._fields, row.data, node))
        if self._keys is not None:
            self._keys.remove(check_key(row.data, self._keys.field, node))
        self._rows[node] = None
        alloc = self._alloc if self._alloc_owned else self._own_alloc()
        if self.fresh_ids:
            alloc.retire(node)
        else:
            alloc.release(node)

    def _trees(self) -> Any:
        return self._index if self._index is not None else NO_FIELDS  # no fields: lookups raise NotIndexed

    def persistent(self) -> NodeTable:
        """Freeze the batch into a new ``NodeTable``. O(changes)."""
        index = self._index.persistent() if self._index is not None else NO_FIELDS
        keys = self._keys.persistent() if self._keys is not None else None
        table = NodeTable.from_parts(self._rows.persistent(), self._alloc, self._fields, index, keys)
        table.copy_out = self.copy_out
        self._alloc_owned = False  # the frozen table holds it now: copy before the next change
        self._token = object()
        return table

    def persistent_last(self) -> NodeTable:
        """``persistent()`` for a batch dropped right after: the same table, without preparing
        this batch to go on (the caller stops using it: ``TransientIndex.persistent_last``). O(changes)."""
        index = self._index.persistent() if self._index is not None else NO_FIELDS
        keys = self._keys.persistent() if self._keys is not None else None
        rows = ChunkedVector.from_parts(self._rows.chunks, self._rows.length)
        table = NodeTable.from_parts(rows, self._alloc, self._fields, index, keys)
        table.copy_out = self.copy_out  # a database's tree hands out copies: so does every tree made from it
        return table
