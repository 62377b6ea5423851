"""``Tree``: an immutable forest of ordered trees, and ``Transaction``, its transient form.

The value and its transient form live side by side (as in pyrsistent): a
``Transaction`` freezes into a ``Tree``; a ``Tree`` opens a ``Transaction``.  Both get
their queries from ``TreeQueries`` and their update methods from ``updates.Updates``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from itertools import islice
from types import TracebackType
from typing import IO, Any, Dict, Hashable, Iterable, Iterator, List, Optional, Sequence, Tuple, Type, Union, overload

from ..core.bulk import Progress, build_index
from ..core.gcpause import gc_paused
from ..core.index import DEFAULT_BLOCK_SIZE, OrderIndex, TransientIndex, check_fields
from ..errors import InvalidArgument, InvalidOperation, NodeNotFound
from ..interchange.anytrees import anytree_events, to_anytree_nodes
from ..interchange.csvrows import check_delimiter, read_rows, write_rows
from ..interchange.diagram import Label, dot_text, mermaid_text
from ..interchange.frames import frame_events, to_frame
from ..interchange.graphs import graph_events, to_graph
from ..interchange.keyedtable import csv_parent_rows, csv_table
from ..interchange.nested import build_nested, json_text, nested_events, single_root
from ..interchange.parenttable import MappingMaker, parent_table_index
from ..interchange.paths import check_separator, leaf_paths, path_events, segment_of, split_path
from ..interchange.records import build_records, records_events
from ..renamed import renamed
from .cursor import Cursor
from .diff import Changes, full_diff
from .queries import TreeQueries
from .render import render, summary
from .sync import SyncReport, plan_sync, run_sync
from .updates import UPDATES, Update, Updates


class Tree(TreeQueries, Updates[Tuple["Tree", int], "Tree"]):
    """An immutable forest. Every update returns a new ``Tree``; this one never changes.

    ``Tree(block_size=64, fields=("name",))`` is an empty forest whose node data is
    indexed on the ``name`` field (see ``find``).  ``Tree(key="id")`` is keyed: every
    node's data must hold an ``id`` (an int or a str, unique in the forest; see
    ``node_of``, ``key_of``, ``has_key``).  Node ids are small integers; ids
    of deleted nodes may be reused by later inserts.  Queries and updates cost
    O(log n) unless noted, whatever the shape of the tree and the number of nodes
    an update moves.  Taking a snapshot is free: a ``Tree`` is one.
    """

    __slots__ = ("_ix", "_hash")

    @renamed(index="fields")
    def __init__(
        self, block_size: int = DEFAULT_BLOCK_SIZE, fields: Iterable[str] = (), key: Optional[str] = None
    ) -> None:
        self._ix: OrderIndex = OrderIndex(block_size, check_fields(fields), key)
        self._hash: Optional[int] = None

    @classmethod
    def from_order_index(cls, ix: OrderIndex) -> "Tree":
        """The tree over an order index (e.g. one a ``TransientIndex`` froze). O(1)."""
        tree = cls.__new__(cls)
        tree._ix = ix
        tree._hash = None
        return tree

    @property
    def order_index(self) -> OrderIndex:
        """The underlying order index (bounds, ranks, invariant checks). O(1)."""
        return self._ix

    def _insert(self, update: Update, *args: Any) -> Tuple["Tree", int]:
        """Run one insert on a one-update transient index: (the new tree, the new node). O(log n)."""
        transient = self._ix.transient()
        node = update.run(transient, *args)
        return Tree.from_order_index(transient.persistent_last()), node

    def _change(self, update: Update, *args: Any) -> "Tree":
        """Run one other update on a one-update transient index: the new tree. O(log n)."""
        transient = self._ix.transient()
        update.run(transient, *args)
        return Tree.from_order_index(transient.persistent_last())

    # The commonest updates try their leaf-local form without a batch first (``OrderIndex.single_*``,
    # which make nothing and return None when it does not apply); the registry's update on a
    # one-update batch does the rest, and raises for bad arguments.

    def insert_child(self, parent: Optional[int], data: Any = None, index: int = -1) -> Tuple["Tree", int]:
        """A new node as child ``index`` of ``parent`` (None: top level). O(log n + min(i, -i)).

        ``index`` is the position among the children after the insert: 0 first,
        -1 last, other negatives from the end.
        """
        if index == -1 and type(index) is int:
            done = self._ix.single_insert_last_child(parent, data)
            if done is not None:
                return Tree.from_order_index(done[0]), done[1]
        return self._insert(_INSERT_CHILD, parent, data, index)

    def delete(self, node: int) -> "Tree":
        """Remove ``node`` and its subtree. O(log n) to cut, O(size) to free the rows."""
        ix = self._ix.single_delete(node)
        if ix is not None:
            return Tree.from_order_index(ix)
        return self._change(_DELETE, node)

    def move(self, node: int, parent: Optional[int], index: int = -1) -> "Tree":
        """Move ``node`` with its subtree to child ``index`` of ``parent``. O(log n)."""
        if index == -1 and type(index) is int:
            ix = self._ix.single_move_last_child(node, parent)
            if ix is not None:
                return Tree.from_order_index(ix)
        return self._change(_MOVE, node, parent, index)

    @property
    def block_size(self) -> int:
        """Entries per block of the order index. O(1)."""
        return self._ix.block_size

    # -- interchange ------------------------------------------------------------

    @classmethod
    @renamed(index="fields")
    def from_events(
        cls,
        events: Iterable[Tuple[Any, bool]],
        block_size: int = DEFAULT_BLOCK_SIZE,
        fields: Iterable[str] = (),
        fill: float = 0.75,
        progress: Optional[Progress] = None,
        key: Optional[str] = None,
    ) -> "Tree":
        """A tree built bottom-up from ``(data, is_open)`` bounds in document order. O(n).

        Node ids are 0, 1, 2, ... in preorder, as inserting the nodes one by one would
        give.  Closing bounds' data is ignored.  ``progress(done, total)`` is called
        every 65,536 bounds.  An unbalanced stream raises ``InvalidOperation``.  ``key``:
        the key field (see ``Tree``); every bulk constructor takes it.
        """
        return cls.from_order_index(build_index(events, block_size, fields, fill, progress, key=key))

    def data_events(self, node: Optional[int] = None) -> Iterator[Tuple[Any, bool]]:
        """``(data, is_open)`` bounds of ``node``'s subtree (None: the forest): ``from_events`` input.

        Amortised O(1) each.
        """
        ix = self._ix
        return ((ix.data(n), is_open) for n, is_open in self.events(node))

    @classmethod
    @renamed(index="fields")
    def from_nested(
        cls,
        value: Any,
        block_size: int = DEFAULT_BLOCK_SIZE,
        fields: Iterable[str] = (),
        progress: Optional[Progress] = None,
        key: Optional[str] = None,
    ) -> "Tree":
        """A tree encoding a JSON-like value losslessly (see ``botree.nested``). O(n).

        Raises TypeError naming the path of the first non-JSON value; nothing is built.
        """
        return cls.from_order_index(
            build_index(nested_events(value), block_size, fields, progress=progress, key=key)
        )

    def to_nested(self, node: Optional[int] = None) -> Any:
        """The JSON-like value ``node`` encodes (None: the single top-level node). O(size)."""
        if node is None:
            node = single_root(self.roots())
            if node is None:
                raise InvalidOperation("the tree is empty: there is no value to convert")
        return build_nested(self.events(node), self._ix.data)

    @classmethod
    @renamed(index="fields")
    def from_json(
        cls,
        source: Union[str, "os.PathLike[str]", IO[str]],
        block_size: int = DEFAULT_BLOCK_SIZE,
        fields: Iterable[str] = (),
        progress: Optional[Progress] = None,
        key: Optional[str] = None,
    ) -> "Tree":
        """A tree from a JSON file (path or open text file), via ``from_nested``.

        The parsed document and the tree share their strings and numbers; the
        document's containers are released as soon as the build ends.
        O(n).
        """
        if isinstance(source, (str, os.PathLike)):
            with open(source, encoding="utf-8") as handle:
                value = json.load(handle)
        else:
            value = json.load(source)
        return cls.from_nested(value, block_size, fields, progress, key)

    def to_json(self, node: Optional[int] = None, indent: Union[int, str, None] = None, **dumps: Any) -> str:
        """The JSON text of ``to_nested(node)``, written without recursion. O(size).

        ``indent`` works as in ``json.dumps``; other keyword arguments (``sort_keys``,
        ``ensure_ascii``, ...) are passed to ``json.dumps`` of the decoded value,
        which is limited to the interpreter's recursion depth.
        """
        value = self.to_nested(node)  # validates the encoding
        if dumps:
            return json.dumps(value, indent=indent, **dumps)
        if node is None:
            node = single_root(self.roots())
        return json_text(self.events(node), self._ix.data, indent)

    @classmethod
    @renamed(index="fields")
    def from_parent_table(
        cls,
        rows: Iterable[Any],
        id: Any = "id",
        parent: Any = "parent",
        order: Any = None,
        data: Any = None,
        orphans: str = "error",
        cycles: str = "error",
        block_size: int = DEFAULT_BLOCK_SIZE,
        fields: Iterable[str] = (),
        progress: Optional[Progress] = None,
        key: Optional[str] = None,
    ) -> "Tree":
        """A tree from (id, parent) rows; see ``load_parent_table`` for every option. O(n log n)."""
        return _parent_table_tree(rows, id, parent, order, data, orphans, cycles, block_size, fields, progress, key)[0]

    def to_parent_table(self) -> List[Dict[str, Any]]:
        """One ``{"id", "parent", "order", "data"}`` dict per node, in preorder. O(n).

        ``Tree.from_parent_table(rows, data="data", order="order")`` rebuilds the tree.
        """
        data = self._ix.data
        return [{"id": n, "parent": p, "order": i, "data": data(n)} for n, p, i in self.places()]

    # Record trees and path strings (botree.interchange.records, .paths).

    @classmethod
    def from_records(
        cls,
        obj: Any,
        children: str = "children",
        key: Optional[str] = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
        fields: Iterable[str] = (),
        progress: Optional[Progress] = None,
    ) -> "Tree":
        """A tree from a record (a dict whose children are a list under ``children``) or a list of them. O(n).

        A node's data is its record without the ``children`` key; a missing, None or
        empty children entry makes a leaf.  ``key``: the tree's key field (see ``Tree``):
        every record must hold it, an int or a str, unique among all records
        (``DuplicateKey`` naming both paths otherwise); ``t.node_of(k)`` finds a record.  Bad input
        (not a dict, children not a list) raises ``InvalidArgument`` naming its path
        (``$['children'][2]``).  Nesting depth is unlimited; nothing half-built is returned.
        """
        fields = check_fields(fields)
        return cls.from_events(records_events(obj, children, key), block_size, fields, progress=progress, key=key)

    @overload
    def to_records(self, node: None = None, children: str = "children") -> List[Dict[Any, Any]]: ...

    @overload
    def to_records(self, node: int, children: str = "children") -> Dict[Any, Any]: ...

    def to_records(
        self, node: Optional[int] = None, children: str = "children"
    ) -> Union[Dict[Any, Any], List[Dict[Any, Any]]]:
        """``node``'s record (a dict), or for None the list of the top-level nodes' records. O(size).

        A record is a copy of the node's data (which must be a dict without the
        ``children`` key: ``InvalidOperation`` otherwise) plus, for a node with
        children, ``children: [their records]``; a leaf has no children key.  So
        ``Tree.from_records(t.to_records()) == t`` for dict data (ids in preorder), and
        ``t.to_records() == x`` for ``t = Tree.from_records(x)`` when x is a list of
        records with no empty children lists.
        """
        if node is None:
            return build_records(self.events(), self._ix.data, children)
        self._ix.require(node)
        return build_records(self.events(node), self._ix.data, children)[0]

    @classmethod
    def from_paths(
        cls,
        paths: Iterable[str],
        sep: str = "/",
        field: str = "name",
        block_size: int = DEFAULT_BLOCK_SIZE,
        fields: Iterable[str] = (),
        progress: Optional[Progress] = None,
        key: Optional[str] = None,
    ) -> "Tree":
        """A forest from path strings: "a/b/c" is the chain a > b > c, shared prefixes are shared nodes.

        Node data is ``{field: segment}``; siblings come in order of first appearance.
        One leading and one trailing ``sep`` are ignored; an empty path or segment
        ("a//b") raises ``InvalidArgument``.  O(total length of the paths).
        """
        fields = check_fields(fields)
        return cls.from_events(path_events(paths, sep, field), block_size, fields, progress=progress, key=key)

    def to_paths(self, node: Optional[int] = None, sep: str = "/", field: str = "name") -> List[str]:
        """The paths ("a/b/c") of the leaves of ``node``'s subtree (None: the forest), in preorder. O(size).

        Paths start at ``node`` itself (its own segment first): ``from_paths`` of them
        rebuilds the subtree.  ``Tree.from_paths(t.to_paths()) == t`` for a tree made by ``from_paths``.  Every
        node's ``data[field]`` must be a non-empty str without ``sep``
        (``InvalidOperation`` naming the node otherwise).
        """
        if node is not None:
            self._ix.require(node)
        return leaf_paths(self.events(node), self._ix.data, sep, field)

    def resolve(self, path: str, field: str = "name", sep: str = "/") -> int:
        """The node at ``path`` ("/a/b/c" or "a/b/c", from the top level), matching ``data[field]``.

        ``NodeNotFound`` names the first segment with no match; two siblings holding
        the same segment make the path ambiguous: ``InvalidOperation`` naming them.
        Cost per segment: O(siblings) child steps; when ``field`` is indexed, O(k · B
        log n) for the k nodes holding that segment anywhere instead.
        """
        check_separator(sep, field)
        ix = self._ix
        indexed = field in ix.nodes.fields
        here: Optional[int] = None
        for depth, segment in enumerate(split_path(path, sep)):
            if indexed:
                hits = sorted(ix.nodes.find_ids(field, segment))  # the field index, whatever the field is called
                candidates: Iterable[int] = (n for n in hits if ix.enclosing(n) == here)
            else:
                candidates = (
                    n for n in self.children(here) if isinstance(d := ix.data(n), Mapping) and d.get(field) == segment
                )
            found = list(islice(candidates, 2))
            if not found:
                where = "at the top level" if here is None else f"under node {here}"
                prefix = sep.join(split_path(path, sep)[: depth + 1])
                raise NodeNotFound(path, f"no node {sep}{prefix}: {segment!r} is not a {field} {where}")
            if len(found) > 1:
                raise InvalidOperation(f"path {path!r} is ambiguous: nodes {found} both hold {field}={segment!r}")
            here = found[0]
        assert here is not None
        return here

    def path_name(self, node: int, field: str = "name", sep: str = "/") -> str:
        """The path "/a/b/c" of ``node``: ``data[field]`` from its top-level ancestor down. O(depth · B log n).

        ``t.resolve(t.path_name(n)) == n`` when sibling names are unique; a node on
        the way without a str ``field`` free of ``sep`` raises ``InvalidOperation``.
        """
        check_separator(sep, field)
        ix = self._ix
        chain = [node, *self.ancestors(node)]
        return sep + sep.join(segment_of(n, ix.data(n), field, sep) for n in reversed(chain))

    # Flat tables: CSV files and pandas DataFrames (botree.interchange.table, .frames).

    def to_csv(
        self,
        target: Union[str, "os.PathLike[str]", IO[str]],
        parent: str = "parent",
        order: Optional[str] = "order",
        delimiter: str = ",",
    ) -> None:
        """Write the tree as a CSV parent table, losslessly. O(n · columns).

        A keyed tree writes its data fields (key column first, in order of first
        appearance) with a ``parent`` column right after the key holding the parent's
        key, one row per node in preorder; the ``order`` field's values are kept while
        they still sort every node's children, otherwise it holds child positions.  A
        tree without a key field writes ``#id,#parent,#order`` (node ids and child
        positions) and its data fields.  Cells are written so that ``Tree.from_csv``
        reads back equal values (numbers, booleans, None as an empty cell, text); data
        must be mappings.  A path is written as UTF-8; a file object must be opened with
        ``newline=""``.  This is the file ``botree export --format csv`` writes.
        """
        _check_columns(parent=parent, order=order)
        check_delimiter(delimiter)
        if not isinstance(target, (str, os.PathLike)) and not callable(getattr(target, "write", None)):
            raise InvalidArgument(f"to_csv needs a path or a text file, not {type(target).__name__}")
        header, rows, _ = csv_table(self.places(), self._ix.data, self.key, parent, order)
        if isinstance(target, (str, os.PathLike)):
            with open(target, "w", encoding="utf-8", newline="") as handle:
                write_rows(handle, header, rows, delimiter)
        else:
            write_rows(target, header, rows, delimiter)

    @classmethod
    def from_csv(
        cls,
        source: Union[str, "os.PathLike[str]", IO[str]],
        key: str = "id",
        parent: str = "parent",
        order: Optional[str] = None,
        types: Union[Mapping[str, str], Sequence[str]] = (),
        delimiter: str = ",",
        orphans: str = "error",
        cycles: str = "error",
        block_size: int = DEFAULT_BLOCK_SIZE,
        fields: Iterable[str] = (),
        progress: Optional[Progress] = None,
    ) -> "Tree":
        """A keyed tree from a CSV parent table with a header row. O(n · columns + n log n).

        Every column but ``parent`` goes into each node's data, the ``key`` column
        included, and the tree's key field is ``key``; a ``parent`` cell holds the
        parent's key (empty: top level).  Siblings are sorted by the ``order`` column
        (default: ``"order"`` when the header has one) when all its cells are filled and
        keep file order when all are blank; a mix is an error.  Cells are typed: by
        ``types`` (``{"col": "int" | "float" | "number" | "bool" | "str" | "json"}``),
        else sniffed per column so that ``to_csv`` writes back the same text (see
        ``botree.interchange.csvrows``); an empty cell is None.  A ``#id,#parent,#order``
        file (``to_csv`` of a tree without a key field) reads back without one.
        ``orphans``, ``cycles``: as in ``load_parent_table``.  Bad input raises
        ``InvalidArgument`` / ``InvalidOperation`` / ``InvalidKey`` / ``DuplicateKey``
        naming the file and row.  This is how ``botree import`` reads a CSV file.
        """
        fields = check_fields(fields)
        _check_columns(key=key, parent=parent, order=order)
        check_delimiter(delimiter)
        if isinstance(types, Mapping):
            specs = [f"{c}={t}" for c, t in types.items()]
        elif isinstance(types, (list, tuple)) and all(type(t) is str for t in types):
            specs = list(types)
        else:
            raise InvalidArgument(f"types must be a mapping of column -> type name, not {types!r}")
        same = {parent: key, "#parent": "#id"}
        if not isinstance(source, (str, os.PathLike)) and not callable(getattr(source, "read", None)):
            raise InvalidArgument(f"from_csv needs a path or a text file, not {type(source).__name__}")
        if isinstance(source, (str, os.PathLike)):
            name = os.fspath(source)
            with open(source, encoding="utf-8", newline="") as handle:
                header, rows = read_rows(handle, name, delimiter, specs, same)
        else:
            name = getattr(source, "name", "CSV input")
            header, rows = read_rows(source, str(name), delimiter, specs, same)
        table, ordered, keyed = csv_parent_rows(header, rows, str(name), key, parent, order)
        tree, _ = load_parent_table(
            table, 0, 1, 2 if ordered else None, 3, orphans, cycles, block_size, fields, progress, key=keyed
        )
        return tree

    def to_dataframe(self, data: Optional[str] = None) -> Any:
        """A pandas DataFrame of the flat table (as ``to_csv``): ``id, parent, order``, data fields. O(n · columns).

        ``parent`` is nullable (``<NA>`` at the top level); data columns keep their
        values exactly (dtype object where cells are missing or of mixed types).
        Needs the ``pandas`` extra (``MissingExtra`` otherwise).
        """
        return to_frame(self.places(), self._ix.data, data)

    @classmethod
    def from_dataframe(
        cls,
        df: Any,
        id: Hashable = "id",
        parent: Hashable = "parent",
        order: Optional[Hashable] = "order",
        data: Optional[Hashable] = None,
        orphans: str = "error",
        cycles: str = "error",
        block_size: int = DEFAULT_BLOCK_SIZE,
        fields: Iterable[str] = (),
        progress: Optional[Progress] = None,
        key: Optional[str] = None,
    ) -> "Tree":
        """A tree from a DataFrame with id and parent columns, via ``load_parent_table``. O(n · columns + n log n).

        A missing parent (None, NaN, ``<NA>``) is the top level; siblings are sorted
        by the ``order`` column when the frame has one, else keep row order.  Node
        data is the row (as Python scalars) without the id, parent and order columns
        and without missing cells, or the one column ``data``.  Needs the ``pandas`` extra.
        """
        fields = check_fields(fields)
        events, _ = frame_events(df, id, parent, order, data, orphans, cycles)
        return cls.from_events(events, block_size, fields, progress=progress, key=key)

    # Graph libraries and diagrams (botree.interchange.graphs, .anytrees, .diagram).

    def to_networkx(self, data: Optional[str] = "data", order: Optional[str] = "order") -> Any:
        """A ``networkx.DiGraph``: one node per tree node (same ids, added in preorder), edges parent -> child.

        Node attributes: ``data`` holds the node's data (None: the data dict's items
        are the attributes) and ``order`` its position among its siblings.  O(n).
        Needs the ``networkx`` extra.
        """
        return to_graph(self.places(), self._ix.data, data, order)

    @classmethod
    def from_networkx(
        cls,
        g: Any,
        data: Optional[str] = "data",
        order: Optional[str] = "order",
        cycles: str = "error",
        block_size: int = DEFAULT_BLOCK_SIZE,
        fields: Iterable[str] = (),
        progress: Optional[Progress] = None,
        key: Optional[str] = None,
    ) -> "Tree":
        """A forest from a DiGraph of parent -> child edges; nodes without a parent are top-level. O(n log n).

        Siblings are sorted by the ``order`` attribute if every node has one, else
        kept in ``g.nodes`` (insertion) order.  Data: the ``data`` attribute (None: the
        node's attribute dict without ``order``).  Two parents or a cycle raise
        ``InvalidOperation``.  Needs the ``networkx`` extra.
        """
        fields = check_fields(fields)
        events, _ = graph_events(g, data, order, cycles)
        return cls.from_events(events, block_size, fields, progress=progress, key=key)

    @classmethod
    def from_anytree(
        cls,
        node: Any,
        data: Optional[str] = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
        fields: Iterable[str] = (),
        progress: Optional[Progress] = None,
        key: Optional[str] = None,
    ) -> "Tree":
        """A tree from an anytree node's subtree (or a forest from a list of nodes). O(n).

        Data: the node's public attributes as a dict (``Node("a", x=1)``: ``{"name":
        "a", "x": 1}``), or with ``data`` that one attribute.  Iterative (any depth).
        Needs the ``anytree`` extra.
        """
        fields = check_fields(fields)
        return cls.from_events(anytree_events(node, data), block_size, fields, progress=progress, key=key)

    def to_anytree(self, node: Optional[int] = None, data: Optional[str] = None) -> Any:
        """An ``anytree.AnyNode`` for ``node``'s subtree (None: the single top-level node). O(size).

        With ``data=None`` the data dict's items are the node's attributes (keys must
        be identifiers anytree does not use itself, else ``InvalidOperation``); with
        ``data="data"`` the whole value is one attribute.  Needs the ``anytree`` extra.
        """
        if node is None:
            node = single_root(self.roots())
            if node is None:
                raise InvalidOperation("the tree is empty: there is no node to convert")
        else:
            self._ix.require(node)
        return to_anytree_nodes(self.events(node), self._ix.data, data)[0]

    def to_dot(self, node: Optional[int] = None, label: Label = None, name: str = "tree") -> str:
        """Graphviz dot text of ``node``'s subtree (None: the forest); children drawn in order. O(size).

        ``label``: a data field name, a callable data -> text, or None (``str(data)``).
        Quotes, backslashes and newlines in labels are escaped.
        """
        if node is not None:
            self._ix.require(node)
        return dot_text(self.events(node), self._ix.data, label, name)

    def to_mermaid(self, node: Optional[int] = None, label: Label = None, direction: str = "TD") -> str:
        """A mermaid flowchart of ``node``'s subtree (None: the forest). O(size).

        ``label`` as in ``to_dot``; ``# & " < >`` and backticks become mermaid entity
        codes and newlines ``<br>``, so any text draws as itself.
        """
        if node is not None:
            self._ix.require(node)
        return mermaid_text(self.events(node), self._ix.data, label, direction)

    # -- batches and positions ------------------------------------------------

    def transaction(self) -> "Transaction":
        """A batch of updates: ``with t.transaction() as tx: ...; t2 = tx.tree``. O(1)."""
        return Transaction(self)

    def cursor(self, node: int, close: bool = False) -> "Cursor[Tree]":
        """An immutable position on this tree at ``node``'s opening (or closing) bound. O(1)."""
        self._ix.require(node)
        return Cursor(self, node, not close)

    # -- whole-tree -----------------------------------------------------------

    def diff(self, other: "Tree") -> Changes:
        """What changed from this tree to ``other`` (see ``botree.tree.diff.Changes``).

        Compares every node: O(n log n).  For versions of a ``Database``,
        ``db.changes(v1, v2)`` looks only where the logged updates touched.
        """
        if not isinstance(other, Tree):
            raise InvalidArgument(f"diff needs a Tree, not {type(other).__name__}")
        return full_diff(self, other)

    def check(self) -> None:
        """Verify every invariant of the underlying index; raises ``InvariantError``. O(n)."""
        self._ix.check()

    def render(
        self,
        node: Optional[int] = None,
        max_depth: Optional[int] = None,
        label: Label = None,
        style: str = "unicode",
        max_lines: Optional[int] = 50,
        *,
        depth: Optional[int] = None,
    ) -> str:
        """A text drawing of ``node``'s subtree (None: the forest), one node per line.

        ``max_depth``: levels shown below the top (a node whose children are cut shows
        ``(+N below)``; ``depth=`` is an alias).  ``label``: None (the data, or ``#id``),
        a field name (``data[field]`` of dict data) or a callable ``data -> text``;
        labels with line breaks stay aligned under their node.  ``style``:
        ``"unicode"``, ``"ascii"``, ``"rounded"`` or ``"compact"``.  At most
        ``max_lines`` lines (None: all), then ``… (N more nodes)``.
        O(lines shown + log n): neither the rest of the tree nor cut subtrees are scanned.
        """
        if depth is not None:
            if max_depth is not None:
                raise InvalidArgument("give max_depth or its alias depth, not both")
            max_depth = depth
        return render(self, node, max_depth, label, style, max_lines)

    def __eq__(self, other: object) -> bool:
        """Same forest shape, same node ids, equal data. O(n)."""
        if not isinstance(other, Tree):
            return NotImplemented
        if other._ix is self._ix:
            return True
        if len(self) != len(other):
            return False
        mine = self._ix
        theirs = other._ix
        for b1, b2 in zip(mine.bounds(), theirs.bounds()):
            if b1 != b2:
                return False
            if b1[1] and mine.data(b1[0]) != theirs.data(b2[0]):
                return False
        return True

    def __hash__(self) -> int:
        """Hash of the shape and ids (data may be unhashable). O(n) once, then cached."""
        if self._hash is None:
            self._hash = hash(tuple(self._ix.bounds()))
        return self._hash

    def __repr__(self) -> str:
        n = len(self)
        return f"<Tree {n} node{'s' if n != 1 else ''}{': ' + summary(self) if n else ''}>"


