"""Property-based backbone test of the public ``botree.Tree`` API.

A naive parent-pointer model (dicts and lists, no recursion) shadows a ``Tree``
through random valid and invalid updates, single or batched in transactions.
After every step ``check()`` runs and the whole structure is compared with the
model; queries on random nodes and pairs are compared with the model's answers.
Every intermediate ``Tree`` is kept with a model snapshot and re-verified at
teardown (persistence).
"""

from __future__ import annotations

import random
from typing import Any, Dict, List, NamedTuple, Optional, Tuple, Type

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from botree import Transaction, Tree
from botree.errors import InvalidArgument, InvalidOperation, NodeNotFound, PositionError

Event = Tuple[int, bool]

# ---------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------


class Model:
    """A forest as parent pointers plus ordered child lists (key None: the top level)."""

    def __init__(self) -> None:
        self.parent: Dict[int, Optional[int]] = {}
        self.kids: Dict[Optional[int], List[int]] = {None: []}
        self.data: Dict[int, Any] = {}

    def copy(self) -> "Model":
        m = Model()
        m.parent = dict(self.parent)
        m.kids = {k: list(v) for k, v in self.kids.items()}
        m.data = dict(self.data)
        return m

    def __len__(self) -> int:
        return len(self.parent)

    def nodes(self) -> List[int]:
        return sorted(self.parent)

    # -- traversals (iterative) ---------------------------------------------------

    def events(self, root: Optional[int] = None) -> List[Event]:
        out: List[Event] = []
        stack: List[Event] = [(n, True) for n in reversed(self.kids[None])] if root is None else [(root, True)]
        while stack:
            node, is_open = stack.pop()
            out.append((node, is_open))
            if is_open:
                stack.append((node, False))
                stack.extend((c, True) for c in reversed(self.kids[node]))
        return out

    def preorder(self, root: Optional[int] = None) -> List[int]:
        return [n for n, o in self.events(root) if o]

    def postorder(self, root: Optional[int] = None) -> List[int]:
        return [n for n, o in self.events(root) if not o]

    def levels(self) -> Dict[int, int]:
        lv: Dict[int, int] = {}
        for n in self.preorder():
            p = self.parent[n]
            lv[n] = 0 if p is None else lv[p] + 1
        return lv

    def ancestors(self, node: int) -> List[int]:
        out = []
        p = self.parent[node]
        while p is not None:
            out.append(p)
            p = self.parent[p]
        return out

    def subtree(self, node: int) -> List[int]:
        return self.preorder(node)

    def descendants(self, node: int, max_depth: Optional[int]) -> List[int]:
        lv = self.levels()
        base = lv[node]
        return [d for d in self.preorder(node)[1:] if max_depth is None or lv[d] - base <= max_depth]

    def siblings_of(self, node: int) -> List[int]:
        return self.kids[self.parent[node]]

    # -- updates -----------------------------------------------------------------

    def _add(self, node: int, parent: Optional[int], pos: int, data: Any) -> None:
        assert node not in self.parent, f"id {node} handed out while still live"
        self.parent[node] = parent
        self.kids[node] = []
        self.data[node] = data
        self.kids[parent].insert(pos, node)

    def _drop(self, node: int) -> None:
        del self.parent[node], self.kids[node], self.data[node]

    def _place(self, run: List[int], parent: Optional[int], index: int) -> None:
        dst = self.kids[parent]
        pos = resolve(index, len(dst))
        dst[pos:pos] = run
        for n in run:
            self.parent[n] = parent

    def _cut_run(self, first: int, last: int) -> List[int]:
        src = self.siblings_of(first)
        i, j = src.index(first), src.index(last)
        run = src[i : j + 1]
        del src[i : j + 1]
        return run

    def apply(self, name: str, args: tuple, new: Optional[int]) -> None:
        """Apply a valid update; ``new`` is the id the library handed out (inserts)."""
        if name == "insert_root":
            (data,) = args
            top = self.kids[None]
            self.kids[None] = []
            self._add(new, None, 0, data)
            self.kids[new] = top
            for c in top:
                self.parent[c] = new
        elif name == "insert_child":
            parent, data, index = pad(args, 3)
            self._add(new, parent, resolve(index, len(self.kids[parent])), data)
        elif name in ("insert_before", "insert_after"):
            node, data = args
            sibs = self.siblings_of(node)
            self._add(new, self.parent[node], sibs.index(node) + (name == "insert_after"), data)
        elif name == "insert_parent":
            first, data, last = pad(args, 3, None)
            last = first if last is None else last
            p = self.parent[first]
            sibs = self.kids[p]
            i = sibs.index(first)
            run = self._cut_run(first, last)
            self._add(new, p, i, data)
            self.kids[new] = run
            for c in run:
                self.parent[c] = new
        elif name == "delete":
            (node,) = args
            self.siblings_of(node).remove(node)
            for d in self.subtree(node):
                self._drop(d)
        elif name == "unwrap":
            (node,) = args
            sibs = self.siblings_of(node)
            i = sibs.index(node)
            sibs[i : i + 1] = self.kids[node]
            for c in self.kids[node]:
                self.parent[c] = self.parent[node]
            self._drop(node)
        elif name == "move":
            node, parent, index = pad(args, 3)
            self._place(self._cut_run(node, node), parent, index)
        elif name == "move_range":
            first, last, parent, index = pad(args, 4)
            self._place(self._cut_run(first, last), parent, index)
        elif name in ("move_before", "move_after"):
            node, target = args
            if node == target:
                return
            self._cut_run(node, node)
            sibs = self.siblings_of(target)
            sibs.insert(sibs.index(target) + (name == "move_after"), node)
            self.parent[node] = self.parent[target]
        elif name == "move_inner":
            node, parent, index = pad(args, 3)
            old = self.parent[node]
            sibs = self.kids[old]
            i = sibs.index(node)
            inner = self.kids[node]
            sibs[i : i + 1] = inner
            for c in inner:
                self.parent[c] = old
            self.kids[node] = []
            self._place([node], parent, index)
        elif name == "set_data":
            node, data = args
            self.data[node] = data
        else:  # pragma: no cover
            raise AssertionError(name)


