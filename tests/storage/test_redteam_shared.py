"""Red-team tests of the shared store (issue 14): killed holders, damaged queues and
tickets, duplicated requests, read-only files.

Each test drives real clients (other ``Database`` objects, subprocesses, raw SQL or
files in the queue directory) into a state the library must survive, and checks what
it promises: every commit lands exactly once, a damaged entry is never applied as
data and stops no one, a read never needs to write.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from botree import Database, DurableDatabase, Tree
from botree.errors import CorruptDatabase, StorageError
from botree.storage import codec
from botree.storage.store import Store
from tests import ROOT
from tests.conftest import pg_schema_url
from tests.db.test_group_commit import queued, wait_for, writers_lock

WORKLOAD = [sys.executable, "-m", "tests.db.storage_workload"]

# A process that commits one transaction and stops for good inside its group's write,
# holding the writers' lock (the test SIGKILLs it there).
HOLDER = """
import sys, time
from botree import Database
db = Database(sys.argv[1])
if sys.argv[2:] == ["warm-up"]:  # a process's first group also makes sure the queue exists (PostgreSQL)
    with db.transaction(message="warm-up") as tx:
        tx.insert_child(0, ["warm-up", 0])

def stuck(group):
    print("holding", flush=True)
    time.sleep(3600)
db._store._write_group = stuck
with db.transaction(message="holder") as tx:
    tx.insert_child(0, ["holder", 0])
"""


def committing(db: Any, name: str, into: Dict[str, Any], with_ids: bool = False) -> Callable[[], None]:
    """A thread body: one commit of ``db`` inserting ``name`` under node 0 (message ``name``); its
    version (with ``with_ids``: and its id map), or the exception it raised, goes to ``into[name]``."""

    def commit() -> None:
        try:
            with db.transaction(message=name) as tx:
                tx.insert_child(0, name)
            into[name] = (db.version, dict(tx.ids)) if with_ids else db.version
        except Exception as exc:  # reported by the caller
            into[name] = exc

    return commit


@pytest.fixture
def url() -> Iterator[str]:
    """A PostgreSQL URL whose tables live in a fresh schema."""
    yield from pg_schema_url()


def store_of(db: Database) -> Store:
    assert isinstance(db, DurableDatabase)
    return db._store


def rooted(target: str) -> Database:
    """A database at ``target`` holding one root (node 0)."""
    db = Database(target)
    with db.transaction(message="root") as tx:
        tx.insert_root("root")
    return db


def request(ticket: int, base: int, data: Any, message: str) -> bytes:
    """A queued request inserting one child of the root, as another writer's ``post`` would hold it."""
    return codec.encode_request(ticket, base, 0, False, message, {}, (("insert_child", (0, data, -1), 1 << 40),))


def children_data(db: Database) -> List[Any]:
    tree = db.tree
    return [tree.data(n) for n in tree.children(0)]


# -- one request queued twice ---------------------------------------------------------


def test_a_request_queued_twice_lands_once_and_stops_no_other_writer(target: str) -> None:
    """PostgreSQL's ``post`` runs again when the answer to its COMMIT is lost, so one ticket
    can sit in the queue twice (SQLite: two files).  The writer serving the queue must
    apply it once, and must not fail its own commit over it (before the fix: the group
    served both copies and died on the tickets table's key: CorruptDatabase for every
    writer that took the lock, for good once the owner was gone)."""
    db = rooted(target)
    owner = Database(target)  # the request's owner, gone before anyone served it
    payload = request(77, db.version, "twice", "posted twice")
    store_of(owner).post(77, payload)
    store_of(owner).post(77, payload)
    owner.close()
    assert queued(target) == 2
    with db.transaction(message="mine") as tx:
        tx.insert_child(0, "mine")
    messages = [c.message for c in db.history()]
    assert messages.count("posted twice") == 1 and messages[-2:] in (["mine", "posted twice"],
                                                                     ["posted twice", "mine"])
    assert sorted(children_data(db)) == ["mine", "twice"]
    found = store_of(db).settled(77)
    assert found is not None and found[0] is not None
    assert db.history()[found[0]].message == "posted twice"
    assert queued(target) == 0
    db.verify()
    db.close()


