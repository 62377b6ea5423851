"""Tree API: transactions, cursors, deep and wide trees, work counting, equality, errors."""

from __future__ import annotations

import random
from typing import List

import pytest

from botree import Cursor, Transaction, Tree
from botree.errors import InvalidArgument, InvalidOperation, NodeNotFound, PositionError
from botree.tree.updates import UPDATES


def org() -> tuple[Tree, dict]:
    t = Tree(block_size=4, fields=("name",))
    ids = {}
    t, ids["co"] = t.insert_child(None, {"name": "co"})
    for dept in ("eng", "ops", "sales"):
        t, ids[dept] = t.insert_child(ids["co"], {"name": dept})
        for i in range(3):
            t, ids[f"{dept}{i}"] = t.insert_child(ids[dept], {"name": f"{dept}{i}"})
    return t, ids


# -- transactions -------------------------------------------------------------------


def test_transaction_commits_and_leaves_the_base_unchanged() -> None:
    t, ids = org()
    before = list(t.events())
    with t.transaction() as tx:
        assert isinstance(tx, Transaction)
        new = tx.insert_child(ids["eng"], {"name": "new"}, 0)
        # Ids returned inside the transaction are usable at once, queries see the changes.
        kid = tx.insert_child(new, {"name": "kid"})
        assert tx.parent(kid) == new and tx.level(kid) == 3
        tx.move(ids["sales"], new)
        assert tx.is_descendant(ids["sales0"], ids["eng"])
        tx.delete(ids["ops"])
    assert tx.tree is not None
    out = tx.tree
    out.check()
    assert list(t.events()) == before
    assert out.child(ids["eng"], 0) == new
    assert list(out.children(new)) == [kid, ids["sales"]]
    assert ids["ops"] not in out and ids["ops"] in t
    assert out.find(name="kid") == [kid]
    assert t.find(name="kid") == []


def test_exception_inside_a_transaction_discards_everything() -> None:
    t, ids = org()
    before = list(t.events())
    with pytest.raises(RuntimeError):
        with t.transaction() as tx:
            tx.insert_child(ids["eng"], "x")
            tx.delete(ids["sales"])
            raise RuntimeError("boom")
    assert tx.tree is None
    assert list(t.events()) == before
    t.check()
    with pytest.raises(InvalidOperation):
        tx.insert_child(None, "too late")


def test_rejected_update_inside_a_transaction_changes_nothing_and_it_goes_on() -> None:
    t, ids = org()
    with t.transaction() as tx:
        tx.insert_child(ids["eng"], "ok")
        state = list(tx.events())
        with pytest.raises(InvalidOperation):
            tx.move(ids["co"], ids["eng0"])  # into its own subtree
        with pytest.raises(PositionError):
            tx.insert_child(ids["eng"], "bad", 10)
        with pytest.raises(NodeNotFound):
            tx.move_inner(999, None)
        assert list(tx.events()) == state
        tx.insert_child(ids["ops"], "after")
    assert tx.tree is not None
    tx.tree.check()
    assert len(tx.tree) == len(t) + 2


def test_a_batch_writes_far_fewer_blocks_than_single_updates() -> None:
    """Work counting, not timing: k updates in one batch vs k one-update batches."""
    t = Tree()
    with t.transaction() as tx:
        root = tx.insert_child(None, "root")
        nodes = [tx.insert_child(root, i) for i in range(5000)]
    base = tx.tree
    assert base is not None
    rnd = random.Random(1)
    parents = [rnd.choice(nodes) for _ in range(500)]
    single = 0
    cur = base
    for p in parents:
        b = cur.order_index.transient()
        UPDATES["insert_child"].run(b, p, "x")
        single += b.blocks_written
        from botree.tree.tree import Tree as _T

        cur = _T.from_order_index(b.persistent())
    b = base.order_index.transient()
    for p in parents:
        UPDATES["insert_child"].run(b, p, "x")
    batched = b.blocks_written
    assert batched * 3 < single, (batched, single)
    assert _T.from_order_index(b.persistent()) == cur


# -- cursors -----------------------------------------------------------------------


def test_cursor_walks_forward_and_backward_equal_events() -> None:
    t, ids = org()
    first = t.cursor(ids["co"])
    forward = [(c.node, c.is_open) for c in first]
    assert forward == list(t.events())
    back: List[tuple[int, bool]] = []
    c: Cursor | None = t.cursor(ids["co"], close=True)
    while c is not None:
        back.append((c.node, c.is_open))
        c = c.prev()
    assert back[::-1] == list(t.events())
    step: Cursor | None = first
    walked = []
    while step is not None:
        walked.append((step.node, step.is_open))
        step = step.next()
    assert walked == forward