def resolve(index: int, remaining: int) -> int:
    """Insert position in a list of ``remaining`` siblings for a result-list ``index``."""
    return index if index >= 0 else remaining + 1 + index


def pad(args: tuple, n: int, fill: Any = -1) -> tuple:
    return tuple(args) + (fill,) * (n - len(args))


# ---------------------------------------------------------------------------------
# Comparison of a Tree (or Transaction) with the model
# ---------------------------------------------------------------------------------


def assert_matches(q: Any, m: Model, full: bool = True) -> None:
    """``q`` (Tree or Transaction) holds exactly the forest of ``m``."""
    events = m.events()
    assert list(q.events()) == events
    assert len(q) == len(m)
    assert list(q.preorder()) == [n for n, o in events if o]
    assert list(q.children(None)) == m.kids[None]
    for n in m.parent:
        assert n in q
        assert q.data(n) == m.data[n], n
    if not full:
        return
    levels = m.levels()
    for n in m.parent:
        assert q.parent(n) == m.parent[n], n
        assert q.level(n) == levels[n], n
        assert list(q.children(n)) == m.kids[n], n


# ---------------------------------------------------------------------------------
# Operations: generated from the model, applied to Tree, Transaction and model
# ---------------------------------------------------------------------------------


class Op(NamedTuple):
    name: str
    args: tuple
    error: Optional[Type[Exception]]  # None: the call is valid


INSERTS = ("insert_root", "insert_child", "insert_before", "insert_after", "insert_parent")
UPDATES = INSERTS + (
    "delete",
    "unwrap",
    "move",
    "move_before",
    "move_after",
    "move_range",
    "move_inner",
    "set_data",
)


