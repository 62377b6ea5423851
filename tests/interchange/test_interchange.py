"""Interchange: from_events/data_events, from_nested/to_nested, JSON files, parent tables.

Every built tree is checked with ``check()`` and compared against a plain-Python model
(children lists, preorder node lists, type-exact JSON values), never against
hard-coded shapes where a model can compute them.
"""

from __future__ import annotations

import gc
import io
import json
import math
import os
import random
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botree import JsonNode, Tree, load_parent_table
from botree.core.bulk import PROGRESS_EVERY
from botree.errors import InvalidArgument, InvalidOperation

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BLOCK_SIZES = (4, 6, 64)

# -- helpers ------------------------------------------------------------------------


def same_json(a: Any, b: Any) -> bool:
    """Type-exact, key-order-exact equality of two JSON-like values, iteratively (any depth)."""
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if type(x) is not type(y):
            return False
        if type(x) is dict:
            if list(x) != list(y):
                return False
            stack.extend((x[k], y[k]) for k in x)
        elif type(x) is list:
            if len(x) != len(y):
                return False
            stack.extend(zip(x, y))
        elif type(x) is float:
            if not (x == y and math.copysign(1.0, x) == math.copysign(1.0, y)):
                return False
        elif x != y:
            return False
    return True


def json_size(value: Any) -> int:
    """Number of nodes of ``value``'s encoding (containers, keys and scalars), iteratively."""
    count = 0
    stack = [value]
    while stack:
        v = stack.pop()
        count += 1
        if type(v) is dict:
            count += len(v)  # one key node per entry
            stack.extend(v.values())
        elif type(v) is list:
            stack.extend(v)
    return count


def encode_preorder(value: Any) -> List[Tuple[Optional[int], JsonNode]]:
    """The model encoding: (parent position or None, JsonNode) per node, in preorder."""
    out: List[Tuple[Optional[int], JsonNode]] = []
    stack: List[Tuple[str, Any, Optional[int]]] = [("v", value, None)]
    while stack:
        tag, v, parent = stack.pop()
        if tag == "k":
            out.append((parent, JsonNode("key", v[0])))
            stack.append(("v", v[1], len(out) - 1))
        elif type(v) is dict:
            out.append((parent, JsonNode("object")))
            me = len(out) - 1
            stack.extend(("k", (k, v[k]), me) for k in reversed(list(v)))
        elif type(v) is list:
            out.append((parent, JsonNode("array")))
            me = len(out) - 1
            stack.extend(("v", item, me) for item in reversed(v))
        else:
            out.append((parent, JsonNode("value", v)))
    return out


def insert_one_by_one(nodes: List[Tuple[Optional[int], Any]], block_size: int) -> Tree:
    """``Tree.insert_child`` of each (parent position, data), in the given (pre)order."""
    t = Tree(block_size=block_size)
    ids: List[int] = []
    for parent, data in nodes:
        t, node = t.insert_child(None if parent is None else ids[parent], data)
        ids.append(node)
    return t


def model_preorder(parents: List[int]) -> List[int]:
    """Node indexes of the forest ``parents`` (-1: top level) in preorder, children in index order."""
    kids: List[List[int]] = [[] for _ in parents]
    tops = []
    for i, p in enumerate(parents):
        (tops if p < 0 else kids[p]).append(i)
    out = []
    stack = list(reversed(tops))
    while stack:
        i = stack.pop()
        out.append(i)
        stack.extend(reversed(kids[i]))
    return out


def model_events(parents: List[int], datas: List[Any]) -> List[Tuple[Any, bool]]:
    """(data, is_open) bounds of the forest ``parents`` in document order."""
    kids: List[List[int]] = [[] for _ in parents]
    tops = []
    for i, p in enumerate(parents):
        (tops if p < 0 else kids[p]).append(i)
    events: List[Tuple[Any, bool]] = []
    stack = [(i, True) for i in reversed(tops)]
    while stack:
        i, is_open = stack.pop()
        events.append((datas[i] if is_open else None, is_open))
        if is_open:
            stack.append((i, False))
            stack.extend((c, True) for c in reversed(kids[i]))
    return events


def tree_children(t: Tree) -> Dict[Optional[int], List[int]]:
    """Every node's children list (None: the top level), read through the query API."""
    out: Dict[Optional[int], List[int]] = {None: list(t.roots())}
    for node in t.preorder():
        out[node] = list(t.children(node))
    return out


# -- strategies ---------------------------------------------------------------------

KEYS = st.one_of(
    st.text(max_size=5),
    st.sampled_from(["1", "01", "-0", "0", "", "1.0", "true", "null", "é", "ключ", "🙂", "a\u0000b", "it's"]),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    # Duplicates and look-alikes: 0/False/0.0, 1/True/1.0, "1", -0.0.
    st.sampled_from([0, 1, True, False, 0.0, 1.0, -0.0, "1", "", None]),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=6), st.dictionaries(KEYS, inner, max_size=6)),
    max_leaves=40,
)


@st.composite
def forest_parents(draw: Any, max_nodes: int = 30) -> List[int]:
    """A random forest as a parent array: node i's parent is -1 (top level) or some j < i."""
    n = draw(st.integers(0, max_nodes))
    return [draw(st.integers(-1, i - 1)) for i in range(n)]


# -- the comparison helper itself ----------------------------------------------------


def test_same_json_tells_apart_look_alike_values() -> None:
    assert same_json({"a": [1, 2.5, None]}, {"a": [1, 2.5, None]})
    for a, b in [
        (1, True),
        (1, 1.0),
        (0.0, -0.0),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
        ([[]], [{}]),
        ([1, 2], [1, 2, 3]),
        ("1", 1),
        (None, False),
    ]:
        assert not same_json(a, b) and not same_json(b, a)


# -- from_nested / to_nested ----------------------------------------------------------


@SETTINGS
@given(JSON, st.sampled_from(BLOCK_SIZES))
def test_nested_round_trip_is_type_exact(value: Any, block_size: int) -> None:
    t = Tree.from_nested(value, block_size=block_size)
    t.check()
    assert len(t) == json_size(value)
    assert same_json(t.to_nested(), value)
    # Through the JSON text as well (keys are always strings, so nothing is lost).
    assert same_json(json.loads(t.to_json()), value)


