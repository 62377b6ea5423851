"""The value policy on disk: every accepted value comes back equal in type and value, in every backend."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from typing import Any, List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botree import Database, JsonNode
from botree.errors import InvalidArgument
from botree.nodetable import Row
from botree.storage.codec import encode_leaf, pack, unpack
from botree.tree.values import MAX_DEPTH, check_value
from tests.conftest import pg_schema_url
from tests.tree.test_values import accepted, rejected, same


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


def _in_child(code: str) -> "subprocess.CompletedProcess[str]":
    """Run ``code`` in a fresh interpreter: a C stack overflow must not take the test run down."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_tuples_nested_to_the_limit_read_back_in_a_new_process(tmp_path: Any) -> None:
    # 200 nested tuples used to be written fine and then crash every reader (SIGSEGV):
    # each extension value is decoded by a nested decoder call with a large C frame.
    path = os.path.join(str(tmp_path), "deep.db")
    value: Any = "leaf"
    for i in range(MAX_DEPTH):
        value = (value,) if i % 2 else frozenset([value])
    with Database(path) as db:
        with db.transaction() as tx:
            node = tx.insert_child(None, value)
        with pytest.raises(InvalidArgument, match="deep"):
            with db.transaction() as tx:
                tx.insert_child(None, ((value,),))
        assert db.version == 1
    done = _in_child(
        "from botree import Database\n"
        f"db = Database({path!r}); v = db.tree.data({node})\n"
        "n = 0\n"
        "while type(v) in (tuple, frozenset): v = next(iter(v)); n += 1\n"
        "print(n, v)\n"
    )
    assert (done.returncode, done.stdout.strip()) == (0, f"{MAX_DEPTH} leaf"), done.stderr[-500:]


def test_a_payload_nesting_extension_values_too_deep_is_corrupt_not_a_crash() -> None:
    done = _in_child(
        "import msgpack\n"
        "from botree.errors import CorruptDatabase\n"
        "from botree.storage.codec import decode_meta\n"
        "inner = msgpack.packb('leaf')\n"
        "for _ in range(5000): inner = msgpack.packb([msgpack.ExtType(1, inner)])\n"
        "try:\n"
        "    decode_meta(msgpack.packb({'x': msgpack.ExtType(1, inner)}), 'crafted')\n"
        "except CorruptDatabase as exc:\n"
        "    print('CorruptDatabase', 'nested' in str(exc))\n"
    )
    assert (done.returncode, done.stdout.strip()) == (0, "CorruptDatabase True"), done.stderr[-500:]