def test_a_post_whose_answer_is_lost_lands_once_when_another_writer_serves_it(url: str) -> None:
    """The real path to a doubled request: the connection dies after the queue insert's
    COMMIT returned (its answer counts as lost), ``post`` reconnects and inserts again.
    Another object serves the queue; the owner then reads its outcome."""
    from tests.storage.test_reconnect import lose

    db = rooted(url)
    owner = Database(url)
    ostore = store_of(owner)
    armed = [True]

    def hook(stage: str) -> None:
        if stage == "after" and armed[0]:
            armed[0] = False
            lose(ostore, "after")  # type: ignore[arg-type]

    gate = threading.Event()
    real_wait = ostore.await_unlocked

    def held_back() -> None:
        gate.wait(60)
        real_wait()

    results: Dict[str, Any] = {}

    commit = committing(owner, "owner", results)

    with writers_lock(url):
        owner.tree  # noqa: B018 - read the head before the hook is armed
        ostore.commit_hook = hook  # type: ignore[attr-defined]
        ostore.await_unlocked = held_back  # type: ignore[method-assign]
        thread = threading.Thread(target=commit)
        thread.start()
        wait_for(lambda: queued(url) == 2)  # posted twice: the first answer was "lost"
    try:
        with db.transaction(message="server") as tx:  # takes the lock, serves the queue
            tx.insert_child(0, "server")
    finally:
        gate.set()
        thread.join(60)
    assert not isinstance(results["owner"], Exception), results["owner"]
    messages = [c.message for c in db.history()]
    assert messages.count("owner") == 1 and messages.count("server") == 1
    assert sorted(children_data(db)) == ["owner", "server"]
    assert queued(url) == 0
    db.verify()
    owner.close()
    db.close()


# -- damaged queue entries (SQLite's queue directory) ---------------------------------------


