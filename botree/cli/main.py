"""The ``botree`` command line: import, browse, query, edit, diff and export a stored tree.

``DB`` is an SQLite file path or a ``postgresql://`` URL (see ``botree.durable``).
Every command opens the database, does one thing and closes it; edits are one
commit each.  ``main(argv)`` returns the exit status: 0 on success, 1 for a botree
error or bad input (one ``botree: error: ...`` line on stderr, never a traceback),
2 for usage errors (as ``argparse`` reports them).

NODE arguments name nodes by key in a database with a key field, ``#12`` by internal
id (``botree.cli.nodes``); ``import`` and ``sync`` read files through
``botree.cli.inputs``, ``export`` writes them through ``botree.cli.exports``.

Nothing here recurses on the depth of a tree: drawings and queries walk it with
explicit stacks, so a chain 10^5 levels deep is as easy as a flat list.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import queue
import string
import sys
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Callable, Dict, Hashable, Iterator, List, Optional, Sequence, Tuple

from ..db.durable import DurableDatabase
from ..db.upgrade import upgrade
from ..errors import BotreeError, DuplicateKey, MergeConflict, NodeNotFound
from ..tree.render import draw as draw_lines
from ..tree.tree import Tree
from ..version import VERSION as __version__
from .branching import conflict_lines, event_line, graph_lines
from .errors import CliError, UsageError
from .exports import EXPORT_FORMATS, EXPORTERS, auto_format
from .inputs import INPUT_FORMATS, input_format, read_input
from .nodes import key_field, label, resolve, show_key
from .progress import ProgressBar
from .where import BadCondition, cli_value, data_predicate, parse_conditions, show_data, show_value, unknown_fields

PROG = "botree"
INDENT_LIMIT = 40  # levels of box-drawing indentation shown before deeper lines are abbreviated
ROOT = "\0root"  # ``--under root``: the top level (no NODE argument is this text)

__all__ = ["CliError", "UsageError", "main", "build_parser"]


# -- output helpers -------------------------------------------------------------------


def labelled(name: str, data: Any) -> str:
    """``"<name>  <data>"`` (just the name when the node holds None)."""
    text = show_data(data)
    return f"{name}  {text}" if text else name


def node_line(tree: Any, node: int) -> str:
    """``"<key or id>  <data>"`` for ``node`` of ``tree`` (see ``botree.cli.nodes.label``)."""
    return labelled(label(tree, node), tree.data(node))


def line_maker(tree: Tree) -> Callable[[Any, int], str]:
    """The ``(data, node) -> line`` function drawings label nodes with: key (or id) and data."""
    key = key_field(tree)
    if key is None:
        return lambda data, node: labelled(str(node), data)
    return lambda data, node: labelled(show_key(data[key]), data)


def out(line: str) -> None:
    """Write one line to stdout."""
    sys.stdout.write(line + "\n")


def note(line: str) -> None:
    """Write one line of information to stderr (not part of the output)."""
    sys.stderr.write(line + "\n")


# -- opening databases --------------------------------------------------------------


def local_path(target: str) -> Optional[str]:
    """The file behind ``target`` (a path or ``file://`` URL); None for a server URL."""
    if "://" not in target:
        return target
    scheme, rest = target.split("://", 1)
    return rest if scheme.lower() == "file" else None


@contextmanager
def open_db(target: str, must_exist: bool = True, key: Optional[str] = None) -> Iterator[DurableDatabase]:
    """The database at ``target``, closed on exit.

    With ``must_exist`` a missing or empty SQLite file, or a PostgreSQL database without
    botree's tables, is an error and nothing is created; only ``import`` creates
    (``key``: the key field of a database it creates).
    """
    path = local_path(target)
    if must_exist and path and (not os.path.exists(path) or os.path.getsize(path) == 0):
        raise CliError(f"no database at {path!r} (create one with: {PROG} import FILE {target})")
    db = DurableDatabase(target, create=not must_exist, key=key)
    try:
        yield db if _BRANCH[0] is None else db.on(_BRANCH[0])  # type: ignore[misc]  # --branch NAME
    finally:
        db.close()


def tree_at(db: DurableDatabase, version: Optional[int]) -> Tree:
    """The current tree, or the one committed as ``version``."""
    return db.tree if version is None else db.as_of(version)


def committed_version(db: DurableDatabase, tree: Optional[Tree]) -> int:
    """The version a transaction that produced ``tree`` just committed as.

    Exact unless another process committed in the meantime (then: the newer head).
    """
    version, head = db.snapshot()
    if tree is not None and head is not tree:
        note(f"{PROG}: note: another commit landed meanwhile; the head is now version {version}")
    return version


# -- import and sync ---------------------------------------------------------------------


def remove_files(*names: str) -> None:
    """Delete files this command created (a new SQLite file with its WAL side files, a staged output)."""
    for name in names:
        try:
            os.remove(name)
        except OSError:
            pass


def stage_id_map(target: str, ids: Dict[Hashable, int]) -> str:
    """Write the ``id,node`` map to a temporary file beside ``target``; its name (renamed into place after the commit).

    A target that cannot be written fails here, before anything is committed.
    """
    staged = f"{target}.{os.getpid()}.tmp"
    try:
        with open(staged, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["id", "node"])
            for ext, node in ids.items():
                writer.writerow([show_key(ext) if isinstance(ext, (str, int)) else ext, node])
    except BaseException:
        remove_files(staged)
        raise
    return staged


def database_state(target: str) -> Tuple[Optional[str], int, int]:
    """The key field, node count and version of the database at ``target`` (``(None, 0, 0)`` if there is none yet)."""
    path = local_path(target)
    if path is not None and (not os.path.exists(path) or os.path.getsize(path) == 0):
        return None, 0, 0
    with open_db(target, must_exist=False) as db:
        version, tree = db.snapshot()
        return key_field(db), len(tree), version


def show_progress(args: argparse.Namespace) -> bool:
    """``--progress`` / ``--no-progress``, else whether stderr is a terminal."""
    return bool(args.progress) if args.progress is not None else sys.stderr.isatty()


def cmd_import(args: argparse.Namespace) -> int:
    """``botree import FILE DB``: store the tree of a JSON document or parent table as a new version.

    Nothing is written before the input is read and checked; ``--id-map`` is staged
    before the commit and renamed into place after it.
    """
    fmt = input_format(args.file, args.format)
    if args.id_map and fmt == "document":
        raise UsageError("--id-map applies to parent tables (csv, table), not JSON documents")
    shown = show_progress(args)
    name = "<stdin>" if args.file == "-" else args.file
    path = local_path(args.db)
    created = bool(path) and not os.path.exists(path or "")
    staged: Optional[str] = None
    try:
        key, count, version = database_state(args.db)
        if count and not args.replace:
            raise CliError(
                f"{args.db} already holds {count} nodes (version {version}); "
                f"pass --replace to replace them with the tree of {name}"
            )
        tree, ids = read_input(args, key, shown)
        if args.id_map:
            if ids is None:
                raise UsageError("--id-map applies to parent tables (csv, table), not JSON documents")
            staged = stage_id_map(args.id_map, ids)
        with open_db(args.db, must_exist=False, key=key_field(tree)) as db:
            if len(db.tree) and not args.replace:  # filled by another process while the file was read
                raise CliError(f"{args.db} is no longer empty (version {db.version}): pass --replace")
            message = args.message if args.message is not None else f"import {os.path.basename(name)}"
            bar = ProgressBar("storing", len(tree)) if shown else None
            version = db.replace(tree, message=message, progress=bar.rows if bar is not None else None)
            if bar is not None:
                bar.finish()
    except BaseException:
        if created and path:
            remove_files(path, path + "-wal", path + "-shm")
        if staged:
            remove_files(staged)
        raise
    if staged and args.id_map:
        os.replace(staged, args.id_map)
    out(f"imported {len(tree)} nodes as version {version}")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    """``botree sync FILE DB``: make the tree equal to FILE's by key, committing only the differences."""
    with open_db(args.db) as db:
        key = key_field(db)
        if key is None:
            raise CliError(f"{args.db} has no key field: sync matches nodes by key (import a keyed file first)")
        tree, _ = read_input(args, key, show_progress(args))
        if key_field(tree) != key:
            raise CliError(f"{args.file} has no key column {key!r}: sync matches nodes by the database's key field")
        name = "<stdin>" if args.file == "-" else os.path.basename(args.file)
        report = db.sync(tree, message=args.message if args.message is not None else f"sync {name}", key=key)
    counts = (
        f"{report.inserted} inserted, {report.deleted} deleted, {report.moved} moved, {report.changed} data changed"
    )
    out(f"synced {args.file}: {counts} as version {report.version}" if report.version is not None else "no changes")
    return 0


# -- ls -----------------------------------------------------------------------------------


def draw(tree: Tree, top: Optional[int], depth: Optional[int]) -> Iterator[str]:
    """Box-drawing lines for ``top``'s subtree (None: the forest), at most ``depth`` levels below it.

    The drawing of ``Tree.render`` with ``key  data`` labels (``id  data`` without a
    key field); a node whose children are cut off by ``depth`` shows how many nodes
    lie below it, and lines deeper than ``INDENT_LIMIT`` levels show their level and
    only the last ``INDENT_LIMIT`` levels of indentation, so deep chains stay linear in size.
    """
    return draw_lines(tree, top, line_maker(tree), depth, INDENT_LIMIT)


def cmd_ls(args: argparse.Namespace) -> int:
    """``botree ls DB [NODE]``: draw the forest or one subtree."""
    if args.depth is not None and args.depth < 0:
        raise UsageError("--max-depth must be >= 0")
    if args.limit is not None and args.limit < 0:
        raise UsageError("--limit must be >= 0")
    with open_db(args.db) as db:
        tree = tree_at(db, args.as_of)
        top = None
        if args.node is not None:
            top = resolve(tree, args.node, args.node_id, args.as_of)
        elif not len(tree):
            note("(the tree is empty)")
            return 0
        for shown, line in enumerate(draw(tree, top, args.depth)):
            if args.limit is not None and shown >= args.limit:
                out(f"… (cut at {args.limit} lines by --limit)")
                break
            out(line)
    return 0


# -- query ----------------------------------------------------------------------------


def cmd_query(args: argparse.Namespace) -> int:
    """``botree query DB NODE --ancestors|...``: one structural question about NODE."""
    if args.depth is not None and not args.descendants:
        raise UsageError("--max-depth applies to --descendants only")
    if args.depth is not None and args.depth < 0:
        raise UsageError("--max-depth must be >= 0")
    with open_db(args.db) as db:
        tree = tree_at(db, args.as_of)
        node = resolve(tree, args.node, args.node_id, args.as_of)
        nodes: Iterator[int]
        if args.level:
            out(str(tree.level(node)))
            return 0
        if args.size:
            out(str(tree.size(node)))
            return 0
        if args.parent:
            parent = tree.parent(node)
            if parent is None:
                out("none")
                return 0
            nodes = iter((parent,))
        elif args.ancestors:
            nodes = tree.ancestors(node)
        elif args.children:
            nodes = tree.children(node)
        else:
            nodes = tree.descendants(node, args.depth)
        for n in nodes:
            out(label(tree, n) if args.ids_only else node_line(tree, n))
    return 0


# -- edits ------------------------------------------------------------------------------


def parent_arg(text: str) -> str:
    """``--under`` values: ``root`` / ``-`` for the top level (``ROOT``), else a NODE (resolved later)."""
    return ROOT if text.lower() in ("root", "-") else text


def json_argument(text: str, option: str) -> Any:
    """The value of a ``--data`` option: strict JSON, else ``CliError`` naming the option."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CliError(f"{option}: invalid JSON: {exc} (in {text!r})") from None
    except RecursionError:
        raise CliError(f"{option}: JSON nested too deeply") from None


def field_arguments(pairs: Sequence[str]) -> Dict[str, Any]:
    """``--field f=v`` options as a dict; each ``v`` is JSON if it parses as JSON, else the text itself."""
    fields: Dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise CliError(f"--field {pair!r}: expected FIELD=VALUE")
        fields[name] = cli_value(text)
    return fields


def new_data(args: argparse.Namespace) -> Any:
    """The data ``add`` stores: ``--data`` JSON, else a dict of the ``--field`` options, else null."""
    if args.data is not None:
        return json_argument(args.data, "--data")
    return field_arguments(args.field) if args.field else None


def place_of(args: argparse.Namespace, top: str = "at the top level") -> Tuple[str, str]:
    """Where ``--under P [--index I]`` / ``--before T`` / ``--after T`` puts a node: (text, default message suffix)."""
    if args.index is not None and args.under is None:
        raise UsageError("--index goes with --under")
    if args.under is not None:
        parent = None if args.under == ROOT else args.under
        text = (top if parent is None else f"under node {parent}") + (
            f" at index {args.index}" if args.index is not None else ""
        )
        return text, f"--under {'root' if parent is None else parent}"
    if args.before is not None:
        return f"before node {args.before}", f"--before {args.before}"
    return f"after node {args.after}", f"--after {args.after}"


def named(tx: Any, args: argparse.Namespace, text: str) -> int:
    """The node a NODE-like argument names in the transaction's tree (see ``botree.cli.nodes``). O(log n)."""
    return resolve(tx, text, args.node_id)


def under(tx: Any, args: argparse.Namespace) -> Optional[int]:
    """The parent ``--under`` names: None for the top level."""
    return None if args.under == ROOT else named(tx, args, args.under)


def cmd_mv(args: argparse.Namespace) -> int:
    """``botree mv DB NODE --under P [--index I]`` (or ``--before T`` / ``--after T``): move a subtree."""
    place, where = place_of(args, "to the top level")
    index = -1 if args.index is None else args.index
    default = f"mv {args.node} {where}"
    with open_db(args.db) as db:
        with db.transaction(message=args.message if args.message is not None else default) as tx:
            node = named(tx, args, args.node)
            if args.under is not None:
                tx.move(node, under(tx, args), index)
            elif args.before is not None:
                tx.move_before(node, named(tx, args, args.before))
            else:
                tx.move_after(node, named(tx, args, args.after))
        version = committed_version(db, tx.tree)
    out(f"moved node {args.node} {place} as version {version}")
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    """``botree rm DB NODE``: delete NODE with its subtree."""
    with open_db(args.db) as db:
        message = args.message if args.message is not None else f"rm {args.node}"
        with db.transaction(message=message) as tx:
            node = named(tx, args, args.node)
            below = tx.size(node) - 1
            tx.delete(node)
        version = committed_version(db, tx.tree)
    out(f"deleted node {args.node} and {below} node{'' if below == 1 else 's'} below it as version {version}")
    return 0


def new_label(db: DurableDatabase, tx: Any, node: int) -> str:
    """How to name ``node``, inserted by the committed transaction ``tx``: its key, else its final node id."""
    node = tx.ids.get(node, node)
    return label(tx.tree if tx.tree is not None else db.tree, node)


def cmd_add(args: argparse.Namespace) -> int:
    """``botree add DB --under P [--index I] --data JSON``: insert a new leaf; prints its key (or node id)."""
    place, where = place_of(args)
    data = new_data(args)  # bad JSON fails here, before the database is opened
    with open_db(args.db) as db:
        tx = db.transaction(message=args.message if args.message is not None else f"add {where}")
        with tx:
            if args.under is not None:
                node = tx.insert_child(under(tx, args), data, -1 if args.index is None else args.index)
            elif args.before is not None:
                node = tx.insert_before(named(tx, args, args.before), data)
            else:
                node = tx.insert_after(named(tx, args, args.after), data)
        version = committed_version(db, tx.tree)
        name = new_label(db, tx, node)
    out(name)
    note(f"added node {name} {place} as version {version}")
    return 0


def child_place(tx: Any, args: argparse.Namespace) -> Tuple[Optional[int], int]:
    """(parent, child index) for ``--under P [--index I]``, ``--before T`` or ``--after T``. O(siblings)."""
    if args.under is not None:
        return under(tx, args), (-1 if args.index is None else args.index)
    target = named(tx, args, args.before if args.before is not None else args.after)
    parent = tx.parent(target)
    index = list(tx.children(parent)).index(target)
    return parent, index + (args.after is not None)


def cmd_cp(args: argparse.Namespace) -> int:
    """``botree cp DB NODE --under P [--index I]`` (or ``--before T`` / ``--after T``): copy a subtree.

    Prints the copy's key (or node id); the copy has new ids and equal data. In a database
    with a key field the copies need keys of their own: ``--key-format '{key}-copy'`` makes
    each from its original's key (a str key); without it a copy of keyed nodes would repeat
    their keys, and fails before anything is written.
    """
    place, where = place_of(args, "to the top level")
    rename = key_format(args.key_format) if args.key_format is not None else None
    with open_db(args.db) as db:
        tx = db.transaction(message=args.message if args.message is not None else f"cp {args.node} {where}")
        with tx:
            parent, index = child_place(tx, args)
            source = named(tx, args, args.node)
            if rename is not None:
                node = tx.insert_subtree(parent, rekeyed_events(tx, source, rename), index)
            else:
                try:
                    node = tx.copy(source, parent, index)
                except DuplicateKey as exc:
                    raise CliError(
                        f"{exc}: a copy repeats its nodes' keys (key field {tx.key!r}); "
                        "give the copies keys of their own with --key-format, e.g. --key-format '{key}-copy'"
                    ) from None
            size = tx.size(node)
        version = committed_version(db, tx.tree)
        name = new_label(db, tx, node)
    out(name)
    note(f"copied node {args.node} ({size} node{'' if size == 1 else 's'}) {place} as node {name}, version {version}")
    return 0


def key_format(text: str) -> Callable[[Any], str]:
    """The copies' key maker of ``cp --key-format``: ``text.format(key=original key)``.

    ``UsageError`` unless ``{key}`` (with an optional conversion or format spec) is its
    one replacement field and every other brace is doubled.  Copies that would share a
    key, or take one the tree holds, make the copy fail (``DuplicateKey``) before
    anything is written.
    """
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        raise UsageError(f"--key-format {text!r}: {exc} (write a literal brace as {{{{ or }}}})") from None
    if fields != ["key"]:
        raise UsageError(f"--key-format {text!r} must hold {{key}} once and no other {{field}}, e.g. '{{key}}-copy'")

    def rename(key: Any) -> str:
        try:
            return text.format(key=key)
        except (ValueError, TypeError) as exc:
            raise CliError(f"--key-format {text!r} cannot format the key {key!r}: {exc}") from None

    return rename


def rekeyed_events(tx: Any, node: int, rename: Callable[[Any], str]) -> List[Tuple[Any, bool]]:
    """``(data, is_open)`` events of ``node``'s subtree with each key field renamed: ``insert_subtree`` input.

    Data without the key field is copied as it is. O(size).
    """
    field = tx.key
    if field is None:
        raise CliError("--key-format: this database has no key field, so a copy repeats no keys")
    events: List[Tuple[Any, bool]] = []
    for n, is_open in tx.events(node):
        if not is_open:
            events.append((None, False))
            continue
        data = tx.data(n)
        if type(data) is dict and field in data:
            data = {**data, field: rename(data[field])}
        events.append((data, True))
    return events


def cmd_set(args: argparse.Namespace) -> int:
    """``botree set DB NODE --data JSON | --field f=v ...``: replace NODE's data, or some fields of it."""
    data = json_argument(args.data, "--data") if args.data is not None else None
    fields = field_arguments(args.field) if args.field else None
    names = ", ".join(fields) if fields else ""
    default = f"set {args.node} " + (f"fields {names}" if fields else "data")
    with open_db(args.db) as db:
        with db.transaction(message=args.message if args.message is not None else default) as tx:
            node = named(tx, args, args.node)
            if fields is not None:
                old = tx.data(node)
                if old is not None and type(old) is not dict:
                    raise CliError(
                        f"node {args.node} holds {show_value(old)}, not a dict of fields: replace it with --data"
                    )
                data = {**(old or {}), **fields}
            tx.set_data(node, data)
        version = committed_version(db, tx.tree)
    out(f"set {'fields ' + names + ' of ' if fields else 'the data of '}node {args.node} as version {version}")
    return 0


def cmd_unwrap(args: argparse.Namespace) -> int:
    """``botree unwrap DB NODE``: delete NODE alone; its children take its place."""
    with open_db(args.db) as db:
        with db.transaction(message=args.message if args.message is not None else f"unwrap {args.node}") as tx:
            node = named(tx, args, args.node)
            count = sum(1 for _ in tx.children(node))
            tx.unwrap(node)
        version = committed_version(db, tx.tree)
    moved = f"its {count} child{'' if count == 1 else 'ren'} took its place" if count else "it had no children"
    out(f"unwrapped node {args.node} ({moved}) as version {version}")
    return 0


def cmd_revert(args: argparse.Namespace) -> int:
    """``botree revert DB --to V``: commit the tree of version V again as a new version; history is kept."""
    with open_db(args.db) as db:
        tree = db.as_of(args.to)
        message = args.message if args.message is not None else f"revert to version {args.to}"
        version = db.replace(tree, message=message)
    out(f"reverted to version {args.to} as version {version} ({len(tree)} nodes); the versions between stay in the log")
    return 0


# -- find, verify, compact -----------------------------------------------------------------


def scope(tree: Tree, under: Optional[int], max_depth: Optional[int]) -> Iterator[int]:
    """The nodes ``find`` looks at, in preorder: ``under``'s proper descendants (None: the whole forest),
    at most ``max_depth`` levels below ``under`` (the forest: levels 0..max_depth).
    """
    if under is not None:
        yield from tree.descendants(under, max_depth)
    elif max_depth is None:
        yield from tree.preorder()
    else:
        for top in tree.roots():
            yield top
            yield from tree.descendants(top, max_depth)


def find_nodes(
    tree: Tree, where: Callable[[Any], bool], under: Optional[int], max_depth: Optional[int]
) -> Iterator[int]:
    """Nodes in scope whose data satisfies ``where``, in preorder: ``Tree.find``. O(nodes in scope)."""
    return iter(tree.find(where=where, under=under, max_depth=max_depth))


def cmd_find(args: argparse.Namespace) -> int:
    """``botree find DB [--under N] [--max-depth D] [--where FIELD OP VALUE]...``: nodes whose data match."""
    if args.depth is not None and args.depth < 0:
        raise UsageError("--max-depth must be >= 0")
    try:
        conditions = parse_conditions(args.where)
    except BadCondition as exc:
        raise CliError(str(exc)) from None
    where, seen = data_predicate(conditions)
    with open_db(args.db) as db:
        tree = tree_at(db, args.as_of)
        top = None if args.under is None else resolve(tree, args.under, args.node_id, args.as_of)
        found = list(find_nodes(tree, where, top, args.depth))
        searched = not found and next(scope(tree, top, args.depth), None) is not None
        unknown = unknown_fields(conditions, seen) if searched else []
        if unknown:
            have = ", ".join(sorted(seen)) or "none"
            names = ", ".join(map(repr, unknown))
            raise CliError(f"unknown field {names} in --where (the nodes searched have: {have})")
        for node in found:
            out(label(tree, node) if args.ids_only else node_line(tree, node))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """``botree verify DB``: read and check every stored record; prints ``ok`` or fails with the damage found."""
    with open_db(args.db) as db:
        db.verify()
        version, tree = db.snapshot()
        out(f"ok: version {version}, {len(tree)} nodes, {len(db.history())} versions readable")
    return 0


def cmd_compact(args: argparse.Namespace) -> int:
    """``botree compact DB --keep K``: delete the versions older than every branch's newest K."""
    if args.keep < 1:
        raise CliError(f"--keep must be at least 1 (the current version), not {args.keep}")
    with open_db(args.db) as db:
        before = len(db.history(all_branches=True))
        oldest = db.compact(args.keep)
        after = db.history(all_branches=True)
        dropped = before - len(after)
        out(f"dropped {dropped} version{'' if dropped == 1 else 's'}; versions {oldest}..{after[-1].version} remain")
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    """``botree index DB [--add F]... [--drop F]... [--key F | --no-key]``: show or change what is indexed."""
    with open_db(args.db) as db:
        for field in args.drop or ():  # each change is a commit of its own
            out(f"dropped the index of {field!r} as version {db.drop_index(field, args.message)}")
        for field in args.add or ():
            out(f"indexed {field!r} as version {db.add_index(field, args.message)}")
        if args.key is not None or args.no_key:
            key = None if args.no_key else args.key
            out(f"key field {key!r} as version {db.set_key(key, args.message)}")
        fields = ", ".join(db.fields) or "none"
        out(f"key field: {db.key if db.key is not None else 'none'}; indexed fields: {fields}")
    return 0


# -- history ----------------------------------------------------------------------------


def cmd_log(args: argparse.Namespace) -> int:
    """``botree log DB``: one line per commit, oldest first."""
    with open_db(args.db) as db:
        if args.graph:
            for line in graph_lines(db.history(all_branches=True), db.branches()):
                out(line)
            return 0
        commits = db.history()
    width = max((len(str(c.version)) for c in commits), default=1)
    for commit in commits:
        when = datetime.fromtimestamp(commit.time).astimezone().isoformat(timespec="seconds")
        if commit.ops is None:
            what = "replace"
        else:
            what = f"{len(commit.ops)} update{'' if len(commit.ops) == 1 else 's'}"
        out(f"{commit.version:>{width}}  {when}  {what:<11}  {commit.message or ''}".rstrip())
    return 0


def watch_line(commits: Dict[int, Any], version: int, changes: Any) -> str:
    """One ``botree watch`` line: version, time, message and counts of what changed."""
    commit = commits.get(version)
    when = datetime.fromtimestamp(commit.time).astimezone().isoformat(timespec="seconds") if commit else "?"
    counts = f"+{len(changes.inserted)} -{len(changes.deleted)} ~{len(changes.moved)} *{len(changes.data_changed)}"
    message = (commit.message or "") if commit else ""
    return f"{version}  {when}  {counts}  {message}".rstrip()


def cmd_watch(args: argparse.Namespace) -> int:
    """``botree watch DB [--as-of V]``: print each new version as it is committed, by any process, until Ctrl-C."""
    heard: "queue.Queue[Tuple[int, Any]]" = queue.Queue()
    try:
        with open_db(args.db) as db:
            db.subscribe(lambda version, changes: heard.put((version, changes)))
            head = db.version
            commits = {c.version: c for c in db.history()}
            if args.as_of is not None:
                if args.as_of > head:
                    raise CliError(f"version {args.as_of} does not exist (the current version is {head})")
                for version in range(max(args.as_of, db.history()[0].version) + 1, head + 1):
                    out(watch_line(commits, version, db.changes(version - 1, version)))
            sys.stdout.flush()
            while True:
                try:
                    version, changes = heard.get(timeout=0.5)
                except queue.Empty:
                    continue
                if version <= head:
                    continue  # printed from the history above
                if version not in commits:  # read only the commits not seen yet
                    commits.update((c.version, c) for c in db.history(since=max(commits, default=-1)))
                out(watch_line(commits, version, changes))
                sys.stdout.flush()
    except KeyboardInterrupt:
        return 0


def place_text(tree: Tree, place: Tuple[Optional[int], int]) -> str:
    """``(parent, index)`` of ``tree`` as ``under 3 at 0`` / ``top level at 2`` (the parent by key when keyed)."""
    parent, index = place
    return f"{'top level' if parent is None else f'under {label(tree, parent)}'} at {index}"


def cmd_diff(args: argparse.Namespace) -> int:
    """``botree diff DB V1 [V2]``: what changed from V1 to V2 (default: the current version); nodes by key."""
    with open_db(args.db) as db:
        v2 = db.version if args.v2 is None else args.v2
        changes = db.changes(args.v1, v2)
        old = db.as_of(args.v1)
        new = db.as_of(v2)
        for node in changes.inserted:
            out(f"+ {node_line(new, node)}")
        for node in changes.deleted:
            out(f"- {node_line(old, node)}")
        for node, (before, after) in changes.moved.items():
            out(f"~ {label(new, node)}  moved: {place_text(old, before)} -> {place_text(new, after)}")
        for node in changes.data_changed:
            was, now = (show_data(tree.data(node)) or "null" for tree in (old, new))
            out(f"* {label(new, node)}  data changed: {was} -> {now}")
    counts = (
        f"{len(changes.inserted)} inserted, {len(changes.deleted)} deleted, "
        f"{len(changes.moved)} moved, {len(changes.data_changed)} data changed"
    )
    out(f"# {args.v1} -> {v2}: {counts}")
    return 0


# -- export -----------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    """``botree export DB [--format F]``: the tree on stdout (see ``botree.cli.exports``)."""
    if args.indent is not None and args.indent < 0:
        raise UsageError("--indent must be >= 0")
    with open_db(args.db) as db:
        tree = tree_at(db, args.as_of)
        fmt = auto_format(tree) if args.format == "auto" else args.format
        text = EXPORTERS[fmt](tree, args)
    sys.stdout.write(text)
    return 0


# -- the parser ----------------------------------------------------------------------------

DB_HELP = "an SQLite file path or a postgresql:// URL"
NODE_HELP = "a key (databases with a key field), or an internal node id written #N (quote it: '#12')"


def db_argument(p: argparse.ArgumentParser) -> None:
    """Add the ``DB`` positional."""
    p.add_argument("db", metavar="DB", help=DB_HELP)


def node_argument(p: argparse.ArgumentParser, what: str = NODE_HELP) -> None:
    """Add the ``NODE`` positional and ``--node-id``."""
    p.add_argument("node", metavar="NODE", help=what)
    node_id_argument(p)


def node_id_argument(p: argparse.ArgumentParser) -> None:
    """Add ``--node-id``: NODE arguments are internal node ids even where the database has a key field."""
    p.add_argument(
        "--node-id",
        action="store_true",
        help="read NODE (and --under/--before/--after) as internal node ids, not keys",
    )


def as_of_argument(p: argparse.ArgumentParser) -> None:
    """Add ``--as-of V``: read an older version instead of the current one."""
    p.add_argument("--as-of", type=int, metavar="V", help="read version V instead of the current one")


def message_argument(p: argparse.ArgumentParser, default: str) -> None:
    """Add ``--message/-m``: the commit message of a writing verb."""
    p.add_argument("--message", "-m", metavar="M", help=f"commit message (default: {default})")


def max_depth_argument(p: argparse.ArgumentParser, what: str) -> None:
    """Add ``--max-depth N`` (alias ``--depth``)."""
    p.add_argument("--max-depth", "--depth", dest="depth", type=int, metavar="N", help=what)


def place_arguments(p: argparse.ArgumentParser, what: str) -> None:
    """Add exactly one of ``--under P [--index I]``, ``--before T``, ``--after T``: where ``what`` goes."""
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--under", type=parent_arg, metavar="P", help=f"put {what} under node P, or at the top level with 'root' or '-'"
    )
    where.add_argument("--before", metavar="T", help=f"put {what} just before node T (same parent as T)")
    where.add_argument("--after", metavar="T", help=f"put {what} just after node T (same parent as T)")
    p.add_argument(
        "--index", type=int, metavar="I", help="with --under: child index (default: last; negative from the end)"
    )


