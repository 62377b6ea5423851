"""``Database.sync``: one commit of only the differences, in memory, on SQLite and on PostgreSQL.

The property: for random pairs of keyed forests A and B (``tests.tree.test_sync``), a
database holding A synced with B holds a tree equal to B (as nested ``(key, data,
children)``), ``db.changes(v1, v2)`` lists exactly the nodes whose parent, position or
data differ (see ``check_changes`` there for what "position" means) and equals the
full comparison of the two versions, the logged updates replay to the same tree, and
syncing B again commits nothing.
"""

from __future__ import annotations

import os
from typing import Any, Callable, List, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botree import Database, Tree
from botree.errors import ConflictError, DuplicateKey, InvalidArgument
from botree.tree.sync import SyncReport
from tests.conftest import pg_schema_url
from tests.tree.test_sync import check_changes, from_rows, nested, pairs, same_report


def sync_and_check(db: Database, a: Tree, b: Tree) -> None:
    """``db`` holds A at its head: sync it with B and check everything the module promises."""
    v1, old = db.snapshot()
    report = db.sync(b, message="sync", meta={"by": "test"}, key="id")
    v2, new = db.snapshot()
    new.check()
    assert nested(new) == nested(b)
    changes = db.changes(v1, v2)
    assert changes == old.diff(new)
    check_changes(a, b, old, new, changes)
    same_report(report, changes)
    if changes:
        assert report.version == v2 == v1 + 1
        commit = db.history()[-1]
        assert commit.message == "sync" and dict(commit.meta) == {"by": "test"}
        assert commit.ops is not None and len(commit.ops) >= bool(changes)
        assert db.replay() == new
    else:
        assert report.version is None and v2 == v1
    again = db.sync(Tree.from_events(b.data_events()), key="id")
    assert again == SyncReport() and db.version == v2


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs(), st.booleans())
def test_sync_in_memory(pair: Tuple[Tree, Tree], keyed: bool) -> None:
    a, b = pair
    if keyed:
        a = Tree.from_events(a.data_events(), key="id")
    sync_and_check(Database(a), a, b)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(pair=pairs())
def test_sync_on_sqlite_and_after_reopening(pair: Tuple[Tree, Tree], tmp_path_factory: Any) -> None:
    a, b = pair
    path = os.path.join(str(tmp_path_factory.mktemp("sync")), "tree.db")
    with Database(path) as db:
        db.replace(a)
        sync_and_check(db, a, b)
        version = db.version
    with Database(path) as db:
        assert db.version == version and nested(db.tree) == nested(b)
        db.verify()
        assert db.sync(b, key="id").version is None


def test_sync_on_postgresql() -> None:
    a = from_rows([("r", None, 0), (1, "r", 0), (2, "r", 1), (3, 2, 0), (4, "r", 0), ("x", None, 0)])
    b = from_rows([("r", None, 0), (4, "r", 0), (1, "r", 2), (3, "r", 0), (5, 4, 0), ("y", None, 0)])
    for url in pg_schema_url():
        with Database(url, key="id") as db:  # keyed: the stored key index follows every update of the sync
            db.replace(a)
            sync_and_check(db, a, b)
            assert db.history()[-1].ops is not None
        with Database(url) as db:
            assert db.key == "id" and nested(db.tree) == nested(b)
            assert db.tree.key_of(db.tree.node_of(5)) == 5
            db.verify()


def test_an_unchanged_target_commits_nothing_and_notifies_no_one() -> None:
    a = from_rows([(1, None, 0), (2, 1, 0)])
    db = Database(a)
    seen = []
    db.subscribe(lambda version, changes: seen.append(version))
    assert db.sync(a, key="id") == SyncReport() and db.version == 0 and seen == []
    assert db.sync(from_rows([(1, None, 0), (2, 1, 1)]), key="id") == SyncReport(changed=1, version=1)
    assert seen == [1]


