"""Record trees (from_records / to_records) and path strings (from_paths / to_paths / resolve / path_name)."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botree import Tree
from botree.errors import InvalidArgument, InvalidKey, InvalidOperation, NodeNotFound
from tests.interchange.forests import NAMES, chain, forests

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DEEP = 10_000

# -- records ------------------------------------------------------------------------


def test_a_record_tree_is_one_node_per_record() -> None:
    x = {"name": "co", "children": [{"name": "eng", "children": [{"name": "ann", "age": 3}]}, {"name": "ops"}]}
    t = Tree.from_records(x)
    t.check()
    assert [t.data(n) for n in t.preorder()] == [
        {"name": "co"},
        {"name": "eng"},
        {"name": "ann", "age": 3},
        {"name": "ops"},
    ]
    assert list(t.children(0)) == [1, 3] and t.parent(2) == 1
    assert t.to_records() == [x] and t.to_records(0) == x and t.to_records(1) == x["children"][0]


def test_empty_or_none_children_are_leaves_and_come_back_without_the_key() -> None:
    t = Tree.from_records([{"n": 1, "children": []}, {"n": 2, "children": None}, {"n": 3, "kids": [{"n": 4}]}], "kids")
    assert [t.data(n) for n in t.preorder()] == [
        {"n": 1, "children": []},
        {"n": 2, "children": None},
        {"n": 3},
        {"n": 4},
    ]
    t = Tree.from_records([{"n": 1, "children": []}, {"n": 2, "children": None}])
    assert t.to_records() == [{"n": 1}, {"n": 2}] and len(t) == 2


def test_the_record_data_is_a_new_dict() -> None:
    x = {"name": "a", "children": [{"name": "b"}]}
    t = Tree.from_records(x)
    assert t.data(0) is not x and x == {"name": "a", "children": [{"name": "b"}]}
    out = t.to_records(0)
    out["name"] = "changed"
    assert t.data(0) == {"name": "a"}


@SETTINGS
@given(forests())
def test_records_round_trip_both_ways(t: Tree) -> None:
    x = t.to_records()
    back = Tree.from_records(x, block_size=t.block_size)
    back.check()
    assert back == t
    assert back.to_records() == x  # x is canonical: made by to_records


@SETTINGS
@given(forests(max_size=12), st.data())
def test_records_of_a_subtree(t: Tree, data: st.DataObject) -> None:
    if not len(t):
        assert t.to_records() == []
        return
    n = data.draw(st.sampled_from(list(t.preorder())))
    sub = Tree.from_records(t.to_records(n))
    assert [sub.data(m) for m in sub.preorder()] == [t.data(m) for m in t.preorder(n)]


def test_key_is_required_unique_and_looked_up() -> None:
    t = Tree.from_records({"id": 1, "children": [{"id": 2}, {"id": 3}]}, key="id")
    assert t.find(id=3) == [2]
    with pytest.raises(
        InvalidOperation, match=r"duplicate id 2: at \$\['children'\]\[0\] and at \$\['children'\]\[1\]"
    ):
        Tree.from_records({"id": 1, "children": [{"id": 2}, {"id": 2}]}, key="id")
    with pytest.raises(InvalidArgument, match=r"record at \$\['children'\]\[0\] has no 'id' field"):
        Tree.from_records({"id": 1, "children": [{"name": 2}]}, key="id")
    with pytest.raises(InvalidKey, match="must be an int or a str"):
        Tree.from_records({"id": [1]}, key="id")


def test_deep_records_both_ways() -> None:
    x: Dict[str, Any] = {"name": "s0"}
    node = x
    for i in range(1, DEEP):
        child = {"name": f"s{i}"}
        node["children"] = [child]
        node = child
    t = Tree.from_records(x)
    assert len(t) == DEEP and t.level(DEEP - 1) == DEEP - 1
    assert t == chain(DEEP)
    back = t.to_records(0)
    node, depth = back, 1
    while "children" in node:
        node = node["children"][0]
        depth += 1
    assert depth == DEEP and node == {"name": f"s{DEEP - 1}"}


@pytest.mark.parametrize(
    "obj, message",
    [
        (5, "records must be a dict or a list of dicts, not int"),
        ([{"a": 1}, "b"], r"record at \$\[1\] is a str, not a dict"),
        ({"children": [{"children": 3}]}, r"\$\['children'\]\[0\]\['children'\] must be a list of records, not int"),
    ],
)
def test_bad_records_raise_naming_the_path(obj: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        Tree.from_records(obj)


def test_records_need_dict_data_without_the_children_key() -> None:
    t, _ = Tree().insert_child(None, "text")
    with pytest.raises(InvalidOperation, match="node 0 holds a str, not a dict"):
        t.to_records()
    t = Tree.from_records({"children": [{"kids": 1}]}, children="children")
    with pytest.raises(InvalidOperation, match="node 1's data has a 'kids' field"):
        t.to_records(children="kids")
    with pytest.raises(InvalidArgument):
        Tree.from_records({}, children=3)  # type: ignore[arg-type]


# -- paths --------------------------------------------------------------------------


def test_paths_share_prefixes_in_order_of_first_appearance() -> None:
    t = Tree.from_paths(["a/b/c", "a/d", "/e/", "a/b/f"])
    t.check()
    names = {n: t.data(n)["name"] for n in t.preorder()}
    assert [names[n] for n in t.preorder()] == ["a", "b", "c", "f", "d", "e"]
    assert t.to_paths() == ["a/b/c", "a/b/f", "a/d", "e"]
    assert t.resolve("/a/b/f") == 3 and t.resolve("a/d") == t.resolve("/a/d/")
    assert t.path_name(3) == "/a/b/f" and t.to_paths(1) == ["b/c", "b/f"]  # from node 1 down


def test_other_separators_and_fields() -> None:
    t = Tree.from_paths(["x::y", "x::z"], sep="::", field="label")
    assert t.data(1) == {"label": "y"} and t.resolve("::x::z", field="label", sep="::") == 2
    assert t.path_name(2, field="label", sep="::") == "::x::z" and t.to_paths(sep="::", field="label") == [
        "x::y",
        "x::z",
    ]


PATHS = st.lists(st.lists(NAMES, min_size=1, max_size=5).map("/".join), max_size=25)


@SETTINGS
@given(PATHS, st.booleans())
def test_paths_against_a_model(paths: List[str], indexed: bool) -> None:
    t = Tree.from_paths(paths, fields=("name",) if indexed else ())
    t.check()
    prefixes: Dict[str, int] = {}  # every prefix, in order of first appearance
    for p in paths:
        parts = p.split("/")
        for k in range(1, len(parts) + 1):
            prefixes.setdefault("/".join(parts[:k]), len(prefixes))
    assert len(t) == len(prefixes)
    for prefix in prefixes:
        node = t.resolve(prefix)
        assert t.path_name(node) == "/" + prefix
    for n in t.preorder():  # siblings in order of first appearance
        kids = [prefixes[t.path_name(c)[1:]] for c in t.children(n)]
        assert kids == sorted(kids)
    assert Tree.from_paths(t.to_paths()) == t
    assert Tree.from_paths(t.to_paths()).to_paths() == t.to_paths()


def test_resolve_names_the_first_missing_segment_and_refuses_ambiguity() -> None:
    t = Tree.from_paths(["a/b/c"])
    with pytest.raises(NodeNotFound, match=r"no node /a/x: 'x' is not a name under node 0"):
        t.resolve("/a/x/c")
    with pytest.raises(NodeNotFound, match="'q' is not a name at the top level"):
        t.resolve("q")
    for fields in ((), ("name",)):
        u = Tree(fields=fields)
        u, a = u.insert_child(None, {"name": "a"})
        u, b1 = u.insert_child(a, {"name": "b"})
        u, b2 = u.insert_child(a, {"name": "b"})
        u, _ = u.insert_child(None, "not a dict")
        with pytest.raises(InvalidOperation, match=rf"ambiguous: nodes \[{b1}, {b2}\] both hold name='b'"):
            u.resolve("/a/b")
        assert u.resolve("a") == a


def test_deep_paths() -> None:
    path = "/".join(f"s{i}" for i in range(DEEP))
    t = Tree.from_paths([path])
    assert t == chain(DEEP)
    assert t.resolve(path) == DEEP - 1 and t.path_name(DEEP - 1) == "/" + path
    assert t.to_paths() == [path]


@pytest.mark.parametrize("paths", [[""], ["/"], ["a//b"], ["a", 3], "a/b"])
def test_bad_paths_raise(paths: Any) -> None:
    with pytest.raises(InvalidArgument):
        Tree.from_paths(paths)


def test_bad_separators_and_segments() -> None:
    with pytest.raises(InvalidArgument, match="sep must be a non-empty str"):
        Tree.from_paths(["a"], sep="")
    t, _ = Tree().insert_child(None, {"name": "a/b"})
    with pytest.raises(InvalidOperation, match="node 0 has no path segment"):
        t.path_name(0)
    with pytest.raises(InvalidOperation, match="node 0 has no path segment"):
        t.to_paths()
    with pytest.raises(NodeNotFound):
        t.path_name(7)


def test_resolve_through_an_indexed_field_named_like_a_find_option() -> None:
    # resolve looked indexed segments up with find(**{field: segment}): a field called
    # "where" or "under" was taken for find's own options.
    for field in ("where", "under", "max_depth"):
        t = Tree.from_paths(["a/b/c", "a/d"], field=field, fields=(field,))
        c = t.resolve("/a/b/c", field=field)
        assert t.data(c) == {field: "c"} and t.path_name(c, field=field) == "/a/b/c"