class OpMaker:
    """Draws one update, valid or with exactly one fault, from the current model."""

    def __init__(self, data: st.DataObject, m: Model, counter: List[int]) -> None:
        self.data = data
        self.m = m
        self.counter = counter

    def draw(self, strategy: st.SearchStrategy, label: str) -> Any:
        return self.data.draw(strategy, label=label)

    def payload(self) -> Dict[str, Any]:
        self.counter[0] += 1
        c = self.counter[0]
        return {"name": f"v{c % 4}", "k": c}

    def node(self, label: str = "node", among: Optional[List[int]] = None) -> int:
        return self.draw(st.sampled_from(self.m.nodes() if among is None else among), label)

    def missing(self) -> int:
        top = max(self.m.parent, default=-1)
        return self.draw(st.sampled_from([-1] + [i for i in range(top + 3) if i not in self.m.parent]), "missing")

    def fault(self, kinds: List[str], needs_node: bool = True) -> Optional[str]:
        """None (valid) most of the time, else one of ``kinds``; shrinks towards valid.

        In an empty forest an update that needs an existing node can only be the
        ``missing`` fault.
        """
        if not self.m.parent and needs_node:
            return "missing"
        choice = self.draw(st.integers(0, 5 + len(kinds)), "fault")
        return None if choice <= 5 else kinds[choice - 6]

    def index(self, remaining: int, bad: bool) -> int:
        if bad:
            return self.draw(st.sampled_from([remaining + 1, remaining + 3, -(remaining + 2), -(remaining + 4)]), "bad")
        return self.draw(st.integers(-(remaining + 1), remaining), "index")

    def run(self) -> Tuple[int, int]:
        """A sibling run first..last."""
        first = self.node("first")
        sibs = self.m.siblings_of(first)
        i = sibs.index(first)
        return first, sibs[self.draw(st.integers(i, len(sibs) - 1), "last")]

    def bad_run(self) -> Optional[Tuple[int, int]]:
        """A pair that is not a sibling run: reversed siblings, or different parents."""
        m = self.m
        if self.draw(st.booleans(), "reversed"):
            lists = [k for k in m.kids.values() if len(k) >= 2]
            if lists:
                sibs = self.draw(st.sampled_from(lists), "sibs")
                j = self.draw(st.integers(1, len(sibs) - 1), "j")
                i = self.draw(st.integers(0, j - 1), "i")
                return sibs[j], sibs[i]
        first = self.node("first")
        others = [n for n in m.nodes() if m.parent[n] != m.parent[first]]
        if not others:
            return None
        return first, self.node("last", others)

    def with_index(self, name: str, head: tuple, remaining: int, bad: bool) -> Op:
        index = self.index(remaining, bad)
        if not bad and index == -1 and self.draw(st.booleans(), "default index"):
            return Op(name, head, None)
        return Op(name, head + (index,), PositionError if bad else None)

    # -- one generator per update ---------------------------------------------------

    def make(self, name: str) -> Op:
        return getattr(self, "op_" + name)()

    def op_insert_root(self) -> Op:
        return Op("insert_root", (self.payload(),), None)

    def op_insert_child(self) -> Op:
        f = self.fault(["missing", "index"], needs_node=False)
        if f == "missing":
            return Op("insert_child", (self.missing(), self.payload(), -1), NodeNotFound)
        parent = self.draw(st.sampled_from([None] + self.m.nodes()), "parent")
        return self.with_index("insert_child", (parent, self.payload()), len(self.m.kids[parent]), f == "index")

    def _one_node(self, name: str, *extra: Any) -> Op:
        if self.fault(["missing"]) == "missing":
            return Op(name, (self.missing(),) + extra, NodeNotFound)
        return Op(name, (self.node(),) + extra, None)

    def op_insert_before(self) -> Op:
        return self._one_node("insert_before", self.payload())

    def op_insert_after(self) -> Op:
        return self._one_node("insert_after", self.payload())

    def op_delete(self) -> Op:
        return self._one_node("delete")

    def op_unwrap(self) -> Op:
        return self._one_node("unwrap")

    def op_set_data(self) -> Op:
        return self._one_node("set_data", self.payload())

    def op_insert_parent(self) -> Op:
        f = self.fault(["missing", "not_run"])
        if f == "missing":
            if self.m.parent and self.draw(st.booleans(), "missing last"):
                return Op("insert_parent", (self.node(), self.payload(), self.missing()), NodeNotFound)
            return Op("insert_parent", (self.missing(), self.payload()), NodeNotFound)
        if f == "not_run":
            pair = self.bad_run()
            if pair is not None:
                return Op("insert_parent", (pair[0], self.payload(), pair[1]), InvalidOperation)
        if self.draw(st.booleans(), "single"):
            return Op("insert_parent", (self.node(), self.payload()), None)
        first, last = self.run()
        return Op("insert_parent", (first, self.payload(), last), None)

    def _move_run(self, name: str, first: int, last: int, f: Optional[str]) -> Op:
        m = self.m
        head: tuple = (first,) if name == "move" else (first, last)
        run = m.siblings_of(first)
        run = run[run.index(first) : run.index(last) + 1]
        inside = [d for r in run for d in m.subtree(r)]
        if f == "missing_parent":
            return Op(name, head + (self.missing(), -1), NodeNotFound)
        if f == "into_self":
            return Op(name, head + (self.node("parent", inside), -1), InvalidOperation)
        outside = [None] + [n for n in m.nodes() if n not in set(inside)]
        parent = self.draw(st.sampled_from(outside), "parent")
        remaining = len([c for c in m.kids[parent] if c not in run])
        return self.with_index(name, head + (parent,), remaining, f == "index")

    def op_move(self) -> Op:
        f = self.fault(["missing", "missing_parent", "into_self", "index"])
        if f == "missing":
            return Op("move", (self.missing(), None, -1), NodeNotFound)
        node = self.node()
        return self._move_run("move", node, node, f)

    def op_move_range(self) -> Op:
        f = self.fault(["missing", "not_run", "missing_parent", "into_self", "index"])
        if f == "missing":
            return Op("move_range", (self.missing(), self.missing(), None, -1), NodeNotFound)
        if f == "not_run":
            pair = self.bad_run()
            if pair is not None:
                return Op("move_range", (pair[0], pair[1], None, -1), InvalidOperation)
            f = None
        first, last = self.run()
        return self._move_run("move_range", first, last, f)

    def _move_next_to(self, name: str) -> Op:
        f = self.fault(["missing", "missing_target", "inside"])
        if f == "missing":
            target = self.node("target") if self.m.parent else self.missing()
            return Op(name, (self.missing(), target), NodeNotFound)
        node = self.node()
        below = self.m.subtree(node)[1:]
        if f == "missing_target":
            return Op(name, (node, self.missing()), NodeNotFound)
        if f == "inside" and below:
            return Op(name, (node, self.node("target", below)), InvalidOperation)
        allowed = [n for n in self.m.nodes() if n not in set(below)]
        return Op(name, (node, self.node("target", allowed)), None)

    def op_move_before(self) -> Op:
        return self._move_next_to("move_before")

    def op_move_after(self) -> Op:
        return self._move_next_to("move_after")

    def op_move_inner(self) -> Op:
        m = self.m
        f = self.fault(["missing", "missing_parent", "self", "index"])
        if f == "missing":
            return Op("move_inner", (self.missing(), None, -1), NodeNotFound)
        node = self.node()
        if f == "missing_parent":
            return Op("move_inner", (node, self.missing(), -1), NodeNotFound)
        if f == "self":
            return Op("move_inner", (node, node, -1), InvalidOperation)
        parent = self.draw(st.sampled_from([None] + [n for n in m.nodes() if n != node]), "parent")
        if parent == m.parent[node]:
            remaining = len(m.kids[parent]) - 1 + len(m.kids[node])
        else:
            remaining = len(m.kids[parent])
        return self.with_index("move_inner", (node, parent), remaining, f == "index")


