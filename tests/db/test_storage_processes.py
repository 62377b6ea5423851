"""Storage across processes: SIGKILLed writers and concurrent committers.

The writers are real subprocesses running ``tests/db/storage_workload.py`` (as a module, from the
repository root).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

from botree import Database, Tree
from tests import ROOT
from tests.db.storage_workload import apply_step

WORKLOAD = [sys.executable, "-m", "tests.db.storage_workload"]


def test_sigkill_during_commits_leaves_the_last_committed_version(tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "crash.db")
    Database(path).close()
    model = Database()  # the same steps in memory: the same ids (a Database never reuses one)

    def expected_at(version: int) -> Tree:
        while model.version < version:
            with model.transaction() as tx:
                apply_step(tx, model.version + 1)
        return model.as_of(version)

    rng = random.Random(11)
    previous = 0
    kills_after_commits = 0
    for round_no in range(14):
        proc = subprocess.Popen([*WORKLOAD, "crash", path], stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert proc.stdout is not None
        first = proc.stdout.readline()  # its first commit landed, however slowly the loaded machine started it
        time.sleep(rng.uniform(0.05, 0.6))  # then it commits as fast as it can
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        out = first + out
        printed = [int(v) for v in out.split()]
        last = printed[-1] if printed else previous
        kills_after_commits += bool(printed)
        db = Database(path)
        version = db.version
        # The writer may be killed after its commit landed but before it printed.
        assert last <= version <= last + 1, (round_no, printed[-3:], version)
        assert db.tree == expected_at(version)
        db.tree.check()
        if round_no % 4 == 3:
            db.verify()
        db.close()
        previous = version
    assert kills_after_commits >= 10 and previous > 50


def test_four_processes_commit_to_one_database(target: str) -> None:
    db = Database(target)
    with db.transaction() as tx:
        assert tx.insert_child(None, "root") == 0
        assert tx.insert_child(None, 0) == 1  # a counter, bumped serializably
    db.close()
    count = 25
    procs = [
        subprocess.Popen([*WORKLOAD, "worker", target, f"w{k}", str(count)], stdout=subprocess.PIPE, text=True,
                         cwd=ROOT)
        for k in range(4)
    ]
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0
        results.append(json.loads(out))
    db = Database(target)
    tree = db.tree
    children = sorted(tuple(tree.data(c)) for c in tree.children(0))
    inserted = sorted((f"w{k}", i) for k, r in enumerate(results) for i in r["inserted"])
    assert children == inserted  # every committed insert is there exactly once
    assert len(inserted) == 4 * count  # inserts rebase and never conflict
    increments = sum(r["increments"] for r in results)
    assert tree.data(1) == increments  # serializable increments: none lost, none doubled
    assert sum(r["conflicts"] for r in results) > 0  # retries=0: concurrent commits surface as ConflictError
    assert db.version == 1 + len(inserted) + increments
    tree.check()
    db.verify()
    db.close()


def test_four_processes_of_single_inserts_give_one_version_each(target: str) -> None:
    """The queued commit path under contention: 4 x N commits are exactly 4 x N versions, each insert once."""
    db = Database(target)
    with db.transaction(message="seed") as tx:
        tx.insert_child(None, "root")
    db.close()
    count, writers = 30, 4
    procs = [
        subprocess.Popen([*WORKLOAD, "inserter", target, f"w{k}", str(count)], stdout=subprocess.PIPE, text=True,
                         cwd=ROOT)
        for k in range(writers)
    ]
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0
        assert json.loads(out) == {"committed": count}
    db = Database(target)
    history = db.history()
    assert db.version == 1 + writers * count  # none lost, none applied twice
    assert [c.version for c in history] == list(range(db.version + 1))
    assert all(c.parent == c.version - 1 for c in history)
    messages = [c.message for c in history[2:]]
    assert sorted(messages) == sorted(f"w{k} {i}" for k in range(writers) for i in range(count))
    for k in range(writers):  # each writer's commits landed in its own order
        mine = [int(m.split()[1]) for m in messages if m.split()[0] == f"w{k}"]
        assert mine == list(range(count))
    tree = db.tree
    data = sorted(tuple(tree.data(n)) for n in tree.preorder() if n != 0)
    assert data == sorted((f"w{k}", i) for k in range(writers) for i in range(count))
    for version in (1, 2, db.version // 2, db.version):  # every stored version reads back whole
        assert len(db.as_of(version)) == version
    tree.check()
    db.verify()
    db.close()
