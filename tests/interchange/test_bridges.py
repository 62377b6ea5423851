"""Bridges to CSV, pandas, networkx and anytree, and the dot / mermaid diagram text."""

from __future__ import annotations

import io
import math
import sys
from typing import Any, Callable

import anytree
import networkx as nx
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botree import Tree
from botree.errors import BotreeError, InvalidArgument, InvalidOperation, MissingExtra
from tests.interchange.forests import NAMES, PLAIN, chain, forests

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DEEP = 10_000
ANY_DATA = st.one_of(PLAIN, st.none(), st.lists(st.integers(), max_size=2), st.fixed_dictionaries({"n": NAMES}))
STR_FIELDS = st.fixed_dictionaries({"name": NAMES}, optional={"x": NAMES, "id": st.just("clash")}).map(
    lambda d: {("ident" if k == "id" else k): v for k, v in d.items()}
)


def small_tree() -> Tree:
    t = Tree.from_records({"name": "co", "children": [{"name": "eng", "children": [{"name": "ann"}]}, {"name": "ops"}]})
    return t


# -- CSV ----------------------------------------------------------------------------


def test_csv_columns_and_cells() -> None:
    out = io.StringIO()
    t = Tree.from_records([{"name": "a", "children": [{"name": "b", "x": 1.5}]}, {"name": "c", "x": None}])
    t.to_csv(out)
    assert out.getvalue().splitlines() == ["#id,#parent,#order,name,x", "0,,0,a,", "1,0,0,b,1.5", "2,,1,c,"]
    keyed = Tree.from_records([{"id": "a", "n": 1, "children": [{"id": "b", "ok": True}]}], key="id")
    out = io.StringIO()
    keyed.to_csv(out, delimiter=";")
    assert out.getvalue().splitlines() == ["id;parent;n;ok", "a;;1;", "b;a;;true"]


KEYS = st.one_of(st.integers(-5, 40), st.text("abc", min_size=1, max_size=3))


@SETTINGS
@given(forests(STR_FIELDS))
def test_csv_round_trip_of_a_tree_without_a_key(t: Tree) -> None:
    out = io.StringIO()
    t.to_csv(out)
    back = Tree.from_csv(io.StringIO(out.getvalue()), block_size=t.block_size)
    back.check()
    assert back.key is None and back == t


@SETTINGS
@given(st.data())
def test_csv_round_trip_of_a_keyed_tree_is_byte_for_byte(data: Any) -> None:
    t = data.draw(forests(st.fixed_dictionaries({"name": NAMES}, optional={"size": st.integers(0, 9)})))
    keys = data.draw(st.lists(KEYS, min_size=len(t), max_size=len(t), unique=True))
    if len({type(k) for k in keys}) > 1:
        keys = [str(k) for k in keys]  # one column holds one kind of key
    keyed = Tree.from_records(_with_keys(t, keys), key="id")
    out = io.StringIO()
    keyed.to_csv(out)
    names = {"name": "str"} if len(t) else {}  # NAMES may look like numbers; an empty tree has no name column
    back = Tree.from_csv(io.StringIO(out.getvalue()), types=names)
    back.check()
    assert back.key == "id" and back == keyed
    again = io.StringIO()
    back.to_csv(again)
    assert again.getvalue() == out.getvalue()


def _with_keys(t: Tree, keys: list) -> list:
    """The records of ``t`` with ``id`` = ``keys[rank]`` and every node holding each field (None if absent)."""
    rank = {n: i for i, n in enumerate(t.preorder())}
    fields = ("name", "size")

    def record(n: int) -> dict:
        data = t.data(n)
        return {"id": keys[rank[n]], **{f: data.get(f) for f in fields}}

    out: list = []
    stack = [(r, out) for r in reversed(list(t.roots()))]
    while stack:
        n, siblings = stack.pop()
        rec = record(n)
        rec["children"] = []
        siblings.append(rec)
        stack.extend((c, rec["children"]) for c in reversed(list(t.children(n))))
    return out


