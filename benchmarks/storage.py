"""Storage benchmark: import, open, read and commit on SQLite and PostgreSQL.

Run from the repository root (botree installed with the ``postgres`` extra)::

    PYTHONPATH=. python -m benchmarks.storage             # 10^6 nodes, ~2 minutes
    PYTHONPATH=. python -m benchmarks.storage --nodes 100000 --pg ''   # smaller, SQLite only

For each backend: store a random recursive tree of N nodes with ``db.replace``
(time, bytes on disk), then in a fresh process open the database and report the
open time, the resident memory added by opening, the first and repeated ``level``
and ``parent`` queries, and the median latency of small commits (one insert) and
of ``as_of`` on an old version.  Opening and reading run in a child process so the
memory figure is not polluted by the import.  Printed and written (overwritten) to
``docs/benchmarks-storage.md``.  A report: nothing here asserts on timings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List

from botree import Database, Tree

ROOT = Path(__file__).resolve().parent.parent


def random_tree(n: int, seed: int = 1) -> Tree:
    rng = random.Random(seed)
    parents = [-1] + [rng.randrange(i) for i in range(1, n)]
    rows = [{"id": i, "parent": None if p < 0 else p, "name": f"n{i}"} for i, p in enumerate(parents)]
    return Tree.from_parent_table(rows, data="name")


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def reader(target: str, n: int) -> Dict[str, Any]:
    """Runs in a child process: open, query, commit."""
    base = rss_kib()
    t0 = time.perf_counter()
    db = Database(target)
    open_s = time.perf_counter() - t0
    open_kib = rss_kib() - base
    tree = db.tree
    rng = random.Random(5)
    nodes = [rng.randrange(n) for _ in range(2000)]
    t0 = time.perf_counter()
    tree.level(nodes[0])
    first_query_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for node in nodes:
        tree.level(node)
        tree.parent(node)
    cold_us = (time.perf_counter() - t0) / len(nodes) * 1e6
    t0 = time.perf_counter()
    for node in nodes:
        tree.level(node)
        tree.parent(node)
    warm_us = (time.perf_counter() - t0) / len(nodes) * 1e6
    commits: List[float] = []
    for i in range(30):
        t0 = time.perf_counter()
        with db.transaction() as tx:
            tx.insert_child(nodes[i], f"new{i}")
        commits.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    old = db.as_of(1)
    old.level(nodes[1])
    as_of_ms = (time.perf_counter() - t0) * 1e3
    after_kib = rss_kib() - base
    db.close()
    return {
        "open_ms": open_s * 1e3,
        "open_mib": open_kib / 1024,
        "first_query_ms": first_query_s * 1e3,
        "cold_level_parent_us": cold_us,
        "warm_level_parent_us": warm_us,
        "commit_ms": statistics.median(commits) * 1e3,
        "as_of_ms": as_of_ms,
        "rss_after_mib": after_kib / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test", help="'' to skip PostgreSQL")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(reader(args.child[0], int(args.child[1]))))
        return
    n = args.nodes
    t0 = time.perf_counter()
    tree = random_tree(n)
    build_s = time.perf_counter() - t0
    targets = {}
    tmp = tempfile.mkdtemp()
    targets["SQLite"] = os.path.join(tmp, "bench.db")
    schema = None
    if args.pg:
        import psycopg

        schema = "bench_" + uuid.uuid4().hex[:8]
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        targets["PostgreSQL"] = f"{args.pg}?options=-csearch_path%3D{schema}"
    results = {}
    try:
        for name, target in targets.items():
            db = Database(target)
            t0 = time.perf_counter()
            db.replace(tree, message="import")
            store_s = time.perf_counter() - t0
            with db.transaction() as tx:  # version 2, so as_of(1) reads an older version
                tx.insert_child(0, "marker")
            db.close()
            size = os.path.getsize(target) if name == "SQLite" else None
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.storage", "--child", target, str(n)],
                capture_output=True, text=True, check=True, cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            results[name] = {"store_s": store_s, "bytes": size, **json.loads(out.stdout)}
            print(name, results[name], flush=True)
    finally:
        if schema:
            import psycopg

            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
    lines = [
        "# Storage benchmark",
        "",
        f"Generated by `python -m benchmarks.storage --nodes {n}` on {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()}, {time.strftime('%Y-%m-%d')}.",
        f"A random recursive tree of {n:,} nodes (string data), built in memory in {build_s:.2f} s "
        "(`from_parent_table`), then stored with `db.replace`. Opening and reading run in a fresh process.",
        "",
        "| | " + " | ".join(results) + " |",
        "|:---|" + "---:|" * len(results),
    ]
    rows = [
        ("store the tree (`replace`)", "store_s", "{:.2f} s"),
        ("file size", "bytes", "{}"),
        ("open (`Database(target)`)", "open_ms", "{:.1f} ms"),
        ("memory added by opening", "open_mib", "{:.1f} MiB"),
        ("first `level` after open", "first_query_ms", "{:.2f} ms"),
        ("`level` + `parent`, cold leaves (2,000 random nodes)", "cold_level_parent_us", "{:.0f} µs"),
        ("`level` + `parent`, cached", "warm_level_parent_us", "{:.1f} µs"),
        ("commit of one insert (median of 30)", "commit_ms", "{:.2f} ms"),
        ("`as_of(1)` + one query", "as_of_ms", "{:.1f} ms"),
        ("memory after all of that", "rss_after_mib", "{:.1f} MiB"),
    ]
    for label, key, fmt in rows:
        cells = []
        for r in results.values():
            value = r[key]
            if key == "bytes":
                cells.append("—" if value is None else f"{value / 2**20:.1f} MiB")
            else:
                cells.append(fmt.format(value))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    (ROOT / "docs" / "benchmarks-storage.md").write_text(text)


if __name__ == "__main__":
    main()
