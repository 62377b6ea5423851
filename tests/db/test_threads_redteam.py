"""Red-team tests of group commits shared by the threads of one ``Database`` (docs/storage.md,
"Commit throughput across processes"), on SQLite and PostgreSQL.

Threads commit through one object while other threads compact, branch, merge, re-key,
serialize increments, listen, or lose the store's connections; afterwards every commit
must have landed exactly once, in its thread's order, as the version its transaction
reports, with ``verify()``, ``tree.check()`` and ``replay()`` agreeing with the history.
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest

from botree import Database
from botree.errors import BotreeError, ConflictError, VersionNotFound
from tests import ROOT


def run_threads(bodies: List[Callable[[], None]], seconds: float = 120.0) -> None:
    """Run each body in a thread of its own; re-raise the first exception any raised."""
    errors: List[BaseException] = []

    def guarded(body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except BaseException as exc:  # reported to the test
                errors.append(exc)

        return run

    threads = [threading.Thread(target=guarded(body)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds)
        assert not thread.is_alive(), "a thread hung"
    if errors:
        raise errors[0]


def run_alongside(bodies: List[Callable[[], None]], helpers: List[Callable[[], None]], stop: threading.Event) -> None:
    """Run ``bodies`` and ``helpers`` in threads; ``stop`` is set once every body is done (helpers loop until then)."""

    def bodies_then_stop() -> None:
        try:
            run_threads(bodies)
        finally:
            stop.set()

    run_threads([bodies_then_stop, *helpers])


def inserter(db: Database, root: int, name: str, count: int, landed: List[Tuple[str, int, Any]]) -> Callable[[], None]:
    """A body committing ``count`` single inserts ``[name, i]`` under ``root``, each its own transaction."""

    def body() -> None:
        for i in range(count):
            with db.transaction(message=f"{name} {i}", meta={"who": name}) as tx:
                tx.insert_child(root, [name, i])
            landed.append((name, i, tx))

    return body


def check_landed(db: Database, root: int, landed: List[Tuple[str, int, Any]], names: List[str], count: int) -> None:
    """Each insert landed once, as its transaction's version, in its thread's order; the tree holds them all."""
    history = {c.version: c for c in db.history(all_branches=True)}
    versions = [tx.committed for _, _, tx in landed]
    assert len(versions) == len(set(versions)) == len(names) * count
    for name in names:
        mine = [(i, tx.committed) for n, i, tx in landed if n == name]
        assert [i for i, _ in mine] == list(range(count))
        assert [v for _, v in mine] == sorted(v for _, v in mine), name  # later commits, later versions
    for name, i, tx in landed:
        if tx.committed in history:  # not compacted away
            commit = history[tx.committed]
            assert commit.message == f"{name} {i}" and dict(commit.meta) == {"who": name}
    messages = [c.message for c in history.values() if c.message and c.message.split()[0] in names]
    assert len(messages) == len(set(messages)), "a transaction landed twice"
    tree = db.tree
    data = sorted(tuple(tree.data(n)) for n in tree.children(root) if isinstance(tree.data(n), list))
    assert data == sorted((name, i) for name in names for i in range(count))
    tree.check()
    db.verify()
    assert db.replay() == db.tree


def test_threads_commit_while_others_branch_merge_and_compact(target: str) -> None:
    db = Database(target)
    with db.transaction() as tx:
        root = tx.insert_root("root")
    names = [f"t{k}" for k in range(4)]
    count = 12
    landed: List[Tuple[str, int, Any]] = []
    merged: List[int] = []
    stop = threading.Event()

    def brancher() -> None:
        side = 0
        while not stop.is_set() and side < 4:
            name = f"side{side}"
            handle = db.branch(name)
            with handle.transaction(message=f"on {name}") as tx:
                tx.insert_child(root, f"from {name}")
            merged.append(db.merge(name))
            side += 1

    def compactor() -> None:
        rounds = 0
        while not stop.is_set() and rounds < 6:
            db.compact(keep=40)
            rounds += 1
            time.sleep(0.01)

    run_alongside([inserter(db, root, name, count, landed) for name in names], [brancher, compactor], stop)
    check_landed(db, root, landed, names, count)
    side_items = sorted(db.tree.data(n) for n in db.tree.children(root) if isinstance(db.tree.data(n), str))
    assert side_items == sorted(f"from side{k}" for k in range(len(merged)))  # each merge brought its one insert
    for _, _, tx in landed:
        try:
            expected = db.as_of(tx.committed)
        except VersionNotFound:
            continue
        assert tx.tree == expected
    with Database(target) as again:
        assert again.tree == db.tree and again.version == db.version
        again.verify()
    db.close()


def test_threads_commit_across_a_set_key_and_index(target: str) -> None:
    """A re-keying (a whole-tree commit) between threads' inserts: queued inserts made on the old head
    are replayed onto the re-keyed one, or refused with ConflictError; none lands twice, none is lost."""
    db = Database(target)
    with db.transaction() as tx:
        root = tx.insert_root({"k": "root"})
    landed: List[Tuple[str, int]] = []
    conflicts: List[Tuple[str, int]] = []

    def body(name: str) -> Callable[[], None]:
        def run() -> None:
            for i in range(10):
                def insert(tx: Any, i: int = i) -> int:
                    return int(tx.insert_child(root, {"k": f"{name}-{i}"}))

                try:
                    db.transact(insert, retries=50, message=f"{name} {i}")
                    landed.append((name, i))
                except ConflictError:
                    conflicts.append((name, i))

        return run

    def rekey() -> None:
        time.sleep(0.02)
        db.set_key("k")
        time.sleep(0.02)
        db.add_index("k")  # already the key's: an index of its own on the same field
        time.sleep(0.02)
        db.set_key(None)

    run_threads([body(f"t{k}") for k in range(3)] + [rekey])
    assert not conflicts
    tree = db.tree
    keys = sorted(tree.data(n)["k"] for n in tree.children(root))
    assert keys == sorted(f"t{k}-{i}" for k in range(3) for i in range(10))
    messages = [c.message for c in db.history() if c.message and c.message.startswith("t")]
    assert sorted(messages) == sorted(f"t{k} {i}" for k in range(3) for i in range(10))
    tree.check()
    db.verify()
    assert db.replay() == tree
    db.close()


def test_serializable_increments_from_threads_and_objects_lose_nothing(target: str) -> None:
    dbs = [Database(target) for _ in range(2)]
    with dbs[0].transaction() as tx:
        counter = tx.insert_root(0)
    per_thread = 8
    seen: List[Tuple[int, int]] = []  # (value read, version committed) of every increment

    def bump(db: Database) -> Callable[[], None]:
        def run() -> None:
            for _ in range(per_thread):
                def step(tx: Any) -> int:
                    value = int(tx.data(counter))
                    tx.set_data(counter, value + 1)
                    return value

                tx_value = db.transact(step, retries=200)
                seen.append((tx_value, db.version))

        return run

    run_threads([bump(dbs[t % 2]) for t in range(6)])
    total = 6 * per_thread
    with Database(target) as reader:
        assert reader.tree.data(counter) == total
        assert sorted(v for v, _ in seen) == list(range(total))  # each read a distinct value: no lost update
        values = [reader.as_of(c.version).data(counter) for c in reader.history()[1:]]
        assert values == list(range(total + 1))  # every version one more than its parent
        reader.verify()
    for db in dbs:
        db.close()


def test_listeners_hear_every_version_once_in_order_while_threads_commit(target: str) -> None:
    db = Database(target)
    other = Database(target)
    with db.transaction() as tx:
        root = tx.insert_root("root")
    base = db.version
    heard: Dict[str, List[Tuple[int, Any]]] = {"same": [], "other": []}
    lock = threading.Lock()

    def listener(where: str) -> Callable[[int, Any], None]:
        def hear(version: int, changes: Any) -> None:
            with lock:
                heard[where].append((version, changes))

        return hear

    stop_same = db.subscribe(listener("same"))
    stop_other = other.subscribe(listener("other"))
    names = [f"t{k}" for k in range(4)]
    landed: List[Tuple[str, int, Any]] = []
    run_threads([inserter(db, root, name, 8, landed) for name in names])
    head = db.version
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with lock:
            if all(h and h[-1][0] >= head for h in heard.values()):
                break
        time.sleep(0.01)
    stop_same()
    stop_other()
    for where, got in heard.items():
        assert [v for v, _ in got] == list(range(base + 1, head + 1)), where
        for version, changes in got:
            assert changes == db.changes(version - 1, version), (where, version)
    check_landed(db, root, landed, names, 8)
    other.close()
    db.close()


def test_a_served_threads_tree_after_compaction_and_close(target: str) -> None:
    """``tx.tree`` of a transaction another object's group stored is loaded lazily: after a compaction
    that dropped its version, and after ``close``, it is the committed tree or a specific error, never
    another tree."""
    from tests.db.test_group_commit import run_queued

    setup = Database(target)
    with setup.transaction() as tx:
        root = tx.insert_root("root")
    writers = [Database(target) for _ in range(4)]
    landed: List[Tuple[str, int, Any]] = []
    # All four queue; whichever takes the lock first serves the other three.
    threads = [threading.Thread(target=inserter(db, root, f"w{k}", 1, landed)) for k, db in enumerate(writers)]
    run_queued(target, threads, 4)
    assert len(landed) == 4
    lazy = [tx for _, _, tx in landed if tx._stored is not None]
    assert len(lazy) == 3  # served by another object's group: their trees are not loaded yet
    with Database(target) as reader:
        expected = {tx.committed: reader.as_of(tx.committed) for _, _, tx in landed}
    with setup.transaction() as tx:  # the head moves on
        tx.insert_child(root, "later")
    owner = [tx.db for tx in lazy]
    owner[0].compact(keep=1)  # its own version is gone from its object
    for k, tx in enumerate(lazy):
        if k == 2:
            tx.db.close()
        try:
            tree = tx.tree
        except BotreeError:
            continue
        assert tree == expected[tx.committed]
        assert tree is tx.tree
    for db in [setup, *writers]:
        db.close()


def test_as_of_after_many_threaded_commits_compaction_and_reopen(target: str) -> None:
    """Stale-leaf reuse: many small commits (some deleting, some moving) from threads, a compaction,
    a reopen: every kept version reads back exactly the tree its commit produced, and another object
    refreshing its head meanwhile (reusing its unchanged leaves) saw exactly those trees too."""
    from botree import Tree

    db = Database(target, block_size=16)  # many leaves even for a small tree
    start, root = Tree(block_size=16).insert_root("root")
    hubs = []
    for h in range(3):
        start, hub = start.insert_child(root, f"hub{h}")
        hubs.append(hub)
        for j in range(150):
            start, _ = start.insert_child(hub, ["fill", h, j])
    db.replace(start, message="fill")
    hubs = list(db.tree.children(next(iter(db.tree.roots()))))
    recorded: Dict[int, Any] = {}
    seen: List[Tuple[int, Any]] = []
    lock = threading.Lock()
    watcher = Database(target)
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.append(watcher.snapshot())
            time.sleep(0.002)

    def body(seed: int) -> Callable[[], None]:
        rng = random.Random(seed)

        def run() -> None:
            mine: List[int] = []
            for i in range(25):
                def work(tx: Any, i: int = i) -> None:
                    roll = rng.random()
                    live = [n for n in mine if n in tx]
                    if live and roll < 0.25:
                        tx.delete(rng.choice(live))
                    elif live and roll < 0.45:
                        tx.move(rng.choice(live), rng.choice(hubs), 0)
                    elif live and roll < 0.6:
                        tx.set_data(rng.choice(live), [seed, i, "changed"])
                    else:
                        mine.append(tx.insert_child(rng.choice(hubs), [seed, i]))

                tx = db.transaction(message=f"s{seed} {i}")
                with tx:
                    work(tx)
                if tx.ids:
                    mine[:] = [tx.ids.get(n, n) for n in mine]
                tree = tx.tree
                assert tx.committed is not None
                with lock:
                    recorded[tx.committed] = tree

        return run

    run_alongside([body(s) for s in range(4)], [watch], done)
    assert len({v for v, _ in seen}) > 2
    for version, tree in seen:
        if version in recorded:
            assert tree == recorded[version], version
            tree.check()
    watcher.close()
    head = db.version
    cut = db.compact(keep=30)
    db.close()
    with Database(target) as again:
        assert again.version == head
        for version in range(cut, head + 1):
            if version in recorded:
                assert again.as_of(version) == recorded[version], version
        with pytest.raises(VersionNotFound):
            again.as_of(cut - 1)
        again.tree.check()
        again.verify()
        assert again.replay() == again.tree


THREADED_WORKER = r"""
import json, sys, threading
from botree import Database
target, name, threads, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
db = Database(target)
lock = threading.Lock()
def run(t):
    for i in range(count):
        with db.transaction(message=f"{name}.{t} {i}") as tx:
            tx.insert_child(0, [f"{name}.{t}", i])
        with lock:
            print(f"{name}.{t} {i}", flush=True)