def data_arguments(p: argparse.ArgumentParser, required: bool) -> None:
    """Add ``--data JSON`` or ``--field f=v`` (repeatable); one of them is required when ``required``."""
    given = p.add_mutually_exclusive_group(required=required)
    given.add_argument("--data", metavar="JSON", help='the node\'s whole data, as JSON (e.g. \'{"name": "Ann"}\')')
    given.add_argument(
        "--field",
        action="append",
        metavar="F=V",
        help="set field F of the data dict to V (repeatable); V is read as JSON if it parses, else as text",
    )


def cmd_upgrade(args: argparse.Namespace) -> int:
    """``botree upgrade DB``: rewrite a database of an older storage format in place."""
    path = local_path(args.db)
    if path and not os.path.exists(path):
        raise CliError(f"no database at {path!r}")
    old, new = upgrade(args.db)
    out(f"{args.db}: already in format {new}" if old == new else f"{args.db}: upgraded from format {old} to {new}")
    return 0


def upgrade_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``botree upgrade``."""
    db_argument(p)


def input_arguments(p: argparse.ArgumentParser, verb: str) -> None:
    """The arguments ``import`` and ``sync`` share: FILE, DB and how FILE is read."""
    p.add_argument("file", metavar="FILE", help="the input file (- for standard input)")
    if verb == "import":
        p.add_argument("db", metavar="DB", help=DB_HELP + " (an SQLite file is created if missing)")
    else:
        db_argument(p)
    p.add_argument("--format", choices=INPUT_FORMATS, help="input format (default: from FILE's extension)")
    p.add_argument("--key", metavar="COLUMN", help="csv: the key column (default: the database's key field, else 'id')")
    p.add_argument("--parent", metavar="COLUMN", help="csv: the parent column (default: 'parent')")
    p.add_argument(
        "--order", metavar="COLUMN", help="csv: the column sorting siblings (default: 'order' when the file has it)"
    )
    p.add_argument(
        "--delimiter", type=delimiter_arg, default=",", metavar="C", help="csv: the field separator (default: ',')"
    )
    p.add_argument(
        "--types",
        action="append",
        metavar="COL=TYPE,...",
        help="csv: column types (int, float, number, bool, str, json) instead of sniffing (repeatable)",
    )
    message_argument(p, f"'{verb} FILE'")
    p.add_argument(
        "--orphans",
        choices=("error", "ignore", "root"),
        default="error",
        help="parent tables: rows whose parent is not in the table (default: error)",
    )
    p.add_argument(
        "--cycles",
        choices=("error", "break"),
        default="error",
        help="parent tables: rows whose parent chain loops (default: error)",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show progress in rows on stderr (default: when stderr is a terminal)",
    )


def delimiter_arg(text: str) -> str:
    """``--delimiter`` values: one character, or ``tab`` / ``\\t`` for a tab."""
    if text in ("tab", "\\t"):
        return "\t"
    if len(text) != 1:
        raise argparse.ArgumentTypeError(f"expected one character (or 'tab'), not {text!r}")
    return text


def import_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``botree import``."""
    input_arguments(p, "import")
    p.add_argument("--replace", action="store_true", help="replace the tree of a database that is not empty")
    p.add_argument("--id-map", metavar="CSV", help="parent tables: write the 'id,node' mapping of row ids to node ids")


