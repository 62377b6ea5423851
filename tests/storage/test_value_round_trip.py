"""The value policy on disk: every accepted value comes back equal in type and value, in every backend."""

from __future__ import annotations

import math
import os
import tempfile
from typing import Any, List, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botree import Database, JsonNode
from botree.errors import InvalidArgument
from botree.nodetable import Row
from botree.storage.codec import encode_leaf, pack, unpack
from botree.tree.values import check_value
from tests.conftest import pg_schema_url
from tests.tree.test_values import accepted, rejected


def same(a: Any, b: Any) -> bool:
    """Equal in type and value all the way down (NaN equals NaN); iterative but for set members."""
    todo: List[Tuple[Any, Any]] = [(a, b)]
    while todo:
        x, y = todo.pop()
        if type(x) is not type(y):
            return False
        if type(x) is float:
            if not (x == y or (math.isnan(x) and math.isnan(y))) or math.copysign(1, x) != math.copysign(1, y):
                return False
        elif type(x) in (list, tuple):
            if len(x) != len(y):
                return False
            todo.extend(zip(x, y))
        elif type(x) is dict:  # same keys and values in the same order (NaN keys included)
            if len(x) != len(y):
                return False
            for (k1, v1), (k2, v2) in zip(x.items(), y.items()):
                todo.extend(((k1, k2), (v1, v2)))
        elif type(x) is JsonNode:
            if x.kind != y.kind:
                return False
            todo.append((x.value, y.value))
        elif type(x) in (set, frozenset):  # match members one to one (NaN members are not equal to themselves)
            if len(x) != len(y):
                return False
            rest = list(y)
            for member in x:
                match = next((i for i, other in enumerate(rest) if same(member, other)), None)
                if match is None:
                    return False
                rest.pop(match)
        elif x != y:
            return False
    return True


@settings(max_examples=400, deadline=None)
@given(accepted)
def test_the_codec_gives_back_every_accepted_value_exactly(value: Any) -> None:
    assert same(unpack(pack(value)), value)


@settings(max_examples=200, deadline=None)
@given(rejected)
def test_the_policy_and_the_codec_refuse_the_same_values(value: Any) -> None:
    with pytest.raises(InvalidArgument):
        check_value(value, "data")
    with pytest.raises(InvalidArgument):  # the codec checks again before it writes a leaf
        encode_leaf("nodes", [Row(0, 0, 0, 0, value, None)])


def test_edge_values_round_trip() -> None:
    for value in (2**63 - 1, -(2**63), 2**64, -(2**64) - 1, 10**40, -(10**40), 0.0, -0.0, float("inf"),
                  float("nan"), "\ud800 lone surrogate", b"", (), frozenset(), {(1, 2): {3}}, [[[[]]]],
                  JsonNode("value", 1.5), {1: "int key", "1": "str key", None: "none"}):
        assert same(unpack(pack(value)), value), value


def _round_trip_after_reopen(target: str, values: List[Any]) -> None:
    with Database(target) as db:
        with db.transaction(message="values", meta={"all": values}) as tx:
            ids = [tx.insert_child(None, v) for v in values]
    with Database(target) as db:  # a new object: everything is read from storage
        tree = db.tree
        for node, value in zip(ids, values):
            assert same(tree.data(node), value)
        assert same(db.history()[-1].meta["all"], values)
        db.verify()


@settings(max_examples=40, deadline=None)
@given(st.lists(accepted, min_size=1, max_size=8))
def test_sqlite_gives_back_every_accepted_value_after_reopening(values: List[Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _round_trip_after_reopen(os.path.join(tmp, "v.db"), values)


@settings(max_examples=10, deadline=None)
@given(st.lists(accepted, min_size=1, max_size=8))
def test_postgres_gives_back_every_accepted_value_after_reopening(values: List[Any]) -> None:
    for url in pg_schema_url():
        _round_trip_after_reopen(url, values)
