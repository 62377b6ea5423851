"""The ``botree`` command line, run as a real subprocess (``python -m botree`` and the console script).

Expected outputs come from the Python API on the same database wherever possible,
so these tests check the CLI's plumbing and formatting, not guesses about ids.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

from botree import DurableDatabase, Tree, __version__, cli
from tests import ROOT

SCRIPT = os.path.join(os.path.dirname(sys.executable), "botree")

ORG_CSV = """id,parent,order,name,role
ceo,,1,Ada,boss
eng,ceo,2,Eng,dept
ops,ceo,1,Ops,dept
e1,eng,10,Bob,dev
e2,eng,9,Cy,dev
e3,eng,11,Di,dev
o1,ops,1,Eve,ops
"""

DOC = {
    "name": "botree",
    "tags": ["tree", "db", 1, 1.5, True, None, "ü → ✓"],
    "empty": {},
    "list": [],
    "nested": {"a": [{"b": {"c": [[], [{}]]}}], "1": "key that looks like a number"},
}


def run(*args: str, script: bool = False, code: int = 0) -> subprocess.CompletedProcess[str]:
    """Run ``botree ARGS`` (``python -m botree``, or the installed script) and check its exit status."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    command = [SCRIPT] if script else [sys.executable, "-m", "botree"]
    done = subprocess.run([*command, *args], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == code, f"exit {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}"
    if code:
        assert "Traceback" not in done.stderr
        errors = done.stderr.splitlines()
        assert errors[-1].startswith("botree") and ": error: " in errors[-1], done.stderr
        if code == 1:
            assert len(errors) == 1, done.stderr  # one clear line; usage errors (2) print the usage first
    return done


def lines(done: subprocess.CompletedProcess[str]) -> List[str]:
    """The lines of a command's standard output."""
    return done.stdout.splitlines()


def listed(done: subprocess.CompletedProcess[str]) -> List[str]:
    """The keys (or node ids) an ``ls`` drawing shows, top to bottom."""
    return [line.rpartition("── ")[2].split()[0] for line in lines(done)]


def name(tree: Tree, node: int) -> str:
    """How the CLI names ``node``: its key when the tree has a key field, else its node id."""
    return str(node) if tree.key is None else str(tree.key_of(node))


def line_of(tree: Tree, node: int) -> str:
    """What listings print for ``node`` (see ``botree.cli.main.node_line``): its key (or id) and its data as JSON."""
    return f"{name(tree, node)}  {json.dumps(tree.data(node), ensure_ascii=False)}"


@pytest.fixture
def org(tmp_path: Path) -> Tuple[str, Dict[str, int]]:
    """An org chart imported from CSV through the CLI: (database path, row id -> node id)."""
    src = tmp_path / "org.csv"
    src.write_text(ORG_CSV)
    db = str(tmp_path / "org.db")
    ids = tmp_path / "ids.csv"
    done = run("import", str(src), db, "--id-map", str(ids))
    assert lines(done) == ["imported 7 nodes as version 1"]
    with open(ids, newline="") as f:
        mapping = {row["id"]: int(row["node"]) for row in csv.DictReader(f)}
    assert sorted(mapping) == ["ceo", "e1", "e2", "e3", "eng", "o1", "ops"]
    return db, mapping


@pytest.fixture
def stored(tmp_path: Path) -> Iterator[str]:
    """A small database made with the Python API (no subprocess): root 0 -> 1 -> 2, and 3 under 0."""
    path = str(tmp_path / "small.db")
    tree = Tree()
    tree, a = tree.insert_child(None, {"name": "a"})
    tree, b = tree.insert_child(a, {"name": "b"})
    tree, _ = tree.insert_child(b, {"name": "c"})
    tree, _ = tree.insert_child(a, {"name": "d"})
    with DurableDatabase(path) as db:
        db.replace(tree, message="seed")
    yield path


def shape(tree: Tree, top: Optional[int] = None) -> List[Tuple[int, object]]:
    """``top``'s subtree (None: the forest) as (level, data) in preorder: equal for trees equal but for node ids."""
    base = 0 if top is None else tree.level(top)
    return [(tree.level(n) - base, tree.data(n)) for n in tree.preorder(top)]


def open_tree(path: str, version: Optional[int] = None) -> Tree:
    """The tree stored at ``path`` (a version of it), fully loaded before the file closes."""
    with DurableDatabase(path) as db:
        tree = db.tree if version is None else db.as_of(version)
        list(tree.preorder())  # touch every lazily loaded leaf
        for node in tree.preorder():
            tree.data(node)
            if tree.key is not None:
                tree.node_of(tree.key_of(node))  # loads the key index's leaves too
        return tree


# -- entry points ---------------------------------------------------------------------


def test_console_script_version_and_usage_errors() -> None:
    if not os.path.exists(SCRIPT):
        pytest.skip(f"no console script at {SCRIPT} (pip install -e .)")
    assert lines(run("--version", script=True)) == [f"botree {__version__}"]
    done = run(script=True, code=2)
    assert "usage: botree" in done.stderr and "required" in done.stderr
    done = run("mv", "x.db", "1", "--before", "2", "--index", "0", script=True, code=2)
    assert "--index goes with --under" in done.stderr


def test_main_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"botree {__version__}"
    missing = str(tmp_path / "missing.db")
    assert cli.main(["log", missing]) == 1
    err = capsys.readouterr().err
    assert err.startswith("botree: error: no database at") and "missing.db" in err
    assert not os.path.exists(missing)
    assert cli.main(["query", missing, "1"]) == 2  # no --ancestors/...: a usage error
    assert "one of the arguments" in capsys.readouterr().err


# -- import and export ----------------------------------------------------------------------


def test_json_import_export_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "doc.json"
    src.write_text(json.dumps(DOC, ensure_ascii=False), encoding="utf-8")
    db = str(tmp_path / "doc.db")
    done = run("import", str(src), db, "--progress", script=os.path.exists(SCRIPT))
    count = len(Tree.from_json(str(src)))
    assert lines(done) == [f"imported {count} nodes as version 1"]
    assert "rows" in done.stderr and "storing" in done.stderr  # progress was drawn on stderr, in rows
    assert "rows" not in done.stdout
    assert json.loads(run("export", db).stdout) == DOC
    assert run("export", db, "--indent", "2").stdout == json.dumps(DOC, indent=2) + "\n"
    table = json.loads(run("export", db, "--format", "table").stdout)
    assert (table["botree"], table["key"], table["document"], len(table["rows"])) == ("table", None, True, count)
    assert table["rows"][0] == {"id": 0, "parent": None, "order": 0, "data": {"kind": "object"}}
    assert table["rows"][1]["data"] == {"kind": "key", "value": "name"}
    dump = tmp_path / "table.json"
    dump.write_text(run("export", db, "--format", "table").stdout)
    copy = str(tmp_path / "copy.db")
    run("import", str(dump), copy)  # recognised as botree's table, not read as a document
    assert open_tree(copy) == open_tree(db)
    assert json.loads(run("export", copy).stdout) == DOC
    fails(db, "export", db, "--format", "csv", says="a JSON document has no CSV form")


def test_table_export_round_trip(tmp_path: Path, org: Tuple[str, Dict[str, int]]) -> None:
    db, _ = org
    tree = open_tree(db)
    table = json.loads(run("export", db).stdout)  # not a JSON document: a marked parent table
    assert table == {
        "botree": "table",
        "key": "id",
        "rows": [
            {"id": r["data"]["id"], "parent": None if r["parent"] is None else tree.key_of(r["parent"]),
             "order": r["order"], "data": r["data"]}
            for r in tree.to_parent_table()
        ],
    }
    dump = tmp_path / "table.json"
    dump.write_text(json.dumps(table))
    copy = str(tmp_path / "copy.db")
    run("import", str(dump), copy)
    assert open_tree(copy) == tree
    legacy = tmp_path / "legacy.json"  # the bare array older versions wrote
    legacy.write_text(json.dumps(table["rows"]))
    run("import", str(legacy), str(tmp_path / "legacy.db"), "--format", "table")
    assert shape(open_tree(str(tmp_path / "legacy.db"))) == shape(tree)


def test_csv_import_ls_and_query(org: Tuple[str, Dict[str, int]]) -> None:
    db, ids = org
    tree = open_tree(db)
    # Siblings follow the numeric order column (9 before 10 before 11), data holds the other columns.
    assert [tree.data(n)["name"] for n in tree.children(ids["eng"])] == ["Cy", "Bob", "Di"]
    assert tree.data(ids["ops"]) == {"id": "ops", "order": 1, "name": "Ops", "role": "dept"}  # every column but parent
    assert tree.key == "id" and tree.node_of("ops") == ids["ops"]
    # ls draws what Tree.render draws, with each node's id before its data.
    drawn = lines(run("ls", db))
    rendered = tree.render(None, None).splitlines()
    assert len(drawn) == len(rendered) == len(tree)
    for mine, theirs, node in zip(drawn, rendered, tree.preorder()):
        label = str(tree.data(node))
        assert mine == theirs[: len(theirs) - len(label)] + line_of(tree, node)
    assert lines(run("ls", db, "eng", "--max-depth", "0")) == [line_of(tree, ids["eng"]) + "  (+3 below)"]
    assert lines(run("ls", db, "--max-depth", "1"))[1:] == [
        f"├── {line_of(tree, ids['ops'])}  (+1 below)",
        f"└── {line_of(tree, ids['eng'])}  (+3 below)",
    ]
    assert lines(run("query", db, "e1", "--ancestors")) == [
        line_of(tree, n) for n in tree.ancestors(ids["e1"])
    ]
    assert lines(run("query", db, "ceo", "--descendants", "--ids-only")) == [
        name(tree, n) for n in tree.descendants(ids["ceo"])
    ]
    assert lines(run("query", db, "eng", "--children")) == [
        line_of(tree, n) for n in tree.children(ids["eng"])
    ]
    assert lines(run("query", db, "e3", "--level")) == ["2"]
    assert lines(run("query", db, "ceo", "--size")) == [str(len(tree))]
    assert lines(run("query", db, "ceo", "--parent")) == ["none"]


# -- edits and history --------------------------------------------------------------------


def test_mv_rm_log_diff_and_as_of(org: Tuple[str, Dict[str, int]]) -> None:
    db, ids = org
    before = run("ls", db).stdout
    done = run("mv", db, "e1", "--under", "ops", "--index", "0")
    assert done.stdout.strip().endswith("as version 2")
    assert lines(run("query", db, "e1", "--ancestors", "--ids-only")) == ["ops", "ceo"]
    assert open_tree(db).child(ids["ops"], 0) == ids["e1"]

    done = run("rm", db, "eng", "-m", "drop engineering")
    assert "deleted node" in done.stdout and done.stdout.strip().endswith("as version 3")
    tree = open_tree(db)
    gone = [ids[k] for k in ("eng", "e2", "e3")]
    assert all(n not in tree for n in gone) and ids["e1"] in tree
    assert listed(run("ls", db)) == [name(tree, n) for n in tree.preorder()]

    log = lines(run("log", db))
    assert [line.split()[0] for line in log] == ["0", "1", "2", "3"]
    assert "replace" in log[1] and "import org.csv" in log[1]
    assert "1 update" in log[2] and "mv e1 --under ops" in log[2]
    assert log[3].endswith("drop engineering")

    with DurableDatabase(db) as store:
        changes = store.changes(1, 3)
    diff = lines(run("diff", db, "1", "3"))
    old = open_tree(db, 1)
    assert sorted(changes.deleted) == sorted(gone)
    assert [line for line in diff if line.startswith("- ")] == [f"- {line_of(old, n)}" for n in changes.deleted]
    assert [line.split()[1] for line in diff if line.startswith("~ ")] == [name(tree, n) for n in changes.moved]
    assert "~ e1  moved: under eng at 1 -> under ops at 0" in diff
    assert diff[-1] == f"# 1 -> 3: 0 inserted, 3 deleted, {len(changes.moved)} moved, 0 data changed"

    assert run("ls", db, "--as-of", "1").stdout == before
    assert lines(run("query", db, "eng", "--size", "--as-of", "1")) == ["4"]


# -- errors ---------------------------------------------------------------------------------


def test_unknown_node(stored: str) -> None:
    assert run("ls", stored, "42", code=1).stderr == "botree: error: node 42 does not exist\n"
    assert "node 42 does not exist" in run("rm", stored, "42", code=1).stderr
    assert "version 99" in run("ls", stored, "--as-of", "99", code=1).stderr


def test_move_under_own_descendant(stored: str) -> None:
    done = run("mv", stored, "0", "--under", "2", code=1)
    assert done.stderr.startswith("botree: error: cannot move node 0 under node 2")
    assert open_tree(stored).parent(2) == 1  # nothing was committed
    with DurableDatabase(stored) as db:
        assert db.version == 1
    assert lines(run("mv", stored, "1", "--under", "root")) == ["moved node 1 to the top level as version 2"]
    assert list(open_tree(stored).roots()) == [0, 1]


def test_missing_and_corrupt_database(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    assert "no database at" in run("ls", str(missing), code=1).stderr
    assert not missing.exists()  # read commands never create a database
    bad = tmp_path / "bad.db"
    bad.write_bytes(bytes(range(256)) * 8)
    done = run("export", str(bad), code=1)
    assert done.stderr.startswith("botree: error:") and "not an SQLite database" in done.stderr


def test_bad_input_files(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    src = tmp_path / "broken.json"
    src.write_text('{"a": [1, 2,')
    assert "invalid JSON" in run("import", str(src), str(db), code=1).stderr
    assert not db.exists()  # a failed import leaves no empty database behind
    assert "nothere.json" in run("import", str(tmp_path / "nothere.json"), str(db), code=1).stderr
    orphans = tmp_path / "orphans.csv"
    orphans.write_text("id,parent,name\n1,,a\n2,7,b\n")
    assert "orphans" in run("import", str(orphans), str(db), code=1).stderr


def test_import_into_non_empty_database_needs_replace(tmp_path: Path, stored: str) -> None:
    src = tmp_path / "doc.json"
    src.write_text(json.dumps([1, 2]))
    assert "--replace" in run("import", str(src), stored, code=1).stderr
    assert len(open_tree(stored)) == 4
    assert lines(run("import", str(src), stored, "--replace")) == ["imported 3 nodes as version 2"]
    assert open_tree(stored).to_nested() == [1, 2]


# -- depth ------------------------------------------------------------------------------------


def test_deep_chain(tmp_path: Path) -> None:
    depth = 20_000
    src = tmp_path / "chain.csv"
    src.write_text("id,parent,name\nn0,,top\n" + "".join(f"n{i},n{i - 1},v{i}\n" for i in range(1, depth)))
    db = str(tmp_path / "chain.db")
    assert lines(run("import", str(src), db)) == [f"imported {depth} nodes as version 1"]
    shown = lines(run("ls", db, "--depth", "3"))
    assert shown == [
        'n0  {"id": "n0", "name": "top"}',
        '└── n1  {"id": "n1", "name": "v1"}',
        '    └── n2  {"id": "n2", "name": "v2"}',
        f'        └── n3  {{"id": "n3", "name": "v3"}}  (+{depth - 4} below)',
    ]
    deepest = depth - 1
    assert lines(run("query", db, f"n{deepest}", "--level")) == [str(depth - 1)]
    assert lines(run("query", db, f"#{deepest}", "--level")) == [str(depth - 1)]  # ids are assigned in preorder
    full = lines(run("ls", db))
    assert len(full) == depth
    assert full[-1].startswith(f"[level {deepest}] ")
    assert full[-1].endswith(f'└── n{deepest}  {{"id": "n{deepest}", "name": "v{deepest}"}}')
    assert max(len(line) for line in full) < 250  # indentation is capped: output stays linear
    assert run("export", db, "--format", "csv").stdout == src.read_text()  # byte for byte


# -- the editing, search and maintenance verbs ---------------------------------------------


def version_of(path: str) -> int:
    """The current version of the database at ``path``."""
    with DurableDatabase(path) as db:
        return db.version


def fails(path: str, *args: str, says: str, code: int = 1) -> str:
    """Run a command that must fail with one error line containing ``says`` and commit nothing."""
    before = version_of(path)
    done = run(*args, code=code)
    assert says in done.stderr.splitlines()[-1], done.stderr
    assert done.stdout == ""
    assert version_of(path) == before  # nothing was committed
    return done.stderr


def test_add(stored: str) -> None:
    done = run("add", stored, "--under", "1", "--data", '{"name": "e", "n": 1.5, "ok": true, "x": null}')
    node = int(done.stdout)  # stdout holds just the new id
    assert f"added node {node} under node 1 as version 2" in done.stderr
    tree = open_tree(stored)
    assert tree.parent(node) == 1 and tree.child(1, -1) == node
    assert tree.data(node) == {"name": "e", "n": 1.5, "ok": True, "x": None}
    top = int(run("add", stored, "--under", "root", "--index", "0", "--field", "name=top", "-m", "new top").stdout)
    tree = open_tree(stored)
    assert next(tree.roots()) == top and tree.data(top) == {"name": "top"}
    first = int(run("add", stored, "--before", "3", "--data", '"before d"').stdout)
    last = int(run("add", stored, "--after", "3").stdout)  # no data: null
    tree = open_tree(stored)
    assert list(tree.children(0)) == [1, first, 3, last] and tree.data(last) is None
    log = lines(run("log", stored))
    assert log[2].endswith("add --under 1") and log[3].endswith("new top") and log[4].endswith("add --before 3")


def test_add_errors_commit_nothing(stored: str) -> None:
    fails(stored, "add", stored, "--under", "1", "--data", "{bad", says="--data: invalid JSON")
    fails(stored, "add", stored, "--under", "1", "--data", "Ann", says="--data: invalid JSON")  # strings are quoted
    fails(stored, "add", stored, "--under", "42", "--data", "1", says="node 42 does not exist")
    fails(stored, "add", stored, "--before", "42", "--data", "1", says="node 42 does not exist")
    fails(stored, "add", stored, "--under", "0", "--index", "9", "--data", "1", says="index")
    fails(stored, "add", stored, "--under", "0", "--field", "novalue", says="expected FIELD=VALUE")
    fails(stored, "add", stored, "--data", "1", says="--under --before --after is required", code=2)


def test_set(stored: str) -> None:
    assert lines(run("set", stored, "2", "--field", "name=C", "--field", "age=42", "--field", "code=01234")) == [
        "set fields name, age, code of node 2 as version 2"
    ]
    assert open_tree(stored).data(2) == {"name": "C", "age": 42, "code": "01234"}  # JSON if it parses, else text
    run("set", stored, "2", "--field", 'age="42"', "--field", "tags=[1, 2]", "--field", "gone=null")
    assert open_tree(stored).data(2) == {"name": "C", "age": "42", "code": "01234", "tags": [1, 2], "gone": None}
    assert lines(run("set", stored, "2", "--data", "[1, true, null]", "-m", "whole")) == [
        "set the data of node 2 as version 4"
    ]
    assert open_tree(stored).data(2) == [1, True, None]
    assert lines(run("log", stored))[-1].endswith("whole")
    fails(stored, "set", stored, "2", "--field", "a=1", says="node 2 holds [1, true, null], not a dict of fields")
    fails(stored, "set", stored, "2", "--data", "[1,", says="--data: invalid JSON")
    fails(stored, "set", stored, "42", "--data", "1", says="node 42 does not exist")
    fails(stored, "set", stored, "2", says="one of the arguments --data --field is required", code=2)


def test_unwrap(stored: str) -> None:
    assert lines(run("unwrap", stored, "1")) == ["unwrapped node 1 (its 1 child took its place) as version 2"]
    tree = open_tree(stored)
    assert 1 not in tree and list(tree.children(0)) == [2, 3]
    assert lines(run("unwrap", stored, "3", "-m", "leaf")) == ["unwrapped node 3 (it had no children) as version 3"]
    fails(stored, "unwrap", stored, "42", says="node 42 does not exist")


def test_revert_keeps_history(stored: str) -> None:
    run("rm", stored, "1")
    run("add", stored, "--under", "0", "--field", "name=new")
    assert lines(run("revert", stored, "--to", "1")) == [
        "reverted to version 1 as version 4 (4 nodes); the versions between stay in the log"
    ]
    assert open_tree(stored) == open_tree(stored, 1)
    assert len(open_tree(stored, 3)) == 3  # the reverted versions are still readable
    assert lines(run("log", stored))[-1].endswith("replace      revert to version 1")
    fails(stored, "revert", stored, "--to", "99", says="version 99")
    fails(stored, "revert", stored, "--to", "x", says="invalid int value", code=2)


def test_find(org: Tuple[str, Dict[str, int]]) -> None:
    db, ids = org
    tree = open_tree(db)
    everyone = lines(run("find", db))
    assert everyone == [line_of(tree, n) for n in tree.preorder()]
    devs = [n for n in tree.preorder() if tree.data(n)["role"] == "dev"]
    assert lines(run("find", db, "--where", "role", "=", "dev", "--ids-only")) == [name(tree, n) for n in devs]
    assert lines(run("find", db, "--where", "name", "contains", "y", "--ids-only")) == ["e2"]
    assert lines(run("find", db, "--under", "ceo", "--max-depth", "1", "--ids-only")) == [
        name(tree, n) for n in tree.children(ids["ceo"])
    ]
    assert lines(run("find", db, "--max-depth", "0", "--ids-only")) == ["ceo"]
    assert lines(run("find", db, "--under", "eng", "--where", "role", "!=", "dev")) == []
    # numbers typed on the command line compare with CSV text that reads as a number
    run("set", db, "e1", "--field", "salary=90000")
    run("set", db, "e2", "--field", "salary=70000")
    run("set", db, "e3", "--field", "salary=x")
    run("set", db, "o1", "--data", '{"id": "o1", "name": "Eve", "salary": "80000", "role": "ops"}')
    tree = open_tree(db)
    rich = lines(run("find", db, "--where", "salary", ">", "75000", "--where", "role", "=", "dev"))
    assert rich == [line_of(tree, ids["e1"])]
    at_least = [n for n in tree.preorder() if n in (ids["e1"], ids["o1"])]  # preorder: ops come before eng
    assert lines(run("find", db, "--where", "salary", ">=", "80000", "--ids-only")) == [name(tree, n) for n in at_least]
    assert lines(run("find", db, "--where", "salary", "<", "80000", "--ids-only")) == ["e2"]
    texts = [n for n in tree.preorder() if n in (ids["o1"], ids["e3"])]  # text VALUE: text comparison
    assert lines(run("find", db, "--where", "salary", "<=", "x", "--ids-only")) == [name(tree, n) for n in texts]
    assert lines(run("find", db, "--where", "role", "=", "dev", "--as-of", "1", "--ids-only")) == [
        name(tree, n) for n in devs
    ]


def test_find_errors(org: Tuple[str, Dict[str, int]]) -> None:
    db, ids = org
    err = fails(db, "find", db, "--where", "salry", ">", "1", says="unknown field 'salry' in --where")
    assert "id, name, order, role" in err
    fails(db, "find", db, "--where", "name", "=>", "1", says="unknown operator '=>'")
    fails(db, "find", db, "--under", "42", says="no node has id '42'")
    fails(db, "find", db, "--under", "#42", says="node #42 does not exist")
    fails(db, "find", db, "--as-of", "9", says="version 9")
    fails(db, "find", db, "--where", "name", says="expected 3 arguments", code=2)
    assert lines(run("find", db, "--under", "e1", "--where", "salry", "=", "1")) == []  # nothing searched


def test_verify_and_compact(stored: str) -> None:
    assert lines(run("verify", stored)) == ["ok: version 1, 4 nodes, 2 versions readable"]
    for i in range(3):
        run("set", stored, "3", "--field", f"i={i}")
    fails(stored, "compact", stored, "--keep", "0", says="--keep must be at least 1")
    fails(stored, "compact", stored, "--keep", "many", says="invalid int value", code=2)
    assert len(lines(run("log", stored))) == 5
    assert lines(run("compact", stored, "--keep", "2")) == ["dropped 3 versions; versions 3..4 remain"]
    assert [line.split()[0] for line in lines(run("log", stored))] == ["3", "4"]
    fails(stored, "ls", stored, "--as-of", "1", says="version 1")
    assert lines(run("verify", stored)) == ["ok: version 4, 4 nodes, 2 versions readable"]


def test_verify_reports_damage(stored: str) -> None:
    import sqlite3

    with sqlite3.connect(stored) as con:  # a wrong checksum on every stored cell of the leaf tables
        tables = [row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            if table not in ("meta", "head", "commits"):
                con.execute(f"UPDATE {table} SET crc = crc + 1")
    done = run("verify", stored, code=1)
    assert done.stdout == "" and "checksum" in done.stderr


def test_export_csv_round_trip(tmp_path: Path, org: Tuple[str, Dict[str, int]]) -> None:
    db, ids = org
    run("set", db, "e1", "--field", "age=42", "--field", "tags=[1, 2]", "--field", "x=null")
    text = run("export", db, "--format", "csv").stdout
    rows = list(csv.DictReader(text.splitlines()))
    tree = open_tree(db)
    assert [row["id"] for row in rows] == [name(tree, n) for n in tree.preorder()]
    assert list(rows[0]) == ["id", "parent", "order", "name", "role", "age", "tags", "x"]
    bob = next(row for row in rows if row["name"] == "Bob")
    assert (bob["age"], bob["tags"], bob["x"], bob["parent"], bob["order"]) == ("42", "[1, 2]", "", "eng", "10")
    assert rows[0]["parent"] == "" and rows[0]["age"] == ""
    dump = tmp_path / "out.csv"
    dump.write_text(text)
    copy = str(tmp_path / "copy.db")
    run("import", str(dump), copy, "--types", "tags=json")
    # an empty cell is null: the fields a node lacked come back as nulls
    assert [(level, {k: v for k, v in d.items() if v is not None}) for level, d in shape(open_tree(copy))] == [
        (level, {k: v for k, v in d.items() if v is not None}) for level, d in shape(tree)
    ]
    run("set", db, "e2", "--data", "[1]", code=1)  # a keyed tree's data must hold its key
    run("set", db, "e2", "--data", '{"id": "e2", "parent": "x"}')
    fails(db, "export", db, "--format", "csv", says="a data field is named 'parent'")


def test_json_scalars_print_as_json(stored: str) -> None:
    run("set", stored, "3", "--data", '{"a": null, "b": true, "c": "ü"}')
    run("set", stored, "2", "--data", "false")
    drawn = lines(run("ls", stored))
    assert drawn[-1] == '└── 3  {"a": null, "b": true, "c": "ü"}' and drawn[2].endswith("2  false")
    assert lines(run("query", stored, "1", "--children")) == ["2  false"]
    assert lines(run("find", stored, "--where", "b", "=", "true")) == ['3  {"a": null, "b": true, "c": "ü"}']
    diff = lines(run("diff", stored, "1"))
    assert '* 2  data changed: {"name": "c"} -> false' in diff
    run("set", stored, "2", "--data", "null")
    assert '* 2  data changed: false -> null' in lines(run("diff", stored, "3"))


def test_every_argument_has_help() -> None:
    from botree.cli.main import COMMANDS, build_parser

    parser = build_parser()
    for name, *_ in COMMANDS:
        sub = parser._subparsers._group_actions[0].choices[name]  # type: ignore[union-attr]
        for action in sub._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no --help text"
    top = run("--help").stdout
    assert "NODE names a node" in top and "'#12'" in top and "'root'" in top


def test_export_dot_and_mermaid(org: Tuple[str, Dict[str, int]]) -> None:
    db, ids = org
    tree = open_tree(db)
    dot = run("export", db, "--format", "dot", "--label", "name").stdout
    assert dot == tree.to_dot(label="name") + "\n"
    assert dot.startswith("digraph") and "Bob" in dot
    mermaid = run("export", db, "--format", "mermaid", "--label", "name").stdout
    assert mermaid == tree.to_mermaid(label="name") + "\n"
    assert mermaid.startswith("flowchart") and "Bob" in mermaid
    assert run("export", db, "--format", "dot").stdout == tree.to_dot() + "\n"


def test_an_integer_too_long_for_decimal_text_is_listed_in_hex(tmp_path: Path) -> None:
    # The value policy stores ints of any size, but str()/repr() refuse more than
    # sys.get_int_max_str_digits() digits: ls and diff ended in a traceback.
    path = str(tmp_path / "big.db")
    huge = 10**5000
    with DurableDatabase(path) as db:
        with db.transaction() as tx:
            tx.insert_child(None, {"n": huge, "small": 1})
    for command in (("ls", path), ("diff", path, "0", "1")):
        listed = run(*command).stdout
        assert hex(huge) in listed and "'small': 1" in listed


def test_cp_copies_a_subtree_with_new_ids(stored: str, org: Tuple[str, Dict[str, int]]) -> None:
    before = open_tree(stored)
    new = int(run("cp", stored, "1", "--under", "3", "--index", "0").stdout)
    tree = open_tree(stored)
    assert new not in before and tree.parent(new) == 3 and tree.child(3, 0) == new
    assert shape(tree, new) == shape(before, 1)
    assert shape(tree, 1) == shape(before, 1)  # the original is untouched
    after = int(run("cp", stored, "2", "--after", "1").stdout)
    tree = open_tree(stored)
    assert list(tree.children(0))[1] == after and tree.data(after) == tree.data(2)
    fails(stored, "cp", stored, "999", "--under", "root", says="999")
    fails(stored, "cp", stored, "1", "--before", "999", says="999")
    db, _ = org  # a copy would repeat the keys of a keyed tree
    fails(db, "cp", db, "e1", "--under", "ops", says="e1")


def test_ls_refuses_a_negative_limit(stored: str) -> None:
    done = run("ls", stored, "--limit", "-1", code=2)
    assert "--limit must be >= 0" in done.stderr


def test_watch_prints_versions_committed_by_another_process(tmp_path: Path) -> None:
    import queue
    import signal
    import threading

    path = str(tmp_path / "watched.db")
    db = DurableDatabase(path)
    with db.transaction(message="before") as tx:
        tx.insert_child(None, {"name": "a"})
    before = db.version
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "botree", "watch", path, "--as-of", str(before - 1)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    got: "queue.Queue[str]" = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: [got.put(line) for line in stdout], daemon=True).start()
    try:
        first = got.get(timeout=30)  # the --as-of backlog: printed once the feed is subscribed
        assert first.split()[0] == str(before) and first.rstrip().endswith("before") and "+1 -0 ~0 *0" in first
        for i in range(3):
            with db.transaction(message=f"step {i}") as tx:
                tx.insert_child(None, {"name": i})
            line = got.get(timeout=30)
            assert line.split()[0] == str(before + 1 + i), line
            assert "+1 -0 ~0 *0" in line and line.rstrip().endswith(f"step {i}")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        assert proc.stderr is not None and proc.stderr.read() == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        db.close()
