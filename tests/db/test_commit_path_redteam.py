"""Red-team tests of the merged stored commit path: branches, queued commits, keys, the change feed.

Real processes (``tests/db/branch_worker.py``) on SQLite and PostgreSQL; afterwards the
stored history must hold every commit exactly once, in a global, append-only numbering,
each branch a first-parent chain, and ``verify()`` and ``replay()`` must agree with it.
"""

from __future__ import annotations

import itertools
import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import Any, Dict, Iterator, List

import pytest

from botree import Database
from botree.errors import DuplicateKey, MergeConflict
from tests import ROOT
from tests.conftest import pg_schema_url

WORKER = [sys.executable, "-m", "tests.db.branch_worker"]


@pytest.fixture
def url() -> Iterator[str]:
    yield from pg_schema_url()


def start(*args: str) -> "subprocess.Popen[str]":
    return subprocess.Popen([*WORKER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def killed_mid_work(proc: "subprocess.Popen[str]", rng: random.Random) -> List[str]:
    """SIGKILL the worker 0.1-0.6 s after its first printed line (its first commit landed: the kill
    is mid-work, however slowly the loaded machine started the process); every line it printed."""
    assert proc.stdout is not None
    first = proc.stdout.readline()
    time.sleep(rng.uniform(0.1, 0.6))
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate()
    return (first + out).splitlines()


def finish(proc: "subprocess.Popen[str]") -> Dict[str, Any]:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return dict(json.loads(out.strip().splitlines()[-1]))


def rooted(target: str) -> Database:
    db = Database(target)
    with db.transaction() as tx:
        assert tx.insert_root("root") == 0
    return db


def check_history(db: Database) -> None:
    """Versions 0..head once each; every branch's history is a first-parent chain; verify and replay hold."""
    everything = db.history(all_branches=True)
    assert [c.version for c in everything] == list(range(everything[0].version, db._store.head() + 1))  # type: ignore[attr-defined]
    db.verify()
    for name in db.branches():
        handle = db.on(name)
        chain = handle.history()
        assert chain[-1].version == handle.version
        # Inherited commits, then the branch's own: the chain never returns to a branch it left.
        runs = [branch for branch, _ in itertools.groupby(c.branch for c in chain)]
        assert len(runs) == len(set(runs)) and (name not in runs or runs[-1] == name), (name, runs)
        for older, newer in zip(chain, chain[1:]):
            assert newer.parent == older.version and older.version < newer.version, (name, older, newer)
        assert handle.replay() == handle.tree
        handle.tree.check()


def items(tree: Any) -> List[Any]:
    return [tuple(d) for d in (tree.data(n) for n in tree.children(0)) if isinstance(d, list)]


def test_writers_on_main_and_a_new_branch_with_a_merger(target: str) -> None:
    db = rooted(target)
    count = 20
    procs = [start("writer", target, "main", "m1", str(count)), start("writer", target, "main", "m2", str(count)),
             start("writer", target, "side", "s", str(count)), start("merger", target, "side", "4")]
    deadline = time.monotonic() + 20
    while db.version < 6 and time.monotonic() < deadline:  # create the branch while main's writers commit
        time.sleep(0.005)
    db.branch("side")
    results = [finish(p) for p in procs]
    versions = [v for r in results[:3] for _, v in r["landed"]]
    assert len(versions) == len(set(versions)) == 3 * count
    merges = [c.version for c in db.history(all_branches=True) if c.merged is not None]
    assert not set(merges) & set(versions)
    assert set(results[3]["versions"]) <= set(merges) | set(versions) | {1}  # a no-op merge returns the head
    assert db._store.head() == 1 + len(versions) + len(merges)  # type: ignore[attr-defined]
    check_history(db)
    main_items, side_items = Counter(items(db.tree)), Counter(items(db.on("side").tree))
    # A node id names one node on every branch: the same id never carries two writers' items.
    by_id: Dict[int, Any] = {}
    for tree in (db.tree, db.on("side").tree):
        for n in tree.children(0):
            assert by_id.setdefault(n, tree.data(n)) == tree.data(n), n
    assert all(n == 1 for n in main_items.values()) and all(n == 1 for n in side_items.values())
    assert {("m1", i) for i in range(count)} | {("m2", i) for i in range(count)} <= set(main_items)
    # The side's items: all on the side branch; on main those the merges brought over.
    assert set(side_items) >= {("s", i) for i in range(count)}
    db.merge("side")
    assert {("s", i) for i in range(count)} <= set(Counter(items(db.tree)))
    assert all(n == 1 for n in Counter(items(db.tree)).values())
    check_history(db)
    db.close()


def test_sigkill_during_branch_commits_and_merges(target: str) -> None:
    db = rooted(target)
    db.branch("side")
    db.close()
    rng = random.Random(5)
    seen: Dict[str, int] = {}
    for round_no in range(5):
        printed = [line.split() for line in killed_mid_work(start("crash", target, str(round_no)), rng)]
        assert printed, "the worker committed nothing before it was killed"
        again = Database(target)
        check_history(again)
        main = Counter(items(again.tree))
        side = Counter(items(again.on("side").tree))
        assert all(n == 1 for n in main.values()) and all(n == 1 for n in side.values()), round_no
        seen["versions"] = again._store.head()  # type: ignore[attr-defined]
        with again.transaction() as tx:  # the next commit works
            tx.insert_child(0, ["after", round_no])
        with again.on("side").transaction() as tx:
            tx.insert_child(0, ["after-side", round_no])
        again.close()
    assert seen["versions"] > 15


def keyed_db(target: str) -> Database:
    db = Database(target, key="k")
    with db.transaction() as tx:
        assert tx.insert_root({"k": "root"}) == 0
    return db


def test_two_processes_inserting_the_same_keys_land_each_once(target: str) -> None:
    db = keyed_db(target)
    keys = [f"k{i}" for i in range(15)]
    procs = [start("keyed", target, "main", name, *keys) for name in ("a", "b")]
    a, b = (finish(p) for p in procs)
    assert sorted(a["landed"] + b["landed"]) == sorted(keys)
    refused = a["refused"] + b["refused"]
    assert sorted(k for k, _ in refused) == sorted(keys)
    assert {kind for _, kind in refused} <= {"ConflictError", "DuplicateKey"}
    tree = db.tree
    assert sorted(tree.key_of(n) for n in tree.children(0)) == sorted(keys)
    for key in keys:
        winner = "a" if key in a["landed"] else "b"
        assert tree.data(tree.node_of(key))["by"] == winner
    check_history(db)
    db.close()


def test_the_same_keys_on_two_branches_merge_as_conflicts(target: str) -> None:
    db = keyed_db(target)
    keys = [f"k{i}" for i in range(8)]
    db.branch("side")
    procs = [start("keyed", target, "main", "m", *keys), start("keyed", target, "side", "s", *keys[::2])]
    m, s = (finish(p) for p in procs)
    assert sorted(m["landed"]) == sorted(keys) and sorted(s["landed"]) == sorted(keys[::2])
    heads = db.branches()
    try:
        db.merge("side")
    except MergeConflict as exc:
        assert len(exc.conflicts) == len(keys[::2])
        assert all("already held" in c.reason for c in exc.conflicts)
    else:
        raise AssertionError("a duplicate key across the branches merged")
    assert db.branches() == heads  # nothing committed
    with db.transaction() as tx:  # main renames its keys that the side holds too; now the merge goes through
        for key in keys[::2]:
            tx.set_data(tx.node_of(key), {"k": "main-" + key, "by": "m"})
    db.merge("side")
    tree = db.tree
    renamed = [f"main-{k}" for k in keys[::2]]
    assert sorted(tree.key_of(n) for n in tree.children(0)) == sorted(keys[1::2] + keys[::2] + renamed)
    check_history(db)
    db.close()


def test_a_set_data_duplicating_a_key_of_the_other_side_is_a_merge_conflict(target: str) -> None:
    db = keyed_db(target)
    with db.transaction() as tx:
        node = tx.insert_child(0, {"k": "x"})
    side = db.branch("side")
    with db.transaction() as tx:
        tx.insert_child(0, {"k": "taken"})
    with side.transaction() as tx:
        tx.set_data(node, {"k": "taken"})
    for source, into in ((side, db), (db, side)):
        heads = db.branches()
        try:
            into.merge(source)
        except MergeConflict as exc:
            assert len(exc.conflicts) == 1, exc.conflicts
        else:
            raise AssertionError("a duplicate key across the branches merged")
        assert db.branches() == heads
    check_history(db)
    db.close()


DIE_INSIDE = """
import os, sys
from botree import Database

db = Database(sys.argv[1])
cls = type(db._store)
what, statement = sys.argv[2], sys.argv[3]
if statement == "append":
    append = cls._append

    def append_then_die(self, *args):
        append(self, *args)
        os._exit(9)  # every write of the commit ran, the transaction is open: the process dies before COMMIT

    cls._append = append_then_die
else:
    run = cls._run

    def run_then_die(self, sql, params=()):
        found = run(self, sql, params)
        if sql.startswith(statement):
            os._exit(9)
        return found

    cls._run = run_then_die
if what == "set_key":
    db.set_key("k")
elif what == "add_index":
    db.add_index("n")
elif what == "branch":
    db.branch("side")
elif what == "side":
    with db.on("side").transaction() as tx:
        tx.insert_child(0, {"k": "new", "n": 1})
elif what == "merge":
    db.merge("side")
sys.exit(3)  # never reached
"""


def die_inside(target: str, what: str, statement: str) -> None:
    done = subprocess.run([sys.executable, "-c", DIE_INSIDE, target, what, statement], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 9, done.stderr


def test_a_kill_inside_the_first_commit_of_each_new_table_leaves_nothing(target: str) -> None:
    """The first set_key (creates ``keys``), add_index (``fields``), branch (``branches``, ``lineage``),
    a branch commit and a merge, each killed after its last write, before COMMIT; then done for real."""
    db = Database(target)
    with db.transaction() as tx:
        tx.insert_root({"k": "root", "n": 0})
        tx.insert_child(0, {"k": "a", "n": 1})
    steps = [
        ("set_key", "append", lambda: db.set_key("k")),
        ("add_index", "append", lambda: db.add_index("n")),
        ("branch", "INSERT INTO branches", lambda: db.branch("side")),
        ("side", "append", lambda: _side_insert(db)),
        ("merge", "append", lambda: db.merge("side")),
    ]
    for what, statement, really in steps:
        if what == "merge":
            with db.transaction() as tx:  # so that the merge is not a no-op
                tx.insert_child(0, {"k": "main", "n": 2})
        before = (db._store.head(), db._store.tables(), db.branches())  # type: ignore[attr-defined]
        die_inside(target, what, statement)
        after = Database(target)
        assert (after._store.head(), after._store.tables(), after.branches()) == before, what  # type: ignore[attr-defined]
        after.verify()
        after.close()
        really()
        check_history(db)
    assert db.tree.key == "k" and db.tree.find(n=1) == [db.tree.node_of("a"), db.tree.node_of("new")]
    db.close()


def _side_insert(db: Database) -> None:
    with db.on("side").transaction() as tx:
        tx.insert_child(0, {"k": "new", "n": 1})


@pytest.mark.parametrize("seed", [1, 2])
def test_branch_commits_and_merges_land_once_while_backends_are_terminated(url: str, seed: int) -> None:
    """``pg_terminate_backend`` before COMMIT and after it (the answer lost): each commit lands exactly once."""
    from tests.storage.test_reconnect import killer, store_of

    rng = random.Random(seed)
    db = Database(url)
    store = store_of(db)
    model = Database()
    for target in (db, model):
        with target.transaction() as tx:
            tx.insert_root("root")
        target.branch("side")
    injected, budget = killer(store, 0.4, rng)
    for step in range(24):
        budget[0] = store.attempts - 1
        kind = step % 4
        for target in (db, model):
            if kind == 3:
                target.merge("side", message=f"merge {step}")
            elif kind == 2:
                target.on("side").merge("main", message=f"merge back {step}")
            else:
                handle = target.on("side") if kind == 1 else target
                with handle.transaction(message=f"step {step}") as tx:
                    tx.insert_child(0, ["step", step])
        assert db.branches() == model.branches(), step  # one version per commit: none lost, none twice
    store.commit_hook = None
    assert all(injected.values()), injected
    for name in ("main", "side"):
        assert db.on(name).tree == model.on(name).tree
        assert [c.message for c in db.on(name).history()] == [c.message for c in model.on(name).history()]
    check_history(db)
    db.close()


@pytest.mark.parametrize("side_first", [False, True])
def test_listeners_on_two_branches_hear_every_version_of_their_branch_once_in_order(
    target: str, side_first: bool
) -> None:
    """``side_first`` found a bug: the feed thread started by a fresh branch handle (one that had not
    read its branch yet) failed on every version (``BranchNotFound`` from ``as_of``), forever."""
    db = rooted(target)
    side = db.branch("side")
    heard: Dict[str, List[Any]] = {"main": [], "side": []}
    lock = threading.Lock()

    def listener(name: str) -> Any:
        def hear(version: int, changes: Any) -> None:
            with lock:
                heard[name].append((version, sorted(changes.inserted)))
        return hear

    since = db._store.head()  # type: ignore[attr-defined]
    for handle in ((side, db) if side_first else (db, side)):
        handle.subscribe(listener(handle.branch_name))
    procs = [start("writer", target, "main", "m", "15"), start("writer", target, "side", "s", "15"),
             start("merger", target, "side", "5")]
    for i in range(0 if side_first else 6):  # this process commits on the side too, and merges main into it
        with side.transaction(message=f"here {i}") as tx:
            tx.insert_child(0, ["here", i])
        side.merge("main", message=f"merge main {i}")
        time.sleep(0.05)
    for p in procs:
        finish(p)
    deadline = time.monotonic() + 15
    for name in ("main", "side"):
        handle = db.on(name)
        expected = [c.version for c in handle.history(since=since)]
        while [v for v, _ in heard[name]] != expected and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [v for v, _ in heard[name]] == expected, name
        for (version, inserted), commit in zip(heard[name], handle.history(since=since)):
            assert inserted == sorted(handle.changes(commit.parent, version).inserted), (name, version)
    check_history(db)
    db.close()


def test_a_branch_another_object_created_is_usable_before_the_head_moves(target: str) -> None:
    """Found by this red team: an object opened before the first branch existed took the head
    not having moved for "no branch tables" and refused the new branch (``BranchNotFound``)."""
    first = rooted(target)
    second = Database(target)  # opened before any branch exists; the head does not move below
    first.branch("side")
    side = second.on("side")
    assert side.version == 1 and side.tree == first.tree
    with side.transaction() as tx:
        tx.insert_child(0, "x")
    assert first.on("side").tree == side.tree and first.version == 1
    third = Database(target)
    with third.transaction() as tx:  # main from an object that saw the branch tables only now
        tx.insert_child(0, "y")
    assert first.branches() == {"main": 3, "side": 2}
    check_history(first)
    for db in (first, second, third):
        db.close()


def test_criss_cross_merges_from_several_processes_converge(target: str) -> None:
    db = rooted(target)
    db.branch("side")
    count = 12
    procs = [start("writer", target, "main", "m", str(count)), start("writer", target, "side", "s", str(count)),
             start("merger", target, "side", "4"), start("merger", target, "side", "4"),
             start("merger", target, "main", "4", "side")]
    results = [finish(p) for p in procs]
    assert len({v for r in results[:2] for _, v in r["landed"]}) == 2 * count
    db.merge("side")
    db.on("side").merge("main")
    expected = {("m", i) for i in range(count)} | {("s", i) for i in range(count)}
    for name in ("main", "side"):
        found = Counter(items(db.on(name).tree))
        assert set(found) == expected and set(found.values()) == {1}, name
    check_history(db)  # (sibling order may differ: a merge appends the source's inserts, never fast-forwards)
    db.close()


def test_sigkill_during_set_key_add_index_and_merges_on_branches(target: str) -> None:
    db = Database(target)
    with db.transaction() as tx:
        tx.insert_root({"k": "root", "n": 0})
    db.branch("side")
    db.close()
    rng = random.Random(7)
    kinds: Counter[str] = Counter()
    for round_no in range(5):
        kinds.update(line.split()[0] for line in killed_mid_work(start("reconfigure", target, str(round_no)), rng))
        again = Database(target)
        check_history(again)
        for name in ("main", "side"):
            handle = again.on(name)
            tree = handle.tree
            if tree.key is not None:
                assert all(tree.node_of(tree.key_of(n)) == n for n in tree.children(0))
            with handle.transaction() as tx:  # the next commit works
                tx.insert_child(0, {"k": f"after.{name}.{round_no}", "n": -1})
        again.close()
    assert kinds["main"] and kinds["side"] and kinds["index"] and kinds["key"] and kinds["merge"], kinds


@pytest.mark.parametrize("stage", ["before", "after"])
def test_creating_and_deleting_a_branch_survive_a_terminated_backend(url: str, stage: str) -> None:
    """Found by this red team: when COMMIT's answer was lost, the retried ``create_branch`` found the
    branch it had just created and reported "already exists" (``delete_branch``: "does not exist")."""
    from tests.storage.test_reconnect import lose, store_of

    db = rooted(url)
    store = store_of(db)
    armed = [True]

    def hook(when: str) -> None:
        if armed[0] and when == stage:
            armed[0] = False
            lose(store, when)  # "after": COMMIT went through, its answer is lost

    for name in ("first", "second"):  # the first creates the branch tables
        armed[0] = True
        store.commit_hook = hook
        side = db.branch(name)
        store.commit_hook = None
        assert not armed[0] and side.version == 1 and set(db.branches()) >= {"main", name}
    armed[0] = True
    store.commit_hook = hook
    db.delete_branch("first")
    store.commit_hook = None
    assert not armed[0] and set(db.branches()) == {"main", "second"}
    with db.on("second").transaction() as tx:
        tx.insert_child(0, "x")
    check_history(db)
    db.close()


def test_set_key_racing_another_process_inserting_a_duplicate(target: str) -> None:
    db = Database(target)
    with db.transaction() as tx:
        tx.insert_root({"k": "root"})
    keys = [f"u{i}" for i in range(20)]
    keys[6] = keys[14] = "dup"
    proc = start("keyed", target, "main", "w", *keys)
    deadline = time.monotonic() + 20
    while db.version < 9 and time.monotonic() < deadline:  # the first "dup" has landed
        time.sleep(0.002)
    try:
        db.set_key("k")
        keyed = True
    except DuplicateKey:
        keyed = False
    result = finish(proc)
    tree = db.tree
    dups = [n for n in tree.children(0) if tree.data(n)["k"] == "dup"]
    if keyed:
        children = list(tree.children(0))
        assert tree.key == "k" and len(dups) == 1
        assert len({tree.key_of(n) for n in children}) == len(children)
        assert ["dup", "ConflictError"] in result["refused"] or ["dup", "DuplicateKey"] in result["refused"]
    else:
        assert tree.key is None and len(dups) == 2 and not result["refused"]
    check_history(db)
    db.close()


def test_the_repr_of_a_fresh_or_deleted_branch_handle_does_not_raise(target: str) -> None:
    db = rooted(target)
    fresh = db.branch("side")
    assert "side" in repr(fresh) and repr(db).endswith("version=1)")
    db.delete_branch("side")
    assert "side" in repr(fresh)
    db.close()


def test_processes_creating_the_first_branches_at_once(target: str) -> None:
    db = rooted(target)
    names = [f"b{i}" for i in range(6)]
    procs = [start("writer", target, "main", "m", "15")]
    procs += [start("brancher", target, *names[i::2], "shared") for i in range(2)]
    results = [finish(p) for p in procs]
    created = results[1]["created"] + results[2]["created"]
    assert sorted(n for n, _ in created) == sorted(names + ["shared"])
    assert results[1]["refused"] + results[2]["refused"] == ["shared"]
    assert set(db.branches()) == {"main", *names, "shared"}
    versions = [v for _, v in results[0]["landed"]] + [v for _, v in created]
    assert len(set(versions)) == len(versions) == 15 + 7
    for name, version in created:
        handle = db.on(name)
        assert handle.version == version and ["on", name] in [handle.tree.data(n) for n in handle.tree.children(0)]
    check_history(db)
    db.close()


def test_compact_racing_the_first_branch_keeps_its_head(target: str) -> None:
    """Found by this red team: ``compact`` looked for branch tables before its transaction, so a
    branch another process created in between (here at an old version) lost its head's commit.
    Compaction now reads the branch heads inside its transaction and keeps every head."""
    db = rooted(target)
    for i in range(3):
        with db.transaction() as tx:
            tx.insert_child(0, i)
    other = Database(target)
    store = db._store  # type: ignore[attr-defined]
    store.branched = lambda: False  # it looked just before ``other`` created the first branch
    other.branch("old", at=1)
    assert db.compact(1) == 1  # the branch "old" at version 1 holds the cut back
    del store.branched
    assert other.on("old").version == 1 and other.on("old").tree == other.as_of(1)
    check_history(other)
    for handle in (db, other):
        handle.close()
