"""A long-running ``Database`` object stays bounded while other objects commit.

Every commit another process (here: another object) makes is read by this one as it
catches up: its commit row and state are cached.  The cache is trimmed to the newest
half once it passes ``_CACHED_COMMITS``; a trimmed version is read again when asked,
with the same answers (history, ``as_of``, ``changes``, a rebase over it).
"""

from __future__ import annotations

import random

import pytest

from botree import Database
from botree.db import durable


@pytest.fixture
def small_cap(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(durable, "_CACHED_COMMITS", 16)
    return 16


def test_commit_and_state_caches_stay_bounded_and_trimmed_versions_read_back(target: str, small_cap: int) -> None:
    rng = random.Random(7)
    with Database(target) as watcher, Database(target) as writer:
        with writer.transaction() as tx:
            root = tx.insert_child(None, "root")
        for i in range(120):
            with writer.transaction() as tx:
                tx.insert_child(rng.choice([root, *list(tx.children(root))[:5]]), i)
            if i % 3 == 0:  # the watcher catches up now and then, and commits itself
                with watcher.transaction() as tx:
                    tx.insert_child(root, ("watcher", i))
            assert len(watcher._commit_cache) <= small_cap + 1
            assert set(watcher._state_cache) <= set(watcher._commit_cache)
        head = watcher.version
        # Trimmed versions are read again, the same as a fresh object sees them.
        with Database(target) as fresh:
            assert [c.version for c in watcher.history()] == [c.version for c in fresh.history()]
            assert [c.message for c in watcher.history()] == [c.message for c in fresh.history()]
            for version in (1, 5, head // 2, head - 1):
                assert watcher.as_of(version).to_parent_table() == fresh.as_of(version).to_parent_table()
                assert watcher.changes(version, head) == fresh.changes(version, head)
        # A transaction begun long ago rebases over versions the cache no longer holds.
        old = watcher.transaction()
        node = old.insert_child(root, "late")
        for i in range(40):
            with writer.transaction() as tx:
                tx.insert_child(root, ("again", i))
        old.commit()
        assert watcher.tree.data(old.ids.get(node, node)) == "late"
        watcher.verify()  # reads every commit at once (the cache may pass the cap for a moment)
        with watcher.transaction() as tx:
            tx.insert_child(root, "after verify")
        assert len(watcher._commit_cache) <= small_cap + 1


def test_an_unloaded_leaf_shared_from_a_compacted_version_still_loads(target: str) -> None:
    """A refresh shares the unchanged leaves of the older tree, unloaded ones with their loader; once
    compaction drops the version a leaf was made for, it loads through a newer version sharing it.
    (Before, every tree sharing it raised VersionNotFound on that leaf, for good.)"""
    with Database(target) as writer:
        with writer.transaction() as tx:
            root = tx.insert_child(None, "root")
            nodes = [tx.insert_child(root, i) for i in range(1000)]
        with Database(target) as reader:
            first = reader.tree  # nothing loaded yet
            assert first.data(nodes[-1]) == 999  # the last rows' leaf only
            with writer.transaction() as tx:
                tx.insert_child(nodes[-1], "late")  # rows appended: the first leaves' cells unchanged
            head = reader.tree  # a refresh: shares the unloaded early leaves with ``first``
            reader.compact(keep=1)  # drops the version ``first`` was loaded for, and what the reader knew of it
            assert head.data(nodes[200]) == 200
            assert reader.tree.data(nodes[5]) == 5
            with reader.transaction() as tx:
                tx.insert_child(nodes[300], "works")
            reader.tree.check()
