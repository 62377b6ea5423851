"""The command line speaks keys (issue 13): NODE by key or ``#id``, lossless import/export, ``sync``.

Most tests call ``botree.cli.main`` in this process (fast); a few run the real
subprocess (``tests.cli.test_cli.run``) to show the same through the console.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path
from typing import List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botree import DurableDatabase, Tree, cli
from tests.cli.test_cli import open_tree, run, shape

NUM_CSV = "id,parent,name\n1,,ACME\n2,1,Engineering\n3,1,Sales\n4,2,Ann\n5,2,Bob\n6,3,Cyd\n"
# Every kind of cell the sniffing keeps exact: ints, floats, booleans, blanks, text that
# only looks numeric (007, 1e3, +1, 1.50), quoting, a non-ASCII name; rows in preorder.
TYPED_CSV = (
    "sku,parent,order,name,price,stock,active,code,note\n"
    "007,,1,Tools,,,true,1e3,\n"
    "a1,007,1,Hammer,12.5,40,true,+1,\"heavy, steel\"\n"
    "a2,007,2,Saw,9,0,false,1.50,\"say \"\"hi\"\"\"\n"
    "b,,2,Ünïcode,0.1,-3,,x,\n"
)


class Done:
    """What one in-process ``botree`` call printed, and its exit status."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    @property
    def lines(self) -> List[str]:
        return self.out.splitlines()