def test_cursor_navigation() -> None:
    t, ids = org()
    eng = t.cursor(ids["eng"])
    assert eng.data == {"name": "eng"} and eng.level == 1
    assert eng.parent() == t.cursor(ids["co"])
    assert eng.first_child().node == ids["eng0"]  # type: ignore[union-attr]
    assert eng.last_child().node == ids["eng2"]  # type: ignore[union-attr]
    assert eng.next_sibling().node == ids["ops"]  # type: ignore[union-attr]
    assert eng.prev_sibling() is None
    assert t.cursor(ids["sales"]).next_sibling() is None
    assert t.cursor(ids["eng0"]).first_child() is None
    assert eng.match() == t.cursor(ids["eng"], close=True)
    assert eng.match().match() == eng
    assert t.cursor(ids["co"]).parent() is None
    with pytest.raises(NodeNotFound):
        t.cursor(12345)


def test_cursor_edits_equal_tree_edits() -> None:
    t, ids = org()
    c = t.cursor(ids["ops"])
    c1 = c.insert_child("k", 0)
    t1, k = t.insert_child(ids["ops"], "k", 0)
    assert c1.tree == t1 and c1.node == k and c1.data == "k"
    c2 = c1.insert_before("b")
    t2, _ = t1.insert_before(k, "b")
    assert c2.tree == t2
    c3 = c2.insert_after("a")
    t3, _ = t2.insert_after(c2.node, "a")
    assert c3.tree == t3
    c4 = c3.set_data("A")
    assert c4.tree == t3.set_data(c3.node, "A") and c4.data == "A"
    nxt = t3.order_index.next_bound((c3.node, False))
    c5 = c4.delete()
    assert c5 is not None and (c5.node, c5.is_open) == nxt
    assert c5.tree == t3.delete(c3.node)
    last = Tree().insert_child(None, "only")
    assert last[0].cursor(last[1]).delete() is None
    # The original snapshot never moved.
    assert c.tree == t


# -- deep and wide ---------------------------------------------------------------------


