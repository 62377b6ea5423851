"""A lost PostgreSQL connection is replaced: reads retry, commits land exactly once, a dead server is reported.

The library's own backend is killed with ``pg_terminate_backend`` from another
connection: between reads, just before COMMIT is sent, and just after it returned
(with the answer "lost", so the outcome is unknown and must be read from the history).
"""

from __future__ import annotations

import random
import socket
import threading
import time
from typing import Dict, Iterator, List, Tuple
from urllib.parse import urlsplit, urlunsplit

import pytest

from botree import Database, DurableDatabase, Tree
from botree.errors import StorageError
from botree.storage.postgres import PostgresStore, PostgresWatch
from tests.conftest import pg_schema_url, server_url
from tests.db.storage_workload import apply_step


@pytest.fixture
def url() -> Iterator[str]:
    yield from pg_schema_url()


def store_of(db: Database) -> PostgresStore:
    assert isinstance(db, DurableDatabase)
    store = db._store
    assert isinstance(store, PostgresStore)
    return store


def terminate(pid: int) -> None:
    """Kill the server process ``pid`` from another connection and wait until it is gone."""
    import psycopg

    with psycopg.connect(server_url(), autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
        deadline = time.monotonic() + 10
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchall():
            assert time.monotonic() < deadline, "the backend did not exit"
            time.sleep(0.005)


def lose(store: PostgresStore, stage: str) -> None:
    """Terminate ``store``'s backend at commit ``stage`` ("before" COMMIT or "after" it).

    After it, COMMIT returned but its answer counts as lost: the next use of the
    connection fails inside the commit, so its outcome is unknown.
    """
    terminate(store.backend_pid)
    if stage == "after":
        store.query("SELECT 1")


def killer(store: PostgresStore, chance: float, rng: random.Random) -> Tuple[Dict[str, int], List[int]]:
    """Install a commit hook on ``store`` that loses the connection with probability ``chance``.

    Returns (how many losses happened per stage, the budget list: set ``budget[0]`` to
    the losses allowed for the next commit; fewer than the store's attempts and it must land).
    """
    injected = {"before": 0, "after": 0}
    budget = [0]

    def hook(stage: str) -> None:
        if budget[0] and rng.random() < chance:
            budget[0] -= 1
            injected[stage] += 1
            lose(store, stage)

    store.commit_hook = hook
    return injected, budget


def fan(n: int) -> Tree:
    """A root with n - 1 children: enough leaves that a lazily opened tree has cold ones."""
    events: List[Tuple[object, bool]] = [({"i": 0}, True)]
    for i in range(1, n):
        events += [({"i": i}, True), (None, False)]
    events.append((None, False))
    return Tree.from_events(events)


def test_reads_and_handed_out_trees_survive_a_terminated_backend(url: str) -> None:
    expected = fan(20_000)
    db = Database(url)
    db.replace(expected, message="bulk")
    db.close()

    db = Database(url)
    store = store_of(db)
    tree = db.tree  # handed out before the termination; its leaves are still cold
    first = store.backend_pid
    terminate(first)
    assert tree == expected  # loads every cold leaf through a fresh connection
    assert store.backend_pid != first
    terminate(store.backend_pid)
    assert db.version == 1
    assert db.tree == expected
    terminate(store.backend_pid)
    assert [c.message for c in db.history()] == ["initial", "bulk"]
    terminate(store.backend_pid)
    with db.transaction(message="after") as tx:
        tx.insert_child(0, "new")
    assert db.version == 2
    db.close()


@pytest.mark.parametrize("seed", [1, 2])
def test_every_commit_lands_exactly_once_while_backends_are_terminated(url: str, seed: int) -> None:
    rng = random.Random(seed)
    db = Database(url)
    store = store_of(db)
    model = Database()
    injected, budget = killer(store, 0.3, rng)
    injected["idle"] = 0
    steps = 40
    for step in range(steps):
        if rng.random() < 0.15:
            injected["idle"] += 1
            terminate(store.backend_pid)
        budget[0] = store.attempts - 1
        for target in (db, model):
            with target.transaction(message=f"step {step}") as tx:
                apply_step(tx, seed * 1000 + step)
        assert db.version == step + 1  # one version per commit: none lost, none applied twice
    store.commit_hook = None
    assert all(injected.values()), injected  # every kind of failure happened
    assert db.tree == model.tree
    assert db.tree.to_parent_table() == model.tree.to_parent_table()
    assert [c.message for c in db.history()[1:]] == [f"step {i}" for i in range(steps)]
    db.verify()
    db.close()
    again = Database(url)
    assert again.version == steps and again.tree == model.tree
    again.close()


class Proxy:
    """A TCP forwarder to the PostgreSQL server: ``stop()`` makes the server unreachable."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: List[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (close alone would not, on Linux)
        self.listener.close()
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def test_an_unreachable_server_gives_storage_error_quickly(url: str) -> None:
    parts = urlsplit(url)
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    netloc = parts.netloc.rsplit("@", 1)
    via = urlunsplit(parts._replace(netloc=f"{netloc[0]}@127.0.0.1:{proxy.port}" if len(netloc) == 2
                                    else f"127.0.0.1:{proxy.port}"))
    db = Database(via)
    with db.transaction() as tx:
        tx.insert_root("kept")
    proxy.stop()
    for attempt in (lambda: db.version, lambda: db.history(), lambda: db.replace(Tree())):
        start = time.monotonic()
        with pytest.raises(StorageError, match="gave up after 3 attempts"):
            attempt()
        assert time.monotonic() - start < 3
    db.close()
    assert Database(url).version == 1  # nothing else landed


def test_a_closed_database_is_not_reopened(url: str) -> None:
    db = Database(url)
    db.close()
    with pytest.raises(StorageError) as raised:
        db.history()
    assert "gave up" not in str(raised.value)


def test_the_feed_survives_termination_of_its_listen_connection(url: str) -> None:
    db = Database(url)
    other = Database(url)  # its commits reach db's listener through the feed thread, not in-process
    heard: List[int] = []
    db.subscribe(lambda version, changes: heard.append(version))

    def commit_and_wait(n: int) -> None:
        for i in range(n):
            with other.transaction(message=f"c {i}") as tx:
                tx.insert_child(None, {"i": i})
        deadline = time.monotonic() + 30
        while len(heard) < other.version and time.monotonic() < deadline:
            time.sleep(0.02)

    try:
        commit_and_wait(3)
        for _ in range(3):
            watch = db._watch
            assert isinstance(watch, PostgresWatch)
            pid = watch.backend_pid
            terminate(pid)
            with other.transaction() as tx:  # committed while the feed may have no connection
                tx.insert_child(None, "during")
            commit_and_wait(3)
            assert watch.backend_pid != pid  # it reconnected
        assert heard == list(range(1, other.version + 1))  # every version once, in order
        assert other.version == 3 + 3 * 4
    finally:
        db.close()
        other.close()


def test_early_commits_land_exactly_once_and_durably_flushed(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``PostgresStore.early_commit``: commits from two objects in threads, one backend killed after a COMMIT."""
    monkeypatch.setattr(PostgresStore, "early_commit", True)
    dbs = [Database(url) for _ in range(2)]
    stores = [store_of(db) for db in dbs]
    flushed = []
    for store in stores:
        original = store._flush
        store._flush = lambda original=original: (original(), flushed.append(1))  # type: ignore[method-assign]
    killed = []

    def hook(stage: str) -> None:
        if stage == "after" and not killed:
            killed.append(stores[0].backend_pid)
            terminate(stores[0].backend_pid)
            stores[0].query("SELECT 1")  # the answer to COMMIT counts as lost: the outcome is unknown

    stores[0].commit_hook = hook

    def write(db: Database, name: int) -> None:
        for i in range(10):
            with db.transaction(message=f"{name} {i}") as tx:
                tx.insert_child(None, [name, i])

    threads = [threading.Thread(target=write, args=(db, k)) for k, db in enumerate(dbs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert killed and all(store._early for store in stores)
    assert dbs[1].version == 20 and len(flushed) >= 20  # every commit flushed before it returned
    messages = sorted(c.message or "" for c in dbs[1].history()[1:])
    assert messages == sorted(f"{k} {i}" for k in range(2) for i in range(10))
    dbs[1].verify()
    for db in dbs:
        db.close()


def test_a_commit_given_up_after_sending_it_says_its_outcome_is_unknown(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each run of a commit loses the connection after building it (as if at COMMIT): past the retries
    the error must say whether it landed is unknown; a failure before anything was sent need not."""
    from botree.storage.store import ConnectionLost

    db = Database(url)
    with db.transaction() as tx:
        tx.insert_root("kept")
    store = db._store  # type: ignore[attr-defined]

    def lost(*args: object) -> bool:
        raise ConnectionLost("connection lost (at COMMIT)")

    monkeypatch.setattr(store, "_append", lost)
    with pytest.raises(StorageError, match="whether the commit landed is unknown"):
        db.replace(Tree())
    monkeypatch.undo()
    db.close()
    assert Database(url).version == 1  # here, in fact, nothing landed