def sync_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``botree sync``."""
    input_arguments(p, "sync")


def ls_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``botree ls``."""
    db_argument(p)
    p.add_argument("node", metavar="NODE", nargs="?", help="the subtree's root (default: the whole forest)")
    node_id_argument(p)
    max_depth_argument(p, "show at most N levels below the top (0: the top only)")
    p.add_argument("--limit", type=int, metavar="LINES", help="stop after this many lines")
    as_of_argument(p)


def query_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``botree query``: NODE and exactly one question about it."""
    db_argument(p)
    node_argument(p, "the node asked about (" + NODE_HELP + ")")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--ancestors", action="store_true", help="proper ancestors, nearest first")
    what.add_argument("--descendants", action="store_true", help="proper descendants in preorder")
    what.add_argument("--children", action="store_true", help="children in order")
    what.add_argument("--parent", action="store_true", help="the parent ('none' for a top-level node)")
    what.add_argument("--level", action="store_true", help="the depth (top-level nodes: 0)")
    what.add_argument("--size", action="store_true", help="the number of nodes in the subtree, NODE included")
    max_depth_argument(p, "--descendants: at most N levels below NODE")
    p.add_argument("--ids-only", action="store_true", help="print node ids without their data")
    as_of_argument(p)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``botree add``."""
    db_argument(p)
    place_arguments(p, "the new node")
    node_id_argument(p)
    data_arguments(p, required=False)
    message_argument(p, "'add --under P' (or --before/--after T)")


