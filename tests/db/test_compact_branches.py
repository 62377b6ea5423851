"""``compact(keep)`` on a database with branches: memory, SQLite and PostgreSQL.

The cut is the oldest of the versions ``keep - 1`` first-parent steps back from each
branch head; everything from it on reads exactly as before, everything older raises
``VersionNotFound``, ``verify()`` passes and no stored cell is left that no kept
version pins (docs/concurrency.md, "Compaction with branches").
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any, Dict, Iterator, List, Set, Tuple

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from botree import Database
from botree.errors import VersionNotFound
from botree.storage.format import OPTIONAL_TABLES, TABLES
from tests.db.test_branches import KINDS, Opener, shape


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def new_db(kind: str, tmp_path: Any) -> Iterator[Opener]:
    opener = Opener(kind, str(tmp_path))
    yield opener
    opener.close()


def stored_cells(db: Database) -> Set[Tuple[str, int, int]]:
    """Every (table, leaf, version) cell a stored database holds."""
    store = db._store  # type: ignore[attr-defined]
    present = store.tables()
    return {
        (table, leaf, version)
        for table in (*TABLES, *(t for t in OPTIONAL_TABLES if t in present))
        for leaf, version, *_ in store.cells(table)
    }


def check_compacted(db: Database, seen: Dict[int, Any], cut: int, kind: str) -> None:
    """Kept versions read as before, dropped ones raise, verify passes, no unpinned cell is left.

    Stored, the versions are read again by a fresh handle too (cold: nothing cached).
    """
    fresh = db if kind == "memory" else Database(db.target)  # type: ignore[attr-defined]
    for reader in {id(db): db, id(fresh): fresh}.values():
        for version, before in seen.items():
            if version >= cut:
                assert shape(reader.as_of(version)) == before, version
            else:
                with pytest.raises(VersionNotFound):
                    reader.as_of(version)
    if fresh is not db:
        fresh.close()
    for name, head in db.branches().items():
        assert head >= cut
        assert shape(db.on(name).tree) == seen[head]
    db.verify()
    if kind != "memory":
        assert stored_cells(db) == with_bases(db, db._pinned(cut, db._newest()))  # type: ignore[attr-defined]


def with_bases(db: Database, cells: Set[Tuple[str, int, int]]) -> Set[Tuple[str, int, int]]:
    """``cells`` and the whole cells the patches among them apply to (which compaction keeps too)."""
    store = db._store  # type: ignore[attr-defined]
    present = store.tables()
    return cells | {
        (table, leaf, base)
        for table in (*TABLES, *(t for t in OPTIONAL_TABLES if t in present))
        for leaf, version, _, _, base in store.cells(table)
        if base is not None and (table, leaf, version) in cells
    }


def small_db(new_db: Opener) -> Tuple[Database, int]:
    """A database with a root and 200 children (several leaves), block size 8."""
    db = new_db()
    db.replace(__import__("botree").Tree(8))
    with db.transaction() as tx:
        root = tx.insert_root("r")
        for i in range(200):
            tx.insert_child(root, f"c{i}")
    return db, root


def test_a_branch_reading_a_superseded_cell_keeps_it(new_db: Opener, kind: str) -> None:
    db, root = small_db(new_db)
    side = db.branch("side")
    fork = side.version
    seen = {fork: shape(side.tree)}
    kids = list(db.tree.children(root))
    for i in range(5):  # main rewrites the leaves the side branch still reads
        with db.transaction() as tx:
            for kid in kids[::7]:
                tx.set_data(kid, f"main {i}")
        seen[db.version] = shape(db.tree)
    before = stored_cells(db) if kind != "memory" else set()
    cut = db.compact(1)
    assert cut == fork  # side's head holds the cut back
    check_compacted(db, seen, cut, kind)
    side.delete_branch("side")
    cut = db.compact(1)
    assert cut == db.version
    check_compacted(db, {v: s for v, s in seen.items() if v >= cut}, cut, kind)
    with pytest.raises(VersionNotFound):
        db.as_of(fork)
    if kind != "memory":
        assert len(stored_cells(db)) < len(before)


def test_a_cell_main_superseded_before_the_cut_stays_for_a_branch_that_forked_earlier(
    new_db: Opener, kind: str
) -> None:
    db, root = small_db(new_db)
    side = db.branch("side")
    fork = side.version
    kids = list(db.tree.children(root))
    with db.transaction() as tx:  # main supersedes the leaf of kids[0]; side still pins the old cell
        tx.set_data(kids[0], "main")
    seen = {}
    for i in range(3):
        with side.transaction() as tx:
            tx.set_data(kids[-1], f"side {i}")
        seen[side.version] = shape(side.tree)
        with db.transaction() as tx:
            tx.set_data(kids[-1], f"main {i}")
        seen[db.version] = shape(db.tree)
    cut = db.compact(2)  # past main's superseding commit, before both heads
    assert cut > fork + 1
    check_compacted(db, seen, cut, kind)
    assert side.tree.data(kids[0]) == "c0"


def forked(new_db: Opener, commits: int) -> Tuple[Database, int, int]:
    """(db, root, fork): a branch ``side`` forked at ``fork``, then ``commits`` inserts on each branch in turn."""
    db, root = small_db(new_db)
    side = db.branch("side")
    for i in range(commits):
        with side.transaction() as tx:
            tx.insert_child(root, f"side {i}")
        with db.transaction() as tx:
            tx.insert_child(root, f"main {i}")
    return db, root, side.history()[-1 - commits].version


def test_a_merge_whose_fork_point_was_compacted_raises(new_db: Opener, kind: str) -> None:
    db, _, fork = forked(new_db, 3)
    assert db.compact(1) > fork
    with pytest.raises(VersionNotFound, match="compacted away"):
        db.merge("side")
    db.verify()


def test_merges_across_kept_history_still_work(new_db: Opener, kind: str) -> None:
    db, root, fork = forked(new_db, 4)
    assert db.compact(6) <= fork  # main's 6 newest reach back past the fork point
    db.merge("side")
    data = sorted(db.tree.data(n) for n in db.tree.children(root))
    assert [d for d in data if d.startswith(("side", "main"))] == sorted(
        [f"side {i}" for i in range(4)] + [f"main {i}" for i in range(4)]
    )
    db.verify()


COMMIT = st.tuples(st.just("commit"), st.integers(0, 2), st.integers(0, 600))
BRANCH = st.tuples(st.just("branch"), st.integers(0, 2), st.integers(0, 2))
STEP = st.one_of(  # repeated alternatives are drawn more often
    COMMIT,
    COMMIT,
    COMMIT,
    BRANCH,
    BRANCH,
    st.tuples(st.just("delete"), st.integers(0, 2), st.just(0)),
    st.tuples(st.just("compact"), st.integers(1, 3), st.just(0)),
)
NAMES = ["main", "b1", "b2"]


@given(steps=st.lists(STEP, min_size=1, max_size=30))
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_random_commits_branches_deletions_and_compactions(kind: str, tmp_path_factory: Any, steps: List[Any]) -> None:
    opener = Opener(kind, str(tmp_path_factory.mktemp("cb")))
    try:
        db, root = small_db(opener)
        seen: Dict[int, Any] = {db.version: shape(db.tree)}
        cut = 0
        for action, a, b in steps:
            names = sorted(db.branches())  # a and b pick among the branches there are (or are not)
            missing = [n for n in NAMES if n not in names]
            if action == "commit":
                name = names[a % len(names)]
                handle = db.on(name)
                kids = list(handle.tree.children(root))
                near = (NAMES.index(name) * 70 + b // 4) % max(1, len(kids))  # a branch mostly keeps to its leaves
                with handle.transaction() as tx:
                    if b % 4 == 0 or not kids:
                        tx.insert_child(root, f"n{b}")
                    elif b % 4 == 3:
                        tx.delete(kids[near])
                    else:
                        tx.set_data(kids[near], f"d{b}")
                seen[handle.version] = shape(handle.tree)
            elif action == "branch" and missing:
                db.on(names[a % len(names)]).branch(missing[b % len(missing)])
            elif action == "delete" and len(names) > 1:
                db.delete_branch([n for n in names if n != "main"][a % (len(names) - 1)])
            elif action == "compact":
                new_cut = db.compact(a)
                event(f"compaction with {len(names)} branches")
                assert new_cut >= cut
                cut = new_cut
                check_compacted(db, seen, cut, kind)
                seen = {v: s for v, s in seen.items() if v >= cut}
    finally:
        opener.close()


KILL_DURING_COMPACT = """
import os, signal, sys
from botree import Database