def call(target: Any, op: Op) -> Any:
    return getattr(target, op.name)(*op.args)


# ---------------------------------------------------------------------------------
# The state machine
# ---------------------------------------------------------------------------------


class Boom(Exception):
    """Raised by the test inside a transaction to force a rollback."""


SINGLE_QUERIES = (
    lambda t, x: t.level(x),
    lambda t, x: t.parent(x),
    lambda t, x: t.is_leaf(x),
    lambda t, x: t.is_root(x),
    lambda t, x: t.rank(x),
    lambda t, x: t.post_rank(x),
    lambda t, x: t.size(x),
    lambda t, x: t.data(x),
    lambda t, x: t.child(x, 0),
    lambda t, x: list(t.children(x)),
    lambda t, x: list(t.ancestors(x)),
    lambda t, x: list(t.descendants(x)),
    lambda t, x: list(t.siblings(x)),
    lambda t, x: list(t.preorder(x)),
    lambda t, x: list(t.postorder(x)),
    lambda t, x: list(t.events(x)),
    lambda t, x: t.compare(x, x),
    lambda t, x: t.is_descendant(x, x),
)

PAIR_QUERIES = (
    "is_descendant",
    "is_ancestor",
    "is_child",
    "is_parent",
    "is_sibling",
    "is_before_pre",
    "is_before_post",
    "is_preceding",
    "is_following",
    "compare",
)