@SETTINGS
@given(JSON)
def test_to_nested_of_an_inner_node_is_that_sub_value(value: Any) -> None:
    t = Tree.from_nested(value, block_size=4)
    # Walk the value and the tree together: every container's items and every
    # key's value convert back to the matching sub-value.
    stack = [(next(t.roots()), value)]
    while stack:
        node, sub = stack.pop()
        assert same_json(t.to_nested(node), sub)
        kids = list(t.children(node))
        if type(sub) is dict:
            assert [t.data(k) for k in kids] == [JsonNode("key", k) for k in sub]
            for key_node, key in zip(kids, sub):
                (val_node,) = t.children(key_node)
                stack.append((val_node, sub[key]))
        elif type(sub) is list:
            assert len(kids) == len(sub)
            stack.extend(zip(kids, sub))
        else:
            assert kids == [] and t.data(node) == JsonNode("value", sub)


@pytest.mark.parametrize(
    "value",
    [[], {}, [[]], [{}], {"a": {}}, {"": []}, [[[]], {}, [{}]], {"x": [[], {"y": {}}]}, "", 0, None, False],
)
def test_empty_containers_and_bare_scalars_round_trip(value: Any) -> None:
    t = Tree.from_nested(value, block_size=4)
    t.check()
    assert len(t) == json_size(value)
    assert same_json(t.to_nested(), value)


def test_keys_that_look_like_numbers_stay_distinct_strings() -> None:
    value = {"1": 1, "01": True, "-0": -0.0, "0": 0, "1.0": 1.0, "true": "1", "null": None}
    t = Tree.from_nested(value, block_size=4)
    t.check()
    out = t.to_nested()
    assert same_json(out, value)
    assert all(type(k) is str for k in out)
    assert math.copysign(1.0, out["-0"]) == -1.0


def test_duplicate_scalars_are_separate_nodes() -> None:
    value = [1, 1, True, 1.0, "1", [1], {"1": 1}]
    t = Tree.from_nested(value, block_size=4)
    t.check()
    assert len(t) == json_size(value)
    items = list(t.children(next(t.roots())))
    assert len(set(items)) == len(value)
    assert same_json(t.to_nested(), value)


@pytest.mark.parametrize("a, b", [(1, True), (1, 1.0), (0, False), ("1", 1), (None, False), ({}, [])])
def test_trees_of_look_alike_values_differ(a: Any, b: Any) -> None:
    ta, tb = Tree.from_nested([a]), Tree.from_nested([b])
    assert ta != tb
    assert ta == Tree.from_nested([a])
    nodes_a = [ta.data(n) for n in ta.preorder()]
    nodes_b = [tb.data(n) for n in tb.preorder()]
    assert nodes_a[0] == nodes_b[0] and len({nodes_a[0], nodes_b[0]}) == 1  # both arrays
    assert nodes_a[1] != nodes_b[1] and len({nodes_a[1], nodes_b[1]}) == 2  # the items differ


def _deep(depth: int, as_dict: bool) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"k": value} if as_dict else [value]
    return value


