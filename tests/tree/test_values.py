"""Issue 12, item 2 (in memory): one value policy; the in-memory Database refuses what storage refuses."""

from __future__ import annotations

import array
import enum
import math
from typing import Any, List, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botree import Database, JsonNode, Tree
from botree.errors import InvalidArgument
from botree.tree.values import MAX_DEPTH, check_message, check_meta, check_value


class Colour(enum.IntEnum):
    RED = 1


class Name(str):
    pass


class FakeScalar:
    """Like a numpy scalar: it has ``.item()``."""

    def item(self) -> int:
        return 1


hashable_ok = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5) | st.binary(max_size=5),
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
    max_leaves=6,
)
accepted = st.recursive(
    hashable_ok | st.builds(JsonNode, st.sampled_from(["key", "value"]), hashable_ok),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(hashable_ok, inner, max_size=3)
        | st.sets(hashable_ok, max_size=3)
        | st.frozensets(hashable_ok, max_size=3)
    ),
    max_leaves=12,
)
rejected_leaf = st.sampled_from(
    [
        bytearray(b"ab"),
        memoryview(b"ab"),
        array.array("i", [1, 2]),
        Colour.RED,
        Name("x"),
        FakeScalar(),
        object(),
        1j,
    ]
)
# A value with one refused part somewhere inside.
rejected = st.recursive(
    rejected_leaf,
    lambda inner: (
        st.lists(inner, min_size=1, max_size=3)
        | st.tuples(accepted, inner)
        | st.dictionaries(st.text(max_size=3), inner, min_size=1, max_size=2)
        | st.builds(JsonNode, st.just("value"), inner)
    ),
    max_leaves=6,
)


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


@settings(max_examples=300, deadline=None)
@given(accepted)
def test_accepted_values_pass_and_are_committed_exactly(value: Any) -> None:
    check_value(value, "data")
    db = Database()
    with db.transaction(meta={"v": value}) as tx:
        node = tx.insert_child(None, value)
    # Equal in type and value; a copy unless immutable all through (the database owns what it holds).
    assert same(db.tree.data(node), value) and same(db.history()[-1].meta["v"], value)


@settings(max_examples=300, deadline=None)
@given(rejected)
def test_rejected_values_name_a_path_and_leave_the_database_unchanged(value: Any) -> None:
    with pytest.raises(InvalidArgument, match=r"^data"):
        check_value(value, "data")
    db = Database()
    with db.transaction() as tx:
        a = tx.insert_child(None, "a")
    before = db.snapshot()
    tx = db.transaction()
    with pytest.raises(InvalidArgument):
        tx.insert_child(a, value)
    with pytest.raises(InvalidArgument):
        tx.set_data(a, value)
    assert tx.data(a) == "a" and len(tx) == 1 and tx.ops == []  # the refused updates left no trace
    tx.commit()
    with pytest.raises(InvalidArgument):
        db.transaction(meta={"k": value})
    with pytest.raises(InvalidArgument):
        db.replace(Tree().insert_child(None, value)[0])
    with pytest.raises(InvalidArgument):
        Database(Tree().insert_child(None, value)[0])
    assert db.version == before[0] + 1 and db.tree == before[1]  # the empty commit only


def test_paths_types_and_hints() -> None:
    with pytest.raises(InvalidArgument, match=r"data\['tags'\]\[2\] is a bytearray.*bytes\(\)"):
        check_value({"tags": ["a", "b", bytearray(b"c")]}, "data")
    with pytest.raises(InvalidArgument, match=r"\.item\(\)"):
        check_value([FakeScalar()], "data")
    with pytest.raises(InvalidArgument, match="Colour"):
        check_value((Colour.RED,), "data")
    with pytest.raises(InvalidArgument, match="subclasses"):
        check_value({"n": Name("x")}, "data")
    with pytest.raises(InvalidArgument, match=r"\.value"):
        check_value(JsonNode("value", memoryview(b"")), "data")


def test_cycles_are_refused_and_shared_parts_accepted() -> None:
    loop: list = [1]
    loop.append(loop)
    with pytest.raises(InvalidArgument, match="cycle"):
        check_value({"x": loop}, "data")
    shared = [1, 2]
    check_value([shared, shared, (shared,)], "data")


def nested(kind: Any, depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = kind([value])
    return value


@pytest.mark.parametrize("kind", [list, tuple, frozenset])
def test_nesting_up_to_the_limit_is_accepted_and_deeper_refused_without_recursion(kind: Any) -> None:
    check_value(nested(kind, MAX_DEPTH), "data")
    with pytest.raises(InvalidArgument, match=f"nested {MAX_DEPTH + 1} containers deep"):
        check_value(nested(kind, MAX_DEPTH + 1), "data")
    with pytest.raises(InvalidArgument, match="deep"):  # walked without recursion
        check_value(nested(kind, 100_000), "data")


def test_a_shared_part_met_again_deeper_is_checked_again() -> None:
    shared = nested(list, MAX_DEPTH - 10)
    check_value([shared], "data")
    deep_path: Any = shared
    for _ in range(20):
        deep_path = [deep_path]
    with pytest.raises(InvalidArgument, match="deep"):  # first met shallow, then 20 levels deeper
        check_value([shared, deep_path], "data")


def test_in_memory_database_refuses_what_storage_cannot_nest() -> None:
    db = Database()
    for kind in (list, tuple, dict):
        value = {"a": nested(list, MAX_DEPTH)} if kind is dict else nested(kind, MAX_DEPTH + 1)
        with pytest.raises(InvalidArgument, match="deep"):
            with db.transaction() as tx:
                tx.insert_child(None, value)
    assert db.version == 0


def test_messages_and_meta() -> None:
    check_message(None)
    check_message("héllo")
    for bad in (12345, b"x", "a\x00b", "\ud800", Name("x")):
        with pytest.raises(InvalidArgument):
            check_message(bad)  # type: ignore[arg-type]
    assert check_meta(None) == {} and check_meta({"a": (1, 2)}) == {"a": (1, 2)}
    for bad in (5, "ab", {1: 2}, {"a": object()}):
        with pytest.raises(InvalidArgument):
            check_meta(bad)  # type: ignore[arg-type]


def test_plain_trees_stay_unrestricted() -> None:
    tree, node = Tree().insert_child(None, bytearray(b"x"))
    assert tree.data(node) == bytearray(b"x")


def test_stored_database_refuses_the_same_values(target: str) -> None:
    db = Database(target)
    try:
        for value in (bytearray(b"ab"), array.array("i", [1]), Colour.RED, Name("x"), FakeScalar()):
            with pytest.raises(InvalidArgument):
                with db.transaction() as tx:
                    tx.insert_child(None, {"v": [value]})
        with pytest.raises(InvalidArgument):
            db.transaction(message=12345)
        assert db.version == 0
    finally:
        db.close()


def test_a_tree_holding_an_integer_too_long_for_decimal_text_still_renders() -> None:
    huge = -(10**5000)
    tree = Tree.from_nested({"n": huge, "list": [huge, "x"]})
    assert hex(huge) in tree.render() and hex(huge) in repr(tree)
    with tree.transaction() as tx:
        tx.insert_child(None, {"z": huge, "a": (1,)})
    assert f"{{'z': {hex(huge)}, 'a': (1,)}}" in tx.tree.render()  # keys keep their order
