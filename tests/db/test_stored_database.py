"""A stored database through the Database API: rebase across Database objects, compaction, transact, listeners, threads.

Every test that does not depend on a file runs against SQLite and PostgreSQL (the
``target`` fixture in ``conftest.py``).
"""

from __future__ import annotations

import os
import threading
from typing import List

import pytest

from botree import Database, Tree
from botree.errors import BotreeError, ConflictError, NodeNotFound, VersionNotFound
from tests.db.storage_workload import run

# -- several Database objects on one store -----------------------------------------------------


def test_two_databases_on_one_store_rebase_and_conflict(target: str) -> None:
    a = Database(target)
    with a.transaction() as tx:
        root = tx.insert_root("root")
        b_node = tx.insert_child(root, "B")
        tx.insert_child(b_node, "D")
    b = Database(target)
    assert b.tree == a.tree
    ta = a.transaction()
    tb = b.transaction()
    c = ta.insert_child(b_node, "C")
    tb.delete(b_node)
    tb.commit()
    with pytest.raises(ConflictError):
        ta.commit()
    assert a.tree == b.tree and a.version == b.version == 2
    # A non-conflicting pair both land, in either order of commit.
    ta = a.transaction()
    tb = b.transaction()
    x = ta.insert_child(root, "x")
    tb.insert_child(root, "y")
    tb.commit()
    ta.commit()
    assert a.version == 4 and [a.tree.data(n) for n in a.tree.children(root)] == ["y", "x"]
    assert b.tree == a.tree
    assert c not in a.tree or a.tree.data(c) != "C"
    assert ta.ids[x] in a.tree
    a.close()
    b.close()


def test_serializable_transact_and_unknown_nodes(target: str) -> None:
    a = Database(target)
    with a.transaction() as tx:
        counter = tx.insert_root(0)
    b = Database(target)

    def bump(tx: object) -> None:
        tx.set_data(counter, tx.data(counter) + 1)  # type: ignore[attr-defined]

    tx = a.transaction(message="late")
    tx.set_data(counter, 100)
    b.transact(bump)
    with pytest.raises(ConflictError):
        tx.commit()
    a.transact(bump)
    assert a.tree.data(counter) == 2 == b.tree.data(counter)
    with pytest.raises(NodeNotFound):
        with a.transaction() as t2:
            t2.delete(12345)
    assert a.version == 3
    a.close()
    b.close()


def test_set_data_does_not_conflict_with_a_change_to_another_node_of_the_same_leaf(target: str) -> None:
    # In memory this commits; stored, the other object's commit rewrites the 64-row leaf,
    # the refreshed head decodes fresh data objects and `_rebase` compares data by identity.
    a = Database(target)
    with a.transaction() as tx:
        root = tx.insert_root({"name": "root"})
        x = tx.insert_child(root, {"name": "x"})
        y = tx.insert_child(root, {"name": "y"})
    b = Database(target)
    tb = b.transaction()
    tb.set_data(x, {"name": "x2"})
    with a.transaction() as tx:
        tx.set_data(y, {"name": "y2"})  # a different node
    tb.commit()  # ConflictError: "node 1's data was changed by a concurrent commit"
    assert b.tree.data(x) == {"name": "x2"} and b.tree.data(y) == {"name": "y2"}
    a.close()
    b.close()


# -- compaction --------------------------------------------------------------------------------


def test_compact_drops_old_versions_only_when_asked(target: str) -> None:
    db = Database(target)
    trees = run(db, 12, seed=4)
    cells = db._store.query("SELECT count(*) FROM nodes")[0][0]
    assert db.compact(keep=3) == 10
    with pytest.raises(VersionNotFound):
        db.as_of(9)
    for version in (10, 11, 12):
        assert db.as_of(version) == trees[version]
    assert db._store.query("SELECT count(*) FROM nodes")[0][0] < cells
    assert [c.version for c in db.history()] == [10, 11, 12]
    db.close()
    db = Database(target)
    assert db.tree == trees[12] and db.as_of(10) == trees[10]
    with pytest.raises(VersionNotFound):
        db.as_of(3)
    assert db.changes(10, 12) == trees[10].diff(trees[12])
    with db.transaction() as tx:
        tx.insert_root("after compaction")
    assert db.version == 13
    db.verify()
    db.close()