@pytest.mark.parametrize("as_dict", [False, True])
def test_50000_deep_nesting_has_no_recursion_limit(as_dict: bool) -> None:
    depth = 50_000
    t = Tree.from_nested(_deep(depth, as_dict))
    t.check()
    assert len(t) == (2 * depth if as_dict else depth) + 1
    out = t.to_nested()
    found = 0
    while type(out) is not str:
        out = out["k"] if as_dict else out[0]
        assert type(out) in (str, dict if as_dict else list)
        found += 1
    assert found == depth and out == "bottom"
    # An inner node converts too, and a subtree rebuilt from its events is that sub-value.
    mid = t.at_rank(len(t) // 2)
    assert t.level(mid) == len(t) // 2
    sub = Tree.from_events(t.data_events(mid))
    sub.check()
    assert len(sub) == t.size(mid)
    assert same_json(sub.to_nested(), t.to_nested(mid))


@pytest.mark.parametrize(
    "value",
    [
        list(range(10_000)),
        {str(i): i for i in range(10_000)},
        [[] for _ in range(10_000)],
        [{} if i % 2 else [i] for i in range(10_000)],
        {f"k{i}": {"v": i} if i % 3 else [] for i in range(10_000)},
    ],
    ids=["ints", "object", "empty-arrays", "mixed", "object-of-containers"],
)
@pytest.mark.parametrize("block_size", [4, 64])
def test_wide_values_round_trip(value: Any, block_size: int) -> None:
    t = Tree.from_nested(value, block_size=block_size)
    t.check()
    assert len(t) == json_size(value)
    assert sum(1 for _ in t.children(next(t.roots()))) == len(value)
    assert same_json(t.to_nested(), value)


def test_to_nested_needs_exactly_one_json_root() -> None:
    with pytest.raises(InvalidOperation):
        Tree().to_nested()
    two = Tree.from_events(list(Tree.from_nested([1]).data_events()) * 2)
    two.check()
    with pytest.raises(InvalidOperation):
        two.to_nested()
    # Each root alone still converts.
    assert [two.to_nested(r) for r in two.roots()] == [[1], [1]]
    t, _ = Tree().insert_child(None, {"not": "json"})
    with pytest.raises(InvalidOperation):
        t.to_nested()


def _json_tree(*nodes: Tuple[Optional[int], JsonNode]) -> Tree:
    return insert_one_by_one(list(nodes), 4)


@pytest.mark.parametrize(
    "tree",
    [
        _json_tree((None, JsonNode("object")), (0, JsonNode("value", 1))),  # object child not a key
        _json_tree((None, JsonNode("key", "k")), (0, JsonNode("value", 1))),  # key at top level
        _json_tree((None, JsonNode("array")), (0, JsonNode("key", "k")), (1, JsonNode("value", 1))),  # key in array
        _json_tree((None, JsonNode("object")), (0, JsonNode("key", "k"))),  # key without value
        _json_tree(
            (None, JsonNode("object")), (0, JsonNode("key", "k")), (1, JsonNode("array")), (1, JsonNode("value", 2))
        ),  # key with two values
        _json_tree((None, JsonNode("value", 1)), (0, JsonNode("value", 2))),  # below a scalar
        _json_tree((None, JsonNode("array")), (0, JsonNode("value", 1)), (0, "plain data")),  # not JsonNode
    ],
)
def test_to_nested_rejects_trees_that_encode_no_json(tree: Tree) -> None:
    tree.check()
    with pytest.raises(InvalidOperation):
        tree.to_nested()


# -- non-JSON input ---------------------------------------------------------------------


class Custom:
    pass


def _path_text(path: List[Any]) -> str:
    return "$" + "".join(f"[{s}]" if type(s) is int else f"[{s!r}]" for s in path)


@pytest.mark.parametrize(
    "value, path, type_name",
    [
        ({"a": [1, 2, {3}]}, "$['a'][2]", "set"),
        ([b"x"], "$[0]", "bytes"),
        ({"a": (1, 2)}, "$['a']", "tuple"),
        ([0, {"it's": [None, Custom()]}], "$[1][\"it's\"][1]", "Custom"),
        ({"a": [1, 2, 3, 4, 5j]}, "$['a'][4]", "complex"),
        (frozenset(), "$", "frozenset"),
    ],
)
def test_non_json_value_raises_type_error_naming_its_path(value: Any, path: str, type_name: str) -> None:
    assert gc.isenabled()
    with pytest.raises(TypeError) as info:
        Tree.from_nested(value, block_size=4)
    assert path in str(info.value)
    assert type_name in str(info.value)
    assert gc.isenabled()  # the collector paused for the build is back on


@pytest.mark.parametrize("key", [1, None, (1, 2), b"k", True])
def test_non_str_dict_key_raises_type_error_naming_the_object(key: Any) -> None:
    value = {"outer": [0, {"ok": 1, key: 2}]}
    with pytest.raises(TypeError) as info:
        Tree.from_nested(value, block_size=4)
    assert "$['outer'][1]" in str(info.value)
    assert repr(key) in str(info.value)


@SETTINGS
@given(JSON, st.data())
def test_a_bad_value_anywhere_is_reported_at_its_path(value: Any, data: Any) -> None:
    # Pick a random container position in a fresh copy and put a non-JSON value there.
    value = json.loads(json.dumps(value))  # a private copy (JSON types only)
    spots: List[Tuple[Any, Any, List[Any]]] = []  # (container, key/index, path)
    stack: List[Tuple[Any, List[Any]]] = [(value, [])]
    while stack:
        v, path = stack.pop()
        if type(v) is dict:
            for k in v:
                spots.append((v, k, path + [k]))
                stack.append((v[k], path + [k]))
        elif type(v) is list:
            for i in range(len(v)):
                spots.append((v, i, path + [i]))
                stack.append((v[i], path + [i]))
    bad = data.draw(st.sampled_from([{1, 2}, b"raw", (1,), Custom(), 1j]))
    if spots:
        container, where, path = data.draw(st.sampled_from(spots))
        container[where] = bad
    else:
        value, path = [bad], [0]
    with pytest.raises(TypeError) as info:
        Tree.from_nested(value, block_size=4)
    assert _path_text(path) in str(info.value)
    assert type(bad).__name__ in str(info.value)


# -- JSON files -------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(JSON)
def test_json_round_trip_through_files(value: Any) -> None:
    t = Tree.from_nested(value, block_size=4)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "doc.json")
        with open(path, "w", encoding="utf-8") as f:
            f.write(t.to_json(ensure_ascii=False))
        for source in (path, Path(path)):
            back = Tree.from_json(source, block_size=6)
            back.check()
            assert back == t
            assert same_json(back.to_nested(), value)
        with open(path, encoding="utf-8") as f:
            back = Tree.from_json(f)
        back.check()
        assert back == t
    back = Tree.from_json(io.StringIO(t.to_json(indent=2, sort_keys=False)))
    back.check()
    assert back == t


def test_to_json_passes_keyword_arguments_to_dumps() -> None:
    value = {"b": [1, 2], "a": "é"}
    t = Tree.from_nested(value)
    assert t.to_json(sort_keys=True) == json.dumps(value, sort_keys=True)
    assert t.to_json(ensure_ascii=False, indent=1) == json.dumps(value, ensure_ascii=False, indent=1)
    inner = list(t.children(next(t.roots())))[0]
    (val,) = t.children(inner)
    assert t.to_json(val) == json.dumps(value["b"])


# -- from_events / data_events ----------------------------------------------------------


@SETTINGS
@given(forest_parents(), st.sampled_from(BLOCK_SIZES), st.floats(0.5, 1.0))
def test_events_round_trip(parents: List[int], block_size: int, fill: float) -> None:
    datas = [{"i": i} for i in range(len(parents))]
    events = model_events(parents, datas)
    t = Tree.from_events(iter(events), block_size=block_size, fill=fill)
    t.check()
    assert len(t) == len(parents)
    # Ids in preorder, data in preorder.
    order = model_preorder(parents)
    assert list(t.preorder()) == list(range(len(parents)))
    assert [t.data(n) for n in t.preorder()] == [datas[i] for i in order]
    assert [(d, o) for d, o in t.data_events() if o] == [(d, o) for d, o in events if o]
    assert [o for _, o in t.data_events()] == [o for _, o in events]
    again = Tree.from_events(t.data_events(), block_size=block_size)
    again.check()
    assert again == t
    # A subtree's events rebuild that subtree alone.
    for node in t.preorder():
        sub = Tree.from_events(t.data_events(node), block_size=4)
        sub.check()
        assert len(sub) == t.size(node)
        assert [sub.data(n) for n in sub.preorder()] == [t.data(n) for n in t.preorder(node)]


def test_closing_bound_data_is_ignored() -> None:
    a = Tree.from_events([("x", True), ("y", True), ("junk", False), (123, False)], block_size=4)
    b = Tree.from_events([("x", True), ("y", True), (None, False), (None, False)], block_size=4)
    a.check()
    assert a == b