def test_csv_files_types_and_order(tmp_path: Any) -> None:
    path = tmp_path / "org.csv"
    path.write_text("id,parent,order,name,code\n1,,0,ACME,007\n3,1,2,Sales,1\n2,1,1,Eng,2\n", encoding="utf-8")
    t = Tree.from_csv(path)
    assert t.key == "id" and [t.data(n)["name"] for n in t.preorder()] == ["ACME", "Eng", "Sales"]
    assert t.data(t.node_of(3)) == {"id": 3, "order": 2, "name": "Sales", "code": "1"}  # "007" keeps code text
    assert t.parent(t.node_of(2)) == t.node_of(1)
    typed = Tree.from_csv(str(path), types={"code": "int"})
    assert typed.data(typed.node_of(1))["code"] == 7
    t = Tree.from_csv(io.StringIO("id,parent\nr,\nb,r\na,r\n"))
    assert [t.key_of(n) for n in t.preorder()] == ["r", "b", "a"]
    with pytest.raises(InvalidArgument, match="blank in row 2 but filled in row 1"):
        Tree.from_csv(io.StringIO("id,parent,order\nr,,0\nb,r,\n"))
    with pytest.raises(InvalidArgument, match="no parent column 'up'"):
        Tree.from_csv(io.StringIO("id,parent\nr,\n"), parent="up")
    with pytest.raises(InvalidArgument, match="no key column 'ref'"):
        Tree.from_csv(io.StringIO("id,parent\nr,\n"), key="ref")
    with pytest.raises(InvalidOperation, match="orphans"):
        Tree.from_csv(io.StringIO("id,parent\nr,q\n"))
    with pytest.raises(BotreeError):
        Tree.from_csv(io.StringIO("id,parent\nr,\nr,\n"))


def test_csv_refuses_data_it_cannot_lay_out() -> None:
    with pytest.raises(InvalidOperation, match="not a dict"):
        chain(1, lambda i: i).to_csv(io.StringIO())
    with pytest.raises(InvalidOperation, match="parent"):
        Tree.from_records([{"id": 1, "parent": 1}], key="id").to_csv(io.StringIO())


# -- pandas -------------------------------------------------------------------------


def test_dataframe_columns_and_dtypes() -> None:
    t = Tree.from_records([{"name": "a", "n": 1, "children": [{"name": "b", "n": 2, "m": 1}]}, {"name": "c", "n": 3}])
    df = t.to_dataframe()
    assert list(df.columns) == ["id", "parent", "order", "name", "n", "m"]
    assert df["parent"].tolist() == [pd.NA, 0, pd.NA] and str(df["parent"].dtype) == "Int64"
    assert df["n"].dtype == "int64" and df["m"].dtype == object and df["m"].tolist() == [None, 1, None]
    assert df["order"].tolist() == [0, 0, 1]


@SETTINGS
@given(forests())
def test_dataframe_round_trip(t: Tree) -> None:
    df = t.to_dataframe()
    back = Tree.from_dataframe(df, block_size=t.block_size)
    back.check()
    assert back == t
    assert all(type(back.data(n)[k]) is type(v) for n in t.preorder() for k, v in t.data(n).items())
    pd.testing.assert_frame_equal(back.to_dataframe(), df)


@SETTINGS
@given(forests(ANY_DATA))
def test_dataframe_round_trip_with_one_data_column(t: Tree) -> None:
    back = Tree.from_dataframe(t.to_dataframe(data="data"), data="data")
    assert back == t


def test_dataframe_nan_and_none_parents_are_top_level() -> None:
    df = pd.DataFrame({"id": [10, 11, 12, 13], "parent": [math.nan, 10.0, None, 12], "v": [1.5, math.nan, 2.0, 3.0]})
    t = Tree.from_dataframe(df)
    assert list(t.roots()) == [0, 2] and list(t.children(0)) == [1] and list(t.children(2)) == [3]
    assert t.data(0) == {"v": 1.5} and t.data(1) == {}  # a missing cell is no field
    df = pd.DataFrame({"key": ["r", "a"], "up": [None, "r"]})
    assert Tree.from_dataframe(df, id="key", parent="up").data(1) == {}


