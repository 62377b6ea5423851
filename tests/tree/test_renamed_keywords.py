"""index= (botree 0.1's name for the indexed fields) still works, with a DeprecationWarning."""

from __future__ import annotations

import os
from typing import Any

import pytest

from botree import Database, Tree, load_parent_table
from botree.errors import InvalidArgument


def test_the_old_keyword_builds_the_same_indexed_tree(tmp_path: Any) -> None:
    with pytest.warns(DeprecationWarning, match="fields="):
        t = Tree(index=("name",))
    t, a = t.insert_child(None, {"name": "a"})
    assert t.find(name="a") == [a] and t.order_index.nodes.fields == ("name",)
    events = [({"name": "x"}, True), (None, False)]
    for build in (
        lambda: Tree.from_events(events, index=("name",)),
        lambda: Tree.from_nested({"name": "x"}, index=("kind",)),
        lambda: Tree.from_parent_table([{"id": 1, "parent": None, "name": "x"}], index=("name",)),
        lambda: load_parent_table([{"id": 1, "parent": None, "name": "x"}], index=("name",))[0],
    ):
        with pytest.warns(DeprecationWarning):
            assert build().order_index.nodes.fields in (("name",), ("kind",))
    path = os.path.join(str(tmp_path), "t.db")
    with pytest.warns(DeprecationWarning):
        db = Database(path, index=("name",))
    with db:
        assert db.tree.order_index.nodes.fields == ("name",)


def test_bad_values_under_the_old_name_are_typed_errors() -> None:
    for bad in (None, 5, "name", (1,)):
        with pytest.warns(DeprecationWarning), pytest.raises(InvalidArgument):
            Tree(index=bad)
    with pytest.warns(DeprecationWarning), pytest.raises(InvalidArgument):
        Database(index=5)
    with pytest.raises(InvalidArgument, match="old name"):
        Tree(index=("a",), fields=("a",))


def test_descendants_takes_max_distance_as_the_old_name_of_max_depth() -> None:
    t = Tree.from_parent_table([{"id": i, "parent": i - 1 if i else None} for i in range(6)])
    top = next(t.roots())
    with pytest.warns(DeprecationWarning, match="max_depth"):
        old = list(t.descendants(top, max_distance=2))
    assert old == list(t.descendants(top, max_depth=2)) and len(old) == 2