def test_tree_100000_levels_deep() -> None:
    depth = 100_000
    with Tree().transaction() as tx:
        chain = [tx.insert_child(None, 0)]
        for i in range(1, depth):
            chain.append(tx.insert_child(chain[-1], i))
    t = tx.tree
    assert t is not None
    t.check()
    bottom = chain[-1]
    assert t.level(bottom) == depth - 1
    assert t.parent(bottom) == chain[-2]
    assert t.is_descendant(bottom, chain[0]) and t.is_ancestor(chain[5], chain[50_000])
    assert t.size(chain[0]) == depth and t.rank(bottom) == depth - 1 and t.post_rank(bottom) == 0
    assert t.at_rank(-1) == bottom
    assert sum(1 for _ in t.ancestors(chain[2000])) == 2000
    assert list(t.descendants(chain[-4])) == chain[-3:]
    assert list(t.descendants(chain[0], max_depth=3)) == chain[1:4]
    assert t.render(max_lines=3).count("\n") == 3
    moved = t.move(chain[depth // 2], None)
    moved.check()
    assert moved.level(bottom) == depth - 1 - depth // 2
    unwrapped = moved.unwrap(chain[1])
    assert unwrapped.level(bottom) == moved.level(bottom) and unwrapped.parent(chain[2]) == chain[0]
    wrapped, w = t.insert_parent(chain[10], "w")
    assert wrapped.level(bottom) == depth and wrapped.parent(chain[10]) == w
    assert repr(t).startswith("<Tree 100000 nodes: 0(1(2(")


def test_flat_tree_with_100000_children() -> None:
    width = 100_000
    with Tree().transaction() as tx:
        root = tx.insert_child(None, "root")
        kids = [tx.insert_child(root, i) for i in range(width)]
    t = tx.tree
    assert t is not None
    t.check()
    mid = kids[width // 2]
    assert t.parent(mid) == root and t.parent(kids[-1]) == root
    assert t.child(root, 0) == kids[0] and t.child(root, -1) == kids[-1] and t.child(root, -3) == kids[-3]
    assert t.rank(mid) == width // 2 + 1 and t.size(root) == width + 1
    assert t.is_sibling(kids[0], kids[-1]) and not t.is_sibling(kids[0], root)
    assert t.at_rank(width // 2 + 1) == mid
    t2 = t.move(kids[0], kids[-1])
    t2.check()
    assert t2.parent(kids[0]) == kids[-1] and t2.child(root, 0) == kids[1]
    t3, wrap = t.insert_parent(kids[10], "wrap", kids[width - 10])
    t3.check()
    assert t3.size(wrap) == (width - 19) + 1 and list(t3.children(root))[:11] == kids[:10] + [wrap]
    t4 = t3.unwrap(wrap)
    assert t4 == t
    assert list(t.children(root)) == kids


# -- work counting for moves ---------------------------------------------------------------


def test_moving_10_or_100000_nodes_touches_blocks_of_the_same_order() -> None:
    with Tree().transaction() as tx:
        top = tx.insert_child(None, "top")
        big = tx.insert_child(top, "big")
        for i in range(99_999):
            tx.insert_child(big, i)
        small = tx.insert_child(top, "small")
        for i in range(9):
            tx.insert_child(small, i)
        dest = tx.insert_child(top, "dest")
        for i in range(1000):
            tx.insert_child(dest, i)
    t = tx.tree
    assert t is not None and t.size(big) == 100_000 and t.size(small) == 10
    written = {}
    for name, node in (("small", small), ("big", big)):
        b = t.order_index.transient()
        UPDATES["move"].run(b, node, dest, 500)
        written[name] = b.blocks_written
        Tree.from_order_index(b.persistent()).check()
    B, h = t.block_size, t.order_index.height
    assert written["big"] <= 2 * written["small"] + B, written
    assert max(written.values()) <= 3 * (h + 1) * (B + 4), written


# -- equality, repr, render, find, errors --------------------------------------------------------


def test_equality_hash_repr_and_render() -> None:
    t, ids = org()
    same, _ = Tree(block_size=64, fields=("name",)).insert_child(None, {"name": "co"})
    assert t != same
    t2 = t.set_data(ids["eng"], {"name": "eng"})
    assert t2 == t and hash(t2) == hash(t)
    assert t.set_data(ids["eng"], "other") != t
    assert t.move(ids["eng"], None) != t
    assert Tree() == Tree(block_size=8) and repr(Tree()) == "<Tree 0 nodes>"
    drawing = t.render()
    assert drawing.splitlines()[0] == "{'name': 'co'}"
    assert "├── {'name': 'eng'}" in drawing and "└── {'name': 'sales'}" in drawing
    assert "│   ├── {'name': 'eng0'}" in drawing and "    └── {'name': 'sales2'}" in drawing
    assert t.render(ids["ops"]).splitlines() == ["{'name': 'ops'}"] + [
        ("├── " if i < 2 else "└── ") + f"{{'name': 'ops{i}'}}" for i in range(3)
    ]
    short = t.render(max_lines=2)
    assert short.splitlines()[-1] == f"… ({len(t) - 2} more nodes)"
    assert "co" in repr(t) and "13 nodes" in repr(t)


def test_find_returns_document_order_and_intersects() -> None:
    t = Tree(fields=("kind", "size"))
    t, a = t.insert_child(None, {"kind": "dir", "size": 1})
    t, b = t.insert_child(a, {"kind": "file", "size": 1})
    t, c = t.insert_child(None, {"kind": "file", "size": 2})
    t, d = t.insert_before(b, {"kind": "file", "size": 1})
    assert t.find(kind="file") == [d, b, c]
    assert t.find(kind="file", size=1) == [d, b]
    assert t.find(kind="nothing") == []
    with pytest.raises(ValueError):
        t.find(colour="red")
    with pytest.raises(InvalidArgument):
        t.find()
    with pytest.raises(TypeError):
        t.insert_child(None, {"kind": ["unhashable"]})
    assert len(t) == 4


def test_errors_name_the_nodes() -> None:
    t, ids = org()
    with pytest.raises(NodeNotFound, match="777"):
        t.parent(777)
    with pytest.raises(KeyError):
        t.move(777, None)
    with pytest.raises(InvalidOperation, match=str(ids["eng"])):
        t.move(ids["eng"], ids["eng1"])
    with pytest.raises(InvalidOperation):
        t.move_inner(ids["eng"], ids["eng"])
    with pytest.raises(InvalidOperation):
        t.insert_parent(ids["eng0"], "w", ids["ops1"])  # not siblings
    with pytest.raises(InvalidOperation):
        t.move_range(ids["eng2"], ids["eng0"], None)  # wrong order
    with pytest.raises(InvalidOperation):
        t.move_before(ids["eng"], ids["eng1"])
    with pytest.raises(InvalidOperation):
        t.move_after(ids["co"], ids["sales2"])
    with pytest.raises(PositionError):
        t.child(ids["eng"], 3)
    with pytest.raises(PositionError):
        t.insert_child(ids["eng"], "x", -5)
    with pytest.raises(PositionError):
        t.at_rank(len(t))
    with pytest.raises(InvalidArgument):
        t.insert_child(ids["eng"], "x", "0")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        Tree(fields="name")
    t.check()


def test_move_inner_into_a_former_descendant() -> None:
    t, ids = org()
    t2 = t.move_inner(ids["eng"], ids["eng1"], 0)
    t2.check()
    assert t2.parent(ids["eng"]) == ids["eng1"] and t2.is_leaf(ids["eng"])
    assert [t2.data(n)["name"] for n in t2.children(ids["co"])] == ["eng0", "eng1", "eng2", "ops", "sales"]
    t3 = t.move_inner(ids["eng"], ids["co"], 1)
    assert [t3.data(n)["name"] for n in t3.children(ids["co"])] == ["eng0", "eng", "eng1", "eng2", "ops", "sales"]


# -- bool ids and unhashable find values -------------------------------------------------------


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
