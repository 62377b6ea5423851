"""Reading an input file into a tree, for ``import`` and ``sync`` (the same options, the same tree).

Formats:

* ``csv``: a keyed parent table (``botree.interchange.keyedtable``) with typed cells
  (``botree.interchange.csvrows``), or the ``#id,#parent,#order`` form of a tree
  without a key field.
* ``json``: botree's own exports are recognised by their marker object
  (``{"botree": "table", ...}`` or ``{"botree": "records", ...}``, see ``MARKER``);
  any other JSON value is a document, stored losslessly.
* ``table``: a marked table, or the bare JSON array of ``{id, parent, order, data}``
  objects older versions wrote.
* ``document``: a JSON document, even one that looks like a marked export.

Nothing here writes anything: the tree is built in memory, and the caller commits it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import contextmanager
from typing import IO, Any, Dict, Hashable, Iterator, List, Optional, Tuple

from ..interchange.csvrows import read_rows
from ..interchange.keyedtable import csv_parent_rows, is_internal
from ..interchange.nested import JsonNode
from ..tree.tree import Tree, load_parent_table
from .errors import CliError
from .progress import ProgressBar

INPUT_FORMATS = ("json", "csv", "table", "document")
MARKER = "botree"  # {"botree": "table" | "records", ...}: the JSON botree's export writes
TABLE_FIELDS = {MARKER, "key", "rows"}  # and "document": true for the nodes of a JSON document
RECORDS_FIELDS = {MARKER, "key", "children", "records"}
JSON_KINDS = ("object", "array", "key", "value")
PROGRESS_EVERY = 65_536  # rows between redraws of the reading phase's line

Built = Tuple[Tree, Optional[Dict[Hashable, int]]]  # the tree, and row id (key) -> node id for parent tables


def input_format(path: str, given: Optional[str]) -> str:
    """The format of the input file: ``--format``, else from its extension."""
    if given:
        return given
    ext = os.path.splitext(path)[1].lower()
    if ext == ".json":
        return "json"
    if ext == ".csv":
        return "csv"
    if path == "-":
        raise CliError("reading standard input needs --format json, csv or table")
    raise CliError(f"cannot tell the format of {path!r} from its extension: pass --format json, csv or table")


@contextmanager
def open_input(path: str) -> Iterator[IO[str]]:
    """The input file as UTF-8 text, a leading byte-order mark skipped (``-``: standard input), closed on exit."""
    if path == "-":
        yield sys.stdin
        return
    with open(path, encoding="utf-8-sig", newline="") as handle:
        yield handle


@contextmanager
def json_errors(name: str) -> Iterator[None]:
    """Turn the errors of parsing ``name`` as JSON into ``CliError``."""
    try:
        yield
    except json.JSONDecodeError as exc:
        raise CliError(f"{name}: invalid JSON: {exc}") from None
    except UnicodeDecodeError as exc:
        raise CliError(f"{name}: not UTF-8 text: {exc}") from None
    except RecursionError:
        raise CliError(
            f"{name}: JSON nested too deeply for Python's json parser; import deep trees as a CSV parent table"
        ) from None


def load_json(handle: IO[str], name: str) -> Any:
    """The parsed JSON document of ``handle``; ``CliError`` describing why it cannot be read."""
    with json_errors(name):
        return json.load(handle)


@contextmanager
def phase(label: str, shown: bool, total: Optional[int] = None) -> Iterator[Optional[ProgressBar]]:
    """A progress line for one phase of an import (None when progress is not shown), ended on exit."""
    bar = ProgressBar(label, total) if shown else None
    try:
        yield bar
    finally:
        if bar is not None:
            bar.finish()


def marked(value: Any) -> Optional[str]:
    """``"table"`` or ``"records"`` if ``value`` is one of botree's marked exports, else None."""
    if not isinstance(value, dict) or MARKER not in value:
        return None
    kind = value[MARKER]
    if kind == "table" and set(value) - {"document"} == TABLE_FIELDS and isinstance(value["rows"], list):
        return "table"
    if kind == "records" and set(value) == RECORDS_FIELDS and isinstance(value["records"], list):
        return "records"
    return None


def parent_table(
    rows: List[Any], order: bool, key: Optional[str], args: argparse.Namespace, bar: Optional[ProgressBar]
) -> Built:
    """The tree of ``(id, parent, order, data)`` tuples, and id -> node id."""
    tree, ids = load_parent_table(
        rows,
        id=0,
        parent=1,
        order=2 if order else None,
        data=3,
        orphans=args.orphans,
        cycles=args.cycles,
        progress=bar.bounds if bar else None,
        key=key,
    )
    return tree, ids