@pytest.mark.parametrize("fill", [0.49, 1.01])
def test_bad_fill_is_rejected(fill: float) -> None:
    with pytest.raises(InvalidArgument):
        Tree.from_events([("x", True), (None, False)], fill=fill)


@pytest.mark.parametrize(
    "opens",
    [
        [False],
        [True],
        [True, False, False],
        [True, True, False],
        [False, True],
        [True, False, False, True],
    ],
)
def test_unbalanced_streams_raise(opens: List[bool]) -> None:
    with pytest.raises(InvalidOperation):
        Tree.from_events([(i, o) for i, o in enumerate(opens)], block_size=4)


@SETTINGS
@given(st.lists(st.booleans(), max_size=40))
def test_any_bound_stream_builds_iff_balanced(opens: List[bool]) -> None:
    depth = 0
    balanced = True
    for o in opens:
        depth += 1 if o else -1
        if depth < 0:
            balanced = False
            break
    balanced = balanced and depth == 0
    events = [(i, o) for i, o in enumerate(opens)]
    if balanced:
        t = Tree.from_events(events, block_size=4)
        t.check()
        assert [o for _, o in t.data_events()] == opens
        assert [d for d, o in t.data_events() if o] == [i for i, o in events if o]
    else:
        with pytest.raises(InvalidOperation):
            Tree.from_events(events, block_size=4)


def _expected_progress(bounds: int) -> List[Tuple[int, None]]:
    # Documented: every PROGRESS_EVERY bounds, and once at the end unless that count was just reported.
    periodic = [(k, None) for k in range(PROGRESS_EVERY, bounds + 1, PROGRESS_EVERY)]
    return periodic + ([] if periodic and periodic[-1][0] == bounds else [(bounds, None)])


@pytest.mark.parametrize("nodes", [0, 3, 40_000, 70_000])
def test_progress_reports_increasing_counts_and_a_final_call(nodes: int) -> None:
    calls: List[Tuple[int, Optional[int]]] = []
    events = [(i, True) for i in range(nodes)] + [(None, False)] * nodes  # one deep chain
    t = Tree.from_events(events, block_size=64, progress=lambda done, total: calls.append((done, total)))
    assert len(t) == nodes
    assert calls == _expected_progress(2 * nodes)
    counts = [c for c, _ in calls]
    assert counts == sorted(set(counts))  # strictly increasing
    assert counts[-1] == 2 * nodes


def test_progress_counts_strictly_increase_when_bounds_are_a_multiple_of_the_period() -> None:
    calls: List[Tuple[int, Optional[int]]] = []
    nodes = PROGRESS_EVERY // 2  # exactly PROGRESS_EVERY bounds
    Tree.from_events([(None, True), (None, False)] * nodes, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (2 * nodes, None)
    assert calls == [(2 * nodes, None)]  # once: the final count is not repeated


def test_progress_of_nested_and_parent_table_builds() -> None:
    value = list(range(40_000))
    calls: List[Tuple[int, Optional[int]]] = []
    Tree.from_nested(value, progress=lambda d, n: calls.append((d, n)))
    assert calls == _expected_progress(2 * json_size(value))
    calls.clear()
    rows = [{"id": i, "parent": None if i == 0 else 0} for i in range(40_000)]
    Tree.from_parent_table(rows, progress=lambda d, n: calls.append((d, n)))
    assert calls == _expected_progress(2 * len(rows))


# -- parent tables: shape against a model -----------------------------------------------


@st.composite
def parent_tables(draw: Any, max_nodes: int = 30) -> Dict[str, Any]:
    """Rows (ext id, parent ext id or None, order key, data) of a random forest, shuffled."""
    parents = draw(forest_parents(max_nodes))
    n = len(parents)
    labels = draw(
        st.one_of(
            st.lists(st.integers(-50, 10**6), unique=True, min_size=n, max_size=n),
            st.lists(st.text(max_size=4), unique=True, min_size=n, max_size=n),
        )
    )
    perm = draw(st.permutations(range(n)))
    orders = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))  # with ties: the sort must be stable
    rows = [(labels[i], None if parents[i] < 0 else labels[parents[i]], orders[i], f"data{i}") for i in perm]
    return {"rows": rows, "labels": labels}


def model_children(rows: List[Tuple[Any, Any, Any, Any]], use_order: bool) -> Dict[Any, List[Any]]:
    """Children (ext ids) of every ext id (None: the top level), siblings in input or order-column order."""
    kids: Dict[Any, List[Tuple[Any, int, Any]]] = {None: []}
    for ident, _, _, _ in rows:
        kids[ident] = []
    for pos, (ident, parent, order, _) in enumerate(rows):
        kids[parent].append((order if use_order else 0, pos, ident))
    return {k: [ident for _, _, ident in sorted(v, key=lambda e: (e[0], e[1]))] for k, v in kids.items()}


def assert_shape(t: Tree, mapping: Dict[Any, int], kids: Dict[Any, List[Any]]) -> None:
    back = {node: ext for ext, node in mapping.items()}
    assert len(back) == len(mapping)
    assert [back[n] for n in t.roots()] == kids[None]
    for ext, node in mapping.items():
        assert [back[c] for c in t.children(node)] == kids[ext]


