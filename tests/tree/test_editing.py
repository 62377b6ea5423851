"""copy, graft, insert_subtree, sort_children and reorder_children against a parent-pointer model."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botree import Tree
from botree.errors import InvalidArgument, InvalidOperation, NodeNotFound, PositionError

Model = Tuple[Dict[int, Optional[int]], Dict[Optional[int], List[int]], Dict[int, Any]]  # parent, children, data


def model_of(t: Any) -> Model:
    parent: Dict[int, Optional[int]] = {}
    children: Dict[Optional[int], List[int]] = {None: list(t.children(None))}
    data: Dict[int, Any] = {}
    for n in t.preorder():
        parent[n] = t.parent(n)
        children[n] = list(t.children(n))
        data[n] = t.data(n)
    return parent, children, data


def model_subtree(m: Model, node: int) -> List[int]:
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(reversed(m[1][n]))
    return out


def shape(m: Model, node: Optional[int]) -> Any:
    """The nested (data, children) of a node (None: the forest), without ids (iterative)."""
    out: List[Any] = []
    stack: List[Tuple[Optional[int], List[Any]]] = [(node, out)]
    while stack:
        n, into = stack.pop()
        kids: List[Any] = []
        into.append((None if n is None else m[2][n], kids))
        for k in reversed(m[1][n]):
            stack.append((k, kids))
    return out[0]


def insert_index(kids: List[int], index: int) -> int:
    return len(kids) + 1 + index if index < 0 else index


SOURCE = Tree.from_events(
    [(100, True), (101, True), (102, True), (None, False), (None, False), (103, True), (None, False), (None, False)]
)


def step(t: Any, m: Model, data: Any, counter: List[int], persistent: bool) -> Tuple[Any, Model]:
    """One random update on ``t`` (a Tree or a Transaction) and the model; returns both afterwards."""
    parent_of, children, values = m
    nodes = list(values)
    kind = data.draw(st.sampled_from(["insert", "copy", "graft", "sort", "reorder", "bad"] if nodes else ["insert"]))
    before = shape(m, None)

    def run(name: str, *args: Any) -> Any:
        nonlocal t
        out = getattr(t, name)(*args)
        if persistent:
            if isinstance(out, tuple):
                t, out = out
            else:
                t, out = out, None
        return out

    if kind == "insert":
        counter[0] += 1
        parent = data.draw(st.sampled_from([None, *nodes]))
        run("insert_child", parent, counter[0])
    elif kind in ("copy", "graft"):
        if kind == "copy":
            src_tree, node = t, data.draw(st.sampled_from(nodes))
            copied = shape(m, node)
        else:
            src_tree, node = SOURCE, data.draw(st.sampled_from(list(SOURCE.preorder())))
            copied = shape(model_of(SOURCE), node)
        parent = data.draw(st.sampled_from([None, *nodes]))
        kids = children[parent]
        index = data.draw(st.integers(-len(kids) - 1, len(kids)))
        root = run("copy", node, parent, index) if kind == "copy" else run("graft", src_tree, node, parent, index)
        new = model_of(t)
        assert root not in values and shape(new, root) == copied
        assert new[1][parent].index(root) == insert_index(kids, index)
        assert not set(model_subtree(new, root)) & set(values)  # every copied node got a new id
        expected = list(kids)
        expected.insert(insert_index(kids, index), root)
        assert new[1][parent] == expected
        return t, new
    elif kind == "sort":
        parent = data.draw(st.sampled_from([None, *nodes]))
        reverse = data.draw(st.booleans())
        key = data.draw(st.sampled_from([None, "mod", lambda d: -d]))
        of = key if callable(key) else (lambda d: d)
        if key == "mod" and children[parent]:
            with pytest.raises(InvalidArgument):
                run("sort_children", parent, key, reverse)  # int data has no fields: nothing changes
            assert model_of(t) == m
            return t, m
        run("sort_children", parent, key, reverse)
        want = sorted(children[parent], key=lambda n: of(values[n]), reverse=reverse)
        new = model_of(t)
        assert new[1][parent] == want
        children = dict(children)
        children[parent] = want
        m = (parent_of, children, values)
    elif kind == "reorder":
        parent = data.draw(st.sampled_from([None, *nodes]))
        kids = children[parent]
        order = data.draw(st.permutations(kids))
        listed = order[: data.draw(st.integers(0, len(kids)))]
        run("reorder_children", parent, listed)
        slots = sorted(kids.index(n) for n in listed)
        want = list(kids)
        for slot, n in zip(slots, listed):
            want[slot] = n
        children = dict(children)
        children[parent] = want
        m = (parent_of, children, values)
    else:  # rejected calls change nothing
        node = data.draw(st.sampled_from(nodes))
        kinds = ["copy_missing", "index", "reorder_other", "events"]
        kinds += ["sort_mixed"] if len(children[None]) > 1 else []
        bad = data.draw(st.sampled_from(kinds))
        with pytest.raises((NodeNotFound, PositionError, InvalidOperation, InvalidArgument)):
            if bad == "copy_missing":
                run("copy", 10**6, None)
            elif bad == "index":
                run("copy", node, node, len(children[node]) + 2)
            elif bad == "reorder_other":
                run("reorder_children", node, [node])
            elif bad == "events":
                run("insert_subtree", None, [("a", True), ("b", True), (None, False)])
            else:
                run("sort_children", None, lambda d: object())  # keys that do not compare
    if kind == "insert":
        return t, model_of(t)
    assert model_of(t) == m or kind == "bad"
    assert before == shape(m, None) or kind != "bad"
    return t, m


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_editing_on_trees_and_transactions_matches_the_model(data: Any) -> None:
    t = Tree(block_size=4)
    tx = Tree(block_size=4).transaction()
    m_t: Model = model_of(t)
    m_x: Model = model_of(tx)
    counter = [0]
    for _ in range(data.draw(st.integers(1, 25))):
        snapshot = t
        t, m_t = step(t, m_t, data, counter, persistent=True)
        t.check()
        assert model_of(t) == m_t
        snapshot.check()  # the older tree never changes
        tx, m_x = step(tx, m_x, data, counter, persistent=False)
        assert model_of(tx) == m_x
    tx.commit().check()


def test_copy_into_its_own_subtree_copies_the_subtree_as_it_was() -> None:
    t = Tree()
    t, a = t.insert_child(None, "a")
    t, b = t.insert_child(a, "b")
    t2, c = t.copy(a, b, 0)
    t2.check()
    assert t2.render() == "a\n└── b\n    └── a\n        └── b"
    assert list(t2.data_events(c)) == list(t.data_events(a))


def test_insert_subtree_takes_data_events_and_reports_bad_streams() -> None:
    t, r = Tree().insert_child(None, "r")
    events = list(SOURCE.data_events())
    t2, root = t.insert_subtree(r, iter(events))
    assert list(t2.data_events(root)) == events
    assert t2.size(root) == 4 and list(t2.preorder(root)) == list(range(root, root + 4))
    for bad in ([], [("a", False)], [("a", True)], [("a", True), (None, False), ("b", True), (None, False)],
                [("a", 1), (None, False)], ["ab"]):
        with pytest.raises(InvalidArgument):
            t.insert_subtree(r, bad)
    with pytest.raises(InvalidArgument):
        t.insert_subtree(r, 5)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        t.graft("not a tree", 0, None)  # type: ignore[arg-type]
    with pytest.raises(NodeNotFound):
        t.graft(SOURCE, 99, None)


def test_sort_children_is_stable_by_field_and_reversed() -> None:
    t, p = Tree().insert_child(None, "p")
    rows = [{"k": 2, "i": 0}, {"k": 1, "i": 1}, {"k": 2, "i": 2}, {"k": 1, "i": 3}]
    for row in rows:
        t, _ = t.insert_child(p, row)
    by_k = t.sort_children(p, key="k")
    assert [by_k.data(n)["i"] for n in by_k.children(p)] == [1, 3, 0, 2]
    back = t.sort_children(p, key="k", reverse=True)
    assert [back.data(n)["i"] for n in back.children(p)] == [0, 2, 1, 3]
    assert t.sort_children(p, key=lambda d: d["i"]) == t  # already in order: the same tree
    with pytest.raises(InvalidArgument):
        t.sort_children(p, key="missing")
    with pytest.raises(InvalidArgument):
        t.sort_children(p, key=3)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        t.sort_children(p, reverse=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        t.reorder_children(p, [list(t.children(p))[0]] * 2)
