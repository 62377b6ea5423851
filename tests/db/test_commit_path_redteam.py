"""Red-team tests of the merged stored commit path: branches, queued commits, keys, the change feed.

Real processes (``tests/db/branch_worker.py``) on SQLite and PostgreSQL; afterwards the
stored history must hold every commit exactly once, in a global, append-only numbering,
each branch a first-parent chain, and ``verify()`` and ``replay()`` must agree with it.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from typing import Any, Dict, List

from botree import Database
from tests import ROOT

WORKER = [sys.executable, "-m", "tests.db.branch_worker"]


def start(*args: str) -> "subprocess.Popen[str]":
    return subprocess.Popen([*WORKER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


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
        proc = start("crash", target, str(round_no))
        time.sleep(rng.uniform(0.8, 1.6))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        printed = [line.split() for line in out.splitlines()]
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