def set_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``botree set``."""
    db_argument(p)
    node_argument(p, "the node to change (" + NODE_HELP + ")")
    data_arguments(p, required=True)
    message_argument(p, "'set NODE data' or 'set NODE fields F, ...'")


def mv_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``botree mv``: NODE and exactly one place to move it to."""
    db_argument(p)
    node_argument(p, "the node to move with its subtree (" + NODE_HELP + ")")
    place_arguments(p, "NODE")
    message_argument(p, "'mv NODE --under P' (or --before/--after T)")


def cp_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``botree cp``: NODE, exactly one place for the copy, and the copies' keys."""
    db_argument(p)
    node_argument(p, "the node to copy with its subtree (" + NODE_HELP + ")")
    place_arguments(p, "the copy")
    p.add_argument(
        "--key-format",
        metavar="FORMAT",
        help="in a database with a key field: each copy's key, made from its original's key, e.g. '{key}-copy' "
        "(a str key; braces other than {key} doubled)",
    )
    message_argument(p, "'cp NODE --under P' (or --before/--after T)")


def rm_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``botree rm``."""
    db_argument(p)
    node_argument(p, "the node to delete with its subtree (" + NODE_HELP + ")")
    message_argument(p, "'rm NODE'")


def unwrap_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``botree unwrap``."""
    db_argument(p)
    node_argument(p, "the node to delete, keeping its children (" + NODE_HELP + ")")
    message_argument(p, "'unwrap NODE'")


