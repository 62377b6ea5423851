"""A database owns its values: what a caller gave or read can be mutated without changing any version.

Values are copied on the way in (``botree.tree.values.owned``) and handed out as copies
(``copy_out``): mutating a dict passed to ``insert_child``, or one read with ``data``,
``as_of``, ``history``, a cursor, an export or a ``find`` predicate, changes no version
in memory, in the log a rebase or ``replay`` reads, or in storage.  Immutable values
are not copied.  Plain trees keep handing out what they hold.  In memory, SQLite and
PostgreSQL alike.
"""

from __future__ import annotations

import copy
import os
from typing import Any, Iterator, List, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botree import Database, JsonNode, Tree
from botree.tree.values import copy_out, owned
from tests.conftest import pg_schema_url
from tests.tree.test_values import accepted, same

# -- where the database lives ---------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def place(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[Optional[str]]:
    """None (in memory), an SQLite file or a PostgreSQL URL."""
    if request.param == "memory":
        yield None
    elif request.param == "sqlite":
        yield os.path.join(str(tmp_path), "owned.db")
    else:
        yield from pg_schema_url()


def opened(place: Optional[str]) -> Database:
    return Database() if place is None else Database(place)


def reread(db: Database, place: Optional[str], node: int, version: Optional[int] = None) -> List[Any]:
    """Every independent reading of ``node``: the head (or ``version``), a replay of the log and,
    stored, a fresh handle."""
    tree = db.tree if version is None else db.as_of(version)
    out = [tree.data(node)]
    if version is None:
        out.append(db.replay().data(node))
    if place is not None:
        with Database(place) as fresh:
            out.append((fresh.tree if version is None else fresh.as_of(version)).data(node))
            fresh.verify()
    return out


def mutate(value: Any) -> int:
    """Change every mutable part of ``value`` in place (iteratively); how many were changed."""
    changed = 0
    todo = [value]
    seen = set()
    while todo:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        kind = type(item)
        if kind is dict:
            todo.extend(item.values())
            todo.extend(item)
            item["mutated"] = True
        elif kind is list:
            todo.extend(item)
            item.append("mutated")
        elif kind is set:
            todo.extend(item)
            item.add("mutated")
        elif kind is JsonNode:
            todo.append(item.value)
            item.value, item.kind = "mutated", "value"
        elif kind in (tuple, frozenset):
            todo.extend(item)
            continue
        else:
            continue
        changed += 1
    return changed


NESTED = {"name": "a", "tags": ["x", "y"], "more": {"deep": [1, {2, 3}]}, "pair": (1, [2]), "j": JsonNode("value", 1)}


# -- on the way in ------------------------------------------------------------------------------


def test_a_value_given_and_mutated_afterwards_changes_no_version(place: Optional[str]) -> None:
    with opened(place) as db:
        given_values = [copy.deepcopy(NESTED) for _ in range(6)]
        with db.transaction(meta={"who": ["ann"]}) as tx:
            a = tx.insert_child(None, given_values[0])
            b = tx.insert_root(given_values[1])
            c = tx.insert_before(a, given_values[2])
            d = tx.insert_after(a, given_values[3])
            p = tx.insert_parent(c, given_values[4])
        with db.transaction() as tx:
            tx.set_data(b, given_values[5])
        for value in given_values:
            assert mutate(value) > 0
        version = db.version
        with db.transaction() as tx:  # a commit that re-encodes their leaf
            tx.insert_child(None, {"other": 1})
        for node in (a, b, c, d, p):
            for read in reread(db, place, node) + reread(db, place, node, version):
                assert same(read, NESTED)
        assert db.history()[1].meta["who"] == ["ann"]


def test_a_subtree_given_as_events_or_grafted_is_copied(place: Optional[str]) -> None:
    events = [(copy.deepcopy(NESTED), True), ({"k": [1]}, True), (None, False), (None, False)]
    source = Tree().insert_child(None, {"s": [1]})[0]
    (top,) = source.roots()
    with opened(place) as db:
        with db.transaction() as tx:
            first = tx.insert_subtree(None, events)
            grafted = tx.graft(source, top, None)
        mutate(events)
        mutate(source.data(top))  # a plain tree hands out what it holds: its own value changes
        assert source.data(top) != {"s": [1]}
        child = next(iter(db.tree.children(first)))
        for read in reread(db, place, first):
            assert same(read, NESTED)
        for read in reread(db, place, child):
            assert read == {"k": [1]}
        for read in reread(db, place, grafted):
            assert read == {"s": [1]}