@SETTINGS
@given(
    parent_tables(),
    st.booleans(),
    st.sampled_from(["dicts", "dicts-absent-parent", "tuples"]),
    st.booleans(),
    st.sampled_from(BLOCK_SIZES),
)
def test_parent_table_builds_the_model_forest(
    table: Dict[str, Any], use_order: bool, form: str, data_column: bool, block_size: int
) -> None:
    raw = table["rows"]
    if form == "tuples":
        rows: List[Any] = list(raw)
        cols: Dict[str, Any] = {"id": 0, "parent": 1, "order": 2 if use_order else None}
        cols["data"] = 3 if data_column else None
    else:
        rows = []
        for ident, parent, order, data in raw:
            row = {"id": ident, "parent": parent, "rank": order, "payload": data}
            if form == "dicts-absent-parent" and parent is None:
                del row["parent"]
            rows.append(row)
        cols = {"id": "id", "parent": "parent", "order": "rank" if use_order else None}
        cols["data"] = "payload" if data_column else None
    t, mapping = load_parent_table(rows, block_size=block_size, **cols)
    t.check()
    n = len(raw)
    assert len(t) == n
    assert set(mapping) == set(table["labels"])
    # Node ids are handed out in preorder.
    assert sorted(mapping.values()) == list(range(n)) == list(t.preorder())
    assert_shape(t, mapping, model_children(raw, use_order))
    for row, (ident, _, _, data) in zip(rows, raw):
        if data_column:
            assert t.data(mapping[ident]) == data
        else:
            assert t.data(mapping[ident]) is row
    # from_parent_table is load_parent_table without the mapping; rows may be a one-pass iterator.
    assert Tree.from_parent_table(iter(rows), block_size=block_size, **cols) == t


@SETTINGS
@given(parent_tables(), st.sampled_from(BLOCK_SIZES), st.randoms(use_true_random=False))
def test_to_parent_table_round_trip(table: Dict[str, Any], block_size: int, rnd: random.Random) -> None:
    t = Tree.from_parent_table(
        [{"id": i, "parent": p, "o": o, "d": d} for i, p, o, d in table["rows"]],
        order="o",
        data="d",
        block_size=block_size,
    )
    rows = t.to_parent_table()
    assert [r["id"] for r in rows] == list(t.preorder())
    for r in rows:
        node = r["id"]
        assert r["parent"] == t.parent(node)
        assert r["order"] == list(t.children(r["parent"])).index(node)
        assert r["data"] == t.data(node)
    again = Tree.from_parent_table(rows, data="data", order="order", block_size=block_size)
    again.check()
    assert again == t
    rnd.shuffle(rows)
    shuffled = Tree.from_parent_table(rows, data="data", order="order", block_size=4)
    shuffled.check()
    assert shuffled == t


# -- parent tables: orphans and cycles ----------------------------------------------------


@st.composite
def messy_tables(draw: Any) -> List[Tuple[str, Optional[str]]]:
    """Rows (id, parent) whose parents may be missing (orphans) or loop (cycles, self-parents)."""
    n = draw(st.integers(0, 10))
    ids = [f"n{i}" for i in range(n)]
    parent = st.one_of(st.none(), st.sampled_from(["x0", "x1", "x2"]))
    if n:
        parent = st.one_of(parent, st.sampled_from(ids), st.sampled_from(ids))
    rows = [(ids[i], draw(parent)) for i in range(n)]
    return draw(st.permutations(rows))


def messy_model(rows: List[Tuple[str, Optional[str]]], orphans: str, cycles: str) -> Any:
    """("error", names) or ("ok", children by ext id) as the documented policies say."""
    present = {ident for ident, _ in rows}
    up = dict(rows)
    orphaned = [ident for ident, p in rows if p is not None and p not in present]
    if orphaned and orphans == "error":
        return ("error", orphaned)
    # Cycle members: nodes from which following parents comes back to themselves.
    members: List[str] = []
    for ident, _ in rows:
        walk = up[ident]
        for _ in range(len(rows)):
            if walk is None or walk not in present or walk == ident:
                break
            walk = up[walk]
        if walk == ident:
            members.append(ident)
    if members and cycles == "error":
        return ("error", members)
    position = {ident: pos for pos, (ident, _) in enumerate(rows)}
    cuts = set()
    for m in members:  # break each cycle at its first member in the input
        cycle = [m]
        walk = up[m]
        while walk != m:
            cycle.append(walk)
            walk = up[walk]
        cuts.add(min(cycle, key=position.__getitem__))
    for first in cuts:
        up[first] = None
    for o in orphaned:
        if orphans == "root":
            up[o] = None
    # Orphans under "ignore": drop them and everything below.
    dropped = set()
    for ident, _ in rows:
        walk: Optional[str] = ident
        while walk is not None and walk in present:
            walk = up[walk]
        if walk is not None:
            dropped.add(ident)
    kids: Dict[Any, List[str]] = {None: []}
    for ident, _ in rows:
        if ident not in dropped:
            kids[ident] = []
    for ident, _ in rows:
        if ident not in dropped:
            kids[up[ident]].append(ident)
    return ("ok", kids)


@SETTINGS
@given(messy_tables(), st.sampled_from(["error", "ignore", "root"]), st.sampled_from(["error", "break"]))
def test_orphan_and_cycle_policies_follow_the_model(
    rows: List[Tuple[str, Optional[str]]], orphans: str, cycles: str
) -> None:
    verdict, expected = messy_model(rows, orphans, cycles)
    dict_rows = [{"id": i, "parent": p} for i, p in rows]
    if verdict == "error":
        with pytest.raises(InvalidOperation) as info:
            load_parent_table(dict_rows, orphans=orphans, cycles=cycles, block_size=4)
        message = str(info.value)
        for ident in expected:
            assert repr(ident) in message
        for ident, _ in rows:
            if ident not in expected:
                assert repr(ident) not in message
        return
    t, mapping = load_parent_table(dict_rows, orphans=orphans, cycles=cycles, block_size=4)
    t.check()
    assert set(mapping) == set(expected) - {None}
    assert len(t) == len(mapping)
    assert_shape(t, mapping, expected)


def _rows(*pairs: Tuple[Any, Any]) -> List[Dict[str, Any]]:
    return [{"id": i, "parent": p} for i, p in pairs]


ORPHAN_ROWS = _rows(("a", None), ("b", "zz"), ("c", "b"), ("d", "yy"), ("e", "a"), ("f", "c"))


def test_orphans_error_names_the_orphans_only() -> None:
    with pytest.raises(InvalidOperation) as info:
        Tree.from_parent_table(ORPHAN_ROWS)
    message = str(info.value)
    assert "'b'" in message and "'d'" in message
    assert "'c'" not in message and "'a'" not in message and "'f'" not in message