def call(*args: str, code: int = 0) -> Done:
    """``botree ARGS`` in this process; checks the exit status (and one error line for status 1)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(args))
    done = Done(status, out.getvalue(), err.getvalue())
    assert status == code, f"exit {status}\nstdout: {done.out}\nstderr: {done.err}"
    if code == 1:
        assert len(done.err.splitlines()) == 1 and done.err.startswith("botree: error: "), done.err
    return done


def version(path: str) -> int:
    with DurableDatabase(path) as db:
        return db.version


def fails(path: str, *args: str, says: str) -> str:
    """A command that must fail with one line saying ``says`` and leave the database at ``path`` as it was."""
    existed = os.path.exists(path)
    before = version(path) if existed else None
    done = call(*args, code=1)
    assert says in done.err, done.err
    if existed:
        assert version(path) == before
    else:
        assert not os.path.exists(path)  # a failed import creates nothing
    return done.err


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def imported(tmp_path: Path, text: str, name: str = "t.csv", *options: str) -> Tuple[str, str]:
    """(csv path, database path) after importing ``text``."""
    src = write(tmp_path, name, text)
    db = str(tmp_path / (name + ".db"))
    call("import", src, db, *options)
    return src, db


def names(tree: Tree, nodes: Optional[List[int]] = None) -> List[str]:
    return [tree.data(n)["name"] for n in (tree.preorder() if nodes is None else nodes)]


# -- numeric and string keys; NODE by key, '#id' and --node-id ---------------------------------


def test_numeric_keys_rm_removes_the_keyed_row_not_the_node_id(tmp_path: Path) -> None:
    src = write(tmp_path, "num.csv", NUM_CSV)
    db = str(tmp_path / "num.db")
    assert run("import", src, db).stdout == "imported 6 nodes as version 1\n"
    tree = open_tree(db)
    assert tree.key == "id" and tree.key_of(tree.node_of(3)) == 3 and tree.data(tree.node_of(3))["name"] == "Sales"
    done = run("rm", db, "3")  # the bug: node 3 is Bob, key 3 is Sales
    assert done.stdout == "deleted node 3 and 1 node below it as version 2\n"
    assert names(open_tree(db)) == ["ACME", "Engineering", "Ann", "Bob"]
    assert "no node has id '3'" in run("rm", db, "3", code=1).stderr  # never falls back to node 3
    bob = open_tree(db).node_of(5)
    run("rm", db, f"#{bob}")  # an explicit internal id
    assert names(open_tree(db)) == ["ACME", "Engineering", "Ann"]
    assert run("ls", db).stdout.splitlines()[0] == '1  {"id": 1, "name": "ACME"}'


def test_string_keys_by_every_verb(tmp_path: Path) -> None:
    _, db = imported(tmp_path, "id,parent,name\nceo,,Ada\neng,ceo,Eng\nops,ceo,Ops\nann,eng,Ann\n3,ops,Three\n")
    tree = open_tree(db)
    assert call("query", db, "ann", "--ancestors", "--ids-only").lines == ["eng", "ceo"]
    assert call("query", db, "3", "--parent").lines == ['ops  {"id": "ops", "name": "Ops"}']  # "3" is text here
    assert call("query", db, '"3"', "--level").lines == ["2"]
    assert call("ls", db, "eng").lines == ['eng  {"id": "eng", "name": "Eng"}', '└── ann  {"id": "ann", "name": "Ann"}']
    assert call("find", db, "--under", "ceo", "--max-depth", "1", "--ids-only").lines == ["eng", "ops"]
    call("mv", db, "ann", "--under", "ops", "--index", "0")
    assert call("query", db, "ops", "--children", "--ids-only").lines == ["ann", "3"]
    call("mv", db, "3", "--before", "ann")
    assert call("query", db, "ops", "--children", "--ids-only").lines == ["3", "ann"]
    added = call("add", db, "--after", "ann", "--field", "id=bo", "--field", "name=Bo")
    assert added.lines == ["bo"] and "added node bo after node ann" in added.err
    call("set", db, "bo", "--field", "name=Bob")
    assert open_tree(db).data(open_tree(db).node_of("bo")) == {"id": "bo", "name": "Bob"}
    call("unwrap", db, "ops")
    assert call("query", db, "ceo", "--children", "--ids-only").lines == ["eng", "3", "ann", "bo"]
    node = open_tree(db).node_of("eng")
    assert call("query", db, f"#{node}", "--size").lines == ["1"]
    assert call("query", db, str(node), "--node-id", "--size").lines == ["1"]
    fails(db, "ls", db, "nobody", says="no node has id 'nobody'")
    fails(db, "ls", db, "#999", says="node #999 does not exist")
    fails(db, "ls", db, "eng", "--node-id", says="--node-id takes node ids")
    fails(db, "add", db, "--under", "ceo", "--field", "id=eng", says="eng")  # a duplicate key commits nothing
    fails(db, "add", db, "--under", "ceo", "--field", "name=nokey", says="id")  # a keyed node needs its key
    fails(db, "set", db, "bo", "--field", "id=eng", says="eng")
    log = call("log", db).lines
    assert log[2].endswith("mv ann --under ops") and log[3].endswith("mv 3 --before ann")
    assert tree.key == "id"


def test_int_and_string_keys_are_told_apart(tmp_path: Path) -> None:
    # A JSON table may mix int and str keys: 3 is the int when there is one, '"3"' always the string.
    rows = [
        {"id": 3, "parent": None, "order": 0, "data": {"k": 3, "name": "int"}},
        {"id": "3", "parent": None, "order": 1, "data": {"k": "3", "name": "str"}},
    ]
    src = write(tmp_path, "mixed.json", json.dumps({"botree": "table", "key": "k", "rows": rows}))
    db = str(tmp_path / "mixed.db")
    call("import", src, db)
    assert json.loads(call("query", db, "3", "--size").out) == 1
    assert call("ls", db, "3").lines == ['3  {"k": 3, "name": "int"}']
    assert call("ls", db, '"3"').lines == ['3  {"k": "3", "name": "str"}']


def test_without_a_key_field_node_is_an_internal_id(tmp_path: Path) -> None:
    src = write(tmp_path, "doc.json", json.dumps({"a": [1, 2]}))
    db = str(tmp_path / "doc.db")
    call("import", src, db)
    assert call("query", db, "2", "--children", "--ids-only").lines == ["3", "4"]
    assert call("query", db, "#2", "--children", "--ids-only").lines == ["3", "4"]
    fails(db, "ls", db, "a", says="this database has no key field")


# -- lossless export and import ------------------------------------------------------------------


def test_cp_in_a_keyed_database_takes_new_keys_from_key_format(tmp_path: Path) -> None:
    src = write(tmp_path, "num.csv", NUM_CSV)
    db = str(tmp_path / "num.db")
    call("import", src, db)
    before = open_tree(db)
    # Without --key-format the copy would repeat keys: it fails, says how to go on, writes nothing.
    err = fails(db, "cp", db, "2", "--under", "3", says="--key-format")
    assert "key field 'id'" in err
    done = call("cp", db, "2", "--under", "3", "--key-format", "{key}-copy")
    assert done.lines == ["2-copy"] and "copied node 2 (3 nodes) under node 3 as node 2-copy" in done.err
    tree = open_tree(db)
    copy = tree.node_of("2-copy")
    assert tree.parent(copy) == tree.node_of(3)
    assert [tree.data(n) for n in tree.preorder(copy)] == [
        {**before.data(n), "id": f"{before.data(n)['id']}-copy"} for n in before.preorder(before.node_of(2))
    ]
    assert shape(tree, tree.node_of(2)) == shape(before, before.node_of(2))  # the original is untouched
    assert call("query", db, "5-copy", "--parent", "--ids-only").lines == ["2-copy"]
    # A format spec is allowed; braces other than {key} are doubled.
    assert call("cp", db, "4", "--under", "1", "--key-format", "{{{key:>03}}}").lines == ["{004}"]
    # Copies that would take a held key, or share one, fail whole before anything is written.
    fails(db, "cp", db, "2", "--under", "3", "--key-format", "{key}-copy", says="2-copy")
    fails(db, "cp", db, "2", "--under", "3", "--key-format", "{key!s:.0}x", says="'x'")
    fails(db, "cp", db, "2", "--under", "3", "--key-format", "{key:.0}x", says="cannot format the key 2")
    # Bad formats are usage errors (exit 2), checked before the database is opened.
    for bad in ("x", "{other}", "{key}{key}", "{key", "{key.real}", "{0}"):
        at = version(db)
        assert call("cp", db, "2", "--under", "3", "--key-format", bad, code=2).code == 2
        assert version(db) == at
    # A database without a key field has no keys to rename.
    plain = str(tmp_path / "plain.db")
    with DurableDatabase(plain) as d:
        with d.transaction() as tx:
            tx.insert_child(tx.insert_child(None, {"name": "a"}), {"name": "b"})
    fails(plain, "cp", plain, "#0", "--under", "root", "--key-format", "{key}-copy", says="no key field")
    call("cp", plain, "#0", "--under", "root")  # a plain copy still works there


def test_csv_round_trip_byte_for_byte(tmp_path: Path) -> None:
    src, db = imported(tmp_path, TYPED_CSV, "typed.csv", "--key", "sku")
    tree = open_tree(db)
    assert tree.key == "sku"
    tools = tree.data(tree.node_of("007"))
    assert tools == {"sku": "007", "order": 1, "name": "Tools", "price": None, "stock": None, "active": True,
                     "code": "1e3", "note": None}
    saw = tree.data(tree.node_of("a2"))
    assert (saw["price"], saw["stock"], saw["active"], saw["code"]) == (9, 0, False, "1.50")
    assert type(saw["price"]) is int and type(tree.data(tree.node_of("a1"))["price"]) is float
    assert run("export", db, "--format", "csv").stdout == TYPED_CSV  # through the console too
    again = write(tmp_path, "again.csv", call("export", db, "--format", "csv").out)
    _, copy = imported(tmp_path, open(again, encoding="utf-8").read(), "again2.csv", "--key", "sku")
    assert open_tree(copy) == tree
    # Semicolons, another parent column and siblings in file order (no order column)
    text = "code;up;label\nr;;Root\nx;r;X\n"
    _, db2 = imported(tmp_path, text, "semi.csv", "--delimiter", ";", "--key", "code", "--parent", "up")
    assert call("export", db2, "--format", "csv", "--delimiter", ";", "--parent", "up").out == text


def test_order_values_are_kept_or_rewritten_to_positions(tmp_path: Path) -> None:
    text = "id,parent,order,name\nr,,1,R\na,r,2,A\nb,r,10,B\n"
    _, db = imported(tmp_path, text)
    assert call("query", db, "r", "--children", "--ids-only").lines == ["a", "b"]  # 2 before 10: numeric
    assert call("export", db, "--format", "csv").out == text
    call("mv", db, "b", "--under", "r", "--index", "0")
    done = call("export", db, "--format", "csv")
    assert done.out == "id,parent,order,name\nr,,0,R\nb,r,0,B\na,r,1,A\n"
    assert "child positions" in done.err
    _, db2 = imported(tmp_path, done.out, "again.csv")
    assert call("query", db2, "r", "--children", "--ids-only").lines == ["b", "a"]


@pytest.mark.parametrize("fmt", ["json", "table", "csv"])
def test_export_then_import_rebuilds_an_equal_tree(tmp_path: Path, fmt: str) -> None:
    _, db = imported(tmp_path, TYPED_CSV, "typed.csv", "--key", "sku")
    call("mv", db, "b", "--under", "007", "--index", "1")
    call("set", db, "a1", "--field", "tags=[1, 2]")
    tree = open_tree(db)
    dump = write(tmp_path, f"dump.{'csv' if fmt == 'csv' else 'json'}", call("export", db, "--format", fmt).out)
    copy = str(tmp_path / "copy.db")
    call("import", dump, copy, *(("--types", "tags=json", "--key", "sku") if fmt == "csv" else ()))
    again = open_tree(copy)
    assert again.key == "sku"
    if fmt == "csv":  # order values rewritten as child positions (b moved); a field a node lacks comes back null
        def plain(t: Tree) -> List[Tuple[int, dict]]:
            return [(lv, {k: v for k, v in d.items() if v is not None and k != "order"}) for lv, d in shape(t)]

        assert plain(again) == plain(tree)
    else:
        assert shape(again) == shape(tree)
    assert [again.key_of(n) for n in again.preorder()] == [tree.key_of(n) for n in tree.preorder()]


def test_diagrams_are_one_way(tmp_path: Path) -> None:
    _, db = imported(tmp_path, NUM_CSV)
    dot = write(tmp_path, "t.dot", call("export", db, "--format", "dot").out)
    fails(str(tmp_path / "x.db"), "import", dot, str(tmp_path / "x.db"), says="cannot tell the format")


# -- errors: one line, nothing written -------------------------------------------------------------


@pytest.mark.parametrize(
    "text, options, says",
    [
        ("id,parent\n1,\n1,\n", (), "duplicate ids: 1"),
        ("id,parent\n1,\n2,9\n", (), "orphans"),
        ("id,parent\n1,2\n2,1\n", (), "parent cycles"),
        ("key,parent\n1,\n", (), "no key column 'id'"),
        ("id,parent\n1,\n", ("--key", "nope"), "nope"),
        ("id,up\n1,\n", (), "no parent column 'parent'"),
        ("id,parent,order\n1,,\n2,1,3\n", (), "blank in row 1 but filled in row 2"),
        ("id,parent,n\n1,,x\n", ("--types", "n=int"), "not a int"),
        ("id,parent,n\n1,,x\n", ("--types", "m=int"), "no column 'm'"),
        ("id,parent\n1,,3\n", (), "more fields than the header"),
    ],
)
def test_bad_files_give_one_line_and_change_nothing(
    tmp_path: Path, text: str, options: Tuple[str, ...], says: str
) -> None:
    src = write(tmp_path, "bad.csv", text)
    fails(str(tmp_path / "new.db"), "import", src, str(tmp_path / "new.db"), *options, says=says)
    _, db = imported(tmp_path, NUM_CSV)
    fails(db, "import", src, db, "--replace", *options, says=says)
    assert names(open_tree(db)) == ["ACME", "Engineering", "Ann", "Bob", "Sales", "Cyd"]


def test_a_failing_id_map_commits_nothing(tmp_path: Path) -> None:
    src = write(tmp_path, "num.csv", NUM_CSV)
    db = str(tmp_path / "num.db")
    fails(db, "import", src, db, "--id-map", str(tmp_path / "no" / "such" / "dir" / "ids.csv"), says="ids.csv")
    call("import", src, db, "--id-map", str(tmp_path / "ids.csv"))
    tree = open_tree(db)
    rows = (tmp_path / "ids.csv").read_text().splitlines()
    assert rows[0] == "id,node" and rows[1:] == [f"{k},{tree.node_of(k)}" for k in (1, 2, 4, 5, 3, 6)]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_replace_keeps_the_key_field(tmp_path: Path) -> None:
    src, db = imported(tmp_path, NUM_CSV)
    more = write(tmp_path, "more.csv", NUM_CSV + "7,1,Ops\n")
    call("import", more, db, "--replace")
    assert open_tree(db).key == "id" and open_tree(db).has_key(7)
    configured = str(tmp_path / "configured.db")  # fields and block size set through the library
    with DurableDatabase(configured, key="id", fields=("name",), block_size=64):
        pass
    call("import", src, configured)
    call("import", more, configured, "--replace")
    with DurableDatabase(configured) as store:
        assert (store.key, store.fields, store.tree.block_size, len(store.tree)) == ("id", ("name",), 64, 7)
    renamed = write(tmp_path, "renamed.csv", NUM_CSV.replace("id,", "ref,", 1))
    fails(db, "import", renamed, db, "--replace", says="no key column 'id'")
    fails(db, "import", renamed, db, "--replace", "--key", "ref", says="the database's key field is 'id'")


# -- sync ------------------------------------------------------------------------------------------

ORG = "id,parent,name\nceo,,Ada\neng,ceo,Eng\nops,ceo,Ops\nann,eng,Ann\nbob,eng,Bob\ncyd,ops,Cyd\n"
# ann's name edited, bob moved under ops (before cyd), eng and ops reordered, dan inserted, cyd deleted
ORG2 = "id,parent,name\nceo,,Ada\nops,ceo,Ops\nbob,ops,Bob\neng,ceo,Eng\nann,eng,Anne\ndan,eng,Dan\n"


def test_sync_commits_exactly_the_differences(tmp_path: Path) -> None:
    src, db = imported(tmp_path, ORG, "org.csv")
    new = write(tmp_path, "org2.csv", ORG2)
    done = run("sync", new, db)
    assert done.stdout.startswith("synced ") and done.stdout.rstrip().endswith("as version 2")
    assert "1 inserted, 1 deleted" in done.stdout and "1 data changed" in done.stdout
    assert call("export", db, "--format", "csv").out == ORG2
    diff = call("diff", db, "1", "2").lines
    assert '+ dan  {"id": "dan", "name": "Dan"}' in diff
    assert '- cyd  {"id": "cyd", "name": "Cyd"}' in diff
    assert '* ann  data changed: {"id": "ann", "name": "Ann"} -> {"id": "ann", "name": "Anne"}' in diff
    assert any(line.startswith("~ bob  moved: under eng at 1 -> under ops at 0") for line in diff)
    moved = [line.split()[1] for line in diff if line.startswith("~ ")]
    assert "bob" in moved and set(moved) <= {"bob", "eng", "ops"}  # the reorder: eng or ops moved
    edited = [line.split()[1] for line in diff if line.startswith(("+ ", "- ", "* "))]
    assert sorted(edited) == ["ann", "cyd", "dan"]
    assert call("sync", new, db).lines == ["no changes"]  # an unchanged file commits nothing
    assert version(db) == 2
    assert call("log", db).lines[-1].endswith("sync org2.csv")


def test_sync_errors(tmp_path: Path) -> None:
    src, db = imported(tmp_path, ORG, "org.csv")
    fails(db, "sync", write(tmp_path, "dup.csv", ORG + "ann,ceo,Again\n"), db, says="duplicate ids: 'ann'")
    fails(db, "sync", write(tmp_path, "orphan.csv", ORG + "zed,nobody,Z\n"), db, says="orphans")
    fails(db, "sync", write(tmp_path, "nokey.csv", "ref,parent\nx,\n"), db, says="no key column 'id'")
    doc = write(tmp_path, "doc.json", "[1]")
    _, plain = imported(tmp_path, "[1]", "plain.json")
    fails(plain, "sync", doc, plain, says="has no key field")


# -- the export -> import property, in memory (the functions the verbs call) -------------------------

FIELD_VALUES = {
    "n": st.one_of(st.none(), st.integers(-(10**12), 10**12)),
    "x": st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False), st.integers(-5, 5)),
    "ok": st.one_of(st.none(), st.booleans()),
    "s": st.one_of(st.none(), st.text(alphabet="ab ,\"'\n7é", max_size=5).map(lambda t: "v" + t)),
}


@st.composite
def keyed_forests(draw: st.DrawFn) -> Tree:
    """A random forest keyed by ``id`` (ints or strs, never mixed), every node holding every field."""
    size = draw(st.integers(0, 25))
    numeric = draw(st.booleans())
    keys = [i * 7 - 20 if numeric else f"k{i}" for i in range(size)]
    rows = []
    for i, key in enumerate(keys):
        parent = draw(st.one_of(st.none(), st.integers(0, i - 1))) if i else None
        data = {"id": key, **{f: draw(values) for f, values in FIELD_VALUES.items()}}
        rows.append((key, None if parent is None else keys[parent], data))
    return Tree.from_parent_table(rows, id=0, parent=1, data=2, key="id")


def reread(tmp_path: Path, text: str, suffix: str) -> Tree:
    from botree.cli.inputs import read_input
    from botree.cli.main import build_parser

    path = tmp_path / f"dump{suffix}"
    path.write_text(text, encoding="utf-8")
    args = build_parser().parse_args(["import", str(path), str(tmp_path / "unused.db")])
    return read_input(args, None, False)[0]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keyed_forests(), st.sampled_from(["json", "table", "csv"]))
def test_export_import_property(tmp_path: Path, tree: Tree, fmt: str) -> None:
    from botree.cli.exports import EXPORTERS
    from botree.cli.main import build_parser

    args = build_parser().parse_args(["export", "x.db", "--format", fmt])
    text = EXPORTERS[fmt](tree, args)
    again = reread(tmp_path, text, ".csv" if fmt == "csv" else ".json")
    again.check()
    assert again.key == "id"
    assert again == tree  # same shape, node ids (preorder) and data: keys and typed values included
    if fmt == "csv":
        assert EXPORTERS[fmt](again, args) == text  # and byte for byte


def test_index_verb_adds_drops_and_sets_the_key_each_in_a_commit(tmp_path: Path) -> None:
    src, db = tmp_path / "org.csv", str(tmp_path / "org.db")
    src.write_text(NUM_CSV, encoding="utf-8")
    call("import", str(src), db)
    assert call("index", db).lines == ["key field: id; indexed fields: none"]
    before = version(db)
    done = call("index", db, "--add", "name")
    assert done.lines == [f"indexed 'name' as version {before + 1}", "key field: id; indexed fields: name"]
    with DurableDatabase(db) as opened:  # stored: a fresh process finds without rebuilding
        assert opened.fields == ("name",) and opened.history()[-1].message == "index 'name'"
        assert [opened.tree.key_of(n) for n in opened.tree.find(name="Sales")] == [3]
    assert call("find", db, "--where", "name", "=", "Ann").lines == ['4  {"id": 4, "name": "Ann"}']
    # Bad changes: one error line, nothing committed.
    now = version(db)
    call("index", db, "--add", "name", code=1)
    call("index", db, "--drop", "salary", code=1)
    call("index", db, "--key", "name", "-m", "names as keys")  # names are unique here
    assert version(db) == now + 1
    call("rm", db, "Bob")
    call("index", db, "--key", "id")
    call("add", db, "--under", "2", "--data", '{"id": 9, "name": "Engineering"}')
    call("index", db, "--key", "name", code=1)  # two nodes named Engineering: DuplicateKey, nothing committed
    with DurableDatabase(db) as opened:
        assert opened.key == "id" and opened.history()[-1].message != "key 'name'"
    call("index", db, "--no-key")
    with DurableDatabase(db) as opened:
        assert opened.key is None