ts = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
[t.start() for t in ts]
[t.join() for t in ts]
print("done", flush=True)
"""


def test_sigkill_of_a_process_whose_threads_share_groups(target: str) -> None:
    """Processes of several committing threads each; one is SIGKILLed mid-run (maybe serving a group of
    its threads' and others' commits): each landed commit is there once, per writer a gap-free prefix."""
    import signal

    db = Database(target)
    with db.transaction(message="seed") as tx:
        tx.insert_root("root")
    db.close()

    def start(name: str, count: int) -> "subprocess.Popen[str]":
        return subprocess.Popen([sys.executable, "-c", THREADED_WORKER, target, name, "3", str(count)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)

    rng = random.Random(7)
    survivors = [start("a", 15), start("b", 15)]
    victim = start("v", 100_000)  # killed long before it is done
    assert victim.stdout is not None
    first = victim.stdout.readline()
    assert first.strip(), victim.stderr.read() if victim.stderr else ""
    time.sleep(rng.uniform(0.2, 0.5))
    victim.send_signal(signal.SIGKILL)
    out, _ = victim.communicate()
    printed = [line for line in (first + out).splitlines() if line != "done"]
    assert len(printed) < 300_000, "the victim finished before it was killed"
    for proc in survivors:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.splitlines()[-1] == "done"
    db = Database(target)
    history = db.history()
    assert [c.version for c in history] == list(range(db.version + 1))
    messages = [c.message for c in history if c.message and c.message not in ("seed", "initial")]
    assert len(messages) == len(set(messages)), "a transaction landed twice"
    assert set(printed) <= set(messages)  # every commit the victim saw land is there
    by_writer: Dict[str, List[int]] = {}
    for message in messages:
        assert len(message.split()) == 2, (message, messages[:5])
        writer, i = message.split()
        by_writer.setdefault(writer, []).append(int(i))
    for writer, got in by_writer.items():
        assert got == list(range(len(got))), (writer, got[:10])
        if not writer.startswith("v"):
            assert len(got) == 15
    tree = db.tree
    data = sorted(tuple(tree.data(n)) for n in tree.children(0))
    assert data == sorted((m.split()[0], int(m.split()[1])) for m in messages)
    tree.check()
    db.verify()
    # The dead process's queued requests and locks do not hold up a new writer.
    with db.transaction(message="after") as tx:
        tx.insert_child(0, "after")
    db.close()


@pytest.fixture
def pg_target() -> Iterator[str]:
    from tests.conftest import pg_schema_url

    yield from pg_schema_url()


def test_terminated_backends_while_threads_commit(pg_target: str) -> None:
    """PostgreSQL: the stores' connections (and their lock-waiting ones) killed by pg_terminate_backend
    again and again while threads of two objects commit: each commit lands once, in order."""
    import psycopg

    from tests.conftest import server_url

    dbs = [Database(pg_target) for _ in range(2)]
    with dbs[0].transaction() as tx:
        root = tx.insert_root("root")
    stores = [db._store for db in dbs]  # type: ignore[attr-defined]
    names = [f"t{k}" for k in range(4)]
    landed: List[Tuple[str, int, Any]] = []
    stop = threading.Event()
    kills = [0]

    def killer() -> None:
        rng = random.Random(5)
        with psycopg.connect(server_url(), autocommit=True) as admin:
            while not stop.is_set():
                time.sleep(rng.uniform(0.02, 0.08))
                pids = []
                for store in stores:
                    for conn in (store._conn, getattr(store, "_waiting", None)):
                        try:
                            if conn is not None and not conn.closed:
                                pids.append(int(conn.info.backend_pid))
                        except Exception:  # a connection being replaced
                            pass
                for pid in rng.sample(pids, k=max(1, len(pids) // 2)) if pids else []:
                    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                    kills[0] += 1

    run_alongside([inserter(dbs[k % 2], root, name, 10, landed) for k, name in enumerate(names)], [killer], stop)
    assert kills[0] > 0
    with Database(pg_target) as reader:
        check_landed(reader, root, landed, names, 10)
    for db in dbs:
        db.close()


def test_close_while_threads_commit(target: str) -> None:
    """``close`` from one thread while others commit: each commit either returns (and is stored once)
    or raises a botree error; reopened, each thread's landed commits are a prefix of its own."""
    db = Database(target)
    with db.transaction() as tx:
        root = tx.insert_root("root")
    names = [f"t{k}" for k in range(4)]
    returned: Dict[str, List[int]] = {name: [] for name in names}
    failures: List[BaseException] = []

    def body(name: str) -> Callable[[], None]:
        def run() -> None:
            for i in range(40):
                try:
                    with db.transaction(message=f"{name} {i}") as tx:
                        tx.insert_child(root, [name, i])
                except BotreeError as exc:
                    failures.append(exc)
                    return
                returned[name].append(i)

        return run

    def closer() -> None:
        while db.version < 10:
            time.sleep(0.001)
        db.close()

    run_threads([body(name) for name in names] + [closer])
    assert failures  # the closed database refused the rest
    with Database(target) as again:
        messages = [c.message for c in again.history() if c.message]
        assert len(messages) == len(set(messages))
        for name in names:
            mine = [int(m.split()[1]) for m in messages if m.split()[0] == name]
            assert mine == list(range(len(mine)))
            assert mine[: len(returned[name])] == returned[name]
            assert len(mine) <= len(returned[name]) + 1  # at most the one whose answer the close cut off
        again.tree.check()
        again.verify()