def csv_key(header: List[str], args: argparse.Namespace, db_key: Optional[str], name: str) -> str:
    """The key column: ``--key``, else the database's key field, else ``id``."""
    key = args.key or db_key or "id"
    if args.key and db_key and args.key != db_key:
        raise CliError(f"--key {args.key}: the database's key field is {db_key!r} (its tree keeps it)")
    if key not in header:
        how = "pass --key COLUMN" if not args.key else "check --key"
        raise CliError(f"{name}: no key column {key!r} ({how}; the header has: {', '.join(header)})")
    return key


def read_csv(handle: IO[str], name: str, args: argparse.Namespace, db_key: Optional[str], shown: bool) -> Built:
    """The tree of a CSV file: a keyed parent table, or the ``#id,#parent,#order`` form."""
    parent = args.parent or "parent"
    same = {parent: args.key or db_key or "id", "#parent": "#id"}
    with phase(f"reading {name}", shown) as bar:
        header, rows = read_rows(
            handle, name, args.delimiter, args.types or (), same, bar.rows if bar else None, PROGRESS_EVERY
        )
        if bar is not None:
            bar.rows(len(rows))
    with phase("building", shown, len(rows)) as bar:
        key = "#id" if is_internal(header) else csv_key(header, args, db_key, name)
        table, ordered, keyed = csv_parent_rows(header, rows, name, key, parent, args.order)
        return parent_table(table, ordered, keyed, args, bar)


def legacy_rows(value: List[Any], name: str) -> List[Tuple[Any, Any, Any, Any]]:
    """The rows of a JSON parent table (``[{id, parent, order, data}, ...]``) as tuples, checked."""
    rows: List[Tuple[Any, Any, Any, Any]] = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise CliError(f"{name}: item {i} is a {type(item).__name__}, not an object")
        if "id" not in item:
            raise CliError(f"{name}: item {i} has no id")
        rows.append((item["id"], item.get("parent"), item.get("order"), item.get("data")))
    return rows


def json_node(data: Any, name: str) -> JsonNode:
    """A document node's data as a table row writes it (``{"kind": K, "value": V}``) back as a ``JsonNode``."""
    if not isinstance(data, dict) or data.get("kind") not in JSON_KINDS or not set(data) <= {"kind", "value"}:
        raise CliError(f"{name}: a document table row holds {data!r:.60}, not a {{kind, value}} object")
    return JsonNode(data["kind"], data.get("value"))


def read_json(handle: IO[str], name: str, fmt: str, args: argparse.Namespace, shown: bool) -> Built:
    """The tree of a JSON input: a marked export, a bare table (``--format table``) or a document."""
    if shown:
        note(f"reading {name} ...")
    value = load_json(handle, name)
    kind = None if fmt == "document" else marked(value)
    with phase("building", shown) as bar:
        progress = bar.bounds if bar else None
        if kind == "table":
            rows = legacy_rows(value["rows"], name)
            if value.get("document") is True:
                rows = [(i, p, o, json_node(d, name)) for i, p, o, d in rows]
            return parent_table(rows, True, value["key"], args, bar)
        if kind == "records":
            key = value["key"]
            tree = Tree.from_records(value["records"], children=value["children"], key=key, progress=progress)
            return tree, None
        if fmt == "table":
            if not isinstance(value, list):
                raise CliError(f"{name}: a parent table is a JSON array of objects, not a {type(value).__name__}")
            return parent_table(legacy_rows(value, name), True, None, args, bar)
        with json_errors(name):
            return Tree.from_nested(value, progress=progress), None


def read_input(args: argparse.Namespace, db_key: Optional[str], shown: bool) -> Built:
    """The tree ``args.file`` describes (as ``import`` and ``sync`` read it), and row id -> node for tables.

    ``db_key``: the key field of the database it goes to (None: none yet).  With
    ``shown``, each phase draws its progress on stderr, counted in rows.
    """
    fmt = input_format(args.file, args.format)
    name = "<stdin>" if args.file == "-" else args.file
    with open_input(args.file) as handle:
        if fmt == "csv":
            return read_csv(handle, name, args, db_key, shown)
        return read_json(handle, name, fmt, args, shown)


def note(line: str) -> None:
    """Write one line of information to stderr (not part of the output)."""
    sys.stderr.write(line + "\n")