def test_orphans_ignore_drops_them_with_their_subtrees() -> None:
    t, m = load_parent_table(ORPHAN_ROWS, orphans="ignore", block_size=4)
    t.check()
    assert set(m) == {"a", "e"}
    assert_shape(t, m, {None: ["a"], "a": ["e"], "e": []})


def test_orphans_root_makes_them_top_level() -> None:
    t, m = load_parent_table(ORPHAN_ROWS, orphans="root", block_size=4)
    t.check()
    assert set(m) == {"a", "b", "c", "d", "e", "f"}
    assert_shape(t, m, {None: ["a", "b", "d"], "a": ["e"], "b": ["c"], "c": ["f"], "d": [], "e": [], "f": []})


CYCLE_ROWS = _rows(("r", None), ("p", "q"), ("q", "s"), ("s", "p"), ("t", "q"), ("u", "r"))


def test_cycles_error_names_the_cycle_members() -> None:
    with pytest.raises(InvalidOperation) as info:
        Tree.from_parent_table(CYCLE_ROWS)
    message = str(info.value)
    for ident in "pqs":
        assert repr(ident) in message
    for ident in "rtu":
        assert repr(ident) not in message


def test_cycles_break_makes_the_first_member_in_input_top_level() -> None:
    t, m = load_parent_table(CYCLE_ROWS, cycles="break", block_size=4)
    t.check()
    assert_shape(t, m, {None: ["r", "p"], "r": ["u"], "p": ["s"], "s": ["q"], "q": ["t"], "t": [], "u": []})
    # Reordering the input changes which member is cut.
    rows = [CYCLE_ROWS[i] for i in (0, 3, 1, 2, 4, 5)]  # s first
    t, m = load_parent_table(rows, cycles="break", block_size=4)
    t.check()
    assert t.parent(m["s"]) is None and t.parent(m["p"]) == m["q"] and t.parent(m["q"]) == m["s"]


@pytest.mark.parametrize("ident", [7, "self"])
def test_self_parent_is_a_cycle(ident: Any) -> None:
    rows = _rows(("other", None), (ident, ident))
    with pytest.raises(InvalidOperation) as info:
        Tree.from_parent_table(rows)
    assert repr(ident) in str(info.value)
    t, m = load_parent_table(rows, cycles="break", block_size=4)
    t.check()
    assert list(t.roots()) == [m["other"], m[ident]]


def test_duplicate_ids_are_named() -> None:
    rows = _rows(("a", None), ("dup1", "a"), ("b", "a"), ("dup1", None), (42, None), (42, "a"))
    with pytest.raises(InvalidOperation) as info:
        Tree.from_parent_table(rows)
    message = str(info.value)
    assert "'dup1'" in message and "42" in message
    assert "'a'" not in message and "'b'" not in message


@pytest.mark.parametrize("option", [{"orphans": "drop"}, {"cycles": "ignore"}, {"orphans": None}, {"cycles": "root"}])
def test_unknown_policy_is_invalid_argument(option: Dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument):
        Tree.from_parent_table(_rows(("a", None)), **option)


@pytest.mark.parametrize(
    "rows, options",
    [
        ([{"id": 1}, {"name": "no id"}], {}),
        ([{"key": 1}], {}),
        ([(1, None), ()], {"id": 0, "parent": 1}),
        ([{"id": 1}], {"id": "ident"}),
        ([{"id": 1, "parent": None}], {"order": "rank"}),
        ([{"id": 1, "parent": None}], {"data": "payload"}),
        ([(1,)], {"id": 0, "parent": 1}),
        ([{"id": [1]}], {}),
    ],
)
def test_missing_columns_and_bad_ids_are_invalid_argument(rows: List[Any], options: Dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument):
        Tree.from_parent_table(rows, **options)


def test_uncomparable_order_values_are_invalid_argument() -> None:
    rows = [{"id": 1, "o": 1}, {"id": 2, "o": "x"}]
    with pytest.raises(InvalidArgument):
        Tree.from_parent_table(rows, order="o")


def test_50000_deep_parent_chain() -> None:
    n = 50_000
    rows = [(i, i + 1 if i + 1 < n else None) for i in range(n)]  # leaf first, root last
    t, m = load_parent_table(rows, id=0, parent=1)
    t.check()
    assert m[n - 1] == 0 and m[0] == n - 1
    assert t.level(m[0]) == n - 1
    assert Tree.from_parent_table(t.to_parent_table(), data="data", order="order") == t
    with pytest.raises(InvalidOperation):  # close the chain into one big cycle
        Tree.from_parent_table(rows[:-1] + [(n - 1, 0)], id=0, parent=1)


# -- equivalence with one-by-one inserts ----------------------------------------------------


@SETTINGS
@given(forest_parents(), st.sampled_from(BLOCK_SIZES), st.randoms(use_true_random=False))
def test_bulk_builds_equal_one_by_one_inserts(parents: List[int], block_size: int, rnd: random.Random) -> None:
    n = len(parents)
    datas = [{"i": i} for i in range(n)]
    order = model_preorder(parents)
    pos = {i: k for k, i in enumerate(order)}
    inserted = insert_one_by_one(
        [(None if parents[i] < 0 else pos[parents[i]], datas[i]) for i in order], block_size
    )
    inserted.check()
    built = Tree.from_events(model_events(parents, datas), block_size=block_size)
    built.check()
    assert built == inserted
    # Parent table, shuffled, siblings ordered by their index (= input order of the model).
    rows = [{"id": i, "parent": None if p < 0 else p, "o": i, "d": datas[i]} for i, p in enumerate(parents)]
    rnd.shuffle(rows)
    table = Tree.from_parent_table(rows, order="o", data="d", block_size=block_size)
    table.check()
    assert table == inserted