def test_badly_named_queue_files_are_never_served_and_stop_no_one(tmp_path: Any) -> None:
    """Files in ``PATH-queue/`` that are not requests this library wrote: a ticket out of
    the 64-bit range (before the fix: a raw OverflowError from every commit, for good),
    names that are not ``<time>-<ticket>.req``, a directory, a leftover ``.tmp``, an
    empty and a truncated request.  Commits go on; nothing of them is applied."""
    path = os.path.join(str(tmp_path), "t.db")
    db = rooted(path)
    queue = path + "-queue"
    os.makedirs(queue)
    good = request(5, db.version, "garbage", "never")
    files: Dict[str, bytes] = {
        f"{1:020d}-{1 << 70}.req": good,  # a ticket no BIGINT holds
        f"{2:020d}-{-5}.req": good,
        f"{3:020d}-5-6.req": good,
        "junk.req": good,
        f"{4:020d}-abc.req": good,
        f"{5:020d}-5.tmp": good,  # a writer killed between write and rename
        f"{6:020d}-9.req": b"",  # an empty request of a ticket nobody waits for
        f"{7:020d}-11.req": good[: len(good) // 2],  # truncated
    }
    for name, payload in files.items():
        with open(os.path.join(queue, name), "wb") as f:
            f.write(payload)
    os.makedirs(os.path.join(queue, f"{8:020d}-12.req"))  # a directory where a file should be
    for i in range(3):
        with db.transaction(message=f"mine {i}") as tx:
            tx.insert_child(0, f"mine {i}")
    assert [c.message for c in db.history()[2:]] == ["mine 0", "mine 1", "mine 2"]
    assert children_data(db) == ["mine 0", "mine 1", "mine 2"]
    store = store_of(db)
    for ticket in (9, 11):  # well-named but damaged: refused as damaged, so an owner would learn it
        found = store.settled(ticket)
        assert found is not None and found[0] is None
        assert codec.decode_outcome(found[1], "test")[0] == codec.OUTCOME_DAMAGED
    db.verify()
    db.close()


def test_a_fifo_or_a_link_in_the_queue_does_not_hang_the_writer_serving_it(tmp_path: Any) -> None:
    """A FIFO and a symbolic link to ``/dev/zero`` named as requests: the writer serving the
    queue must not block on the FIFO (before the fix it waited for a writer of the pipe
    forever, holding the writers' lock) nor read an endless file; both are skipped."""
    path = os.path.join(str(tmp_path), "t.db")
    db = rooted(path)
    queue = path + "-queue"
    os.makedirs(queue)
    fifo = os.path.join(queue, f"{1:020d}-31.req")
    os.mkfifo(fifo)
    os.symlink("/dev/zero", os.path.join(queue, f"{2:020d}-32.req"))
    outcome: Dict[str, Any] = {}

    commit = committing(db, "mine", outcome)

    thread = threading.Thread(target=commit, daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():  # let the stuck reader go, so the test can end
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(10)
        pytest.fail("the writer serving the queue blocked on a FIFO")
    assert outcome["mine"] == 2
    assert children_data(db) == ["mine"]
    db.close()


def test_a_live_writer_whose_request_file_is_damaged_gets_an_error_and_the_rest_land(tmp_path: Any) -> None:
    """A queued writer's request is truncated while it waits: the holder refuses it as
    damaged; the owner gets StorageError (nothing of it stored), the other queued writer lands."""
    path = os.path.join(str(tmp_path), "t.db")
    db = rooted(path)
    writers = [Database(path) for _ in range(2)]
    results: Dict[str, Any] = {}

    def commit(k: int) -> None:
        try:
            with writers[k].transaction(message=f"w{k}") as tx:
                tx.insert_child(0, f"w{k}")
            results[f"w{k}"] = writers[k].version
        except Exception as exc:  # reported below
            results[f"w{k}"] = exc

    gate = threading.Event()  # the damaged request's owner waits until the other writer served the queue
    real_wait = store_of(writers[0]).await_unlocked

    def held_back() -> None:
        gate.wait(60)
        real_wait()

    store_of(writers[0]).await_unlocked = held_back  # type: ignore[method-assign]
    threads = [threading.Thread(target=commit, args=(k,)) for k in range(2)]
    with writers_lock(path):
        threads[0].start()
        wait_for(lambda: queued(path) == 1)
        (first,) = os.listdir(path + "-queue")
        with open(os.path.join(path + "-queue", first), "r+b") as f:
            f.truncate(10)
        threads[1].start()
        wait_for(lambda: queued(path) == 2)
    threads[1].join(60)
    gate.set()
    threads[0].join(60)
    assert isinstance(results["w0"], StorageError) and not isinstance(results["w0"], CorruptDatabase)
    assert "not stored" in str(results["w0"])
    assert not isinstance(results["w1"], Exception)
    assert [c.message for c in db.history()[2:]] == ["w1"]
    assert children_data(db) == ["w1"]
    for w in writers:
        w.close()
    db.close()


def test_garbage_payloads_in_the_postgres_queue_are_refused_not_applied(url: str) -> None:
    """Rows of the UNLOGGED queue table with damaged payloads: refused as damaged; commits go on."""
    import psycopg


    db = rooted(url)
    store = store_of(db)
    store.post(1, b"x")  # makes the queue table
    store.unqueue([1])
    good = request(21, db.version, "garbage", "never")
    with psycopg.connect(url, autocommit=True) as conn:
        for ticket, payload in ((21, good[:-1]), (22, b""), (23, good), (24, b"\xff" * 100)):
            conn.execute("INSERT INTO queue (ticket, payload) VALUES (%s, %s)", (ticket, payload))
    with db.transaction(message="mine") as tx:
        tx.insert_child(0, "mine")
    assert [c.message for c in db.history()[2:]] == ["mine"]
    assert children_data(db) == ["mine"]
    for ticket in (21, 22, 23, 24):  # 23: a sound request under another ticket's checksum
        found = store.settled(ticket)
        assert found is not None and found[0] is None, ticket
        assert codec.decode_outcome(found[1], "test")[0] == codec.OUTCOME_DAMAGED
    assert queued(url) == 0
    db.close()


# -- damaged outcomes -------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["version", "crc", "outcome", "type"])
def test_a_waiting_writer_reading_a_damaged_outcome_gets_corrupt_database(target: str, damage: str) -> None:
    """A queued writer is served by another object's group; its outcome row is damaged before
    it reads it: CorruptDatabase, never a wrong version or id map."""
    db = rooted(target)
    waiter = Database(target)
    wstore = store_of(waiter)
    gate = threading.Event()
    real_wait = wstore.await_unlocked

    def held_back() -> None:
        gate.wait(60)
        real_wait()

    wstore.await_unlocked = held_back  # type: ignore[method-assign]
    results: Dict[str, Any] = {}

    commit = committing(waiter, "waiter", results, with_ids=True)

    thread = threading.Thread(target=commit)
    with writers_lock(target):
        thread.start()
        wait_for(lambda: queued(target) == 1)
    with db.transaction(message="server") as tx:
        tx.insert_child(0, "server")
    assert [c.message for c in db.history()[2:]] == ["server", "waiter"]
    statement = {
        "version": "UPDATE tickets SET version = version - 1",
        "crc": "UPDATE tickets SET crc = crc + 1",
        "outcome": "UPDATE tickets SET outcome = outcome || outcome",
        "type": "UPDATE tickets SET version = 'x'",
    }[damage]
    if target.startswith("postgresql"):
        import psycopg

        with psycopg.connect(target, autocommit=True) as conn:
            if damage == "type":
                statement = "UPDATE tickets SET version = NULL"
            conn.execute(statement + " WHERE version IS NOT NULL")
    else:
        with sqlite3.connect(target) as conn:
            conn.execute(statement + " WHERE version IS NOT NULL")
    gate.set()
    thread.join(60)
    assert isinstance(results["waiter"], CorruptDatabase), results["waiter"]
    assert [c.message for c in db.history()[2:]] == ["server", "waiter"]  # nothing applied twice
    waiter.close()
    db.close()


# -- a holder killed in the middle of its group ---------------------------------------------------


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "first-group"])
def test_a_holder_killed_inside_its_group_leaves_every_waiting_commit_landed_once(target: str, warm: bool) -> None:
    """SIGKILL a process while it holds the writers' lock inside its group's write, with two
    inserters queued behind it: they all complete, each of their commits lands exactly once
    (history and tickets), the holder's does not land, and a listening object hears every
    version once, in order, with changes equal to ``db.changes``.  ``first-group``: the
    holder's first commit (before the fix, on PostgreSQL it held the table-making lock for
    its whole transaction, and the others could not even queue)."""
    db = rooted(target)
    listening = db.version
    heard: List[Tuple[int, Any]] = []
    done = threading.Event()
    listener = Database(target)
    total = 2 * 15
    start = listening + warm  # after the holder's warm-up commit

    def hear(version: int, changes: Any) -> None:
        heard.append((version, changes))
        if version >= start + total:
            done.set()

    listener.subscribe(hear)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, target, *(["warm-up"] if warm else [])],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "holding"
    assert db.version == start
    writers = {name: subprocess.Popen([*WORKLOAD, "inserter", target, name, "15"], stdout=subprocess.PIPE,
                                      text=True, cwd=ROOT) for name in ("a", "b")}
    try:
        wait_for(lambda: queued(target) == 2, 60)  # both queued behind the stuck holder
        holder.send_signal(signal.SIGKILL)
        holder.wait(30)
        for name, proc in writers.items():
            out, _ = proc.communicate(timeout=120)
            assert proc.returncode == 0 and json.loads(out)["committed"] == 15, name
    finally:
        for proc in [holder, *writers.values()]:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    history = db.history()
    assert [c.version for c in history] == list(range(start + total + 1))
    messages = [c.message for c in history[start + 1:]]
    assert "holder" not in messages
    for name in ("a", "b"):
        assert [m for m in messages if m.split()[0] == name] == [f"{name} {i}" for i in range(15)]
    tree = db.tree
    data = sorted(tuple(tree.data(n)) for n in tree.preorder() if n != 0)
    assert data == sorted([*([("warm-up", 0)] if warm else []), *((m.split()[0], int(m.split()[1])) for m in messages)])
    assert done.wait(30), f"the feed stopped at {heard[-1][0] if heard else None}"
    listener.close()
    assert [v for v, _ in heard] == list(range(listening + 1, start + total + 1))
    for version, changes in heard:
        assert changes == db.changes(version - 1, version), version
    assert queued(target) == 0
    db.verify()
    db.close()


