"""Database: optimistic commits, conflicts, serializable transact, history, changes, listeners."""

from __future__ import annotations

import random
import sys
import threading
import time
from typing import Callable, Dict, List, Optional, Set, Tuple

import pytest

from botree import Database, Tree
from botree.errors import ConflictError, InvalidArgument, InvalidOperation, VersionNotFound


def abc() -> Tuple[Database, int, int, int]:
    db = Database()
    with db.transaction() as tx:
        a = tx.insert_child(None, "A")
        b = tx.insert_child(a, "B")
        c = tx.insert_child(a, "C")
    return db, a, b, c


def run_threads(targets: List[Callable[[], None]], switch_interval: float) -> None:
    """Run the targets in threads, switching between them often, and wait for all."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(switch_interval)
    try:
        threads = [threading.Thread(target=target) for target in targets]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        sys.setswitchinterval(old)


def shape(t: Tree) -> List[Tuple[Optional[str], str]]:
    return [(t.data(p) if (p := t.parent(n)) is not None else None, t.data(n)) for n in t.preorder()]


# -- the seed's merge case -----------------------------------------------------------


@pytest.mark.parametrize("first", ["move", "insert"])
def test_move_c_under_b_and_insert_d_first_under_b_merge_in_both_orders(first: str) -> None:
    db, a, b, c = abc()
    t_move = db.transaction(message="move C under B")
    t_move.move(c, b)
    t_ins = db.transaction(message="insert D first under B")
    d = t_ins.insert_child(b, "D", 0)
    if first == "move":
        t_move.commit()
        t_ins.commit()
    else:
        t_ins.commit()
        t_move.commit()
    t = db.tree
    t.check()
    # Documented result, the same for both orders: B's children are D then C.
    assert shape(t) == [(None, "A"), ("A", "B"), ("B", "D"), ("B", "C")]
    assert t.data(t_ins.ids[d]) == "D"
    assert db.version == 3
    assert db.replay() == t


def test_delete_then_insert_under_the_deleted_node_conflicts() -> None:
    db, a, b, c = abc()
    t_del = db.transaction()
    t_del.delete(b)
    t_ins = db.transaction()
    t_ins.insert_child(b, "under B")
    t_del.commit()
    version, tree = db.snapshot()
    with pytest.raises(ConflictError, match=f"insert_child.*{b}"):
        t_ins.commit()
    assert db.snapshot() == (version, tree)  # nothing committed
    assert [tree.data(n) for n in tree.preorder()] == ["A", "C"]


def test_a_reused_id_is_not_mistaken_for_the_deleted_node() -> None:
    db, a, b, c = abc()
    t_move = db.transaction()
    t_move.move(b, None)  # refers to node b as it was
    with db.transaction() as tx:
        tx.delete(b)
        reborn = tx.insert_child(a, "new")  # a Database never reuses b's id (issue 12)
    assert reborn != b and b not in db.tree
    with pytest.raises(ConflictError):
        t_move.commit()
    assert db.tree.data(reborn) == "new" and db.tree.parent(reborn) == a


def test_concurrent_set_data_on_one_node_conflicts_but_on_different_nodes_merges() -> None:
    db, a, b, c = abc()
    t1 = db.transaction()
    t1.set_data(b, "B1")
    t2 = db.transaction()
    t2.set_data(b, "B2")
    t3 = db.transaction()
    t3.set_data(c, "C3")
    t1.commit()
    with pytest.raises(ConflictError, match="set_data"):
        t2.commit()
    t3.commit()
    assert db.tree.data(b) == "B1" and db.tree.data(c) == "C3"


def test_move_into_own_subtree_after_a_concurrent_move_conflicts() -> None:
    db, a, b, c = abc()
    t1 = db.transaction()
    t1.move(b, c)  # B under C
    t2 = db.transaction()
    t2.move(c, b)  # C under B: fine alone
    t1.commit()
    with pytest.raises(ConflictError, match="move"):
        t2.commit()
    db.tree.check()
    assert db.tree.parent(b) == c


def test_exception_in_a_database_transaction_commits_nothing() -> None:
    db, a, b, c = abc()
    with pytest.raises(RuntimeError):
        with db.transaction() as tx:
            tx.delete(a)
            raise RuntimeError("no")
    assert db.version == 1 and len(db.tree) == 3


# -- serializable transact ---------------------------------------------------------------


def test_transact_serializes_read_modify_write_across_threads() -> None:
    """Each run numbers a new child by counting the existing ones: only serial runs give 0..n-1.

    Under snapshot isolation (db.transaction) such inserts would merge and repeat numbers.
    """
    db = Database()
    with db.transaction() as tx:
        box = tx.insert_child(None, "box")
    runs = [0]

    def add_numbered(tx) -> int:  # type: ignore[no-untyped-def]
        runs[0] += 1
        count = len(list(tx.children(box)))
        time.sleep(0)  # let other threads in between the read and the write
        tx.insert_child(box, count)
        return count

    def work() -> None:
        for _ in range(50):
            db.transact(add_numbered, retries=10_000)

    run_threads([work] * 4, switch_interval=1e-5)
    t = db.tree
    assert sorted(t.data(n) for n in t.children(box)) == list(range(200))
    assert db.version == 201
    assert runs[0] > 200  # some runs were overtaken and re-run


def test_snapshot_isolation_merges_what_transact_would_serialize() -> None:
    db = Database()
    with db.transaction() as tx:
        box = tx.insert_child(None, "box")
    t1 = db.transaction()
    t2 = db.transaction()
    for tx in (t1, t2):
        tx.insert_child(box, len(list(tx.children(box))))
    t1.commit()
    t2.commit()  # inserts merge: both read 0 children
    assert [db.tree.data(n) for n in db.tree.children(box)] == [0, 0]


def test_transact_gives_up_with_conflict_error_and_propagates_errors() -> None:
    db, a, b, c = abc()

    def always_overtaken(tx) -> None:  # type: ignore[no-untyped-def]
        tx.set_data(a, "mine")
        with db.transaction() as other:
            other.insert_child(None, "someone else")

    with pytest.raises(ConflictError, match="gave up after 2 retries"):
        db.transact(always_overtaken, retries=2)
    assert db.tree.data(a) == "A"

    def broken(tx) -> None:  # type: ignore[no-untyped-def]
        tx.insert_child(a, "x")
        raise KeyError("bug")

    before = db.snapshot()
    with pytest.raises(KeyError):
        db.transact(broken)
    assert db.snapshot() == before
    with pytest.raises(InvalidArgument):
        db.transact(broken, retries=-1)


# -- history -------------------------------------------------------------------------------


def test_history_as_of_and_retention() -> None:
    db = Database(keep=3)
    made = []
    for i in range(6):
        with db.transaction(message=f"step {i}", meta={"i": i}) as tx:
            made.append(tx.insert_child(None, i))
    hist = db.history()
    assert [c.version for c in hist] == list(range(7))
    assert [c.message for c in hist[1:]] == [f"step {i}" for i in range(6)]
    assert [c.meta["i"] for c in hist[1:]] == list(range(6))
    assert all(c.parent == c.version - 1 for c in hist)
    assert all(a.time <= b.time for a, b in zip(hist, hist[1:]))
    assert [len(db.as_of(v)) for v in (4, 5, 6)] == [4, 5, 6]
    for gone in (0, 1, 3, 99):
        with pytest.raises(VersionNotFound):
            db.as_of(gone)
    with pytest.raises(KeyError):
        db.as_of(2)
    assert db.replay() == db.tree  # the log outlives the pruned trees
    with pytest.raises(InvalidArgument):
        Database(keep=0)


def test_subscribers_see_each_commit_with_its_changes() -> None:
    db, a, b, c = abc()
    seen: List[Tuple[int, object]] = []
    stop = db.subscribe(lambda version, changes: seen.append((version, changes)))
    with db.transaction() as tx:
        d = tx.insert_child(b, "D")
        tx.move(c, b, 0)
        tx.set_data(a, "A2")
    assert len(seen) == 1 and seen[0][0] == db.version
    changes = seen[0][1]
    assert changes.inserted == [d]  # type: ignore[attr-defined]
    assert changes.moved == {c: ((a, 1), (b, 0))}  # type: ignore[attr-defined]
    assert changes.data_changed == [a]  # type: ignore[attr-defined]
    stop()
    with db.transaction() as tx:
        tx.delete(d)
    assert len(seen) == 1


# -- changes() against the brute-force diff ---------------------------------------------------


def random_update(tx, rnd: random.Random, counter: List[int]) -> None:  # type: ignore[no-untyped-def]
    nodes = list(tx.preorder())
    counter[0] += 1
    r = rnd.random()
    if not nodes or r < 0.3:
        parent = rnd.choice(nodes) if nodes and rnd.random() < 0.9 else None
        kids = len(list(tx.children(parent)))
        tx.insert_child(parent, ("n", counter[0]), rnd.randint(-kids - 1, kids))
        return
    node = rnd.choice(nodes)
    if rnd.random() < 0.25:
        editing_update(tx, rnd, counter, nodes, node)
        return
    try:
        if r < 0.4:
            tx.delete(node)
        elif r < 0.5:
            tx.unwrap(node)
        elif r < 0.6:
            tx.set_data(node, ("d", counter[0]))
        elif r < 0.7:
            tx.insert_parent(node, ("w", counter[0]))
        elif r < 0.8:
            target = rnd.choice(nodes)
            tx.move(node, target if rnd.random() < 0.8 else None, rnd.choice([0, -1, 1]))
        elif r < 0.85:
            tx.move_inner(node, rnd.choice(nodes), 0)
        elif r < 0.9:
            tx.insert_root(("r", counter[0]))
        else:
            sibs = [node] + list(tx.siblings(node))
            last = rnd.choice(sibs)
            first, last = sorted([node, last], key=tx.rank)
            tx.move_range(first, last, rnd.choice(nodes + [None]), -1)
    except (InvalidOperation, IndexError):
        pass  # an invalid random choice: rejected, nothing changed


GRAFT_SOURCE = Tree.from_events([("g", True), ("g1", True), (None, False), ("g2", True), (None, False), (None, False)])


def editing_update(tx, rnd: random.Random, counter: List[int], nodes: List[int], node: int) -> None:  # type: ignore[no-untyped-def]
    """copy, graft, sort_children or reorder_children with random arguments (rejected ones change nothing)."""
    r = rnd.random()
    target = rnd.choice(nodes + [None])
    try:
        if r < 0.3:
            tx.copy(node, target, rnd.choice([0, -1, 1]))
        elif r < 0.5:
            tx.graft(GRAFT_SOURCE, rnd.choice(list(GRAFT_SOURCE.preorder())), target, rnd.choice([0, -1]))
        elif r < 0.8:
            tx.sort_children(target, key=str, reverse=rnd.random() < 0.5)
        else:
            kids = list(tx.children(target))
            rnd.shuffle(kids)
            tx.reorder_children(target, kids[: rnd.randint(0, len(kids))])
    except (InvalidOperation, IndexError):
        pass


def test_changes_equal_the_brute_force_diff_on_random_version_pairs() -> None:
    rnd = random.Random(7)
    db = Database(block_size=4)
    counter = [0]
    for _ in range(120):
        with db.transaction() as tx:
            for _ in range(rnd.randint(1, 4)):
                random_update(tx, rnd, counter)
    db.tree.check()
    assert db.replay() == db.tree
    for _ in range(60):
        v1 = rnd.randint(0, db.version)
        v2 = rnd.randint(v1, db.version)
        assert db.changes(v1, v2) == db.as_of(v1).diff(db.as_of(v2)), (v1, v2)
    with pytest.raises(InvalidArgument):
        db.changes(3, 2)


def test_changes_for_a_small_commit_do_not_scan_the_tree() -> None:
    big = Tree.from_events([(i, True) for i in range(1)] + [(None, False)])
    with big.transaction() as tx:
        root = next(tx.roots())
        for i in range(50_000):
            tx.insert_child(root, i)
    db = Database(tx.tree)
    with db.transaction() as t2:
        leaf = t2.child(root, 10)
        t2.set_data(leaf, "changed")
    import botree.tree.diff as diff_module

    calls: List[int] = []
    real = diff_module.places

    def spy(tree):  # type: ignore[no-untyped-def]
        calls.append(len(tree))
        return real(tree)

    diff_module.places = spy  # the full scan used by Tree.diff
    try:
        changes = db.changes(0, 1)
    finally:
        diff_module.places = real
    assert changes.data_changed == [leaf] and not changes.inserted and not changes.moved
    assert calls == []


# -- the stress test -------------------------------------------------------------------------


def test_eight_threads_500_transactions_each() -> None:
    rnd0 = random.Random(11)
    db = Database(block_size=8)
    with db.transaction() as tx:
        shared = tx.insert_child(None, "shared")
        regions = [tx.insert_child(None, f"region{t}") for t in range(8)]
    committed: Set[Tuple[str, int, int]] = set()
    conflicts = [0]
    lock = threading.Lock()
    seeds = [rnd0.randrange(10**9) for _ in range(8)]

    def worker(t: int) -> None:
        rnd = random.Random(seeds[t])
        for i in range(500):
            tag = ("tag", t, i)
            area = shared if rnd.random() < 0.3 else regions[t]
            try:
                with db.transaction(message=str(tag)) as tx:
                    tagged = [n for n in tx.descendants(area) if isinstance(tx.data(n), tuple)]
                    temps = [n for n in tx.descendants(area) if tx.data(n) == "temp" and tx.is_leaf(n)]
                    anchor = rnd.choice(tagged + [area])
                    tx.insert_child(anchor, tag, rnd.choice([0, -1]))
                    if rnd.random() < 0.5:
                        tx.insert_child(rnd.choice(tagged + [area]), "temp")
                    if temps and rnd.random() < 0.4:
                        tx.delete(rnd.choice(temps))
                    if len(tagged) > 2 and rnd.random() < 0.4:
                        node = rnd.choice(tagged)
                        target = rnd.choice(tagged + [area])
                        if target != node and not tx.is_descendant(target, node):
                            tx.move(node, target, 0)
                with lock:
                    committed.add(tag)
            except ConflictError:
                with lock:
                    conflicts[0] += 1

    run_threads([lambda t=t: worker(t) for t in range(8)], switch_interval=1e-4)
    tree = db.tree
    tree.check()
    tags = [tree.data(n) for n in tree.preorder() if isinstance(tree.data(n), tuple)]
    assert sorted(tags) == sorted(committed)  # every committed one exactly once, no conflicted one
    assert len(committed) + conflicts[0] == 8 * 500
    assert conflicts[0] > 0  # the overlapping area did collide
    assert db.version == 1 + len(committed)
    assert db.replay() == tree
    for n in tree.children(regions[0]):
        assert tree.is_descendant(n, regions[0])


def test_readers_never_see_a_half_committed_tree() -> None:
    db = Database()
    with db.transaction() as tx:
        root = tx.insert_child(None, "root")
    stop = threading.Event()
    bad: List[str] = []

    def reader() -> None:
        while not stop.is_set():
            version, tree = db.snapshot()
            pairs: Dict[int, int] = {}
            for n in tree.children(root):
                pairs[tree.data(n)[0]] = pairs.get(tree.data(n)[0], 0) + 1
            if any(count != 2 for count in pairs.values()):
                bad.append(f"version {version}: {pairs}")
            if len(tree) != 1 + 2 * (version - 1):
                bad.append(f"version {version} has {len(tree)} nodes")

    readers = [threading.Thread(target=reader) for _ in range(3)]
    for th in readers:
        th.start()
    for i in range(300):
        with db.transaction() as tx:
            tx.insert_child(root, (i, "a"))
            tx.insert_child(root, (i, "b"))
    stop.set()
    for th in readers:
        th.join()
    assert not bad, bad[:3]


# -- changes with reused ids; subscribers ------------------------------------------------------


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
