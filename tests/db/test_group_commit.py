"""Group commit: writers that find the head lock taken queue their transactions, and the
writer holding it serves them all in one transaction.

The tests hold the writers' lock themselves (SQLite: the ``PATH-lock`` flock; PostgreSQL:
the schema's advisory lock), so that several commits queue up, then let go and check that
each landed exactly once, as its own version, with its message, data and id map.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from botree import Database
from botree.errors import ConflictError, StorageError
from botree.storage import codec


@contextmanager
def writers_lock(target: str) -> Iterator[None]:
    """Hold the lock every botree writer of ``target`` takes, as a writer in a long transaction would."""
    if target.startswith("postgresql"):
        import psycopg

        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(1651471474, hashtext(current_schema()))")
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(1651471474, hashtext(current_schema()))")
    else:
        import fcntl

        fd = os.open(target + "-lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def queued(target: str) -> int:
    """How many requests wait in ``target``'s queue."""
    if target.startswith("postgresql"):
        import psycopg

        with psycopg.connect(target, autocommit=True) as conn:
            if conn.execute("SELECT to_regclass('queue')").fetchone() == (None,):
                return 0
            row = conn.execute("SELECT count(*) FROM queue").fetchone()
            return int(row[0]) if row else 0
    try:
        return len([n for n in os.listdir(target + "-queue") if n.endswith(".req")])
    except FileNotFoundError:
        return 0