def test_deep_dataframe() -> None:
    t = chain(DEEP)
    back = Tree.from_dataframe(t.to_dataframe())
    assert back == t and back.level(DEEP - 1) == DEEP - 1


def test_bad_dataframes() -> None:
    with pytest.raises(InvalidArgument, match="needs a pandas DataFrame, not list"):
        Tree.from_dataframe([{"id": 1}])
    with pytest.raises(InvalidArgument, match="no id column 'id'"):
        Tree.from_dataframe(pd.DataFrame({"x": [1]}))
    with pytest.raises(InvalidOperation, match="duplicate ids: 1"):
        Tree.from_dataframe(pd.DataFrame({"id": [1, 1], "parent": [None, None]}))
    with pytest.raises(InvalidOperation, match="parent cycles"):
        Tree.from_dataframe(pd.DataFrame({"id": [1, 2], "parent": [2, 1]}))


# -- networkx -----------------------------------------------------------------------


@SETTINGS
@given(forests(ANY_DATA))
def test_networkx_round_trip(t: Tree) -> None:
    g = t.to_networkx()
    assert list(g.nodes) == list(t.preorder()) and g.number_of_edges() == len(t) - len(list(t.roots()))
    back = Tree.from_networkx(g, block_size=t.block_size)
    back.check()
    assert back == t
    again = back.to_networkx()
    assert list(again.nodes(data=True)) == list(g.nodes(data=True)) and list(again.edges) == list(g.edges)


@SETTINGS
@given(forests())
def test_networkx_round_trip_with_attributes_as_data(t: Tree) -> None:
    g = t.to_networkx(data=None)
    assert all(g.nodes[n] == {**t.data(n), "order": i} for n, _, i in t.places())
    assert Tree.from_networkx(g, data=None) == t


@SETTINGS
@given(st.lists(st.integers(0, 10), max_size=25), st.randoms(use_true_random=False))
def test_networkx_without_order_keeps_insertion_order(ups: Any, rnd: Any) -> None:
    # node i's parent is a random earlier node (or none); nodes are added in a shuffled order
    parent = {i: (rnd.randrange(i) if i and up else None) for i, up in enumerate(ups)}
    added = list(parent)
    rnd.shuffle(added)
    g = nx.DiGraph()
    for i in added:
        g.add_node(i, data=i)
    for i, p in parent.items():
        if p is not None:
            g.add_edge(p, i)
    t = Tree.from_networkx(g)
    t.check()
    position = {i: k for k, i in enumerate(added)}
    model = {i: sorted((c for c in parent if parent[c] == i), key=position.__getitem__) for i in [None, *parent]}
    of = {n: t.data(n) for n in t.preorder()}
    assert [of[n] for n in t.roots()] == model[None]
    assert all([of[c] for c in t.children(n)] == model[of[n]] for n in t.preorder())


def test_deep_networkx() -> None:
    t = chain(DEEP)
    assert Tree.from_networkx(t.to_networkx()) == t


def test_bad_graphs() -> None:
    with pytest.raises(InvalidArgument, match="needs a networkx DiGraph"):
        Tree.from_networkx(nx.Graph([(1, 2)]))
    with pytest.raises(InvalidOperation, match="node 3 has 2 parents"):
        Tree.from_networkx(nx.DiGraph([(1, 3), (2, 3)]))
    with pytest.raises(InvalidOperation, match="parent cycles"):
        Tree.from_networkx(nx.DiGraph([(1, 2), (2, 1)]))
    g = nx.DiGraph()
    g.add_node(1, order=0)
    g.add_node(2)
    with pytest.raises(InvalidArgument, match="node 2 has no 'order' attribute"):
        Tree.from_networkx(g)
    with pytest.raises(InvalidOperation, match="node 0's data has a field 'order'"):
        chain(1, lambda i: {"order": 1}).to_networkx(data=None)