_CLOSED = "this transaction has already been committed or discarded"
_INSERT_CHILD = UPDATES["insert_child"]
_DELETE = UPDATES["delete"]
_MOVE = UPDATES["move"]
_MOVE_RANGE = UPDATES["move_range"]


class Transaction(TreeQueries, Updates[int, None]):
    """The transient form of a ``Tree``: a batch of updates changing a private working copy.

    Inside ``with t.transaction() as tx:`` updates return node ids (inserts) or None
    and change the working copy in place; leaving the block commits (``tx.tree`` is the
    new ``Tree``), an exception discards everything and propagates.  ``t`` never
    changes.  Blocks and rows the transaction already copied are edited in place, which
    is why a batch of k updates costs much less than k separate persistent updates.
    The same queries as ``Tree`` read the working copy (after ``rollback``: ``base``).
    ``Transaction(base, fresh_ids=True)`` never reuses a freed node id (see
    ``OrderIndex.transient``).
    """

    __slots__ = ("_ix", "base", "tree", "_open")

    def __init__(self, base: Tree, fresh_ids: bool = False) -> None:
        self.base = base
        self._ix: TransientIndex = base.order_index.transient(fresh_ids)
        self.tree: Optional[Tree] = None
        self._open = True

    def _transient(self) -> TransientIndex:
        """The working copy; ``InvalidOperation`` once committed or rolled back."""
        if not self._open:
            raise InvalidOperation(_CLOSED)
        return self._ix

    def __enter__(self) -> "Transaction":
        self._transient()
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if exc_type is None:
            self._close()
        else:
            self.rollback()

    def _close(self) -> None:
        """Commit, on leaving the ``with`` block (a database may leave ``tree`` to load on first read)."""
        self.commit()

    def commit(self) -> Tree:
        """Freeze the changes into a new ``Tree`` (also ``self.tree``); the transaction closes. O(changes)."""
        self.tree = Tree.from_order_index(self._transient().persistent())
        self._open = False
        return self.tree

    def rollback(self) -> None:
        """Discard every change; ``self.tree`` stays None and the transaction closes. O(1).

        Reads afterwards answer from ``base``, the tree the transaction started from;
        updates raise ``InvalidOperation``.
        """
        self._open = False
        self._ix = self.base.order_index.transient()

    # True while ``_apply`` is this class's own: an update may then run on the working copy without
    # going through it (``insert_child``).  A subclass that overrides ``_apply`` (a database's
    # transaction records every update there) gets False, so every update goes through its ``_apply``.
    _direct = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._direct = cls._apply is Transaction._apply

    def insert_child(self, parent: Optional[int], data: Any = None, index: int = -1) -> int:
        """A new node as child ``index`` of ``parent`` (None: top level). O(log n + min(i, -i)).

        ``index`` is the position among the children after the insert: 0 first,
        -1 last, other negatives from the end.
        """
        if self._direct and self._open and index == -1 and type(index) is int and parent is not None:
            return self._ix.insert_last_child(parent, data)  # ``_insert_child``'s common case, four calls fewer
        return self._insert(_INSERT_CHILD, parent, data, index)

    def delete(self, node: int) -> None:
        """Remove ``node`` and its subtree. O(log n) to cut, O(size) to free the rows."""
        if self._direct and self._open:
            self._ix.delete_subtree(node)  # ``_delete``, four calls fewer
            return
        self._change(_DELETE, node)

    def move(self, node: int, parent: Optional[int], index: int = -1) -> None:
        """Move ``node`` with its subtree to child ``index`` of ``parent``. O(log n)."""
        if self._direct and self._open and index == -1 and type(index) is int and parent is not None:
            if not self._ix.move_last_child(node, parent):  # ``_move``'s leaf-local case, four calls fewer
                self._change(_MOVE_RANGE, node, node, parent, index)  # ``_move``'s other case: not tried twice
            return
        self._change(_MOVE, node, parent, index)

    def _apply(self, update: Update, args: Tuple[Any, ...]) -> Any:
        """Run one logical update on the working copy; subclasses may record it."""
        if not self._open:  # ``_transient()`` inlined: one call less on every update in a batch
            raise InvalidOperation(_CLOSED)
        return update.run(self._ix, *args)

    def _check_data(self, data: Any) -> None:
        """Refuse node data this transaction could not keep (a database's value policy); any data here."""

    def sync(self, target: TreeQueries, key: Optional[str] = None) -> SyncReport:
        """Make the working copy equal to ``target``, matching nodes by the key field.

        The key field is the tree's own (``Tree(key=...)``), or ``key`` for a tree
        without one (a keyed tree refuses another field: ``InvalidArgument``).

        Afterwards both forests hold the same keys, each under the parent of the same
        key, in the same sibling order, with equal data.  A node whose key ``target``
        also holds keeps its id; only real differences become ordinary updates
        (``delete``, ``insert_after``/``insert_child``, ``move_after``/``move``,
        ``set_data``): an equal forest gets none, and a node whose parent, place
        among the siblings it kept (as ``changes`` counts it) and data are the same is
        not touched.  See ``botree.tree.sync``.

        Every key (``data[key]``: an int that is not a bool, or a str) is checked in
        both forests, and every datum to write against the value policy, before the
        first update: a missing or ill-typed key raises ``InvalidKey``, a repeated
        one ``DuplicateKey``, and nothing changes.  Returns the counts
        (``SyncReport``, version None).  O(n log n) for n nodes in both forests, plus
        O(log n) per update.
        """
        self._transient()
        if key is None:
            key = self.key
            if key is None:
                raise InvalidArgument("this tree has no key field: sync needs one (key=FIELD)")
        elif self.key is not None and key != self.key:
            raise InvalidArgument(f"this tree's key field is {self.key!r}: it cannot sync by {key!r}")
        plan = plan_sync(self, target, key)
        for data in plan.written():
            self._check_data(data)
        return run_sync(self, plan)

    def _insert(self, update: Update, *args: Any) -> int:
        return self._apply(update, args)

    def _change(self, update: Update, *args: Any) -> None:
        self._apply(update, args)