def revert_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``botree revert``."""
    db_argument(p)
    p.add_argument("--to", type=int, metavar="V", required=True, help="the version whose tree to commit again")
    message_argument(p, "'revert to version V'")


def find_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``botree find``."""
    db_argument(p)
    p.add_argument("--under", metavar="N", help="search N's subtree, N excluded (default: the whole forest)")
    node_id_argument(p)
    max_depth_argument(p, "at most N levels below --under's node (without --under: levels 0..N of the forest)")
    p.add_argument(
        "--where",
        nargs=3,
        action="append",
        metavar=("FIELD", "OP", "VALUE"),
        help="a condition on a data field (repeatable: all must hold); OP: = != < <= > >= contains "
        "(quote < and > in the shell); VALUE is read as JSON if it parses, else as text",
    )
    p.add_argument("--ids-only", action="store_true", help="print node ids without their data")
    as_of_argument(p)


def log_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``botree log``."""
    db_argument(p)
    p.add_argument("--graph", action="store_true", help="every branch's commits, one lane per branch, forks and merges")


def watch_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``botree watch``."""
    db_argument(p)
    p.add_argument("--as-of", type=int, metavar="V", help="first print the versions committed after V")


def diff_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``botree diff``."""
    db_argument(p)
    p.add_argument("v1", metavar="V1", type=int, help="the older version")
    p.add_argument("v2", metavar="V2", type=int, nargs="?", help="the newer version (default: the current one)")


def verify_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``botree verify``."""
    db_argument(p)