def test_opening_a_database_does_not_wait_for_a_writers_transaction(target: str) -> None:
    """A process stops inside its group's write, holding the writers' lock (its first commit:
    on PostgreSQL it also holds the lock under which tables are made).  Opening the
    database elsewhere, and reading it, must not wait for that transaction (before the
    fix: SQLite's ``BEGIN IMMEDIATE`` and PostgreSQL's table lock made every opening wait
    for it, up to SQLite's 60 s busy timeout, then fail)."""
    db = rooted(target)
    db.close()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, target], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        opened: Dict[str, Any] = {}

        def open_and_read() -> None:
            try:
                reader = Database(target, create=False)
                opened["read"] = (reader.version, children_data(reader))
                reader.close()
            except Exception as exc:  # reported below
                opened["read"] = exc

        thread = threading.Thread(target=open_and_read, daemon=True)
        thread.start()
        thread.join(10)
        assert not thread.is_alive(), "opening waited for another process's write transaction"
        assert opened["read"] == (1, [])
    finally:
        holder.kill()
        holder.wait()


# -- reading a database that cannot be written ------------------------------------------------------


def as_another_user(work: Callable[[], Any]) -> Any:
    """``work()`` without the right to write the test's files: as root, in a forked child
    running as ``nobody``; otherwise here (the caller made the files read-only).  Its
    result, or the exception it raised, pickled back."""
    if os.geteuid() != 0:
        try:
            return work()
        except Exception as exc:
            return exc
    import pwd

    nobody = pwd.getpwnam("nobody")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read)
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            try:
                result: Any = work()
            except Exception as exc:
                result = exc
            with os.fdopen(write, "wb") as out:
                pickle.dump(result, out)
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    return pickle.loads(data)


