"""A cap on loaded leaves (``cache_leaves``): bounded, same answers, reloads, commits after eviction.

Also the lazy leaves themselves (``storage/lazy.py``): CLOCK keeps a leaf that is read
between loads, and a read racing other threads' loads and evictions sees the whole leaf
at every point where the reading thread can be preempted.
"""

from __future__ import annotations

import os
import queue
import random
import sys
import threading
from collections import Counter
from functools import partial
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from botree import Database, DurableDatabase, Tree
from botree.errors import InvalidArgument
from botree.nodetable.vector import ChunkedVector
from botree.storage import lazy
from botree.storage.codec import vectors
from botree.storage.lazy import LazyLeaf, LeafCache, LoadedLeaf, changed_leaves, lazy_vector
from tests.db.test_database import run_threads

N = 20_000
CAP = 40


def _random_events(n: int, seed: int) -> Iterator[Tuple[Any, bool]]:
    rng = random.Random(seed)
    depth = 0
    made = 0
    while made < n:
        if depth and rng.random() < 0.45:
            depth -= 1
            yield (None, False)
        else:
            yield ({"i": made}, True)
            made += 1
            depth += 1
    for _ in range(depth):
        yield (None, False)


def _walk(tree: Tree, db: Any = None, cap: int = 0) -> List[Tuple[Any, ...]]:
    out = []
    for k in range(len(tree)):
        node = tree.at_rank(k)
        out.append((node, tree.level(node), tree.parent(node), tree.size(node), tree.data(node), tree.post_rank(node)))
        if db is not None:
            assert db.leaf_stats["loaded"] <= cap
    return out


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Tuple[str, Tree]:
    path = os.path.join(str(tmp_path_factory.mktemp("cap")), "t.db")
    tree = Tree.from_events(_random_events(N, 7), block_size=8)
    db = Database(path)
    db.replace(tree, message="bulk")
    db.close()
    return path, tree


def test_cache_leaves_is_validated(tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "v.db")
    for bad in (0, -1, 1.5, "3", True):
        with pytest.raises(InvalidArgument):
            Database(path, cache_leaves=bad)
    assert not os.path.exists(path)


def test_capped_walk_stays_under_the_cap_and_answers_the_same(stored: Tuple[str, Tree]) -> None:
    path, tree = stored
    db = Database(path, cache_leaves=CAP)
    assert isinstance(db, DurableDatabase)
    head = db.tree
    capped = _walk(head, db, CAP)
    stats = db.leaf_stats
    assert stats["cap"] == CAP and stats["loaded"] <= CAP
    assert stats["evictions"] and stats["loads"] > 10 * CAP  # the walk did reload evicted leaves
    free = Database(path)
    assert capped == _walk(free.tree) == _walk(tree)
    assert free.leaf_stats["evictions"] == 0
    free.close()
    # a second walk over the same (already handed-out) tree reloads what was evicted
    assert _walk(head, db, CAP) == capped
    assert head.to_parent_table() == tree.to_parent_table()  # iteration over evicting leaves stays whole
    assert db.leaf_stats["loaded"] <= CAP
    head.check()
    assert db.leaf_stats["loaded"] <= CAP
    db.verify()
    db.close()


def test_commits_after_eviction_store_the_right_data(stored: Tuple[str, Tree], tmp_path: object) -> None:
    src = stored[0]
    paths = [os.path.join(str(tmp_path), name) for name in ("capped.db", "free.db")]
    for path in paths:
        with open(src, "rb") as f, open(path, "wb") as g:
            g.write(f.read())
    db = Database(paths[0], cache_leaves=CAP)
    mirror = Database(paths[1])  # the same updates, uncapped
    rng = random.Random(11)
    for step in range(30):
        head = db.tree
        _walk_some(head, rng)  # evicts most of what the last commit touched
        nodes = [head.at_rank(rng.randrange(len(head))) for _ in range(5)]
        kinds = [rng.random() < 0.5 for _ in nodes]
        for target in (db, mirror):
            with target.transaction() as tx:
                for node, kind in zip(nodes, kinds):
                    if kind:
                        tx.set_data(node, {"step": step})
                    else:
                        tx.insert_child(node, {"new": step})
        assert db.leaf_stats["loaded"] <= CAP
    final = db.tree
    final.check()
    answers = _walk(final, db, CAP)
    assert answers == _walk(mirror.tree)
    db.close()
    mirror.close()
    again = Database(paths[0])
    assert _walk(again.tree) == answers
    again.tree.check()
    again.verify()
    again.close()