def test_a_tree_a_database_starts_from_or_replaces_with_stays_the_callers() -> None:
    tree, a = Tree().insert_child(None, {"x": [1]})
    db = Database(tree)
    tree.data(a)["x"].append(2)  # the caller's plain tree: its data is its own
    assert tree.data(a) == {"x": [1, 2]} and db.tree.data(a) == {"x": [1]}
    version = db.replace(tree)
    tree.data(a)["x"].append(3)
    assert db.as_of(0).data(a) == {"x": [1]} and db.as_of(version).data(a) == {"x": [1, 2]}
    db.tree.data(a)["x"].append(4)
    assert tree.data(a) == {"x": [1, 2, 3]}  # and the database's reads never reach the caller's tree


def test_a_tree_derived_from_a_databases_tree_is_copied_when_it_comes_back() -> None:
    db = Database()
    with db.transaction() as tx:
        a = tx.insert_child(None, {"x": [1]})
    mine = {"x": [2]}
    derived = db.tree.set_data(a, mine)  # a plain update of the database's tree: holds the caller's value
    db.replace(derived)
    mine["x"].append(3)
    assert db.tree.data(a) == {"x": [2]}


def test_a_stored_database_replaced_with_a_tree_keeps_its_own_copy(target: str) -> None:
    tree, a = Tree().insert_child(None, {"x": [1]})
    with Database(target) as db:
        db.replace(tree, block_size=16)  # rebuilt for another block size: still the database's
        tree.data(a)["x"].append(2)
        (node,) = db.tree.roots()
        db.tree.data(node)["x"].append(3)
        with db.transaction() as tx:
            tx.insert_child(None, {})
        assert db.tree.data(node) == {"x": [1]}
    with Database(target) as db:
        assert db.tree.data(node) == {"x": [1]}


# -- on the way out ----------------------------------------------------------------------------


def test_a_value_read_and_mutated_changes_no_version(place: Optional[str]) -> None:
    with opened(place) as db:
        with db.transaction(meta={"m": {"k": [1]}}) as tx:
            a = tx.insert_child(None, copy.deepcopy(NESTED))
            b = tx.insert_child(a, {"y": [1]})
        first = db.version
        with db.transaction() as tx:
            tx.set_data(b, {"y": [2]})
        tree = db.tree
        reads: List[Any] = [
            tree.data(a),
            db.as_of(first).data(a),
            tree.cursor(a).data,
            next(iter(tree.data_events(a)))[0],
            tree.to_records(a),
            db.as_of(first).order_index.nodes.data(a),
        ]
        seen: List[Any] = []
        tree.find(where=lambda d: seen.append(d) or True)  # a predicate sees copies too
        reads.extend(seen)
        events = db.node_history(b)
        reads.extend(e.new for e in events if e.kind == "data")
        reads.extend(e.old for e in events if e.kind == "data")
        history = db.history()
        reads.append(history[1].meta["m"])
        reads.extend(args for commit in history for _, args, _ in commit.ops or ())
        with db.transaction() as tx:  # a transaction's own reads
            reads.append(tx.data(a))
            tx.set_data(b, {"y": [3]})
            reads.append(tx.data(b))
        for value in reads:
            mutate(value)
        with db.transaction() as tx:  # a commit that re-encodes their leaf
            tx.insert_child(None, {})
        for read in reread(db, place, a) + reread(db, place, a, first):
            assert same(read, NESTED)
        assert reread(db, place, b, first)[0] == {"y": [1]}
        assert all(read == {"y": [3]} for read in reread(db, place, b))
        history = db.history()
        assert dict(history[1].meta) == {"m": {"k": [1]}}
        assert history[2].ops == (("set_data", (b, {"y": [2]}), None),)
        assert db.changes(first, db.version).data_changed == [b]


def test_immutable_values_are_shared_not_copied() -> None:
    db = Database()
    values = ["text", 7, (1, ("x", b"y")), frozenset({1, (2, 3)}), None]
    with db.transaction() as tx:
        nodes = [tx.insert_child(None, value) for value in values]
    for node, value in zip(nodes, values):
        assert db.tree.data(node) is db.tree.data(node) == value
    assert db.tree.data(nodes[2]) is values[2]  # a tuple given in is the one stored and read back
    mutable = {"a": [1]}
    with db.transaction() as tx:
        node = tx.insert_child(None, mutable)
    assert db.tree.data(node) is not db.tree.data(node)


