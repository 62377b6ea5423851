"""Red-team regression tests (second round): each reproduces a bug found by review and fuzzing."""

from __future__ import annotations

import json

import pytest

from botree import JsonNode, Tree
from botree.errors import InvalidOperation


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
