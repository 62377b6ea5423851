"""Red-team regression tests: each one reproduces a bug found by review and fuzzing, now fixed."""

from __future__ import annotations

from typing import Any, List

import pytest

from botree import Database, JsonNode, Tree
from botree.errors import InvalidArgument, InvalidOperation, NodeNotFound


def test_changes_agree_with_diff_when_a_deleted_id_is_reused() -> None:
    db = Database()
    with db.transaction() as tx:
        p = tx.insert_child(None, "p")
        a = tx.insert_child(p, "a")
        tx.insert_child(p, "b")
        tx.insert_child(p, "c")
    with db.transaction() as tx:
        tx.delete(a)
        assert tx.insert_child(p, "a2") != a  # a Database never reuses the freed id (issue 12)
    assert db.changes(1, 2) == db.as_of(1).diff(db.as_of(2))


def test_subscriber_with_keep_1_sees_the_commit_and_commit_does_not_raise() -> None:
    db = Database(keep=1)
    seen: List[int] = []
    db.subscribe(lambda version, changes: seen.append(version))
    with db.transaction() as tx:  # raises VersionNotFound although version 1 was published
        tx.insert_child(None, "x")
    assert db.version == 1 and seen == [1]


def test_subscribers_are_called_after_every_commit() -> None:
    db = Database()
    seen: List[int] = []
    db.subscribe(lambda version, changes: seen.append(version))
    with db.transaction():
        pass
    assert db.version == 1 and seen == [1]


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


def test_compare_with_a_bool_id_is_rejected() -> None:
    t, a = Tree().insert_child(None, "a")
    assert a == 0
    with pytest.raises((NodeNotFound, InvalidArgument)):
        t.compare(a, False)  # compare(False, a) raises NodeNotFound


def test_move_inner_with_a_bool_parent_is_rejected_as_unknown() -> None:
    t, a = Tree().insert_child(None, "a")
    with pytest.raises((NodeNotFound, InvalidArgument)):
        t.move_inner(a, False)


def test_find_with_an_unhashable_value() -> None:
    t, _ = Tree(fields=("name",)).insert_child(None, {"name": "x"})
    with pytest.raises(InvalidArgument):
        t.find(name=["x"])


def test_from_events_with_a_non_number_fill() -> None:
    with pytest.raises(InvalidArgument):
        Tree.from_events([("a", True), (None, False)], fill="x")  # type: ignore[arg-type]


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