def _two_objects_then_compact(path: str):  # type: ignore[no-untyped-def]
    a = Database(path)
    with a.transaction() as tx:
        root = tx.insert_root("root")
        kids = [tx.insert_child(root, {"i": i}) for i in range(200)]
    b = Database(path)  # opens at version 1, loads no leaf
    old = b.tree
    with a.transaction() as tx:
        tx.set_data(kids[100], {"i": -1})
    with a.transaction() as tx:
        tx.set_data(kids[0], {"i": -1})
    a.compact(1)
    return a, b, old, root, kids


def test_old_tree_after_compaction_does_not_claim_its_nodes_do_not_exist(tmp_path: object) -> None:
    # The leaf load raises VersionNotFound, a KeyError, which reader._row turns into
    # NodeNotFound: a wrong answer ("node 0 does not exist") instead of an error about the version.
    a, b, old, root, kids = _two_objects_then_compact(os.path.join(str(tmp_path), "t.db"))
    for read in (lambda: old.data(kids[100]), lambda: list(old.children(root)), lambda: old.parent(kids[100])):
        with pytest.raises(BotreeError) as info:
            read()
        assert not isinstance(info.value, NodeNotFound), f"wrong answer: {info.value}"
    a.close()
    b.close()


def test_as_of_a_compacted_version_through_another_object_is_refused(tmp_path: object) -> None:
    a, b, old, root, kids = _two_objects_then_compact(os.path.join(str(tmp_path), "t.db"))
    with pytest.raises(VersionNotFound):
        a.as_of(1)
    assert b.version == 3
    with pytest.raises(VersionNotFound):  # b still has version 1's state cached and builds a tree
        b.as_of(1)
    a.close()
    b.close()


def test_transaction_begun_before_compact_commits_or_conflicts(tmp_path: object) -> None:
    # In memory, compact keeps the log and the transaction rebases; stored, its commit
    # raises VersionNotFound (not a ConflictError a caller would retry on).
    path = os.path.join(str(tmp_path), "t.db")
    for db in (Database(), Database(path)):
        with db.transaction() as tx:
            root = tx.insert_root("root")
        pending = db.transaction()
        pending.insert_child(root, "late")
        for i in range(3):
            with db.transaction() as tx:
                tx.insert_child(root, i)
        db.compact(1)
        try:
            pending.commit()
        except ConflictError:
            continue
        assert [db.tree.data(c) for c in db.tree.children(root)] == [0, 1, 2, "late"]


# -- listeners and threads ---------------------------------------------------------------------


def test_listeners_see_stored_commits(target: str) -> None:
    db = Database(target)
    seen = []
    db.subscribe(lambda version, changes: seen.append((version, changes.inserted)))
    with db.transaction() as tx:
        node = tx.insert_root("x")
    db.replace(Tree())
    assert seen == [(1, [node]), (2, [])]
    db.close()


def test_threads_share_one_stored_database(tmp_path: object) -> None:
    db = Database(os.path.join(str(tmp_path), "threads.db"))
    with db.transaction() as tx:
        root = tx.insert_child(None, "root")
    errors: List[BaseException] = []

    def work(name: str) -> None:
        try:
            for i in range(30):
                with db.transaction() as tx:
                    tx.insert_child(root, (name, i))
                db.tree.level(root)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"t{k}",)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    tree = db.tree
    expected = sorted((f"t{k}", i) for k in range(4) for i in range(30))
    assert sorted(tree.data(c) for c in tree.children(root)) == expected
    assert db.version == 121
    db.close()