def test_bad_input_commits_nothing() -> None:
    a = from_rows([(1, None, 0), (2, 1, 0)])
    db = Database(a)
    bad, _ = Tree().insert_child(None, {"id": 1, "v": object()})  # the value policy refuses it
    with pytest.raises(InvalidArgument, match="data"):
        db.sync(bad, key="id")
    duplicate = from_rows([(1, None, 0)]).insert_child(None, {"id": 1})[0]
    with pytest.raises(DuplicateKey, match="both hold the key"):
        db.sync(duplicate, key="id")
    with pytest.raises(InvalidArgument, match="no key field: sync needs one"):
        db.sync(a)
    with pytest.raises(InvalidArgument, match="retries"):
        db.sync(a, key="id", retries=-1)
    assert db.version == 0 and len(db.history()) == 1


def race(db: Database, write: Callable[[Any], None], times: int) -> List[int]:
    """Make the next ``times`` snapshots a sync reads stale: another commit (``write(tx)``) lands just after each.

    Returns the versions the snapshots read.
    """
    original = db.snapshot
    read: List[int] = []

    def snapshot() -> Any:
        head = original()
        if len(read) < times and not getattr(race, "busy", False):
            read.append(head[0])
            race.busy = True  # type: ignore[attr-defined]
            try:
                with db.transaction() as tx:
                    write(tx)
            finally:
                race.busy = False  # type: ignore[attr-defined]
        return head

    db.snapshot = snapshot  # type: ignore[method-assign]
    return read


def test_a_concurrent_commit_makes_sync_plan_again_on_the_newer_tree() -> None:
    a = from_rows([(1, None, 0), (2, 1, 0), (3, 1, 0)])
    b = from_rows([(1, None, 0), (3, 1, 0), (2, 1, 5)])
    db = Database(a)
    read = race(db, lambda tx: tx.insert_child(None, {"id": 9, "v": 0}), times=1)
    report = db.sync(b, key="id")
    assert read == [0] and db.version == 2  # planned on version 0, refused, planned again on version 1
    assert nested(db.tree) == nested(b)
    assert report == SyncReport(deleted=1, moved=1, changed=1, version=2)


def test_sync_gives_up_after_its_retries() -> None:
    db = Database(from_rows([(1, None, 0)]))
    read = race(db, lambda tx: tx.set_data(0, {"id": 1, "v": 10 + len(read)}), times=10)
    with pytest.raises(ConflictError):
        db.sync(from_rows([(1, None, 7)]), key="id", retries=2)
    assert read == [0, 1, 2] and db.version == 3 and db.tree.data(0) == {"id": 1, "v": 13}


@pytest.mark.parametrize("where", ["memory", "sqlite"])
def test_a_keyed_database_syncs_by_its_key_and_keeps_it(where: str, tmp_path: Any) -> None:
    a = from_rows([("co", None, 0), ("eng", "co", 0), ("ann", "eng", 0), ("ops", "co", 0)])
    b = from_rows([("co", None, 0), ("ops", "co", 0), ("bob", "ops", 0), ("eng", "co", 0), ("ann", "eng", 1)])
    path = os.path.join(str(tmp_path), "keyed.db")
    db = Database(key="id") if where == "memory" else Database(path, key="id")
    db.replace(a)  # keeps the database's key
    ann = db.tree.node_of("ann")
    report = db.sync(b)  # no key=: the database's
    assert report == SyncReport(inserted=1, moved=1, changed=1, version=2)
    assert db.key == "id" and db.tree.node_of("ann") == ann and db.tree.data(ann)["v"] == 1
    assert db.changes(1, 2).data_changed == [ann]
    with pytest.raises(InvalidArgument, match="key field is 'id': it cannot sync by 'v'"):
        db.sync(b, key="v")
    db.tree.check()
    if where == "sqlite":
        db.close()
        with Database(path) as again:
            assert again.key == "id" and nested(again.tree) == nested(b)
            assert again.sync(b).version is None
            again.verify()
