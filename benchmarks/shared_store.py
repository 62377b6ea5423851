"""Shared-store benchmark: 1, 4 and 16 writer processes committing to one stored tree.

Run from the repository root (botree installed with the ``postgres`` extra)::

    PYTHONPATH=. python -m benchmarks.shared_store                  # both backends, ~2 minutes
    PYTHONPATH=. python -m benchmarks.shared_store --pg '' --seconds 3   # SQLite only, shorter

For each backend a tree of ``--nodes`` nodes is stored once; then for each writer
count W, W processes (each with its own ``Database``) commit single-insert
transactions (``tx.insert_child(random node, ...)``) for ``--seconds`` after a
warm-up and a common start.  Beside them, in the same run and the same process
layout, W processes of the plain peer commit single-row ``INSERT`` transactions to a
plain table: psycopg in autocommit mode (one statement, one transaction) on
PostgreSQL, ``BEGIN IMMEDIATE; INSERT; COMMIT`` with WAL and ``synchronous=FULL``
(botree's settings) on SQLite.  ``--early`` adds a PostgreSQL run with
``PostgresStore.early_commit`` (see ``botree/storage/postgres.py``); ``--warm`` has each
botree writer load the whole head once before the clock starts (a long-running
process's state; without it the writers start cold and load leaves while measured).
Reported: commits/s over all writers, p50 and p99 commit latency, and botree's rate
as a ratio of the peer's.  The machine's load
average is printed with the table.  A report: nothing here asserts on timings.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Tuple

from botree import Database, Tree

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
Result = Tuple[int, List[float]]  # commits, latencies in seconds


def random_tree(n: int, seed: int = 1) -> Tree:
    """A random recursive tree of ``n`` nodes (each node's parent drawn from the earlier ones)."""
    rng = random.Random(seed)
    parents = [-1] + [rng.randrange(i) for i in range(1, n)]
    rows = [{"id": i, "parent": None if p < 0 else p, "name": f"n{i}"} for i, p in enumerate(parents)]
    return Tree.from_parent_table(rows, data="name")


# -- one writer (runs in a child process) ------------------------------------------------


# Set in each writer process from ``Setup`` (writers are spawned: they inherit no module state).
WARM = {"on": False}


SHARED: Dict[str, Any] = {}  # --threads: the one Database the botree writer threads of a process share


def _botree_writer(target: str, n: int, name: int) -> Callable[[int], None]:
    db = SHARED["db"] if "db" in SHARED else Database(target)
    rng = random.Random(name)
    if WARM["on"]:  # a long-running writer's state: every leaf of the head loaded once, before the clock
        db.tree.check()

    def commit(i: int) -> None:
        with db.transaction() as tx:
            tx.insert_child(rng.randrange(n), {"w": name, "i": i})

    return commit


def _psycopg_writer(target: str, n: int, name: int) -> Callable[[int], None]:
    import psycopg

    conn = psycopg.connect(target, autocommit=True)

    def commit(i: int) -> None:
        conn.execute("INSERT INTO plain (writer, i, payload) VALUES (%s, %s, %s)", (name, i, f"w{name} i{i}"))

    return commit


def _sqlite_writer(target: str, n: int, name: int) -> Callable[[int], None]:
    conn = sqlite3.connect(target, timeout=60.0, isolation_level=None)
    conn.execute("PRAGMA synchronous=FULL")

    def commit(i: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO plain (writer, i, payload) VALUES (?, ?, ?)", (name, i, f"w{name} i{i}"))
        conn.execute("COMMIT")

    return commit


WRITERS: Dict[str, Callable[[str, int, int], Callable[[int], None]]] = {
    "botree": _botree_writer,
    "psycopg": _psycopg_writer,
    "sqlite3": _sqlite_writer,
}


Setup = Dict[str, bool]  # "warm": --warm; "early": PostgresStore.early_commit


def _setup(setup: Setup) -> None:
    """Apply the driver's options in a spawned writer process."""
    WARM["on"] = setup["warm"]
    if setup["early"]:
        from botree.storage.postgres import PostgresStore

        PostgresStore.early_commit = True


def _process(
    kind: str, target: str, n: int, name: int, warmup: int, seconds: float, start: Any, out: Any, setup: Setup
) -> None:
    _setup(setup)
    _writer(kind, target, n, name, warmup, seconds, start, out)


def _writer(kind: str, target: str, n: int, name: int, warmup: int, seconds: float, start: Any, out: Any) -> None:
    commit = WRITERS[kind](target, n, name)
    for i in range(warmup):
        commit(-1 - i)
    start.wait()
    deadline = time.monotonic() + seconds
    latencies: List[float] = []
    i = 0
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        commit(i)
        latencies.append(time.perf_counter() - t0)
        i += 1
    out.put((i, latencies))


def _thread_writers(kind: str, target: str, n: int, writers: int, warmup: int, seconds: float, start: Any,
                    out: Any, setup: Setup) -> None:
    """``writers`` threads of one process (botree: sharing one ``Database``; a peer: a connection each)."""
    import queue
    import threading

    _setup(setup)
    if kind == "botree":
        SHARED["db"] = Database(target)
    ready = threading.Barrier(writers + 1)
    go = threading.Event()

    class Gate:  # what a writer thread waits on once warmed up: every thread ready, then the common start
        @staticmethod
        def wait() -> None:
            ready.wait()
            go.wait()

    local: "queue.Queue[Result]" = queue.Queue()
    threads = [
        threading.Thread(target=_writer, args=(kind, target, n, w, warmup, seconds, Gate, local))
        for w in range(writers)
    ]
    for thread in threads:
        thread.start()
    ready.wait()  # every thread warmed up
    start.wait()  # with the measuring process
    go.set()
    for thread in threads:
        thread.join()
    for _ in threads:
        out.put(local.get())


def run(
    kind: str, target: str, n: int, writers: int, warmup: int, seconds: float, threads: bool = False,
    setup: Optional[Setup] = None,
) -> Dict[str, float]:
    """``writers`` processes (or threads of one process) of ``kind`` committing for ``seconds``:
    commits/s, p50 and p99 latency (ms).

    The writer processes are spawned, not forked: a forked writer would inherit the driver's
    heap (the 10^5-node tree it stored), and every full collection of its garbage collector
    would walk those objects too (measured: 763 -> 896 commits/s at 4 writers, 431 -> 600 at 16).
    Independent writer processes, as the issue's scenario has them, hold only their own state.
    """
    setup = setup if setup is not None else {"warm": False, "early": False}
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    if threads:
        start = ctx.Barrier(2)
        procs = [ctx.Process(
            target=_thread_writers, args=(kind, target, n, writers, warmup, seconds, start, out, setup)
        )]
    else:
        start = ctx.Barrier(writers + 1)
        procs = [
            ctx.Process(target=_process, args=(kind, target, n, w, warmup, seconds, start, out, setup))
            for w in range(writers)
        ]
    for p in procs:
        p.start()
    start.wait()
    t0 = time.monotonic()
    results: List[Result] = [out.get() for _ in range(writers)]
    wall = time.monotonic() - t0
    for p in procs:
        p.join()
    latencies = sorted(x for _, lat in results for x in lat)
    commits = sum(c for c, _ in results)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan")
    return {
        "rate": commits / wall,
        "p50": statistics.median(latencies) * 1e3 if latencies else float("nan"),
        "p99": p99 * 1e3,
    }


# -- setting up the stores ------------------------------------------------------------------


def _pg_targets(url: str) -> Tuple[str, str, Callable[[], None]]:
    import psycopg

    schema = "bench_" + uuid.uuid4().hex[:8]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"CREATE SCHEMA {schema}_plain")
        conn.execute(f"CREATE TABLE {schema}_plain.plain (id BIGSERIAL PRIMARY KEY, writer INT, i INT, payload TEXT)")
    sep = "&" if "?" in url else "?"

    def drop() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
            conn.execute(f"DROP SCHEMA {schema}_plain CASCADE")

    return f"{url}{sep}options=-csearch_path%3D{schema}", f"{url}{sep}options=-csearch_path%3D{schema}_plain", drop


def _sqlite_targets(directory: str) -> Tuple[str, str, Callable[[], None]]:
    plain = os.path.join(directory, "plain.db")
    conn = sqlite3.connect(plain, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE plain (id INTEGER PRIMARY KEY, writer INT, i INT, payload TEXT)")
    conn.close()
    return os.path.join(directory, "botree.db"), plain, lambda: None


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--writers", default="1,4,16", help="comma-separated writer counts")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time per configuration")
    parser.add_argument("--warmup", type=int, default=3, help="commits per writer before the clock starts")
    parser.add_argument(
        "--warm", action="store_true", help="each botree writer loads the whole head once before the clock starts"
    )
    parser.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL URL ('' to skip)")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--early", action="store_true", help="also PostgreSQL with PostgresStore.early_commit")
    parser.add_argument(
        "--fsync-ms", type=float, default=0.0,
        help="slow every flush by this many ms (benchmarks/slow_disk.py), for every process of the run, "
             "PostgreSQL on a throwaway cluster of its own; 6 is the disk of issue 14's table",
    )
    parser.add_argument(
        "--threads", action="store_true",
        help="writers are threads of one process (botree: sharing one Database; peers: a connection each)",
    )
    args = parser.parse_args(argv)
    counts = [int(w) for w in args.writers.split(",")]
    tree = random_tree(args.nodes)
    backends: List[Tuple[str, str]] = []
    if not args.no_sqlite:
        backends.append(("SQLite", "sqlite3"))
    if args.pg:
        backends.append(("PostgreSQL", "psycopg"))
        if args.early:
            backends.append(("PostgreSQL, early commit", "psycopg"))
    rows: List[str] = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as directory, contextlib.ExitStack() as cleanup:
        pg = args.pg
        if args.fsync_ms > 0:
            from benchmarks.slow_disk import cluster, preload

            slow = preload(directory, int(args.fsync_ms * 1000))
            os.environ.update(slow)  # every process spawned from now on: the writers of both sides
            if pg:
                pg, stop = cluster(slow)
                cleanup.callback(stop)
        for backend, peer in backends:
            if backend == "SQLite":
                target, plain, drop = _sqlite_targets(directory)
            else:
                target, plain, drop = _pg_targets(pg)
            setup = {"warm": args.warm, "early": "early" in backend}
            try:
                with Database(target) as db:
                    db.replace(tree, message="setup")
                for writers in counts:
                    mine = run("botree", target, args.nodes, writers, args.warmup, args.seconds, args.threads, setup)
                    theirs = run(peer, plain, args.nodes, writers, args.warmup, args.seconds, args.threads, setup)
                    row = (
                        f"| {backend} | {writers} | {mine['rate']:.0f} | {mine['p50']:.1f} | {mine['p99']:.1f} "
                        f"| {theirs['rate']:.0f} | {theirs['p50']:.1f} | {theirs['p99']:.1f} "
                        f"| {mine['rate'] / theirs['rate']:.2f} |"
                    )
                    print(row, flush=True)
                    rows.append(row)
            finally:
                drop()
    load_after = os.getloadavg()
    print()
    print(f"{args.nodes} nodes, {args.seconds:g} s per configuration, {os.cpu_count()} CPUs, "
          f"writers are {'threads of one process' if args.threads else 'processes'}, "
          + (f"every flush slowed by {args.fsync_ms:g} ms, " if args.fsync_ms > 0 else "")
          + f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after")
    print()
    print("| backend | writers | botree commits/s | p50 ms | p99 ms | plain commits/s | p50 ms | p99 ms | ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