@pytest.fixture
def shared_dir() -> Iterator[str]:
    """A directory another user can reach (``tmp_path`` is private to root)."""
    home = tempfile.mkdtemp(prefix="botree-ro-")
    os.chmod(home, 0o755)
    yield home
    os.chmod(home, 0o755)
    shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize("where", ["file", "directory"])
def test_a_read_only_database_can_be_read(shared_dir: str, where: str) -> None:
    """A database file (or its directory) that cannot be written, with no WAL side files
    (the last writer closed cleanly): opening it with ``create=False`` reads every
    version and the feed can be subscribed; a commit is a StorageError, nothing is created."""
    path = os.path.join(shared_dir, "t.db")
    db = rooted(path)
    with db.transaction(message="second") as tx:
        tx.insert_child(0, "child")
    expected = db.tree.to_parent_table()
    db.close()
    for side in ("-wal", "-shm", "-lock"):
        assert not os.path.exists(path + side) or side == "-lock"
    os.chmod(path, 0o444)
    os.chmod(shared_dir, 0o555 if where == "directory" else 0o777)  # "file": the side files can be made
    before = sorted(os.listdir(shared_dir))
    # Imported before the child drops its rights (the interpreter's own files may be private).
    from botree.cli.main import main as cli_main  # noqa: F401

    def read() -> Any:
        ro = Database(path, create=False)
        try:
            got = (ro.version, ro.tree.to_parent_table(), [c.message for c in ro.history()])
            ro.subscribe(lambda version, changes: None)()  # the feed's own connection opens too
            try:
                with ro.transaction() as tx:
                    tx.insert_child(0, "no")
                wrote: Any = "committed"
            except StorageError as exc:
                wrote = type(exc).__name__
            return got, wrote
        finally:
            ro.close()

    result = as_another_user(read)
    assert not isinstance(result, Exception), repr(result)
    (version, table, messages), wrote = result
    assert (version, table, messages) == (2, expected, ["initial", "root", "second"])
    assert wrote == "StorageError"
    if where == "directory":
        assert sorted(os.listdir(shared_dir)) == before  # nothing created
    os.chmod(shared_dir, 0o755)
    os.chmod(path, 0o644)