def _walk_some(tree: Tree, rng: random.Random) -> None:
    for _ in range(300):
        node = tree.at_rank(rng.randrange(len(tree)))
        tree.level(node)
        tree.data(node)


def test_threads_read_a_capped_tree(stored: Tuple[str, Tree]) -> None:
    path, tree = stored
    expected = _walk(tree)
    db = Database(path, cache_leaves=8)
    head = db.tree
    errors: List[BaseException] = []

    def reader(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(300):  # each query reloads leaves under a cap of 8: ~2 ms apiece
                k = rng.randrange(len(head))
                node = head.at_rank(k)
                got = (node, head.level(node), head.parent(node), head.size(node), head.data(node),
                       head.post_rank(node))
                assert got == expected[k]
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    run_threads([partial(reader, s) for s in range(4)], sys.getswitchinterval())
    assert not errors, errors[0]
    assert db.leaf_stats["loaded"] <= 8
    db.close()


def _held(tree: Tree) -> int:
    """Stored leaves of ``tree`` holding slots now, counted on the vectors themselves (not the cache's counter)."""
    return sum(
        1
        for vec in vectors(tree.order_index).values()
        for mid in vec.chunks
        for leaf in mid
        if isinstance(leaf, (LazyLeaf, LoadedLeaf)) and list.__len__(leaf)
    )


def test_a_walk_in_preorder_stays_under_the_cap_on_every_backend(target: str) -> None:
    """Iterators (preorder, children, ancestors) as well as point queries: the leaves in memory never exceed the cap."""
    tree = Tree.from_events(_random_events(2_000, 3), block_size=8)
    db = Database(target)
    db.replace(tree, message="bulk")
    db.close()
    cap = 24

    def answers(t: Tree, check: Optional[Database] = None) -> List[Any]:
        out: List[Any] = []
        for k, node in enumerate(t.preorder()):
            out.append((node, t.level(node), t.parent(node), t.data(node)))
            if k % 10 == 0:
                out.append((list(t.children(node)), list(t.ancestors(node)), t.is_descendant(node, out[0][0])))
            if check is not None:
                assert check.leaf_stats["loaded"] <= cap
                if k % 50 == 0:
                    assert _held(t) <= cap
        return out

    db = Database(target, cache_leaves=cap)
    head = db.tree
    assert answers(head, db) == answers(tree)
    assert _held(head) <= cap
    stats = db.leaf_stats
    assert stats["evictions"] and stats["loads"] > 5 * cap  # the cap was binding, not idle
    db.close()


# -- lazy leaves ------------------------------------------------------------------

SLOTS = 4


def _leaf_slots(number: int, size: int) -> List[Any]:
    return [(number, k) for k in range(size)]


def test_clock_keeps_a_leaf_read_between_loads_where_fifo_reloads_it() -> None:
    for clock in (True, False):
        calls: Counter[int] = Counter()

        def load(number: int, size: int, calls: Counter[int] = calls) -> List[Any]:
            calls[number] += 1
            return _leaf_slots(number, size)

        cache = LeafCache(4, clock=clock)
        leaves = [LazyLeaf(load, n, SLOTS, cache) for n in range(40)]
        for n in range(1, 40):
            assert leaves[n][2] == (n, 2)
            assert leaves[0][1] == (0, 1)  # the hot leaf
            assert cache.loaded <= 4
        assert sum(1 for leaf in leaves if list.__len__(leaf)) == cache.loaded
        assert [list(leaf) for leaf in leaves] == [_leaf_slots(n, SLOTS) for n in range(40)]
        if clock:
            assert calls[0] == 1 and cache.rescues > 0  # demoted, read again: never evicted
        else:
            assert calls[0] > 5 and cache.rescues == 0  # reloaded every few loads


def test_changed_leaves_hands_out_slots_no_eviction_can_empty() -> None:
    """A revert encodes an older version's (shared, evictable) leaves: the encoder must get lists that stay whole."""
    cache = LeafCache(1)
    new = lazy_vector(3 * 64 + 5, _leaf_slots, cache=cache)
    new[0]  # one loaded, the others lazy
    got = list(changed_leaves(ChunkedVector(range(3 * 64 + 5)), new))
    cache.clear()  # another thread's evictions, while the caller encodes
    assert [(number, list.__len__(slots)) for number, slots in got] == [(0, 64), (1, 64), (2, 64), (3, 5)]
    assert [list.__getitem__(slots, 3) for _, slots in got] == [(n, 3) for n in range(4)]


class _Other:
    """A second thread that runs one action at a time while the caller waits for it."""

    def __init__(self) -> None:
        self.todo: queue.Queue[Optional[Callable[[], Any]]] = queue.Queue()
        self.done: queue.Queue[None] = queue.Queue()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while (action := self.todo.get()) is not None:
            try:
                action()
            finally:
                self.done.put(None)

    def run(self, action: Callable[[], Any]) -> None:
        self.todo.put(action)
        self.done.get()


def _interleaved(read: Callable[[Any], Any], leaf: Any, plan: Dict[int, Callable[[], Any]], other: _Other) -> Any:
    """``read(leaf)`` in this thread, preempted at its k-th line in lazy.py while ``other`` runs ``plan[k]``.

    Returns (what the read returned or raised, how many lines of lazy.py it ran).  A
    point where this thread holds the fill lock is skipped: any other thread's load or
    eviction would wait for it there.
    """
    lines = [0]

    def local(frame: Any, event: str, arg: Any) -> Any:
        if event == "line":
            action = plan.get(lines[0])
            lines[0] += 1
            if action is not None and not lazy._fill_lock.locked():
                other.run(action)
        return local

    before = sys.gettrace()
    sys.settrace(lambda frame, event, arg: local if frame.f_code.co_filename == lazy.__file__ else None)
    try:
        got = read(leaf)
    except Exception as e:  # reported by the caller's comparison
        got = e
    finally:
        sys.settrace(before)
    return got, lines[0]


def test_a_read_preempted_anywhere_by_other_threads_loads_and_evictions_sees_the_whole_leaf() -> None:
    """Tiny cap (2 of 3 leaves), every pair of preemption points, every pair of other threads' reads.

    Before the fix a read of a lazy leaf raised AttributeError when another thread loaded
    it first (the method was looked up on the changed class), and ``len`` returned 0 when
    another thread loaded it and a third evicted it between two lines.
    """
    reads: Dict[str, Callable[[Any], Any]] = {"item": lambda leaf: leaf[SLOTS - 1], "len": len, "iter": list}
    other = _Other()
    explored = 0

    def scenario(name: str, target: int, first: int, a1: int, second: int, a2: int) -> int:
        """Leaves 0, 1, 2 read in turn under a cap of 2 (0 evicted, 1 demoted); read ``target``, preempted twice."""
        cache = LeafCache(2)
        leaves = [LazyLeaf(_leaf_slots, n, SLOTS, cache) for n in range(3)]
        for leaf in leaves:
            leaf[0]
        read = reads[name]
        plan = {first: partial(len, leaves[a1]), second: partial(len, leaves[a2])}  # another thread reads a leaf
        got, lines = _interleaved(read, leaves[target], plan, other)
        assert got == read(_leaf_slots(target, SLOTS)), (name, target, first, a1, second, a2)
        assert cache.loaded <= 2
        assert [list(leaf) for leaf in leaves] == [_leaf_slots(n, SLOTS) for n in range(3)]
        return int(lines)

    try:
        for name in reads:
            for target in (0, 1):
                first, lines = 0, 1
                while first < lines:
                    for a1 in range(3):
                        second = first + 1
                        while True:
                            for a2 in range(3):
                                lines = scenario(name, target, first, a1, second, a2)
                                explored += 1
                            if lines <= second:
                                break
                            second += 1
                    first += 1
    finally:
        other.todo.put(None)
    assert explored > 1000


def test_threads_race_on_a_tiny_cap() -> None:
    """Free-running threads, switching every microsecond, over 3 leaves with a cap of 1."""
    cache = LeafCache(1)
    leaves = [LazyLeaf(_leaf_slots, n, SLOTS, cache) for n in range(3)]
    errors: List[BaseException] = []

    def reader(seed: int) -> None:
        try:
            for k in range(seed, seed + 20_000):
                n = k % 3
                assert leaves[n][k % SLOTS] == (n, k % SLOTS)
                assert len(leaves[n]) == SLOTS
                assert list(leaves[n]) == _leaf_slots(n, SLOTS)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    run_threads([partial(reader, s) for s in range(4)], 1e-6)
    assert not errors, errors[0]
    assert cache.loaded <= 1 and cache.evictions > 1000
