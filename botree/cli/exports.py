"""``botree export``: the tree as text that ``botree import`` (and ``sync``) read back into an equal tree.

* ``json``: a tree holding a JSON document writes that document; any other tree
  writes its records, ``{"botree": "records", "key": K, "children": C, "records": [...]}``
  (each record a node's data plus its children under ``C``).
* ``table``: ``{"botree": "table", "key": K, "rows": [{id, parent, order, data}, ...]}``,
  one row per node in preorder: ``id`` and ``parent`` are keys when the tree has a
  key field (node ids otherwise), ``order`` the child position.
* ``csv``: a keyed tree writes its keyed parent table (the columns its data has, the
  parent column after the key column: what ``import`` of a CSV stored comes back
  byte for byte); a tree without a key field writes ``#id,#parent,#order`` and one
  column per data field (``botree.interchange.keyedtable``).
* ``dot``, ``mermaid``: diagrams, one way only (nothing reads them back).
* ``auto``: ``json`` for a JSON document, else ``table``.

Each writer is O(n · fields) and iterative.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from typing import Any, Callable, Dict, List, Optional, Set

from ..errors import BotreeError
from ..interchange.csvrows import write_rows
from ..interchange.keyedtable import csv_table
from ..interchange.nested import JsonNode
from ..tree.tree import Tree
from .errors import CliError
from .inputs import MARKER
from .nodes import key_field

EXPORT_FORMATS = ("auto", "json", "table", "csv", "dot", "mermaid")


def json_default(value: Any) -> Any:
    """``json.dumps`` fallback for node data that JSON has no type for."""
    if isinstance(value, JsonNode):
        return {"kind": value.kind, "value": value.value} if value.kind in ("key", "value") else {"kind": value.kind}
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, tuple):  # pragma: no cover - json encodes tuples as lists itself
        return list(value)
    raise TypeError(f"node data of type {type(value).__name__} has no JSON form")


def dumps(value: Any, indent: Optional[int]) -> str:
    """``value`` as JSON text and a newline; ``CliError`` when some node data has no JSON form."""
    try:
        return json.dumps(value, indent=indent, ensure_ascii=False, default=json_default) + "\n"
    except (TypeError, ValueError, RecursionError) as exc:
        raise CliError(f"cannot write the tree as JSON: {exc}") from None


def is_document(tree: Tree) -> bool:
    """True if ``tree`` holds a JSON document (imported from JSON): its first node is a ``JsonNode``."""
    first = next(tree.roots(), None)
    return first is not None and isinstance(tree.data(first), JsonNode)


def auto_format(tree: Tree) -> str:
    """``json`` for a JSON document, else ``table``."""
    return "json" if is_document(tree) else "table"


def free_name(tree: Tree, name: str = "children") -> str:
    """``name``, or ``name`` with underscores in front, whichever no node's data has as a field. O(n)."""
    used: Set[str] = set()
    for node in tree.preorder():
        data = tree.data(node)
        if isinstance(data, dict):
            used.update(k for k in data if isinstance(k, str) and k.endswith(name))
    while name in used:
        name = "_" + name
    return name


def export_json(tree: Tree, args: argparse.Namespace) -> str:
    """The JSON document a tree imported from JSON encodes; any other tree's marked records."""
    if is_document(tree):
        try:
            return tree.to_json(indent=args.indent) + "\n"
        except BotreeError as exc:
            raise CliError(
                f"the tree does not encode one JSON document ({exc}); export it with --format table"
            ) from None
    children = free_name(tree)
    try:
        records = tree.to_records(children=children)
    except BotreeError as exc:
        raise CliError(f"{exc}: export it with --format table") from None
    return dumps({MARKER: "records", "key": key_field(tree), "children": children, "records": records}, args.indent)


def export_table(tree: Tree, args: argparse.Namespace) -> str:
    """The marked parent table: ``{"botree": "table", "key": K, "rows": [{id, parent, order, data}, ...]}``."""
    key = key_field(tree)
    data = tree.data
    rows: List[Dict[str, Any]] = []
    if key is None:
        rows = [{"id": n, "parent": p, "order": i, "data": data(n)} for n, p, i in tree.places()]
    else:
        keys: Dict[int, Any] = {}
        for n, p, i in tree.places():
            value = data(n)
            keys[n] = value[key]
            rows.append({"id": keys[n], "parent": None if p is None else keys[p], "order": i, "data": value})
    marker: Dict[str, Any] = {MARKER: "table", "key": key}
    if is_document(tree):
        marker["document"] = True
    return dumps({**marker, "rows": rows}, args.indent)


def export_csv(tree: Tree, args: argparse.Namespace) -> str:
    """The tree's CSV parent table (keyed, or ``#id,#parent,#order`` without a key field)."""
    key = key_field(tree)
    if is_document(tree):
        raise CliError("a JSON document has no CSV form: export it with --format json or table")
    try:
        order = args.order or "order"
        header, rows, rewrote = csv_table(tree.places(), tree.data, key, args.parent or "parent", order)
        if rewrote:
            sys.stderr.write(
                f"botree: note: the {order!r} values no longer sort every node's children into their "
                f"current order: the {order!r} column holds child positions\n"
            )
    except BotreeError as exc:
        raise CliError(f"{exc}: export it with --format table or json") from None
    buffer = io.StringIO()
    write_rows(buffer, header, rows, args.delimiter)
    return buffer.getvalue()


EXPORTERS: Dict[str, Callable[[Tree, argparse.Namespace], str]] = {
    "json": export_json,
    "table": export_table,
    "csv": export_csv,
    "dot": lambda tree, args: tree.to_dot(label=args.label) + "\n",
    "mermaid": lambda tree, args: tree.to_mermaid(label=args.label) + "\n",
}