def compact_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``botree compact``."""
    db_argument(p)
    p.add_argument(
        "--keep", type=int, metavar="K", required=True, help="how many of the newest versions stay readable (>= 1)"
    )


def index_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``botree index``."""
    db_argument(p)
    p.add_argument("--add", action="append", metavar="FIELD", help="index this data field too (repeatable)")
    p.add_argument("--drop", action="append", metavar="FIELD", help="stop indexing this field (repeatable)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--key", metavar="FIELD", help="make FIELD the key field (unique int or str in every node)")
    which.add_argument("--no-key", action="store_true", help="drop the key field (nodes are then named by #id)")
    message_argument(p, "the change, e.g. 'index name'")


def export_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``botree export``."""
    db_argument(p)
    p.add_argument("--format", choices=EXPORT_FORMATS, default="auto", help="output format (default: auto)")
    p.add_argument(
        "--indent", type=int, metavar="N", help="json, table: indent nested values by N spaces (default: one line)"
    )
    p.add_argument(
        "--label", metavar="FIELD", help="dot, mermaid: label nodes with this data field (default: all the data)"
    )
    p.add_argument("--parent", metavar="COLUMN", help="csv: the parent column's name (default: 'parent')")
    p.add_argument(
        "--order", metavar="COLUMN", help="csv: the data field holding sibling order values (default: 'order')"
    )
    p.add_argument(
        "--delimiter", type=delimiter_arg, default=",", metavar="C", help="csv: the field separator (default: ',')"
    )
    as_of_argument(p)


IMPORT_EPILOG = (
    "Formats: csv (.csv): a parent table; every column of a row goes into the node's data except the parent "
    "column (--parent, default 'parent'; empty: a top-level node), which is the structure; the key column "
    "(--key, default 'id') becomes the database's key field: NODE arguments then name nodes by key. "
    "Cells are typed by sniffing each column: numbers when every non-empty cell is an int or float written "
    "canonically (so 007 or 1e3 keep a column textual), true/false, text otherwise; an empty cell is null "
    "(--types COL=TYPE overrides). An order column (--order, default 'order') sorts siblings when every cell "
    "is filled, keeps file order when every cell is blank, and is an error when mixed. "
    'json (.json): botree\'s own json/table exports are recognised by their {"botree": ...} marker; any other '
    "JSON document is stored losslessly (--format document: always a document); "
    "table: a marked table or a bare JSON array of {id, parent, order, data} objects. "
    "Nothing is written unless the whole file is read and checked; --id-map is written only with the commit. "
    "The database file is created if missing; --replace keeps its key field, indexes and block size."
)
SYNC_EPILOG = (
    "FILE is read exactly as 'import' reads it (same options). Nodes are matched by key: rows whose key is new "
    "are inserted, keys no longer in FILE are deleted, nodes whose parent or place among their siblings "
    "changed are moved, and nodes whose data changed are updated, all in one commit; a file equal to the "
    "tree commits nothing. 'botree diff' across the commit lists exactly these changes."
)
EXPORT_EPILOG = (
    "Formats (each read back by 'import' into an equal tree: same keys, data and shape): "
    "json: the JSON document a tree imported from JSON encodes, else the tree's records marked "
    '{"botree": "records", ...}; '
    'table: {"botree": "table", "key": K, "rows": [{id, parent, order, data}, ...]} in preorder (id and parent '
    "are keys when the tree has a key field); "
    "csv: with a key field, the columns of the nodes' data with the parent column after the key column, one "
    "row per node in preorder (a CSV import comes back byte for byte while its order values still sort the "
    "siblings; otherwise the order column holds child positions, said on stderr); without one, "
    "#id,#parent,#order and one column per data field; "
    "dot: Graphviz text (render with: dot -Tsvg); mermaid: a mermaid flowchart (diagrams: one way only); "
    "auto (default): json when the tree holds a JSON document, else table."
)
DATA_EPILOG = (
    "--data takes strict JSON: quote strings inside it ('\"text\"'). With --field F=V, V is JSON if it parses "
    '(42, true, null, [1, 2], "42") and otherwise the text itself (Ann, 01234); --field on a node holding '
    "null starts from an empty dict."
)
FIND_EPILOG = (
    "A node matches a condition when its data is a dict holding FIELD and 'value OP VALUE' holds; values that "
    "cannot be compared (a number with a list) do not match. A text value that reads as a number compares as "
    "that number with a number VALUE. 'contains' tests a substring "
    "of a text value or an item of a list. A FIELD that no searched node has is an error. Matches print in "
    "preorder as 'key  data' ('id  data' without a key field). Scans the nodes searched: O(nodes in scope)."
)

# name, handler, summary (help and description), epilog, the function adding its arguments
# -- branches (issue 17): branch, branches, merge, history; --branch NAME on every verb ---------------

_BRANCH: List[Optional[str]] = [None]  # --branch NAME of the running verb: open_db returns that branch's handle
NO_BRANCH_OPTION = {"upgrade", "verify", "compact", "branches"}


def cmd_branch(args: argparse.Namespace) -> int:
    """``botree branch DB NAME [--at V]``: create a branch."""
    with open_db(args.db) as db:
        handle = db.branch(args.name, at=args.at)
        out(f"created branch {args.name} at version {handle.version}")
    return 0


def cmd_branches(args: argparse.Namespace) -> int:
    """``botree branches DB``: every branch and its head version."""
    with open_db(args.db) as db:
        for name, head in db.branches().items():
            out(f"{name}  {head}")
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    """``botree merge DB SOURCE [--into TARGET]``: merge SOURCE's updates into TARGET (default main)."""
    with open_db(args.db) as db:
        target = db.on(args.into)
        before = target.version
        try:
            version = target.merge(args.source, message=args.message or f"merge {args.source}", resolve=args.resolve)
        except MergeConflict as exc:
            for line in conflict_lines(exc.conflicts):
                out(line)
            raise CliError(f"{len(exc.conflicts)} conflict(s): nothing was committed") from None
        if version == before:
            out(f"nothing to merge: {args.source} is already in {args.into} (version {version})")
        else:
            out(f"merged {args.source} into {args.into} as version {version}")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    """``botree history DB NODE``: every version that inserted, moved, re-valued or deleted NODE."""
    with open_db(args.db) as db:
        try:
            node = resolve(db.tree, args.node, args.node_id)
        except NodeNotFound:
            text = args.node.lstrip("#")
            if not text.isdigit():
                raise
            node = int(text)  # a deleted node: its id still names it in the history
        for event in db.node_history(node):
            out(event_line(event))
    return 0