def commit_in_thread(db: Database, work: Any, results: Dict[str, Any], name: str) -> threading.Thread:
    def run() -> None:
        try:
            with db.transaction(message=name, meta={"who": name}) as tx:
                results[name + ".made"] = work(tx)
            results[name] = tx
        except Exception as exc:  # reported to the test
            results[name] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def wait_for(condition: Any, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def run_queued(target: str, threads: List[threading.Thread], count: int) -> None:
    """Start ``threads`` while holding the writers' lock, wait until ``count`` requests are queued, let go, join."""
    with writers_lock(target):
        for thread in threads:
            thread.start()
        wait_for(lambda: queued(target) == count)
    for thread in threads:
        thread.join(60)


def test_queued_commits_land_once_each(target: str) -> None:
    setup = Database(target)
    with setup.transaction() as tx:
        root = tx.insert_root("root")
    base = setup.version
    writers = [Database(target) for _ in range(4)]
    results: Dict[str, Any] = {}
    with writers_lock(target):
        threads = [
            commit_in_thread(db, lambda tx, i=i: tx.insert_child(root, f"child {i}"), results, f"w{i}")
            for i, db in enumerate(writers)
        ]
        wait_for(lambda: queued(target) == 4)  # all four wait, queued
    for thread in threads:
        thread.join(60)
    txs = [results[f"w{i}"] for i in range(4)]
    assert all(not isinstance(tx, Exception) for tx in txs), txs
    versions = sorted(tx.committed for tx in txs)
    assert versions == list(range(base + 1, base + 5))
    reader = Database(target)
    history = {c.version: c for c in reader.history()}
    tree = reader.tree
    for i, tx in enumerate(txs):
        commit = history[tx.committed]
        assert commit.message == f"w{i}" and dict(commit.meta) == {"who": f"w{i}"}
        made = results[f"w{i}.made"]
        node = tx.ids.get(made, made)  # the id the insert got when it was replayed
        assert tree.data(node) == f"child {i}" and tree.parent(node) == root
    with setup.transaction() as later:  # the head moves on before any writer reads its tx.tree
        later.insert_child(root, "later")
    for tx in txs:
        # The committed tree handed back to each writer (loaded on first read when another
        # writer stored it) is its own version, not the head: exactly what a reader sees there.
        assert tx.tree == reader.as_of(tx.committed)
        assert tx.tree is tx.tree  # loaded once
        assert sorted(tx.tree.data(n) for n in tx.tree.children(root)) == sorted(
            f"child {j}" for j in range(4) if txs[j].committed <= tx.committed
        )
    assert sorted(tree.data(n) for n in tree.children(root)) == [f"child {i}" for i in range(4)]
    for db in writers:  # a served writer reads, and builds on, the newest head
        assert db.version == setup.version and db.tree == setup.tree
        with db.transaction() as tx:
            tx.insert_child(root, "again")
        assert tx.tree == reader.tree
    assert queued(target) == 0
    reader.verify()
    for db in [setup, reader, *writers]:
        db.close()


def waiting_threads(db: Database) -> int:
    """How many of ``db``'s threads wait in its in-memory queue behind the thread committing."""
    with db._waiters_lock:  # type: ignore[attr-defined]
        return len(db._waiters)  # type: ignore[attr-defined]


def test_threads_sharing_a_database_land_in_one_group(target: str) -> None:
    """Threads of one ``Database`` queue in memory behind the thread committing, which stores them all
    in its own write transaction (one flush), each as a version of its own."""
    db = Database(target)
    with db.transaction() as tx:
        root = tx.insert_root("root")
    base = db.version
    groups: List[int] = []
    commit_group = db._store.commit_group  # type: ignore[attr-defined]

    def counted(work: Any, wait: bool = True) -> Any:
        result = commit_group(work, wait)  # Busy (the lock is taken) is not a group
        groups.append(1)
        return result

    db._store.commit_group = counted  # type: ignore[attr-defined]
    results: Dict[str, Any] = {}
    with writers_lock(target):  # the first thread queues in the store, the others behind it in memory
        threads = [
            commit_in_thread(db, lambda tx, i=i: tx.insert_child(root, f"child {i}"), results, f"t{i}")
            for i in range(5)
        ]
        wait_for(lambda: queued(target) == 1 and waiting_threads(db) == 4)
        # Meanwhile the object still reads: only its writer lock is held while the commit waits.
        seen: List[Any] = []
        reader = threading.Thread(target=lambda: seen.append((db.version, len(db.tree))))
        reader.start()
        reader.join(20)
        assert seen == [(base, 1)]
    for thread in threads:
        thread.join(60)
    txs = [results[f"t{i}"] for i in range(5)]
    assert all(not isinstance(tx, Exception) for tx in txs), txs
    assert sorted(tx.committed for tx in txs) == list(range(base + 1, base + 6))
    assert len(groups) == 1  # one write transaction stored all five
    with Database(target) as reader:
        history = {c.version: c for c in reader.history()}
        for i, tx in enumerate(txs):
            commit = history[tx.committed]
            assert commit.message == f"t{i}" and dict(commit.meta) == {"who": f"t{i}"}
            node = tx.ids.get(results[f"t{i}.made"], results[f"t{i}.made"])
            assert reader.tree.data(node) == f"child {i}" and reader.tree.parent(node) == root
            assert tx.tree == reader.as_of(tx.committed)
        assert sorted(reader.tree.data(n) for n in reader.tree.children(root)) == [f"child {i}" for i in range(5)]
        reader.verify()
    assert waiting_threads(db) == 0 and queued(target) == 0
    db.close()


def test_a_thread_whose_transaction_no_longer_applies_gets_the_conflict(target: str) -> None:
    db = Database(target)
    with db.transaction() as tx:
        counter = tx.insert_root(0)
        doomed = tx.insert_child(counter, "doomed")
    results: Dict[str, Any] = {}
    done: List[int] = []

    def bump() -> None:
        db.transact(lambda tx: tx.set_data(counter, tx.data(counter) + 1))  # serializable, retried
        done.append(1)

    with writers_lock(target):
        threads = [commit_in_thread(db, lambda tx: tx.delete(doomed), results, f"d{i}") for i in range(2)]
        threads += [threading.Thread(target=bump) for _ in range(3)]
        for thread in threads[2:]:
            thread.start()
        wait_for(lambda: queued(target) + waiting_threads(db) == 5)
    for thread in threads:
        thread.join(60)
    deletes = [results["d0"], results["d1"]]
    assert sum(isinstance(o, ConflictError) for o in deletes) == 1, deletes  # the second delete: its node is gone
    assert len(done) == 3
    with Database(target) as reader:
        assert reader.tree.data(counter) == 3 and doomed not in reader.tree  # no increment lost
        messages = [c.message for c in reader.history()]
        assert messages.count("d0") + messages.count("d1") == 1
    db.close()


def test_many_threads_and_processes_commit_each_transaction_once(target: str) -> None:
    """Threads of two ``Database`` objects commit at once: every commit lands once, in order per thread."""
    dbs = [Database(target) for _ in range(2)]
    with dbs[0].transaction() as tx:
        root = tx.insert_root("root")
    errors: List[BaseException] = []

    def run(db: Database, name: str) -> None:
        try:
            for i in range(15):
                with db.transaction(message=f"{name} {i}") as tx:
                    tx.insert_child(root, [name, i])
        except BaseException as exc:  # reported to the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(dbs[t % 2], f"t{t}")) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors[0]
    with Database(target) as reader:
        messages = [c.message for c in reader.history() if c.message and c.message.startswith("t")]
        assert sorted(messages) == sorted(f"t{t} {i}" for t in range(6) for i in range(15))  # each once
        for t in range(6):
            mine = [int(m.split()[1]) for m in messages if m.split()[0] == f"t{t}"]
            assert mine == list(range(15))  # in the order its thread committed them
        data = sorted(tuple(reader.tree.data(n)) for n in reader.tree.children(root))
        assert data == sorted((f"t{t}", i) for t in range(6) for i in range(15))
        reader.tree.check()
        reader.verify()
    for db in dbs:
        db.close()


def test_a_queued_commit_that_no_longer_applies_raises_conflict(target: str) -> None:
    setup = Database(target)
    with setup.transaction() as tx:
        root = tx.insert_root("root")
        child = tx.insert_child(root, "child")
    writers = [Database(target) for _ in range(2)]
    results: Dict[str, Any] = {}
    with writers_lock(target):
        threads = [commit_in_thread(db, lambda tx: tx.delete(child), results, f"w{i}") for i, db in enumerate(writers)]
        wait_for(lambda: queued(target) == 2)
    for thread in threads:
        thread.join(60)
    outcomes = [results["w0"], results["w1"]]
    conflicts = [o for o in outcomes if isinstance(o, ConflictError)]
    landed = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(conflicts) == 1 and len(landed) == 1, outcomes
    reader = Database(target)
    assert child not in reader.tree and [c.message for c in reader.history()].count(landed[0].message) == 1
    for db in [setup, reader, *writers]:
        db.close()


def test_a_serializable_transaction_queued_behind_another_is_refused_and_retried(target: str) -> None:
    setup = Database(target)
    with setup.transaction() as tx:
        counter = tx.insert_root(0)
    writers = [Database(target) for _ in range(3)]
    done: List[int] = []

    def bump(db: Database) -> None:
        db.transact(lambda tx: tx.set_data(counter, tx.data(counter) + 1))
        done.append(1)

    run_queued(target, [threading.Thread(target=bump, args=(db,)) for db in writers], 3)
    assert len(done) == 3
    with Database(target) as reader:
        assert reader.tree.data(counter) == 3  # no increment lost: each saw the one before
    for db in [setup, *writers]:
        db.close()


def rooted(tmp_path: Any) -> Tuple[str, Database, int]:
    """An SQLite database with a root: (path, database, root)."""
    path = os.path.join(str(tmp_path), "t.db")
    db = Database(path)
    with db.transaction() as tx:
        root = tx.insert_root("root")
    return path, db, root


def test_a_damaged_request_is_refused_and_the_rest_land(tmp_path: Any) -> None:
    path, db, root = rooted(tmp_path)
    good = codec.encode_request(7, db.version, 0, False, "m", {}, (("insert_child", (root, "x", None), 99),))
    bad = bytearray(good)
    bad[-3] ^= 0xFF  # a flipped bit in the body: the request's checksum fails
    os.makedirs(path + "-queue")
    for name, payload in (("00000000000000000001-7.req", bytes(bad)), ("00000000000000000002-8.req", b"\x00junk")):
        with open(os.path.join(path + "-queue", name), "wb") as f:
            f.write(payload)
    with db.transaction(message="mine") as tx:
        tx.insert_child(root, "mine")
    assert [c.message for c in db.history()][-1] == "mine"
    assert len(list(db.tree.children(root))) == 1  # neither damaged request was applied
    store = db._store  # type: ignore[attr-defined]
    for ticket in (7, 8):
        found = store.settled(ticket)
        assert found is not None and found[0] is None
        assert codec.decode_outcome(found[1], "test")[0] == codec.OUTCOME_DAMAGED
    assert queued(path) == 0
    db.close()


def test_a_damaged_outcome_is_corrupt_not_served(tmp_path: Any) -> None:
    import sqlite3

    path, db, root = rooted(tmp_path)
    store = db._store  # type: ignore[attr-defined]
    store.commit_group(lambda head, retrying: store.settle(5, head, codec.encode_ids({3: 4})))
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE tickets SET version = version + 1 WHERE ticket = 5")
    from botree.errors import CorruptDatabase

    with pytest.raises(CorruptDatabase):
        store.settled(5)
    assert root in db.tree
    db.close()


def test_a_queue_that_cannot_be_written_is_a_storage_error(tmp_path: Any) -> None:
    path = os.path.join(str(tmp_path), "t.db")
    db = Database(path)
    store = db._store  # type: ignore[attr-defined]
    with open(path + "-queue", "w") as f:  # a file where the queue's directory belongs
        f.write("not a directory")
    with pytest.raises(StorageError):
        store.post(1, b"x")
    with db.transaction() as tx:  # an uncontended commit never needs the queue
        tx.insert_root("fine")
    assert db.version == 1
    db.close()


def test_killed_writers_leave_each_commit_once_and_in_order(target: str) -> None:
    """Inserters commit single inserts as fast as they can while some are SIGKILLed mid-run
    (a holder serving a group, a writer waiting queued): every transaction lands at most
    once, each writer's landed commits are a gap-free prefix of its own, and the tree holds
    exactly the nodes the history says were inserted."""
    import json
    import random
    import signal
    import subprocess

    from tests.db.test_storage_processes import ROOT, WORKLOAD

    db = Database(target)
    with db.transaction(message="seed") as tx:
        tx.insert_child(None, "root")
    db.close()
    rng = random.Random(3)
    procs = {f"w{k}": subprocess.Popen([*WORKLOAD, "inserter", target, f"w{k}", "60"], stdout=subprocess.PIPE,
                                        text=True, cwd=ROOT) for k in range(3)}
    killed = []
    for round_no in range(3):
        time.sleep(rng.uniform(0.5, 1.5))
        name = rng.choice(sorted(procs))
        procs[name].send_signal(signal.SIGKILL)
        procs[name].communicate()
        killed.append(name)
        fresh = f"r{round_no}"
        procs[fresh] = subprocess.Popen([*WORKLOAD, "inserter", target, fresh, "20"], stdout=subprocess.PIPE,
                                        text=True, cwd=ROOT)
        del procs[name]
    for name, proc in procs.items():
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0 and json.loads(out)["committed"] == (60 if name.startswith("w") else 20)
    db = Database(target)
    history = db.history()
    assert [c.version for c in history] == list(range(db.version + 1))
    messages = [c.message for c in history[2:]]
    assert len(messages) == len(set(messages)), "a transaction landed twice"
    by_writer: Dict[str, List[int]] = {}
    for message in messages:
        name, i = message.split()
        by_writer.setdefault(name, []).append(int(i))
    for name, landed in by_writer.items():
        assert landed == list(range(len(landed))), (name, landed[:10])  # in order, no gap
    tree = db.tree
    data = sorted(tuple(tree.data(n)) for n in tree.preorder() if n != 0)
    assert data == sorted((m.split()[0], int(m.split()[1])) for m in messages)
    db.verify()
    db.close()


def test_a_request_stalled_past_the_outcomes_lifetime_is_withdrawn_not_served_again(
    target: str, monkeypatch: Any
) -> None:
    """A waiter that finds no outcome after waiting longer than outcomes are surely kept must not
    serve its request itself: a group may have stored it and its outcome been pruned since.  It is
    withdrawn and the commit raises StorageError; nothing is stored."""
    from botree.db import durable

    monkeypatch.setattr(durable, "_STALE_AFTER", -1)  # every wait counts as stalled
    first = Database(target)
    with first.transaction() as tx:
        root = tx.insert_root("r")
    version = first.version
    stalled = Database(target)
    results: Dict[str, Any] = {}
    thread = threading.Thread(target=lambda: results.update(out=_commit(stalled, root)))
    run_queued(target, [thread], 1)
    assert isinstance(results["out"], StorageError) and "unknown" in str(results["out"])
    assert queued(target) == 0  # withdrawn: no later group serves it
    with first.transaction() as tx:  # a later group stores only its own commit
        tx.insert_child(root, "later")
    fresh = Database(target)
    assert fresh.version == version + 1
    assert [fresh.tree.data(n) for n in fresh.tree.preorder()] == ["r", "later"]
    for db in (first, stalled, fresh):
        db.close()


def test_a_stalled_request_whose_outcome_is_there_lands_once(target: str, monkeypatch: Any) -> None:
    """The stall check comes after the outcome is looked for: a request a group served is answered."""
    from botree.db import durable

    monkeypatch.setattr(durable, "_STALE_AFTER", -1)
    server = Database(target)
    with server.transaction() as tx:
        root = tx.insert_root("r")
    version = server.version
    waiter = Database(target)
    store = waiter._store  # type: ignore[attr-defined]
    wait = store.await_unlocked

    def await_then_serve() -> None:  # once the lock is free, another object's commit serves the queue
        wait()
        if "served" not in results:
            results["served"] = True
            with server.transaction() as tx:
                tx.insert_child(root, "server's")

    store.await_unlocked = await_then_serve
    results: Dict[str, Any] = {}
    thread = threading.Thread(target=lambda: results.update(out=_commit(waiter, root)))
    run_queued(target, [thread], 1)
    tx = results["out"]
    assert not isinstance(tx, Exception), tx
    fresh = Database(target)
    assert fresh.version == version + 2 and tx.committed == version + 2  # served in the server's group, after its own
    assert sorted(fresh.tree.data(n) for n in fresh.tree.preorder()) == ["r", "server's", "waiter's"]
    for db in (server, waiter, fresh):
        db.close()


def _commit(db: Database, parent: int) -> Any:
    """Commit one insert under ``parent``: the transaction, or the exception."""
    try:
        with db.transaction() as tx:
            tx.insert_child(parent, "waiter's")
        return tx
    except Exception as exc:  # reported to the test
        return exc



def test_a_queued_commit_that_fails_and_cannot_be_withdrawn_says_its_outcome_is_unknown(
    tmp_path: Any, monkeypatch: Any
) -> None:
    """The server lost past the retries, both while serving and while withdrawing: a group may still
    store the posted request, so the error must say the outcome is unknown, not only that it failed."""
    target = os.path.join(str(tmp_path), "t.db")
    db = Database(target)
    with db.transaction() as tx:
        root = tx.insert_root("r")
    tries = {"serve": 0}

    def serve(*args: Any, **kwargs: Any) -> Any:
        tries["serve"] += 1
        if tries["serve"] == 1:
            from botree.storage.store import Busy

            raise Busy()  # the lock is taken: the request is posted
        raise StorageError("connection lost (gave up after 3 attempts)")

    def withdraw(ticket: int) -> Any:
        raise StorageError("connection lost (gave up after 3 attempts)")

    monkeypatch.setattr(db, "_serve", serve)
    monkeypatch.setattr(db, "_withdraw", withdraw)
    with pytest.raises(StorageError, match="whether it lands is unknown"):
        with db.transaction() as tx:
            tx.insert_child(root, "x")
    assert queued(target) == 1  # still posted: a later group may serve it, as the error says