def _check_columns(**columns: Optional[str]) -> None:
    """Each CSV column name given is a non-empty str (``order`` may be None); ``InvalidArgument`` otherwise."""
    for what, column in columns.items():
        if (column is not None or what != "order") and (type(column) is not str or not column):
            raise InvalidArgument(f"the {what} column must be a non-empty str, not {column!r}")


@renamed(index="fields")
def load_parent_table(
    rows: Iterable[Any],
    id: Any = "id",
    parent: Any = "parent",
    order: Any = None,
    data: Any = None,
    orphans: str = "error",
    cycles: str = "error",
    block_size: int = DEFAULT_BLOCK_SIZE,
    fields: Iterable[str] = (),
    progress: Optional[Progress] = None,
    key: Optional[str] = None,
) -> Tuple[Tree, Dict[Hashable, int]]:
    """A tree from parent-child rows, and the mapping external id -> node id. O(n log n).

    * ``rows``: dicts (columns by key) or sequences (columns by position).
    * ``id``, ``parent``: the columns of a row's id and its parent's id; a parent of
      None (or a missing key in a dict row) makes a top-level node.
    * ``order``: a column to sort siblings by (stable); default: input order.
    * ``data``: the column to store as node data; default: the whole row.
    * ``orphans``: rows whose parent id is not in the table: ``"error"`` (default,
      naming them), ``"ignore"`` (drop them and everything below), ``"root"`` (make
      them top-level).
    * ``cycles``: rows whose parent chain loops: ``"error"`` (default, naming the ids
      on the cycles) or ``"break"`` (the cycle member that came first in the input
      becomes top-level).
    * Duplicate ids raise ``InvalidOperation`` naming them.  Nothing half-built is
      returned.  Node ids are assigned in preorder.
    """
    with gc_paused():  # over the mapping too (see _parent_table_tree)
        tree, mapping = _parent_table_tree(
            rows, id, parent, order, data, orphans, cycles, block_size, fields, progress, key
        )
        return tree, mapping()


def _parent_table_tree(
    rows: Iterable[Any],
    id: Any,
    parent: Any,
    order: Any,
    data: Any,
    orphans: str,
    cycles: str,
    block_size: int,
    fields: Iterable[str],
    progress: Optional[Progress],
    key: Optional[str],
) -> Tuple[Tree, MappingMaker]:
    """``load_parent_table``'s tree and a function making its mapping (``from_parent_table`` makes none)."""
    fields = check_fields(fields)  # before reading any row
    index, mapping = parent_table_index(
        rows, id, parent, order, data, orphans, cycles, block_size, fields, progress, key
    )
    return Tree.from_order_index(index), mapping