def branch_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``botree branch``."""
    db_argument(p)
    p.add_argument("name", metavar="NAME", help="the new branch's name")
    p.add_argument("--at", type=int, metavar="V", help="the version it starts at (default: the --branch head)")


def merge_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``botree merge``."""
    db_argument(p)
    p.add_argument("source", metavar="SOURCE", help="the branch whose updates are merged")
    p.add_argument("--into", default="main", metavar="TARGET", help="the branch merged into (default: main)")
    p.add_argument("--resolve", choices=("ours", "theirs"), help="settle data-only conflicts: TARGET's or SOURCE's")
    message_argument(p, "'merge SOURCE'")


def history_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``botree history``."""
    db_argument(p)
    node_argument(p)


BRANCH_COMMANDS: Tuple[
    Tuple[str, Callable[[argparse.Namespace], int], str, Optional[str], Callable[[argparse.ArgumentParser], None]],
    ...,
] = (
    ("branch", cmd_branch, "Create branch NAME at version V (default: the head of --branch, or main).", None,
     branch_arguments),
    ("branches", cmd_branches, "List the branches: 'name  head version'.", None, db_argument),
    ("merge", cmd_merge, "Replay SOURCE's updates since the common history on TARGET as one commit; lists every "
     "conflict and commits nothing if any update no longer applies.", None, merge_arguments),
    ("history", cmd_history, "Every version of the branch that inserted, moved, re-valued or deleted NODE.", None,
     history_arguments),
)


COMMANDS: Tuple[
    Tuple[str, Callable[[argparse.Namespace], int], str, Optional[str], Callable[[argparse.ArgumentParser], None]],
    ...,
] = (
    (
        "import",
        cmd_import,
        "Store the tree of a JSON document or a parent table as the database's next version.",
        IMPORT_EPILOG,
        import_arguments,
    ),
    (
        "sync",
        cmd_sync,
        "Make the tree equal to FILE's, matching nodes by key; commits only the differences, in one version.",
        SYNC_EPILOG,
        sync_arguments,
    ),
    (
        "ls",
        cmd_ls,
        "Draw the forest, or NODE's subtree, one node per line: its key (or id) and its data.",
        None,
        ls_arguments,
    ),
    (
        "query",
        cmd_query,
        "Ask one structural question about NODE; node lists print one 'key  data' line each.",
        None,
        query_arguments,
    ),
    (
        "find",
        cmd_find,
        "List the nodes whose data match every --where condition, in a subtree and down to a depth.",
        FIND_EPILOG,
        find_arguments,
    ),
    (
        "add",
        cmd_add,
        "Insert a new leaf holding --data (or --field values); prints its key (or node id); commits a new version.",
        DATA_EPILOG,
        add_arguments,
    ),
    (
        "set",
        cmd_set,
        "Replace NODE's data (--data) or some of its fields (--field); commits a new version.",
        DATA_EPILOG,
        set_arguments,
    ),
    ("mv", cmd_mv, "Move NODE with its subtree; commits a new version.", None, mv_arguments),
    (
        "cp",
        cmd_cp,
        "Copy NODE with its subtree (new ids, equal data); prints the copy's id; commits a new version.",
        None,
        cp_arguments,
    ),
    ("rm", cmd_rm, "Delete NODE and its subtree; commits a new version.", None, rm_arguments),
    (
        "unwrap",
        cmd_unwrap,
        "Delete NODE alone: its children take its place under its parent; commits a new version.",
        None,
        unwrap_arguments,
    ),
    (
        "log",
        cmd_log,
        "List the commits, oldest first: version, time, updates ('replace' for a whole-tree import), message.",
        None,
        log_arguments,
    ),
    (
        "watch",
        cmd_watch,
        "Print each new version as any process commits it: 'version  time  +inserted -deleted ~moved "
        "*data changed  message'; runs until interrupted (Ctrl-C).",
        None,
        watch_arguments,
    ),
    (
        "diff",
        cmd_diff,
        "What changed from version V1 to V2: '+ key data' inserted, '- key data' deleted, "
        "'~ key moved: ...' moved, '* key data changed: old -> new' (node ids without a key field); "
        "a '# ...' summary line ends the output.",
        None,
        diff_arguments,
    ),
    (
        "revert",
        cmd_revert,
        "Commit the tree of version V again, as a new version: later versions stay in the history.",
        None,
        revert_arguments,
    ),
    (
        "export",
        cmd_export,
        "Write the tree to stdout as JSON, a JSON parent table or a CSV parent table ('import' reads each back).",
        EXPORT_EPILOG,
        export_arguments,
    ),
    (
        "verify",
        cmd_verify,
        "Read and check every stored record and the current tree; prints 'ok: ...' or fails with the damage found.",
        None,
        verify_arguments,
    ),
    (
        "index",
        cmd_index,
        "Show the key field and the indexed fields; --add / --drop an indexed field or set the key field, "
        "each in a commit of its own (built once, stored).",
        None,
        index_arguments,
    ),
    (
        "compact",
        cmd_compact,
        "Delete every version but the newest K; older versions can no longer be read (log, diff, --as-of).",
        None,
        compact_arguments,
    ),
    (
        "upgrade",
        cmd_upgrade,
        "Rewrite a database written in an older storage format (botree 0.1) in the current one, in place, "
        "keeping every version (one transaction: all of it or nothing).",
        None,
        upgrade_arguments,
    ),
)

TOP_EPILOG = (
    "DB is an SQLite file path or a postgresql:// URL. NODE names a node: in a database with a key field "
    "(a CSV import's id column) by its key, as 'ls' shows it: 3 is the int key 3 if there is one, else the "
    "string '3'; '\"3\"' is always the string. '#12' (or --node-id 12) is internal node id 12 in any "
    "database; without a key field NODE is a node id. A key is never taken for a node id. "
    "Where a parent is asked (--under), 'root' means the top level. Values print as JSON. "
    "Run 'botree COMMAND -h' for a command's options."
)


def build_parser() -> argparse.ArgumentParser:
    """The ``botree`` argument parser with one subcommand per verb (see ``COMMANDS``)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="A persistent, versioned tree database on SQLite or PostgreSQL.",
        epilog=TOP_EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, run, summary, epilog, arguments in COMMANDS + BRANCH_COMMANDS:
        p = sub.add_parser(name, help=summary, description=summary, epilog=epilog)
        p.set_defaults(run=run, parser=p)
        arguments(p)
        if name not in NO_BRANCH_OPTION:
            p.add_argument("--branch", metavar="NAME", help="read and write branch NAME (default: main)")
    return parser


def os_error_text(exc: OSError) -> str:
    """``path: reason`` for a file error."""
    reason = exc.strerror or str(exc)
    return f"{exc.filename}: {reason}" if exc.filename else reason


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the ``botree`` command line on ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    _BRANCH[0] = getattr(args, "branch", None)
    try:
        return int(args.run(args))
    except UsageError as exc:
        args.parser.print_usage(sys.stderr)
        note(f"{args.parser.prog}: error: {exc}")
        return 2
    except (CliError, BotreeError) as exc:
        message = str(exc)
    except BrokenPipeError:
        # The reader went away (e.g. `botree ls DB | head`): stop quietly.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1
    except OSError as exc:
        message = os_error_text(exc)
    except KeyboardInterrupt:
        note(f"{PROG}: interrupted")
        return 130
    note(f"{PROG}: error: " + " ".join(part.strip() for part in message.splitlines() if part.strip()))
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