db = Database(sys.argv[1])
dialect = type(db._store)
real = dialect._run

def delete_then_die(self, sql, params=()):
    rows = real(self, sql, params)
    if sql.lstrip().upper().startswith("DELETE FROM") and "leaf = " in sql:  # the first batch of cells
        os.kill(os.getpid(), signal.SIGKILL)
    return rows

dialect._run = delete_then_die
db.compact(1)
"""


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_kill_during_compaction_leaves_the_old_state(new_db: Opener, kind: str) -> None:
    db, root = small_db(new_db)
    side = db.branch("side")
    seen = {side.version: shape(side.tree)}
    kids = list(db.tree.children(root))
    for i in range(3):
        with db.transaction() as tx:
            tx.set_data(kids[0], f"main {i}")
        seen[db.version] = shape(db.tree)
    side.delete_branch("side")
    target = db.target  # type: ignore[attr-defined]
    cells, history = stored_cells(db), db.history(all_branches=True)
    done = subprocess.run([sys.executable, "-c", KILL_DURING_COMPACT, target], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == -9, done.stderr
    again = Database(target)
    again.verify()
    assert stored_cells(again) == cells and again.history(all_branches=True) == history
    check_compacted(again, seen, 0, kind)
    cut = again.compact(1)
    check_compacted(again, seen, cut, kind)
    again.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_branch_at_a_version_another_handle_compacted_is_refused(new_db: Opener, kind: str) -> None:
    db, root = small_db(new_db)
    old = db.version
    db.as_of(old)  # cached by this handle: only the stored commit row can tell it is gone
    other = Database(db.target)  # type: ignore[attr-defined]
    with other.transaction() as tx:
        tx.insert_child(root, "newer")
    assert other.compact(1) == other.version
    other.close()
    with pytest.raises(VersionNotFound):
        db._create_branch("late", old, db.tree)  # type: ignore[attr-defined]
    assert "late" not in db.branches()
    db.verify()


def test_the_cli_counts_every_branch_s_versions(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from botree.cli.main import main

    path = str(tmp_path / "c.db")
    with Database(path) as db:
        db.replace(__import__("botree").Tree(8))
        with db.transaction() as tx:
            root = tx.insert_root("r")
        side = db.branch("side")  # forks at version 2
        for i in range(2):
            with side.transaction() as tx:
                tx.insert_child(root, f"side {i}")  # versions 3, 5
            with db.transaction() as tx:
                tx.insert_child(root, f"main {i}")  # versions 4, 6
    assert main(["compact", path, "--keep", "1"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "dropped 5 versions; versions 5..6 remain"
    with Database(path) as db:
        assert [c.version for c in db.history(all_branches=True)] == [5, 6]
        db.verify()


def test_history_starts_at_the_cut_in_memory_as_stored(new_db: Opener) -> None:
    db = new_db()
    for i in range(6):
        with db.transaction(message=f"c{i}") as tx:
            tx.insert_child(None, {"i": i})
    side = db.branch("side")
    with side.transaction(message="s") as tx:
        tx.insert_child(None, {"side": True})
    cut = db.compact(2)
    kept = [c.version for c in db.history()]
    assert kept and kept[0] == cut and kept == list(range(cut, db.version + 1))
    assert all(c.version >= cut for c in db.history(all_branches=True))
    assert [c.message for c in side.history()][-1] == "s" and side.history()[0].version >= cut
    assert [c.version for c in db.history(since=cut - 5)] == kept  # since before the cut: still from the cut
    with pytest.raises(VersionNotFound):
        db.as_of(cut - 1)
