"""Issue 12, item 6: every bad input raises the library's typed errors and changes nothing."""

from __future__ import annotations

import math
from typing import Any, Callable

import pytest

from botree import Database, Tree
from botree.errors import BotreeError, InvalidArgument, InvalidOperation
from botree.tree.cursor import Cursor

EVENTS = [("a", True), (None, False)]

BAD_TREE_INPUTS: list[tuple[str, Callable[[], Any]]] = [
    ("diff(None)", lambda: Tree().diff(None)),  # type: ignore[arg-type]
    ("render(max_lines='10')", lambda: Tree().render(max_lines="10")),  # type: ignore[arg-type]
    ("render(max_lines=-1)", lambda: Tree().render(max_lines=-1)),
    ("Tree(fields=None)", lambda: Tree(fields=None)),  # type: ignore[arg-type]
    ("Tree(fields=5)", lambda: Tree(fields=5)),  # type: ignore[arg-type]
    ("Tree(fields='name')", lambda: Tree(fields="name")),
    ("Database(fields=3)", lambda: Database(fields=3)),
    ("Database(key=3)", lambda: Database(key=3)),
    ("Tree(key=b'id')", lambda: Tree(key=b"id")),
    ("from_events fields='name'", lambda: Tree.from_events(EVENTS, fields="name")),
    ("from_events fields=(1,)", lambda: Tree.from_events(EVENTS, fields=(1,))),  # type: ignore[arg-type]
    ("from_nested fields='name'", lambda: Tree.from_nested({"a": 1}, fields="name")),
    ("from_nested fields=(1,)", lambda: Tree.from_nested({"a": 1}, fields=(1,))),  # type: ignore[arg-type]
    ("from_parent_table fields='name'", lambda: Tree.from_parent_table([{"id": 1}], fields="name")),
    ("from_parent_table fields=(1,)", lambda: Tree.from_parent_table([{"id": 1}], fields=(1,))),  # type: ignore
    ("from_events([1, 2])", lambda: Tree.from_events([1, 2])),  # type: ignore[list-item]
    ("from_events([('a',)])", lambda: Tree.from_events([("a",)])),  # type: ignore[list-item]
    ("from_events(5)", lambda: Tree.from_events(5)),  # type: ignore[arg-type]
    ("from_parent_table(5)", lambda: Tree.from_parent_table(5)),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("label,call", BAD_TREE_INPUTS, ids=[label for label, _ in BAD_TREE_INPUTS])
def test_bad_tree_inputs_raise_invalid_argument(label: str, call: Callable[[], Any]) -> None:
    with pytest.raises(InvalidArgument):
        call()


def test_from_json_and_load_parent_table_check_fields(tmp_path: Any) -> None:
    from botree.tree.tree import load_parent_table

    path = tmp_path / "doc.json"
    path.write_text('{"a": 1}')
    for fields in ("name", (1,)):
        with pytest.raises(InvalidArgument):
            Tree.from_json(str(path), fields=fields)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgument):
            load_parent_table([{"id": 1}], fields=fields)  # type: ignore[arg-type]


def test_nan_in_an_indexed_field_is_typed_and_changes_nothing() -> None:
    tree, node = Tree(fields=("name",)).insert_child(None, {"name": "x"})
    with pytest.raises(InvalidOperation, match="name"):
        tree.insert_child(None, {"name": math.nan})
    with pytest.raises(InvalidOperation):
        tree.set_data(node, {"name": math.nan})
    with pytest.raises(InvalidArgument):
        tree.insert_child(None, {"name": []})  # unhashable
    db = Database(tree, fields=("name",))
    with pytest.raises(InvalidOperation):
        with db.transaction() as tx:
            tx.set_data(node, {"name": math.nan})
    assert db.version == 0 and db.tree.find(name="x") == [node]


@pytest.mark.parametrize(
    "call",
    [
        lambda db: db.transaction(meta=5),
        lambda db: db.transaction(meta="ab"),
        lambda db: db.transaction(meta={1: "x"}),
        lambda db: db.transaction(message=12345),
        lambda db: db.transaction(message="a\x00b"),
        lambda db: db.transact(5),
        lambda db: db.transact(lambda tx: tx.insert_child(None, 1), meta=5),
        lambda db: db.replace(Tree(), message=5),
        lambda db: db.replace(Tree(), meta="ab"),
    ],
)
def test_bad_database_inputs_change_nothing(call: Callable[[Database], Any]) -> None:
    db = Database()
    with db.transaction() as tx:
        tx.insert_child(None, "x")
    before = db.snapshot()
    with pytest.raises(InvalidArgument):
        call(db)
    assert db.snapshot() == before and len(db.history()) == 2


def test_repr_of_a_detached_cursor_does_not_raise() -> None:
    tree, node = Tree().insert_child(None, "x")
    assert "level" in repr(tree.cursor(node))
    detached = Cursor(Tree(), node, True)
    assert "detached" in repr(detached)
    with pytest.raises(BotreeError):
        _ = detached.level


def test_an_indexed_field_named_twice_is_refused() -> None:
    from botree import Database, Tree
    from botree.errors import InvalidArgument

    for make in (lambda: Tree(fields=("x", "x")), lambda: Database(fields=("x", "y", "x")),
                 lambda: Tree.from_events([], fields=["x", "x"])):
        with pytest.raises(InvalidArgument, match="must differ"):
            make()