# -- anytree ------------------------------------------------------------------------

ANYTREE_DATA = st.fixed_dictionaries({"name": NAMES}, optional={"x": PLAIN, "weight": st.integers()})


@SETTINGS
@given(forests(ANYTREE_DATA, block_size=64, one_root=True))
def test_anytree_round_trip(t: Tree) -> None:
    root = t.to_anytree()
    assert isinstance(root, anytree.AnyNode) and [n.name for n in anytree.PreOrderIter(root)] == [
        t.data(n)["name"] for n in t.preorder()
    ]
    back = Tree.from_anytree(root)
    back.check()
    assert back == t


@SETTINGS
@given(forests(ANY_DATA, max_size=15))
def test_anytree_forest_and_one_attribute(t: Tree) -> None:
    tops = [t.to_anytree(r, data="data") for r in t.roots()]
    back = Tree.from_anytree(tops, data="data")
    assert [back.data(n) for n in back.preorder()] == [t.data(n) for n in t.preorder()]
    assert list(back.events()) == list(t.events())


def test_from_anytree_reads_node_attributes() -> None:
    root = anytree.Node("co", size=3)
    anytree.Node("eng", parent=root)
    t = Tree.from_anytree(root)
    assert [t.data(n) for n in t.preorder()] == [{"name": "co", "size": 3}, {"name": "eng"}]
    sub = Tree.from_anytree(root.children[0])  # a subtree: its parent is ignored
    assert len(sub) == 1 and sub.data(0) == {"name": "eng"}


def test_deep_anytree() -> None:
    nodes = [anytree.AnyNode(name=f"s{i}") for i in range(DEEP)]
    for i in range(DEEP - 2, -1, -1):  # bottom-up: anytree's loop check stays O(1)
        nodes[i].children = [nodes[i + 1]]
    t = Tree.from_anytree(nodes[0])
    assert t == chain(DEEP)
    root = t.to_anytree()
    depth = 1
    while root.children:
        root = root.children[0]
        depth += 1
    assert depth == DEEP and root.name == f"s{DEEP - 1}"


def test_bad_anytree_input_and_data() -> None:
    with pytest.raises(InvalidArgument, match="needs an anytree node"):
        Tree.from_anytree({"name": "x"})
    with pytest.raises(InvalidOperation, match="'depth' cannot be an anytree attribute"):
        chain(1, lambda i: {"depth": 1}).to_anytree()
    with pytest.raises(InvalidOperation, match="node 0 holds a int, not a dict"):
        chain(1, lambda i: i).to_anytree()
    with pytest.raises(InvalidOperation, match="several top-level nodes"):
        Tree.from_paths(["a", "b"]).to_anytree()
    with pytest.raises(InvalidOperation, match="empty"):
        Tree().to_anytree()


# -- missing extras -----------------------------------------------------------------


