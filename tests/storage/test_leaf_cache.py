"""A cap on loaded leaves (``cache_leaves``): bounded, same answers, reloads, commits after eviction."""

from __future__ import annotations

import os
import random
import threading
from typing import Any, Iterator, List, Tuple

import pytest

from botree import Database, DurableDatabase, Tree
from botree.errors import InvalidArgument

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

    threads = [threading.Thread(target=reader, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert db.leaf_stats["loaded"] <= 8
    db.close()