def test_plain_trees_hand_out_what_they_hold() -> None:
    value = {"a": [1]}
    tree, a = Tree().insert_child(None, value)
    assert tree.data(a) is value and next(iter(tree.data_events(a)))[0] is value
    assert tree.order_index.nodes.copy_out is None


def test_a_branch_and_a_merge_hand_out_copies() -> None:
    db = Database()
    with db.transaction() as tx:
        a = tx.insert_child(None, {"x": [1]})
    side = db.branch("side")
    with side.transaction() as tx:
        tx.set_data(a, {"x": [2]})
    side.tree.data(a)["x"].append(9)
    db.merge("side")
    db.tree.data(a)["x"].append(9)
    assert side.tree.data(a) == db.tree.data(a) == {"x": [2]}


# -- the copies themselves ------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(accepted)
def test_copy_out_and_owned_share_no_mutable_part(value: Any) -> None:
    original = copy.deepcopy(value)
    for copied in (copy_out(value), owned(value, "data")):
        assert same(copied, value)
        mutate(copied)
        assert same(value, original)


def test_copies_keep_sharing_and_need_no_recursion() -> None:
    part = [1]
    copied = copy_out([part, part])
    assert copied == [[1], [1]] and copied[0] is not part and copied[1] is not part
    deep: Any = "leaf"
    for _ in range(100):  # MAX_DEPTH containers
        deep = [deep]
    assert copy_out(deep) == deep and owned(deep, "data") == deep
    doubling: Any = [1]
    for _ in range(60):  # 2^60 paths, 61 parts: each part copied once
        doubling = [doubling, doubling]
    copied = copy_out(doubling)
    assert copied[0] is copied[1] and owned(doubling, "data")[0] is not doubling[0]


# -- random values, mutated at random after writing and reading ------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=accepted, read_back=st.booleans())
def test_mutating_what_was_written_or_read_never_changes_a_reopened_database(
    place: Optional[str], value: Any, read_back: bool
) -> None:
    original = copy.deepcopy(value)
    with opened(place) as db:
        with db.transaction(meta={"v": value}) as tx:
            node = tx.insert_child(None, value)
            neighbour = tx.insert_child(None, [0])
        mutate(value)
        if read_back:
            mutate(db.tree.data(node))
            mutate(db.history()[-1].ops)
            mutate(db.history()[-1].meta["v"])
        with db.transaction() as tx:
            tx.set_data(neighbour, [1])  # re-encodes the leaf both share
        for read in reread(db, place, node):
            assert same(read, original)
        assert same(db.history()[-2].meta["v"], original)


def test_mutable_parts_inside_keys_tuples_and_frozensets_are_copied() -> None:
    key = JsonNode("key", "k")
    value = {key: (1, [2]), "s": frozenset({JsonNode("value", 1)}), "t": (JsonNode("value", [3]),)}
    db = Database()
    with db.transaction() as tx:
        node = tx.insert_child(None, value)
    read = db.tree.data(node)
    (read_key,) = [k for k in read if type(k) is JsonNode]
    read[read_key][1].append(9)
    read_key.value = "changed"
    next(iter(read["s"])).value = 2
    read["t"][0].value.append(9)
    assert same(db.tree.data(node), value) and same(copy_out(value), value)


def test_bulk_reads_of_a_stored_database_hand_out_copies(target: str) -> None:
    with Database(target) as db:
        db.replace(Tree.from_nested({"a": [1, {"b": [2]}]}))
        table = db.tree.to_parent_table()
        for row in table:
            mutate(row["data"])
        for data, _ in db.tree.data_events():
            mutate(data)
        with db.transaction() as tx:
            tx.insert_child(None, JsonNode("value", 3))
    with Database(target) as db:
        (root,) = [n for n in db.tree.roots() if db.tree.data(n).kind == "object"]
        assert db.tree.to_nested(root) == {"a": [1, {"b": [2]}]}
        assert [row["data"] for row in db.tree.to_parent_table()][: len(table)] == [
            Tree.from_nested({"a": [1, {"b": [2]}]}).data(n) for n in range(len(table))
        ]
