"""Keyed trees against a dict model: uniqueness, lookups both ways, and refused updates that change nothing.

A ``RuleBasedStateMachine`` drives a keyed ``Tree`` (persistent updates) or an open
``Transaction`` on it (in-place updates) through inserts, ``set_data`` changing keys,
subtree deletes, unwraps, moves, copies and grafts, with keys drawn from a small pool
of ints and strs (so collisions and look-alikes such as ``3`` and ``"3"`` are
frequent).  The model is a dict node -> key.  After every step the key index is
checked against the rows (``check()``) and every lookup is compared with the model.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from botree import DuplicateKey, InvalidKey, Transaction, Tree, UnknownKey
from botree.errors import InvalidArgument, InvalidOperation, NodeNotFound

KEYS = st.one_of(st.integers(-3, 12), st.sampled_from(["0", "1", "3", "a", "b", "é", ""]))
BAD = st.sampled_from([True, False, 1.5, None, [1], (1,), b"x", {"id": 1}])


def data_of(key: Any) -> Dict[str, Any]:
    return {"id": key, "v": repr(key)}


class KeyedTrees(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tree = Tree(block_size=4, key="id")
        self.tx: Optional[Transaction] = None
        self.model: Dict[int, Any] = {}  # node -> key
        self.saved: Dict[int, Any] = {}  # the model when the open transaction began

    # -- helpers ---------------------------------------------------------------------

    @property
    def target(self) -> Any:
        return self.tx if self.tx is not None else self.tree

    def run(self, name: str, *args: Any) -> Any:
        out = getattr(self.target, name)(*args)
        if self.tx is not None:
            return out
        if isinstance(out, tuple):
            self.tree, node = out
            return node
        self.tree = out
        return None

    def refused(self, error: type, name: str, *args: Any) -> None:
        before = self.snapshot()
        with pytest.raises(error):
            self.run(name, *args)
        assert self.snapshot() == before  # nothing changed

    def snapshot(self) -> Any:
        t = self.target
        return [(n, t.parent(n), t.data(n)) for n in t.preorder()]

    def holder(self, key: Any) -> Optional[int]:
        for node, k in self.model.items():
            if k == key and type(k) is type(key):
                return node
        return None

    def pick(self, data: Any) -> int:
        return data.draw(st.sampled_from(sorted(self.model)))

    # -- rules -----------------------------------------------------------------------

    @rule(key=KEYS, data=st.data())
    def insert(self, key: Any, data: Any) -> None:
        parent = self.pick(data) if self.model and data.draw(st.booleans()) else None
        if self.holder(key) is not None:
            self.refused(DuplicateKey, "insert_child", parent, data_of(key))
            return
        node = self.run("insert_child", parent, data_of(key))
        self.model[node] = key

    @rule(bad=BAD, missing=st.booleans())
    def insert_bad(self, bad: Any, missing: bool) -> None:
        self.refused(InvalidKey, "insert_child", None, {"name": 1} if missing else {"id": bad})

    @precondition(lambda self: self.model)
    @rule(key=KEYS, data=st.data())
    def set_data(self, key: Any, data: Any) -> None:
        node = self.pick(data)
        other = self.holder(key)
        if other is not None and other != node:
            self.refused(DuplicateKey, "set_data", node, data_of(key))
            return
        self.run("set_data", node, data_of(key))
        self.model[node] = key

    @precondition(lambda self: self.model)
    @rule(bad=BAD, data=st.data())
    def set_data_bad(self, bad: Any, data: Any) -> None:
        self.refused(InvalidKey, "set_data", self.pick(data), {"id": bad})

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def delete_subtree(self, data: Any) -> None:
        node = self.pick(data)
        gone = [node, *self.target.descendants(node)]
        self.run("delete", node)
        for n in gone:
            del self.model[n]

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def unwrap(self, data: Any) -> None:
        node = self.pick(data)
        self.run("unwrap", node)
        del self.model[node]

    @precondition(lambda self: len(self.model) > 1)
    @rule(data=st.data())
    def move(self, data: Any) -> None:
        node, parent = self.pick(data), self.pick(data)
        if parent == node or parent in set(self.target.descendants(node)):
            self.refused(InvalidOperation, "move", node, parent)
            return
        self.run("move", node, parent)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def copy(self, data: Any) -> None:
        # Every node of a keyed tree holds a key, so a copy would duplicate them all.
        self.refused(DuplicateKey, "copy", self.pick(data), None)

    @rule(keys=st.lists(KEYS, min_size=1, max_size=4))
    def graft(self, keys: List[Any]) -> None:
        other = Tree(key="id")
        other, root = other.insert_root(data_of(keys[0]))
        distinct = [keys[0]]
        for k in keys[1:]:
            if k not in distinct or any(type(d) is not type(k) for d in distinct if d == k):
                if not other.has_key(k):
                    other, _ = other.insert_child(root, data_of(k))
                    distinct.append(k)
        clash = any(self.holder(k) is not None for k in distinct)
        if clash:
            self.refused(DuplicateKey, "graft", other, root, None)
            return
        new_root = self.run("graft", other, root, None)
        for n in [new_root, *self.target.descendants(new_root)]:
            self.model[n] = self.target.key_of(n)
        assert sorted(map(repr, (self.model[n] for n in [new_root, *self.target.descendants(new_root)]))) == sorted(
            map(repr, distinct)
        )

    @precondition(lambda self: self.tx is None)
    @rule()
    def begin(self) -> None:
        self.tx = self.tree.transaction()
        self.saved = dict(self.model)

    @precondition(lambda self: self.tx is not None)
    @rule(keep=st.booleans())
    def end(self, keep: bool) -> None:
        assert self.tx is not None
        if keep:
            self.tree = self.tx.commit()
        else:
            self.tx.rollback()
            self.model = self.saved
        self.tx = None

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def lookups_agree(self) -> None:
        t = self.target
        tree = Tree.from_order_index(self.tx.order_index.persistent()) if self.tx is not None else self.tree
        tree.check()  # the key index against the rows, among every other invariant
        assert t.key == "id"
        assert set(t.preorder()) == set(self.model)
        for node, key in self.model.items():
            assert t.key_of(node) == key and type(t.key_of(node)) is type(key)
            assert t.node_of(key) == node and t.has_key(key)
            assert t.find(id=key) == [node]
        for key in [-4, 13, "zz", "2", 2]:
            if self.holder(key) is None:
                assert not t.has_key(key)
                with pytest.raises(UnknownKey):
                    t.node_of(key)
        for bad in (True, 1.0, None, [1]):
            assert not t.has_key(bad)


TestKeyedTrees = KeyedTrees.TestCase
TestKeyedTrees.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None, suppress_health_check=list(HealthCheck)
)


def test_keys_are_never_node_ids() -> None:
    t = Tree(key="id")
    t, a = t.insert_root({"id": 5})
    t, b = t.insert_root({"id": "0"})
    assert (a, b) == (0, 1)
    with pytest.raises(UnknownKey):
        t.node_of(0)  # node 0 exists; key 0 does not
    assert t.node_of("0") == 1 and t.node_of(5) == 0
    assert isinstance(UnknownKey(1), NodeNotFound)
    assert issubclass(InvalidKey, InvalidArgument) and issubclass(DuplicateKey, InvalidOperation)


def test_unkeyed_tree_has_no_keys() -> None:
    t, a = Tree().insert_root({"id": 1})
    assert t.key is None
    with pytest.raises(InvalidOperation):
        t.node_of(1)
    with pytest.raises(InvalidOperation):
        t.key_of(a)
    with pytest.raises(InvalidArgument):
        Tree(key="")
    with pytest.raises(InvalidArgument):
        Tree(key=3)  # type: ignore[arg-type]


def test_bulk_constructors_take_key() -> None:
    rows = [{"id": 1, "parent": None}, {"id": 2, "parent": 1}, {"id": "2", "parent": 1}]
    t = Tree.from_parent_table(rows, key="id")
    assert t.key == "id" and t.node_of(2) == 1 and t.node_of("2") == 2
    t.check()
    with pytest.raises(DuplicateKey):
        Tree.from_parent_table([{"id": 1, "parent": None, "k": "x"}, {"id": 2, "parent": 1, "k": "x"}], key="k")
    with pytest.raises(InvalidKey):
        Tree.from_events([({"id": 1.5}, True), (None, False)], key="id")
    t = Tree.from_paths(["a/b", "a/c"], key="name")
    assert t.node_of("c") == 2
    t = Tree.from_events(
        [({"id": i}, True) for i in range(1000)] + [(None, False)] * 1000, key="id"
    )
    assert t.node_of(999) == 999 and t.level(999) == 999
    t.check()


def test_subtree_insert_with_a_clash_changes_nothing() -> None:
    t = Tree(key="id")
    t, a = t.insert_root({"id": "a"})
    with t.transaction() as tx:
        with pytest.raises(DuplicateKey):
            tx.insert_subtree(a, [({"id": "b"}, True), ({"id": "a"}, True), (None, False), (None, False)])
        with pytest.raises(DuplicateKey):
            tx.insert_subtree(a, [({"id": "b"}, True), ({"id": "b"}, True), (None, False), (None, False)])
        assert len(tx) == 1
    assert tx.tree is not None and len(tx.tree) == 1
    tx.tree.check()


def test_configured_rekeys_and_reindexes() -> None:
    t = Tree.from_parent_table([{"id": 1, "parent": None, "n": "x"}, {"id": 2, "parent": 1, "n": "y"}])
    ix = t.order_index.configured(("n",), "id")
    keyed = Tree.from_order_index(ix)
    keyed.check()
    assert keyed.node_of(2) == 1 and keyed.find(n="y") == [1]
    assert Tree.from_order_index(ix.configured((), None)).key is None
    with pytest.raises(InvalidKey):
        t.order_index.configured((), "missing")


def test_many_keys_split_buckets() -> None:
    t = Tree(key="id")
    with t.transaction() as tx:
        for i in range(5000):
            tx.insert_root({"id": i if i % 2 else str(i)})
    assert tx.tree is not None
    tree = tx.tree
    tree.check()
    keys = tree.order_index.nodes.keys
    assert keys is not None and keys.count == 5000 and len(keys.buckets) >= 5000 // 4
    assert all(tree.node_of(i if i % 2 else str(i)) == i for i in range(5000))
    assert not tree.has_key(0) and not tree.has_key("1")
    with tree.transaction() as tx:
        for i in range(0, 5000, 3):
            tx.delete(i)
    assert tx.tree is not None
    tx.tree.check()


def test_check_finds_a_damaged_key_index() -> None:
    from botree.errors import InvariantError
    from botree.nodetable import ChunkedVector
    from botree.nodetable.keyindex import KeyIndex

    t = Tree.from_events([({"id": i}, True) for i in range(100)] + [(None, False)] * 100, key="id")
    keys = t.order_index.nodes.keys
    assert keys is not None
    buckets = list(keys.buckets)
    for damage in ("drop", "extra", "wrong node", "count"):
        b = [tuple(x) for x in buckets]
        count = keys.count
        if damage == "drop":
            b[0] = b[0][2:]
        elif damage == "extra":
            b[1] = (*b[1], 10_000, 5)
        elif damage == "wrong node":
            b[2] = (b[2][0], b[2][1] + 1, *b[2][2:])
        else:
            count += 1
        t.order_index.nodes._keys = KeyIndex("id", ChunkedVector(b), count)  # type: ignore[attr-defined]
        with pytest.raises(InvariantError):
            t.check()