# -- a leaf cap under threads that read while one commits ---------------------------------------------


def test_capped_readers_and_a_committer_answer_as_an_uncapped_object(target: str) -> None:
    """Three threads query the head of an object with ``cache_leaves=6`` while a fourth
    commits through it (moving the head, replacing leaves): every answer equals an
    uncapped object's for the same version, and ``loaded`` never exceeds the cap."""
    import random

    from tests.storage.test_leaf_cache import _random_events

    cap = 6
    setup = Database(target)
    setup.replace(Tree.from_events(_random_events(4000, 11), block_size=8), message="bulk")
    setup.close()
    db = Database(target, cache_leaves=cap)
    seen: List[Tuple[int, int, Tuple[Any, ...]]] = []
    over: List[Optional[int]] = []
    errors: List[BaseException] = []
    stop = threading.Event()

    def reader(seed: int) -> None:
        rng = random.Random(seed)
        try:
            while not stop.is_set():
                version, tree = db.snapshot()
                k = rng.randrange(len(tree))
                node = tree.at_rank(k)
                seen.append((version, k, (node, tree.level(node), tree.parent(node), tree.size(node),
                                          tree.data(node), tree.post_rank(node))))
                loaded = db.leaf_stats["loaded"]
                if loaded is None or loaded > cap:
                    over.append(loaded)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def committer() -> None:
        rng = random.Random(5)
        try:
            for i in range(25):
                with db.transaction(message=f"c{i}") as tx:
                    n = len(tx)
                    for _ in range(3):
                        tx.set_data(tx.at_rank(rng.randrange(n)), {"c": i})
                    tx.insert_child(tx.at_rank(rng.randrange(n)), {"new": i})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            stop.set()

    threads = [threading.Thread(target=reader, args=(s,)) for s in range(3)] + [threading.Thread(target=committer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors[0]
    assert not over, over[:5]
    assert db.version == 26 and len({v for v, _, _ in seen}) > 1  # the readers saw the head move
    reference = Database(target)
    trees: Dict[int, Tree] = {}
    for version, k, got in seen:
        tree = trees.get(version) or trees.setdefault(version, reference.as_of(version))
        node = tree.at_rank(k)
        assert got == (node, tree.level(node), tree.parent(node), tree.size(node), tree.data(node),
                       tree.post_rank(node)), (version, k)
    reference.close()
    db.close()


# -- backends terminated at random while three processes commit -------------------------------------


def test_terminated_backends_while_three_processes_commit_land_each_commit_once(url: str) -> None:
    """Three inserter processes commit while a thread here terminates, every 0.05-0.15 s, a
    random backend of the test's own connections (marked with an ``application_name``:
    store connections, wait connections, a listener's LISTEN connection): every commit
    lands exactly once, the listener hears every version once in order, and a tree
    handed out before keeps loading its cold leaves."""
    import random
    import uuid

    import psycopg

    from tests.conftest import server_url
    from tests.storage.test_reconnect import fan

    name = "botree_rt_" + uuid.uuid4().hex[:8]
    marked = f"{url}&application_name={name}"
    expected = fan(5000)
    db = Database(marked)
    db.replace(expected, message="bulk")
    db.close()
    reader = Database(marked)
    handed = reader.tree  # cold leaves, loaded after the terminations
    start = reader.version
    heard: List[int] = []
    count = 50
    all_heard = threading.Event()

    def hear(version: int, changes: Any) -> None:
        heard.append(version)
        if version >= start + 3 * count:
            all_heard.set()

    reader.subscribe(hear)
    procs = {w: subprocess.Popen([*WORKLOAD, "inserter", marked, w, str(count)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, cwd=ROOT) for w in ("a", "b", "c")}
    stop = threading.Event()
    killed: List[int] = []

    def killer() -> None:
        rng = random.Random(9)
        with psycopg.connect(server_url(), autocommit=True) as admin:
            while not stop.wait(rng.uniform(0.05, 0.15)):
                pids = [r[0] for r in admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (name,)).fetchall()]
                if pids:
                    pid = rng.choice(pids)
                    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                    killed.append(pid)

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        outputs = {w: p.communicate(timeout=240) for w, p in procs.items()}
    finally:
        stop.set()
        thread.join(30)
        for p in procs.values():
            if p.poll() is None:
                p.kill()
    for w, p in procs.items():
        assert p.returncode == 0, (w, outputs[w][1][-2000:])
        assert json.loads(outputs[w][0])["committed"] == count
    assert len(killed) >= 5, killed
    assert handed == expected  # its cold leaves load through a fresh connection
    history = reader.history()
    messages = [c.message for c in history[start + 1:]]
    assert len(history) == start + 1 + 3 * count and sorted(messages) == sorted(
        f"{w} {i}" for w in ("a", "b", "c") for i in range(count))
    for w in ("a", "b", "c"):
        assert [m for m in messages if m.startswith(w + " ")] == [f"{w} {i}" for i in range(count)]
    assert all_heard.wait(30), heard[-3:]
    assert heard == list(range(start + 1, reader.version + 1))
    reader.verify()
    reader.close()


def test_a_commit_that_raised_while_queued_is_not_stored_later(target: str) -> None:
    """A queued writer's wait fails (here: reading its outcome gives StorageError, as when the
    server stays unreachable past the store's attempts); the commit raises.  A transaction
    whose commit raised must not be stored afterwards by another writer serving the queue:
    a caller that retries it would apply it twice."""
    db = rooted(target)
    owner = Database(target)
    ostore = store_of(owner)

    def unreachable(ticket: int) -> Any:
        raise StorageError("the server does not answer (gave up after 3 attempts)")

    ostore.settled = unreachable  # type: ignore[method-assign]
    results: Dict[str, Any] = {}

    commit = committing(owner, "owner", results)

    thread = threading.Thread(target=commit)
    with writers_lock(target):
        thread.start()
        wait_for(lambda: queued(target) == 1)
    thread.join(60)
    assert isinstance(results["owner"], StorageError)
    with db.transaction(message="later") as tx:
        tx.insert_child(0, "later")
    assert [c.message for c in db.history()[2:]] == ["later"]
    owner.close()
    db.close()


# -- the first group of a fresh database rolled back ----------------------------------------------


@pytest.mark.parametrize("stage", ["before", "after"])
def test_the_first_commit_of_a_fresh_database_survives_a_lost_connection(url: str, stage: str) -> None:
    """The first group ever makes the tickets and queue tables inside its transaction.  The
    connection is lost just before its COMMIT (rolled back) or just after (answer lost):
    the retry must land it once (before the fix, "before" failed: the store believed the
    tables it had made in the rolled-back transaction existed, "relation tickets does
    not exist", and so did every later commit of that object)."""
    from tests.storage.test_reconnect import lose

    db = Database(url)
    store = store_of(db)
    armed = [True]

    def hook(when: str) -> None:
        if when == stage and armed[0]:
            armed[0] = False
            lose(store, stage)  # type: ignore[arg-type]

    store.commit_hook = hook  # type: ignore[attr-defined]
    with db.transaction(message="first") as tx:
        tx.insert_root("r")
    assert not armed[0]
    with db.transaction(message="second") as tx:
        tx.insert_child(0, "c")
    assert [c.message for c in db.history()] == ["initial", "first", "second"]
    db.close()


def test_a_first_group_that_rolled_back_does_not_break_later_commits(target: str) -> None:
    """The first group of a fresh database fails after writing (here: an injected error
    after its statements, before COMMIT): its commit raises, nothing lands, and the next
    commit of the same object works (before the fix: SQLite "no such table: tickets" as
    CorruptDatabase, PostgreSQL "relation does not exist", on every later commit)."""
    db = Database(target)
    store = store_of(db)
    real = store._write_group
    armed = [True]

    def failing(group: Any) -> None:
        real(group)
        if armed[0]:
            armed[0] = False
            raise StorageError("injected after the group's writes")

    store._write_group = failing  # type: ignore[method-assign]
    with pytest.raises(StorageError, match="injected"):
        with db.transaction(message="lost") as tx:
            tx.insert_root("lost")
    assert db.version == 0
    with db.transaction(message="kept") as tx:
        tx.insert_root("kept")
    assert [c.message for c in db.history()] == ["initial", "kept"]
    db.close()


# -- a group reads ahead the cold leaves of the requests it serves (PostgreSQL) ---------------


def _serve_five_cold_requests(url: str, read_ahead: bool, monkeypatch: pytest.MonkeyPatch) -> Tuple[int, List[Any]]:
    """A cold writer serves five queued inserts under nodes in five different leaves: the single
    cell reads its commit made, and the data under those nodes afterwards."""
    setup = rooted(url)
    with setup.transaction() as tx:
        parents = [tx.insert_child(0, i) for i in range(640)]
    targets = parents[70::128][:5]  # five rows, each in a leaf of its own
    holder = Database(url)  # cold: nothing loaded
    holder.tree.data(0)
    if not read_ahead:
        monkeypatch.setattr(holder, "_read_ahead", lambda requests: None)
    poster = store_of(setup)
    for k, node in enumerate(targets):
        payload = codec.encode_request(
            500 + k, setup.version, 0, False, f"r{k}", {}, (("insert_child", (node, f"under {node}", -1), 1 << 40),)
        )
        poster.post(500 + k, payload)
    hstore = store_of(holder)
    reads = []
    real = hstore.cell

    def counted(*args: Any) -> Any:
        reads.append(args)
        return real(*args)

    monkeypatch.setattr(hstore, "cell", counted)
    with holder.transaction(message="own") as tx:
        tx.insert_child(0, "own")
    monkeypatch.setattr(hstore, "cell", real)
    tree = holder.tree
    found = [[tree.data(c) for c in tree.children(node)] for node in targets]
    holder.verify()
    holder.close()
    setup.close()
    return len(reads), found


def test_a_group_reads_the_cold_leaves_of_its_requests_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each request a group replays names rows (and, through them, blocks) the writer serving it
    may never have loaded; on PostgreSQL each such leaf read alone is a round trip inside the
    writers' lock.  Read ahead, the five requests cost a few statements, not a read each,
    and land exactly as without it."""
    from tests.conftest import pg_schema_url

    results = []
    for read_ahead in (False, True):
        schema = pg_schema_url()
        try:
            results.append(_serve_five_cold_requests(next(schema), read_ahead, monkeypatch))
        finally:
            schema.close()
    (without, landed_without), (with_, landed_with) = results
    assert landed_with == landed_without and all(len(under) == 1 for under in landed_with)
    assert with_ + 5 <= without, (with_, without)  # at least each request's row leaf saved