@SETTINGS
@given(JSON, st.sampled_from(BLOCK_SIZES))
def test_from_nested_equals_one_by_one_inserts(value: Any, block_size: int) -> None:
    inserted = insert_one_by_one(encode_preorder(value), block_size)
    inserted.check()
    built = Tree.from_nested(value, block_size=block_size)
    assert built == inserted
    assert Tree.from_events(inserted.data_events(), block_size=block_size) == built


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_larger_forest_equals_one_by_one_inserts(block_size: int) -> None:
    rnd = random.Random(block_size)
    parents = [rnd.randrange(-1, i) if rnd.random() < 0.7 else i - 1 for i in range(600)]
    datas = [f"d{i}" for i in range(600)]
    order = model_preorder(parents)
    pos = {i: k for k, i in enumerate(order)}
    inserted = insert_one_by_one([(None if parents[i] < 0 else pos[parents[i]], datas[i]) for i in order], block_size)
    built = Tree.from_events(model_events(parents, datas), block_size=block_size)
    built.check()
    assert built == inserted
    assert hash(built) == hash(inserted)


# -- bulk-built trees are fully usable ------------------------------------------------------


class Model:
    """Children lists (None: top level) and data, with the updates' documented semantics."""

    def __init__(self, t: Tree) -> None:
        self.kids: Dict[Optional[int], List[int]] = tree_children(t)
        self.data: Dict[int, Any] = {n: t.data(n) for n in t.preorder()}

    def parent_of(self, node: int) -> Optional[int]:
        return next(p for p, ks in self.kids.items() if node in ks)

    def subtree(self, node: int) -> List[int]:
        out, stack = [], [node]
        while stack:
            n = stack.pop()
            out.append(n)
            stack.extend(reversed(self.kids[n]))
        return out

    def preorder(self) -> List[int]:
        out: List[int] = []
        for r in self.kids[None]:
            out.extend(self.subtree(r))
        return out

    @staticmethod
    def place(siblings: List[int], node: int, index: int) -> None:
        siblings.insert(index if index >= 0 else len(siblings) + 1 + index, node)


def assert_matches(t: Tree, model: Model) -> None:
    t.check()
    assert tree_children(t) == model.kids
    assert {n: t.data(n) for n in t.preorder()} == model.data
    assert list(t.preorder()) == model.preorder()
    for name in range(3):
        assert t.find(name=name) == [n for n in model.preorder() if model.data[n].get("name") == name]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parent_tables(max_nodes=25), st.sampled_from(BLOCK_SIZES), st.data())
def test_bulk_built_tree_takes_updates(table: Dict[str, Any], block_size: int, data: Any) -> None:
    rows = [{"id": i, "parent": p, "name": len(str(d)) % 3} for i, p, _, d in table["rows"]]
    t0, _ = load_parent_table(rows, block_size=block_size, fields=("name",))
    before = [(n, o, t0.data(n) if o else None) for n, o in t0.events()]
    model = Model(t0)
    assert_matches(t0, model)
    t = t0
    serial = 0
    for _ in range(data.draw(st.integers(1, 12))):
        nodes = list(model.data)
        op = data.draw(st.sampled_from(["insert", "move", "delete", "set"] if nodes else ["insert"]))
        serial += 1
        if op == "insert":
            parent = data.draw(st.sampled_from([None, *nodes]))
            length = len(model.kids[parent])
            index = data.draw(st.integers(-(length + 1), length))
            value = {"name": serial % 3, "new": serial}
            t, node = t.insert_child(parent, value, index)
            assert node not in model.data
            Model.place(model.kids[parent], node, index)
            model.kids[node] = []
            model.data[node] = value
        elif op == "move":
            node = data.draw(st.sampled_from(nodes))
            inside = model.subtree(node)
            below = inside[1:]
            if below:  # moving a node into its own subtree is refused and changes nothing
                with pytest.raises(InvalidOperation):
                    t.move(node, data.draw(st.sampled_from(below)))
            parent = data.draw(st.sampled_from([None] + [n for n in nodes if n not in inside]))
            model.kids[model.parent_of(node)].remove(node)
            length = len(model.kids[parent])
            index = data.draw(st.integers(-(length + 1), length))
            t = t.move(node, parent, index)
            Model.place(model.kids[parent], node, index)
        elif op == "delete":
            node = data.draw(st.sampled_from(nodes))
            model.kids[model.parent_of(node)].remove(node)
            for gone in model.subtree(node):
                del model.kids[gone]
                del model.data[gone]
            t = t.delete(node)
        else:
            node = data.draw(st.sampled_from(nodes))
            value = {"name": (serial + 1) % 3, "set": serial}
            t = t.set_data(node, value)
            model.data[node] = value
        assert_matches(t, model)
    # The bulk-built snapshot is untouched by every update made from it.
    t0.check()
    assert [(n, o, t0.data(n) if o else None) for n, o in t0.events()] == before
    # And the updated tree converts back through a parent table to the same shape.
    rebuilt, mapping = load_parent_table(t.to_parent_table(), data="data", order="order", block_size=block_size)
    rebuilt.check()
    assert list(rebuilt.data_events()) == list(t.data_events())
    assert [mapping[n] for n in t.preorder()] == list(rebuilt.preorder())


def test_bulk_built_json_tree_takes_updates_and_converts_back() -> None:
    value = {"list": list(range(200)), "obj": {str(i): [i] for i in range(50)}}
    t0 = Tree.from_nested(value, block_size=4)
    expected = json.loads(json.dumps(value))
    root = next(t0.roots())
    key_list, key_obj = t0.children(root)
    (arr,) = t0.children(key_list)
    (obj,) = t0.children(key_obj)
    t = t0
    # Move every third item of the list to the front, in turn.
    items = list(t.children(arr))
    for item in items[::3]:
        t = t.move(item, arr, 0)
    moved = expected["list"][::3]
    expected["list"] = moved[::-1] + [v for i, v in enumerate(expected["list"]) if i % 3]
    # Delete half of the object's keys; append a new key with a fresh value.
    for key_node in list(t.children(obj))[::2]:
        t = t.delete(key_node)
    expected["obj"] = {k: v for i, (k, v) in enumerate(expected["obj"].items()) if i % 2}
    t, k = t.insert_child(obj, JsonNode("key", "new"))
    t, _ = t.insert_child(k, JsonNode("value", True))
    expected["obj"]["new"] = True
    t.check()
    assert same_json(t.to_nested(), expected)
    assert same_json(t0.to_nested(), value)
    t0.check()
    again = Tree.from_events(t.data_events(), block_size=6)
    again.check()
    assert same_json(again.to_nested(), expected)