CLOSE_WHILE_READING = r"""
import sys, threading
from botree import Database
from botree.errors import BotreeError
target, rounds = sys.argv[1], int(sys.argv[2])
odd = []
for round_no in range(rounds):
    db = Database(target)
    go, closed = threading.Event(), threading.Event()
    def reader():
        go.set()
        after = 0
        try:
            while True:
                db.snapshot()
                if closed.is_set():
                    after += 1
                    if after > 1000:
                        odd.append(f"round {round_no}: 1000 reads succeeded after close() returned")
                        return
        except BotreeError:
            return
        except Exception as exc:
            odd.append(repr(exc))
    thread = threading.Thread(target=reader)
    thread.start()
    go.wait()
    db.close()
    closed.set()
    thread.join(60)
    if odd:
        break
print("ok" if not odd else odd[:3])
"""



def test_close_while_another_thread_reads_is_an_error_not_a_crash(target: str, request: Any) -> None:
    """One thread reads ``snapshot()`` in a loop while another closes the object: the reader must get a
    botree error soon after ``close`` returns, and the process must live.  Run in a child process:
    it may crash.  The child stops at the first round that goes wrong (SQLite: within a few rounds;
    PostgreSQL: about one round in ten, fewer on a loaded machine)."""
    postgres = target.startswith("postgresql")
    with Database(target) as db:
        with db.transaction() as tx:
            tx.insert_root("root")
    done = subprocess.run([sys.executable, "-c", CLOSE_WHILE_READING, target, "1000" if postgres else "200"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", (done.returncode, done.stdout, done.stderr[-2000:])


def test_a_listener_that_commits_and_one_that_raises_while_threads_commit(target: str) -> None:
    """A listener commits an echo of some versions through the same object (re-entrantly, in whichever
    thread delivers), another raises every time: nothing deadlocks, every version is heard once, in
    order, and every echo lands once."""
    db = Database(target)
    with db.transaction() as tx:
        root = tx.insert_root("root")
    base = db.version
    heard: List[int] = []
    lock = threading.Lock()

    def echo(version: int, changes: Any) -> None:
        with lock:
            heard.append(version)
        for node in changes.inserted:
            data = db.as_of(version).data(node) if node in db.as_of(version) else None
            if isinstance(data, list) and data[1] % 3 == 0:
                with db.transaction(message=f"echo {data[0]} {data[1]}") as tx:
                    tx.insert_child(root, f"echo {data[0]} {data[1]}")

    def bad(version: int, changes: Any) -> None:
        raise RuntimeError("a listener that fails")

    stop_bad = db.subscribe(bad)
    stop_echo = db.subscribe(echo)
    names = [f"t{k}" for k in range(3)]
    landed: List[Tuple[str, int, Any]] = []
    run_threads([inserter(db, root, name, 9, landed) for name in names])
    echoes = {f"echo {name} {i}" for name in names for i in range(0, 9, 3)}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        tree = db.tree
        if {tree.data(n) for n in tree.children(root) if isinstance(tree.data(n), str)} >= echoes:
            break
        time.sleep(0.01)
    head = db.version
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with lock:
            if heard and heard[-1] >= head:
                break
        time.sleep(0.01)
    stop_echo()
    stop_bad()
    with lock:
        assert heard == list(range(base + 1, head + 1))
    tree = db.tree
    got = sorted(tree.data(n) for n in tree.children(root) if isinstance(tree.data(n), str))
    assert got == sorted(echoes)
    check_landed(db, root, landed, names, 9)
    db.close()


def test_threads_commit_around_replaces_from_another_thread(target: str) -> None:
    """A thread replaces the whole tree (a commit without logged updates) while threads commit serializable
    inserts: each replace's version is exactly the tree it was given, each insert lands once, and the
    head holds the last replace's tree plus exactly the inserts that landed after it."""
    from botree import Tree

    db = Database(target)
    with db.transaction() as tx:
        root = tx.insert_root("root")
    landed: Dict[Tuple[str, int], int] = {}
    replaced: List[Tuple[int, List[Any]]] = []
    lock = threading.Lock()

    def body(name: str) -> Callable[[], None]:
        def run() -> None:
            for i in range(10):
                def insert(tx: Any, i: int = i) -> None:
                    tx.insert_child(next(iter(tx.roots())), [name, i])

                db.transact(insert, retries=200, message=f"{name} {i}")
                with lock:
                    landed[(name, i)] = 1

        return run

    def replacer() -> None:
        for r in range(3):
            time.sleep(0.02)
            base = db.tree
            items = [base.data(n) for n in base.children(next(iter(base.roots())))]
            fresh, top = Tree().insert_root(f"replaced {r}")
            for item in items:
                fresh, _ = fresh.insert_child(top, item)
            replaced.append((db.replace(fresh, message=f"replace {r}"), items))

    run_threads([body(f"t{k}") for k in range(3)] + [replacer])
    del root
    history = db.history()
    versions = {c.message: c.version for c in history if c.message}
    assert len(versions) == len([c for c in history if c.message])  # every message once
    for name, i in landed:
        assert f"{name} {i}" in versions
    assert len(landed) == 30
    for version, items in replaced:
        tree = db.as_of(version)
        top = next(iter(tree.roots()))
        assert [tree.data(n) for n in tree.children(top)] == items
    last, items = replaced[-1]
    after = sorted(tuple(key) for key in landed if versions[f"{key[0]} {key[1]}"] > last)
    tree = db.tree
    got = sorted(tuple(tree.data(n)) for n in tree.children(next(iter(tree.roots()))))
    assert got == sorted([tuple(x) for x in items] + after)
    tree.check()
    db.verify()
    assert db.replay() == tree
    db.close()


def test_threads_on_main_and_a_branch_handle_with_merges(target: str) -> None:
    from tests.db.test_commit_path_redteam import check_history

    db = Database(target)
    with db.transaction() as tx:
        root = tx.insert_root("root")
    side = db.branch("side")
    names = ["m0", "m1", "s0", "s1"]
    landed: List[Tuple[str, int, Any]] = []
    bodies = [inserter(db if name[0] == "m" else side, root, name, 8, landed) for name in names]
    stop = threading.Event()

    def merger() -> None:
        while not stop.is_set():
            db.merge("side")
            time.sleep(0.01)

    run_alongside(bodies, [merger], stop)
    db.merge("side")
    check_history(db)
    on_side = sorted(tuple(side.tree.data(n)) for n in side.tree.children(root))
    assert on_side == sorted((name, i) for name in ("s0", "s1") for i in range(8))
    check_landed(db, root, landed, names, 8)
    db.close()


def test_queued_transactions_whose_base_version_is_compacted_away(target: str) -> None:
    """``compact(keep=1)`` in a loop while threads of one object commit moves and inserts on
    transactions begun on versions the compaction drops: each is rebased, or refused with
    ConflictError (its history was compacted) or VersionNotFound (an unloaded leaf of its snapshot
    was), leaving the database unchanged; retried, each lands exactly once.  (On two objects a
    refused transaction used to land anyway: the test below.)"""
    dbs = [Database(target) for _ in range(2)]
    with dbs[0].transaction() as tx:
        root = tx.insert_root("root")
        left = tx.insert_child(root, "left")
        right = tx.insert_child(root, "right")
    names = [f"t{k}" for k in range(4)]
    landed: List[Tuple[str, int, Any]] = []
    refused: List[str] = []

    def body(db: Database, name: str) -> Callable[[], None]:
        def run() -> None:
            mine: List[int] = []
            for i in range(10):
                for _ in range(100):
                    tx: Any = db.transaction(message=f"{name} {i}", meta={"who": name})
                    try:
                        with tx:
                            if mine and i % 3 == 2:
                                tx.move(mine[-1], right if i % 2 else left, 0)
                            made = tx.insert_child(left, [name, i])
                        break
                    except (ConflictError, VersionNotFound) as exc:
                        refused.append(type(exc).__name__)
                else:
                    raise AssertionError(f"{name} {i} never landed")
                mine = [tx.ids.get(n, n) for n in [*mine, made]]
                landed.append((name, i, tx))

        return run

    def compactor() -> None:
        while not stop.is_set():
            dbs[1].compact(keep=1)
            time.sleep(0.002)

    stop = threading.Event()
    run_alongside([body(dbs[k % 2], name) for k, name in enumerate(names)], [compactor], stop)
    dbs[0].compact(keep=1)
    assert len({tx.committed for _, _, tx in landed}) == len(landed) == 40
    tree = dbs[0].tree
    items = sorted(tuple(tree.data(n)) for hub in (left, right) for n in tree.children(hub))
    assert items == sorted((name, i) for name in names for i in range(10))
    tree.check()
    dbs[0].verify()
    with Database(target) as again:
        assert again.tree == tree
        again.verify()
        assert again.replay() == tree
    for db in dbs:
        db.close()




@pytest.mark.parametrize("error", [ConflictError, VersionNotFound])
def test_a_commit_that_raised_conflict_is_not_stored_by_another_writer(target: str, error: type) -> None:
    """The writer's own build of its queued transaction is refused (as a rebase over compacted history
    is in the test above; injected here), and another object takes the head lock between that group's
    end and the request's removal from the queue: the refused transaction must not land."""
    from tests.db.test_group_commit import queued, wait_for, writers_lock

    setup = Database(target)
    with setup.transaction() as tx:
        root = tx.insert_root("root")
    mine, other = Database(target), Database(target)

    def refuse(*args: Any) -> Any:
        raise error("refused (injected: the history after its base was compacted)")

    unqueue = mine._store.unqueue  # type: ignore[attr-defined]

    def late_unqueue(tickets: Any) -> None:
        with other.transaction(message="other") as tx:  # takes the free lock first, serving the queue
            tx.insert_child(root, "other")
        unqueue(tickets)

    outcome: Dict[str, Any] = {}

    def commit() -> None:
        tx: Any = mine.transaction(message="mine")
        try:
            with tx:
                tx.insert_child(root, "mine")
            outcome["mine"] = tx.committed
        except error as exc:
            outcome["mine"] = exc

    with writers_lock(target):
        thread = threading.Thread(target=commit)
        thread.start()
        wait_for(lambda: queued(target) == 1)  # posted, waiting for the lock
        mine._resolve = refuse  # type: ignore[method-assign, assignment]
        mine._store.unqueue = late_unqueue  # type: ignore[attr-defined]
    thread.join(60)
    assert isinstance(outcome["mine"], error), outcome
    with Database(target) as reader:
        messages = [c.message for c in reader.history()]
        data = [reader.tree.data(n) for n in reader.tree.children(root)]
    assert "other" in messages
    assert "mine" not in messages and "mine" not in data, (messages, data)  # refused means not stored
    for db in (setup, mine, other):
        db.close()