def test_reading_a_version_another_handle_compacts_meanwhile_is_not_called_damage(target: str) -> None:
    # Explaining a missing version read the head row and the commits in separate
    # statements: a compaction in between looked like the two disagreeing, and a
    # reader got CorruptDatabase for a version that was merely compacted away.
    with Database(target) as writer, Database(target) as reader:
        for i in range(6):
            with writer.transaction() as tx:
                tx.insert_child(None, i)
        writer.compact(4)  # keeps 3..6
        store = reader._store  # type: ignore[attr-defined]
        real_oldest = store.oldest
        calls: List[int] = []

        def oldest_then_compact() -> int:
            found = real_oldest()
            calls.append(found)
            if len(calls) == 2:  # while the reader explains the missing version
                writer.compact(1)  # another handle compacts right after this read
            return found

        store.oldest = oldest_then_compact
        with pytest.raises(VersionNotFound):
            reader.as_of(1)
        store.oldest = real_oldest
        assert reader.history()[-1].version == 6


def test_readers_and_a_compacting_writer_on_other_handles_never_see_damage(tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "c.db")
    with Database(path) as writer:
        with writer.transaction() as tx:
            for i in range(50):
                tx.insert_child(None, i)
        errors: List[BaseException] = []
        done = threading.Event()

        def read() -> None:
            with Database(path) as reader:
                while not done.is_set():
                    try:
                        version = reader.version
                        reader.history()
                        reader.as_of(max(0, version - 1)).preorder()
                        reader.as_of(max(0, version - 3))
                    except VersionNotFound:
                        pass
                    except BaseException as exc:  # anything else is a false alarm
                        errors.append(exc)
                        return

        readers = [threading.Thread(target=read) for _ in range(2)]
        for thread in readers:
            thread.start()
        try:
            for i in range(150):
                with writer.transaction() as tx:
                    tx.insert_child(None, {"i": i})
                if i % 2:
                    writer.compact(1 + i % 3)
        finally:
            done.set()
            for thread in readers:
                thread.join()
        assert not errors, errors[0]


def test_mutating_data_read_from_a_tree_does_not_leak_into_a_later_commit(tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "m.db")
    with Database(path) as db:
        with db.transaction() as tx:
            a = tx.insert_child(None, {"x": 1})
            b = tx.insert_child(None, {"y": 1})
        db.tree.data(a)["x"] = 999  # a caller edits what it read
        with db.transaction() as tx:
            tx.set_data(b, {"y": 2})  # a commit that names b only (a shares its leaf)
    with Database(path) as db:
        assert db.tree.data(a) == {"x": 1}