@pytest.mark.parametrize(
    "module, call",
    [
        ("pandas", lambda: small_tree().to_dataframe()),
        ("pandas", lambda: Tree.from_dataframe(None)),
        ("networkx", lambda: small_tree().to_networkx()),
        ("networkx", lambda: Tree.from_networkx(None)),
        ("anytree", lambda: small_tree().to_anytree()),
        ("anytree", lambda: Tree.from_anytree(None)),
    ],
)
def test_a_missing_library_names_its_extra(module: str, call: Callable[[], Any], monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    with pytest.raises(
        MissingExtra, match=rf"needs {module}, which is not installed: pip install 'botree\[{module}\]'"
    ):
        call()
    with pytest.raises(ImportError):
        call()


# -- dot and mermaid ----------------------------------------------------------------


def test_dot_text() -> None:
    t = small_tree()
    assert t.to_dot(label="name") == (
        'digraph "tree" {\n'
        "    graph [ordering=out];\n"
        '    n0 [label="co"];\n'
        '    n1 [label="eng"];\n'
        "    n0 -> n1;\n"
        '    n2 [label="ann"];\n'
        "    n1 -> n2;\n"
        '    n3 [label="ops"];\n'
        "    n0 -> n3;\n"
        "}\n"
    )
    assert t.to_dot(1, label=lambda d: d["name"].upper(), name="sub") == (
        'digraph "sub" {\n    graph [ordering=out];\n    n1 [label="ENG"];\n    n2 [label="ANN"];\n    n1 -> n2;\n}\n'
    )


def test_mermaid_text() -> None:
    t = small_tree()
    assert t.to_mermaid(label="name") == (
        "flowchart TD\n"
        '    n0["co"]\n'
        '    n1["eng"]\n'
        "    n0 --> n1\n"
        '    n2["ann"]\n'
        "    n1 --> n2\n"
        '    n3["ops"]\n'
        "    n0 --> n3\n"
    )
    assert t.to_mermaid(3, direction="LR") == "flowchart LR\n    n3[\"{'name': 'ops'}\"]\n"


TRICKY = 'say "hi" \\ [x] {y} (z)\n#1 & <b> `c`\r\nend'


def test_labels_are_escaped() -> None:
    t = chain(1, lambda i: {"name": TRICKY})
    assert t.to_dot(label="name").splitlines()[2] == (
        '    n0 [label="say \\"hi\\" \\\\ [x] {y} (z)\\n#1 & <b> `c`\\nend"];'
    )
    assert t.to_mermaid(label="name").splitlines()[1] == (
        '    n0["say #quot;hi#quot; \\ [x] {y} (z)<br>#35;1 #amp; #lt;b#gt; #96;c#96;<br>end"]'
    )


@SETTINGS
@given(st.text(max_size=20))
def test_escaped_labels_hold_no_raw_quote_or_line_break(text: str) -> None:
    t = chain(1, lambda i: {"name": text})
    dot_label = t.to_dot(label="name").splitlines()[2][len('    n0 [label="') : -len('"];')]
    assert "\n" not in dot_label and "\r" not in dot_label
    unescaped = dot_label.replace("\\\\", "").replace('\\"', "")
    assert '"' not in unescaped
    mermaid_label = t.to_mermaid(label="name").splitlines()[1][len('    n0["') : -len('"]')]
    assert not set(mermaid_label.replace("<br>", "")) & set('"\n\r<>`&')


def test_missing_label_fields_and_bad_labels() -> None:
    t = Tree.from_records({"name": "a", "children": [{"other": 1}]})
    assert '    n1 [label=""];' in t.to_dot(label="name")
    with pytest.raises(InvalidArgument, match="label must be a field name, a callable or None"):
        t.to_dot(label=3)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="direction"):
        t.to_mermaid(direction="up")


@pytest.mark.parametrize(
    "kwargs",
    [{"types": 5}, {"delimiter": ""}, {"delimiter": "ab"}, {"delimiter": '"'}]
    + [{"key": 3}, {"parent": None}, {"order": 5}],
)
def test_csv_reader_refuses_bad_arguments_with_a_typed_error(kwargs: dict) -> None:
    with pytest.raises(InvalidArgument):
        Tree.from_csv(io.StringIO("id,parent,name\n1,,a\n"), **kwargs)


def test_csv_refuses_what_is_not_a_file_and_bad_writer_arguments() -> None:
    with pytest.raises(InvalidArgument, match="path or a text file"):
        Tree.from_csv(5)  # type: ignore[arg-type]
    t = Tree.from_csv(io.StringIO("id,parent,name\n1,,a\n"))
    for kwargs in ({"delimiter": "ab"}, {"parent": 3}, {"order": ""}):
        out = io.StringIO()
        with pytest.raises(InvalidArgument):
            t.to_csv(out, **kwargs)  # type: ignore[arg-type]
        assert out.getvalue() == ""  # refused before anything is written
    with pytest.raises(InvalidArgument, match="path or a text file"):
        t.to_csv(5)  # type: ignore[arg-type]