class TreeMachine(RuleBasedStateMachine):
    block_size = 4

    def __init__(self) -> None:
        super().__init__()
        self.t = Tree(block_size=self.block_size, fields=("name",))
        self.model = Model()
        self.counter = [0]
        self.versions: List[Tuple[Tree, Model]] = [(self.t, self.model.copy())]

    # -- helpers -------------------------------------------------------------------

    def _commit(self, tree: Tree, model: Model) -> None:
        assert isinstance(tree, Tree)
        self.t = tree
        self.model = model
        self.versions.append((tree, model.copy()))

    def _step(self, data: st.DataObject, name: str) -> None:
        """One update through the persistent API, valid or expected to fail."""
        op = OpMaker(data, self.model, self.counter).make(name)
        if op.error is not None:
            with pytest.raises(op.error):
                call(self.t, op)
            assert_matches(self.t, self.model, full=False)
            return
        result = call(self.t, op)
        new = None
        if op.name in INSERTS:
            result, new = result
            assert new not in self.model.parent
        model = self.model.copy()
        model.apply(op.name, op.args, new)
        self._commit(result, model)

    # -- updates ---------------------------------------------------------------------

    @initialize(data=st.data(), count=st.integers(0, 12))
    def seed_forest(self, data: st.DataObject, count: int) -> None:
        """Start from a small random forest (built through the checked update path)."""
        for _ in range(count):
            self._step(data, data.draw(st.sampled_from(INSERTS), label="insert"))

    @rule(data=st.data())
    def insert_root(self, data: st.DataObject) -> None:
        self._step(data, "insert_root")

    @rule(data=st.data())
    def insert_child(self, data: st.DataObject) -> None:
        self._step(data, "insert_child")

    @rule(data=st.data())
    def insert_before(self, data: st.DataObject) -> None:
        self._step(data, "insert_before")

    @rule(data=st.data())
    def insert_after(self, data: st.DataObject) -> None:
        self._step(data, "insert_after")

    @rule(data=st.data())
    def insert_parent(self, data: st.DataObject) -> None:
        self._step(data, "insert_parent")

    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        self._step(data, "delete")

    @rule(data=st.data())
    def unwrap(self, data: st.DataObject) -> None:
        self._step(data, "unwrap")

    @rule(data=st.data())
    def move(self, data: st.DataObject) -> None:
        self._step(data, "move")

    @rule(data=st.data())
    def move_before(self, data: st.DataObject) -> None:
        self._step(data, "move_before")

    @rule(data=st.data())
    def move_after(self, data: st.DataObject) -> None:
        self._step(data, "move_after")

    @rule(data=st.data())
    def move_range(self, data: st.DataObject) -> None:
        self._step(data, "move_range")

    @rule(data=st.data())
    def move_inner(self, data: st.DataObject) -> None:
        self._step(data, "move_inner")

    @rule(data=st.data())
    def set_data(self, data: st.DataObject) -> None:
        self._step(data, "set_data")

    # -- transactions ----------------------------------------------------------------

    @rule(data=st.data(), count=st.integers(1, 6))
    def transaction_batch(self, data: st.DataObject, count: int) -> None:
        """Several updates (some invalid, caught) in one transaction; ids returned."""
        base = self.t
        model = self.model.copy()
        with base.transaction() as tx:
            assert isinstance(tx, Transaction)
            for _ in range(count):
                name = data.draw(st.sampled_from(UPDATES), label="update")
                op = OpMaker(data, model, self.counter).make(name)
                if op.error is not None:
                    with pytest.raises(op.error):
                        call(tx, op)
                    assert_matches(tx, model, full=False)  # a rejected call changes nothing
                    continue
                new = call(tx, op)
                if op.name in INSERTS:
                    assert type(new) is int and new not in model.parent
                else:
                    assert new is None
                model.apply(op.name, op.args, new)
                assert list(tx.events()) == model.events()
            if model.parent:
                self._queries_on(tx, model, data)
            assert tx.tree is None
        assert tx.tree is not None and tx.tree is not base
        with pytest.raises(InvalidOperation):
            tx.insert_child(None)
        with pytest.raises(InvalidOperation):
            tx.commit()
        assert_matches(base, self.model, full=False)
        self._commit(tx.tree, model)

    @rule(data=st.data(), count=st.integers(0, 4), library_error=st.booleans())
    def transaction_rollback(self, data: st.DataObject, count: int, library_error: bool) -> None:
        """Valid updates, then an exception (ours or an invalid call): nothing changes."""
        base = self.t
        scratch = self.model.copy()
        tx = base.transaction()
        raised: Type[Exception] = Boom
        with pytest.raises((Boom, NodeNotFound)) as info:
            with tx:
                for _ in range(count):
                    name = data.draw(st.sampled_from(UPDATES), label="update")
                    op = OpMaker(data, scratch, self.counter).make(name)
                    if op.error is None:
                        scratch.apply(op.name, op.args, call(tx, op))
                if library_error:
                    bad = Op("delete", (OpMaker(data, scratch, self.counter).missing(),), NodeNotFound)
                    raised = NodeNotFound
                    call(tx, bad)
                raise Boom()
        assert info.type is raised
        assert tx.tree is None
        assert self.t is base
        assert_matches(base, self.model)
        with pytest.raises(InvalidOperation):
            tx.insert_root()

    @precondition(lambda self: len(self.model) < 200)
    @rule(count=st.integers(50, 200), seed=st.integers(0, 2**32 - 1))
    def bulk_insert(self, count: int, seed: int) -> None:
        """Many inserts at random places in one transaction: splits blocks even at B=64."""
        rnd = random.Random(seed)
        model = self.model.copy()
        with self.t.transaction() as tx:
            for _ in range(count):
                self.counter[0] += 1
                payload = {"name": f"v{self.counter[0] % 4}", "k": self.counter[0]}
                nodes = list(model.parent)
                kind = rnd.randrange(4) if nodes else 0
                if kind == 0:
                    parent = rnd.choice([None] + nodes)
                    index = rnd.randint(-(len(model.kids[parent]) + 1), len(model.kids[parent]))
                    op = Op("insert_child", (parent, payload, index), None)
                elif kind == 1:
                    op = Op("insert_before", (rnd.choice(nodes), payload), None)
                elif kind == 2:
                    op = Op("insert_after", (rnd.choice(nodes), payload), None)
                else:
                    first = rnd.choice(nodes)
                    op = Op("insert_parent", (first, payload, rnd.choice(model.siblings_of(first))), None)
                    sibs = model.siblings_of(first)
                    if sibs.index(op.args[2]) < sibs.index(first):
                        op = Op("insert_parent", (op.args[2], payload, first), None)
                model.apply(op.name, op.args, call(tx, op))
        assert tx.tree is not None
        self._commit(tx.tree, model)

    # -- queries ---------------------------------------------------------------------

    def _queries_on(self, q: Any, m: Model, data: st.DataObject) -> None:
        nodes = m.nodes()
        a = data.draw(st.sampled_from(nodes), label="a")
        b = data.draw(st.sampled_from(nodes), label="b")
        events = m.events()
        pos = {e: i for i, e in enumerate(events)}
        pre = [n for n, o in events if o]
        post = [n for n, o in events if not o]
        anc_a, anc_b = m.ancestors(a), m.ancestors(b)
        pa, pb = m.parent[a], m.parent[b]

        assert q.level(a) == len(anc_a)
        assert q.parent(a) == pa
        assert q.is_descendant(a, b) == (b in anc_a)
        assert q.is_ancestor(a, b) == (a in anc_b)
        assert q.is_child(a, b) == (pa == b)
        assert q.is_parent(a, b) == (pb == a)
        assert q.is_sibling(a, b) == (a != b and pa == pb)
        assert q.is_before_pre(a, b) == (pre.index(a) < pre.index(b))
        assert q.is_before_post(a, b) == (post.index(a) < post.index(b))
        assert q.is_preceding(a, b) == (pos[(a, False)] < pos[(b, True)])
        assert q.is_following(a, b) == (pos[(b, False)] < pos[(a, True)])
        assert q.compare(a, b) == (pre.index(a) > pre.index(b)) - (pre.index(a) < pre.index(b))
        assert q.is_leaf(a) == (not m.kids[a])
        assert q.is_root(a) == (pa is None)
        assert q.rank(a) == pre.index(a)
        assert q.post_rank(a) == post.index(a)
        assert q.size(a) == len(m.subtree(a))

        n = len(nodes)
        k = data.draw(st.integers(-n, n - 1), label="k")
        assert q.at_rank(k) == pre[k]
        bad_k = data.draw(st.sampled_from([n, n + 2, -n - 1, -n - 3]), label="bad k")
        with pytest.raises(PositionError):
            q.at_rank(bad_k)

        for parent in (a, None):
            kids = m.kids[parent]
            assert list(q.children(parent)) == kids
            assert list(q.children_reversed(parent)) == kids[::-1]
            i = data.draw(st.integers(-len(kids) - 2, len(kids) + 1), label="child i")
            if -len(kids) <= i < len(kids):
                assert q.child(parent, i) == kids[i]
            else:
                with pytest.raises(PositionError):
                    q.child(parent, i)
        assert list(q.roots()) == m.kids[None]

        assert list(q.ancestors(a)) == anc_a
        dist = data.draw(st.none() | st.integers(0, 3), label="max_depth")
        assert list(q.descendants(a, max_depth=dist)) == m.descendants(a, dist)
        with pytest.raises(InvalidArgument):
            list(q.descendants(a, max_depth=-1))
        assert list(q.siblings(a)) == [s for s in m.siblings_of(a) if s != a]
        assert list(q.preorder(a)) == m.preorder(a)
        assert list(q.postorder(a)) == m.postorder(a)
        assert list(q.events(a)) == m.events(a)
        assert list(q.postorder()) == post

        value = data.draw(st.sampled_from([f"v{i}" for i in range(4)]), label="find")
        assert q.find(name=value) == [x for x in pre if m.data[x]["name"] == value]

    @precondition(lambda self: self.model.parent)
    @rule(data=st.data())
    def queries(self, data: st.DataObject) -> None:
        self._queries_on(self.t, self.model, data)

    @rule(data=st.data())
    def queries_on_missing_nodes(self, data: st.DataObject) -> None:
        maker = OpMaker(data, self.model, self.counter)
        x = maker.missing()
        assert x not in self.t
        query = data.draw(st.sampled_from(SINGLE_QUERIES), label="query")
        with pytest.raises(NodeNotFound):
            query(self.t, x)
        if self.model.parent:
            v = maker.node()
            name = data.draw(st.sampled_from(PAIR_QUERIES), label="pair query")
            with pytest.raises(NodeNotFound):
                getattr(self.t, name)(x, v)
            with pytest.raises(NodeNotFound):
                getattr(self.t, name)(v, x)

    # -- invariants and teardown -----------------------------------------------------

    @invariant()
    def matches_model(self) -> None:
        self.t.check()
        assert_matches(self.t, self.model)

    def teardown(self) -> None:
        for tree, model in self.versions:
            tree.check()
            assert_matches(tree, model, full=False)
        # Tree equality (shape, ids, data) between consecutive versions agrees with the model.
        for (t1, m1), (t2, m2) in zip(self.versions, self.versions[1:]):
            same = m1.events() == m2.events() and m1.data == m2.data
            assert (t1 == t2) is same
            if same:
                assert hash(t1) == hash(t2)


SETTINGS = settings(
    max_examples=30,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class TreeMachineB4(TreeMachine):
    block_size = 4


class TreeMachineB6(TreeMachine):
    block_size = 6


class TreeMachineB64(TreeMachine):
    block_size = 64


TestTreeB4 = TreeMachineB4.TestCase
TestTreeB4.settings = SETTINGS
TestTreeB6 = TreeMachineB6.TestCase
TestTreeB6.settings = SETTINGS
TestTreeB64 = TreeMachineB64.TestCase
TestTreeB64.settings = SETTINGS