def test_replace_reports_its_progress_in_rows(target: str) -> None:
    from botree import Database, Tree

    tree = Tree.from_parent_table([{"id": i, "parent": i // 3 if i else None} for i in range(1000)])
    for db in (Database(), Database(target)):
        seen: list = []
        with db:
            db.replace(tree, progress=lambda done, total, seen=seen: seen.append((done, total)))
        assert seen and seen[-1] == (1000, 1000)
        assert all(total == 1000 for _, total in seen)
        assert [done for done, _ in seen] == sorted(done for done, _ in seen)


# -- the ordered field index after reopening -------------------------------------------------


def test_range_and_scoped_find_after_reopening(tmp_path: "os.PathLike[str]") -> None:
    from botree import Range

    path = os.path.join(str(tmp_path), "find.db")
    with Database(path, fields=("salary",)) as db:
        with db.transaction() as tx:
            top = tx.insert_child(None, {"salary": 0})
            teams = [tx.insert_child(top, {"salary": k}) for k in range(3)]
            people = [tx.insert_child(teams[k % 3], {"salary": 100 + k}) for k in range(30)]
    with Database(path) as db:  # the field index is not stored: rebuilt from the rows on first use
        tree = db.tree
        assert tree.find(salary=Range(110, 120)) == sorted(people[10:20], key=tree.rank)
        assert tree.find(under=teams[1], salary=Range(100, None)) == people[1::3]
        with db.transaction() as tx:
            tx.set_data(people[1], {"salary": 5})
            assert tx.find(under=teams[1], salary=Range(100, None)) == people[4::3]
        db.tree.check()
        assert db.tree.find(salary=Range(None, 6)) == [top, teams[0], teams[1], people[1], teams[2]]


def test_concurrent_writers_queue_and_encode_each_commit_once(target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writers on separate objects (separate connections) commit behind the head lock: no lost race re-encodes."""
    from botree.db.durable import DurableDatabase

    encoded: List[int] = []
    original = DurableDatabase._encode

    def counting(self: DurableDatabase, *args: object, **kwargs: object) -> object:
        encoded.append(id(self))
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    seed = Database(target)
    with seed.transaction() as tx:
        tx.insert_child(None, "root")
    monkeypatch.setattr(DurableDatabase, "_encode", counting)
    dbs = [Database(target) for _ in range(4)]
    encoded.clear()
    count = 15

    def write(db: Database, name: int) -> None:
        for i in range(count):
            with db.transaction() as tx:
                tx.insert_child(0, [name, i])

    threads = [threading.Thread(target=write, args=(db, k)) for k, db in enumerate(dbs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert seed.version == 1 + 4 * count
    assert len(encoded) == 4 * count  # one encoding per commit, however the writers interleaved
    tree = seed.tree
    assert sorted(tuple(tree.data(c)) for c in tree.children(0)) == [(k, i) for k in range(4) for i in range(count)]
    for db in [seed, *dbs]:
        db.close()


def test_history_since_returns_only_the_newer_commits(target: str) -> None:
    for db in (Database(), Database(target)):
        for i in range(5):
            with db.transaction(message=str(i)) as tx:
                tx.insert_child(None, i)
        everything = db.history()
        for since in (-1, 0, 2, 5, 9):
            assert db.history(since=since) == [c for c in everything if c.version > since]
        for bad in (-2, "1", 1.0):
            with pytest.raises(BotreeError):
                db.history(since=bad)  # type: ignore[arg-type]
        db.close()


def test_a_refresh_after_other_commits_reads_ahead_in_few_statements(target: str) -> None:
    """Catching up with another object's commits: the changed manifests in one statement, leaves on touch.

    A leaf is read when touched, at most two lookups (its cell and a patch's base), on
    both backends (PostgreSQL used to read every changed leaf ahead; see docs/storage.md,
    "Catching up"); untouched changed leaves are never read.
    """
    from botree.db.durable import DurableDatabase

    writer = Database(target)
    with writer.transaction() as tx:
        for i in range(3000):  # several groups of leaves
            tx.insert_child(None, i)
    reader = Database(target)
    assert isinstance(reader, DurableDatabase)
    before = reader.tree
    assert [before.data(n) for n in before.preorder()][:5] == [0, 1, 2, 3, 4]
    for i in range(3):
        with writer.transaction() as tx:
            tx.set_data(i * 1000, "changed")
    store = reader._store
    calls = {"cell": 0, "cells_at": 0}
    for name in calls:
        original = getattr(store, name)

        def counted(*args: object, name: str = name, original: object = original) -> object:
            calls[name] += 1
            return original(*args)  # type: ignore[operator]

        setattr(store, name, counted)
    tree = reader.tree
    assert calls["cells_at"] <= 1 and calls["cell"] == 0  # the manifests ahead, no leaf yet
    assert [tree.data(i * 1000) for i in range(3)] == ["changed"] * 3
    assert calls["cells_at"] <= 1 and calls["cell"] <= 2 * 3  # 3 leaves on touch
    assert tree == writer.tree
    writer.close()
    reader.close()
