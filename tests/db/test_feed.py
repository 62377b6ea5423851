"""The change feed across processes: ``subscribe`` on a stored database hears every process's commits.

Listeners are real subprocesses (``tests/db/feed_worker.py``: 3 at once, as issue 14
asks) and Database objects in this process; committers are subprocesses (3 at once) and
a thread.  Every listener must receive every version exactly once, in order, with
``changes == db.changes(v - 1, v)`` as a fresh object reads it afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from typing import Any, List, Tuple

from botree import Database
from tests import ROOT
from tests.db.feed_worker import changes_json, commit

WORKER = [sys.executable, "-m", "tests.db.feed_worker"]
COUNT = 12  # commits per committer
LISTENERS = COMMITTERS = 3  # processes


def _seed(target: str) -> int:
    db = Database(target)
    with db.transaction(message="seed") as tx:
        for k in range(6):
            tx.insert_child(None, {"k": k})
    version = db.version
    db.close()
    return version


def test_three_listening_processes_hear_every_commit_of_three_committing_processes_once_in_order(
    target: str,
) -> None:
    """Issue 14: 3 listening processes (and a listening object in this one) while 3 other processes commit.

    Each listener's whole feed, version by version, must equal ``db.changes(v - 1, v)``
    read afterwards by a fresh object: a lost, repeated, reordered or wrong delivery fails.
    """
    start = _seed(target)
    until = start + COMMITTERS * COUNT
    listeners = [
        subprocess.Popen([*WORKER, "listen", target, str(until)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
        for _ in range(LISTENERS)
    ]
    committers: List["subprocess.Popen[bytes]"] = []
    heard: List[Tuple[int, Any]] = []
    here = Database(target)
    here.subscribe(lambda version, changes: heard.append((version, changes_json(changes))))
    try:
        for listener in listeners:  # every listener subscribed before the first commit
            assert listener.stdout is not None
            assert listener.stdout.readline().strip() == "ready"
        committers = [
            subprocess.Popen([*WORKER, "commit", target, str(seed), str(COUNT)], cwd=ROOT)
            for seed in range(1, COMMITTERS + 1)
        ]
        for proc in committers:
            assert proc.wait(120) == 0
        outs = [listener.communicate(timeout=120)[0] for listener in listeners]
        assert [listener.returncode for listener in listeners] == [0] * LISTENERS
        deadline = time.monotonic() + 30
        while len(heard) < until - start and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        for proc in [*listeners, *committers]:
            if proc.poll() is None:
                proc.kill()
        here.close()
    check = Database(target)
    assert check.version == until
    expected = [[v, changes_json(check.changes(v - 1, v))] for v in range(start + 1, until + 1)]
    check.close()
    assert sum(changes != [[], [], [], []] for _, changes in expected) > COUNT  # the comparison has teeth
    for out in outs:
        assert json.loads(out) == expected
    assert [list(x) for x in heard] == expected


def test_a_listening_object_hears_committing_threads_and_processes_once_in_order(target: str) -> None:
    """Committers in this process (a thread, with its own object) and in another; two listening objects here."""
    start = _seed(target)
    until = start + 2 * COUNT
    heard: List[List[Tuple[int, Any]]] = [[], []]
    dbs = [Database(target) for _ in heard]
    for db, into in zip(dbs, heard):
        db.subscribe(lambda version, changes, into=into: into.append((version, changes_json(changes))))
    try:
        other = subprocess.Popen([*WORKER, "commit", target, "1", str(COUNT)], cwd=ROOT)
        local = threading.Thread(target=commit, args=(target, 2, COUNT))
        local.start()
        local.join(120)
        assert other.wait(120) == 0
        deadline = time.monotonic() + 30
        while any(len(into) < until - start for into in heard) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        for db in dbs:
            db.close()
    check = Database(target)
    assert check.version == until
    expected = [[v, changes_json(check.changes(v - 1, v))] for v in range(start + 1, until + 1)]
    check.close()
    for into in heard:
        assert [list(x) for x in into] == expected


def test_own_commits_are_delivered_once_in_the_committing_thread_after_others(target: str) -> None:
    start = _seed(target)
    db, other = Database(target), Database(target)
    heard: List[Tuple[int, str]] = []
    stop = db.subscribe(lambda version, changes: heard.append((version, threading.current_thread().name)))
    with other.transaction() as tx:
        tx.insert_child(None, "other")
    with db.transaction() as tx:
        tx.insert_child(None, "mine")
    # The committing thread delivered the other object's version first if the feed had not.
    assert [v for v, _ in heard] == [start + 1, start + 2]
    assert heard[1][1] == threading.current_thread().name or heard[1][1] == "botree-feed"
    stop()
    with other.transaction() as tx:
        tx.insert_child(None, "unheard")
    time.sleep(0.3)
    assert [v for v, _ in heard] == [start + 1, start + 2]
    db.close()
    other.close()


def test_unsubscribing_the_last_listener_and_close_stop_the_feed_thread(target: str) -> None:
    _seed(target)
    db = Database(target)
    before = {t for t in threading.enumerate() if t.name == "botree-feed"}
    stop = db.subscribe(lambda version, changes: None)
    assert len({t for t in threading.enumerate() if t.name == "botree-feed"} - before) == 1
    began = time.monotonic()
    stop()
    assert time.monotonic() - began < 2
    assert not {t for t in threading.enumerate() if t.name == "botree-feed"} - before
    db.subscribe(lambda version, changes: None)
    began = time.monotonic()
    db.close()
    assert time.monotonic() - began < 2
    assert not {t for t in threading.enumerate() if t.name == "botree-feed"} - before


def test_feed_latency_from_another_object(target: str) -> None:
    _seed(target)
    db, other = Database(target), Database(target)
    arrived: List[float] = []
    got = threading.Event()

    def hear(version: int, changes: Any) -> None:
        arrived.append(time.monotonic())
        got.set()

    db.subscribe(hear)
    delays = []
    for i in range(5):
        got.clear()
        began = time.monotonic()
        with other.transaction() as tx:
            tx.insert_child(None, i)
        assert got.wait(10)
        delays.append(arrived[-1] - began)
    db.close()
    other.close()
    print(f"feed latency (commit start to delivery): {[round(d * 1000) for d in delays]} ms")
    assert max(delays) < 2.0