def test_bulk_index_rejects_unhashable_values_before_building() -> None:
    rows = [{"id": 1, "name": "ok"}, {"id": 2, "name": ["unhashable"]}]
    with pytest.raises(TypeError):
        Tree.from_parent_table(rows, fields=("name",))
    t = Tree.from_parent_table(rows[:1], fields=("name",))
    assert t.find(name="ok") == [0]


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_bulk_built_tree_takes_a_transaction_of_many_updates(block_size: int) -> None:
    rnd = random.Random(1000 + block_size)
    parents = [rnd.randrange(-1, i) if rnd.random() < 0.8 else i - 1 for i in range(1500)]
    t0 = Tree.from_events(model_events(parents, [{"i": i} for i in range(1500)]), block_size=block_size)
    before = list(t0.data_events())
    model = Model(t0)
    with t0.transaction() as tx:
        for step in range(300):
            nodes = list(model.data)
            op = rnd.choice(["insert", "move", "move", "delete"])
            if op == "insert":
                parent = rnd.choice([None, *nodes])
                length = len(model.kids[parent])
                index = rnd.randint(-(length + 1), length)
                node = tx.insert_child(parent, {"step": step}, index)
                assert node not in model.data
                Model.place(model.kids[parent], node, index)
                model.kids[node] = []
                model.data[node] = {"step": step}
            elif op == "move":
                node = rnd.choice(nodes)
                inside = set(model.subtree(node))
                parent = rnd.choice([None] + [n for n in nodes if n not in inside])
                model.kids[model.parent_of(node)].remove(node)
                length = len(model.kids[parent])
                index = rnd.randint(-(length + 1), length)
                tx.move(node, parent, index)
                Model.place(model.kids[parent], node, index)
            else:
                node = rnd.choice(nodes)
                model.kids[model.parent_of(node)].remove(node)
                for gone in model.subtree(node):
                    del model.kids[gone]
                    del model.data[gone]
                tx.delete(node)
            if step % 50 == 0:
                assert list(tx.roots()) == model.kids[None]
    assert tx.tree is not None
    t = tx.tree
    t.check()
    assert tree_children(t) == model.kids
    assert {n: t.data(n) for n in t.preorder()} == model.data
    t0.check()
    assert list(t0.data_events()) == before


# -- to_json / to_nested agree with json.dumps, or refuse --------------------------------------


def test_to_json_of_a_deep_tree() -> None:
    value: Any = []
    for _ in range(100_000):
        value = [value]
    tree = Tree.from_nested(value)
    assert tree.to_json().startswith("[[[")


def test_to_nested_rejects_duplicate_keys() -> None:
    t = Tree.from_nested({"a": [1, 2], "b": 3})
    obj = next(iter(t.roots()))
    t, key = t.insert_child(obj, JsonNode("key", "a"))
    t, _ = t.insert_child(key, JsonNode("value", 5))
    with pytest.raises(InvalidOperation):
        t.to_nested()  # returns {'a': 5, 'b': 3}: the first 'a' member is lost


def test_to_nested_unknown_kind_is_invalid_operation() -> None:
    t = Tree.from_nested({"a": [1]})
    array = t.child(t.child(t.child(None, 0), 0), 0)  # object -> key 'a' -> array
    t, _ = t.insert_child(array, JsonNode("bogus", 7), 0)
    with pytest.raises(InvalidOperation):
        t.to_nested()


def test_to_json_writes_what_json_dumps_writes() -> None:
    import json
    import random

    rnd = random.Random(5)
    for _ in range(200):
        value = _random_json(rnd, 4)
        tree = Tree.from_nested(value)
        for indent in (None, 0, 2):
            assert tree.to_json(indent=indent) == json.dumps(value, indent=indent)
    assert Tree.from_nested({"a": [1]}).to_json(sort_keys=True) == json.dumps({"a": [1]}, sort_keys=True)


def _random_json(rnd: Any, depth: int) -> Any:
    r = rnd.random()
    if depth == 0 or r < 0.3:
        return rnd.choice([None, True, False, 0, -7, 2.5, "", "x", "é\n\"q\"", 10**20])
    if r < 0.65:
        return [_random_json(rnd, depth - 1) for _ in range(rnd.randint(0, 4))]
    keys = [rnd.choice(["a", "b", "1", "", "ü"]) + str(i) for i in range(rnd.randint(0, 4))]
    return {key: _random_json(rnd, depth - 1) for key in keys}


def test_to_json_accepts_a_str_indent_like_json_dumps() -> None:
    value = {"a": [1, {"b": None}]}
    t = Tree.from_nested(value)
    assert t.to_json(indent="\t") == json.dumps(value, indent="\t")  # type: ignore[arg-type]


def test_to_json_of_a_value_node_holding_a_container_matches_json_dumps() -> None:
    t, arr = Tree().insert_child(None, JsonNode("array"))
    t, _ = t.insert_child(arr, JsonNode("value", [1, 2]))
    with pytest.raises(InvalidOperation, match="non-scalar"):
        t.to_nested()
    with pytest.raises(InvalidOperation):
        t.to_json(indent=2)


# -- from_events and parent tables: bad arguments, sibling order -------------------------------


def test_from_events_with_a_non_number_fill() -> None:
    with pytest.raises(InvalidArgument):
        Tree.from_events([("a", True), (None, False)], fill="x")  # type: ignore[arg-type]


def test_parent_table_order_compares_only_siblings() -> None:
    rows = [
        {"id": "a", "parent": None, "o": 1},
        {"id": "b", "parent": None, "o": 2},
        {"id": "c", "parent": "a", "o": "y"},
        {"id": "d", "parent": "a", "o": "x"},
    ]
    t = Tree.from_parent_table(rows, order="o", data="id")  # only siblings' order values are compared
    top = list(t.roots())
    assert [t.data(n) for n in top] == ["a", "b"]
    assert [t.data(n) for n in t.children(top[0])] == ["d", "c"]
