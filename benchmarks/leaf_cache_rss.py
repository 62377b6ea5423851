"""Peak RSS, loads and time while reading a stored tree, uncapped and with ``cache_leaves`` (issue 14 item 4).

Run by hand from the repository root (nothing in CI runs it; the big file lives outside git)::

    python -m benchmarks.leaf_cache_rss build PATH N          # store a random tree of N nodes (10^7: ~6.5 GB, ~5 min)
    python -m benchmarks.leaf_cache_rss table PATH [--caps 1000,10000,none] [--queries Q]
    python -m benchmarks.leaf_cache_rss reads PATH            # the cost of a read of a loaded leaf
    python -m benchmarks.leaf_cache_rss policies PATH --cap N # CLOCK vs FIFO in one process, interleaved

``table`` runs every measurement in a fresh process (peak RSS is per process) and
prints a markdown table: for each cap, a preorder walk of every node (``preorder``,
then ``level``, ``parent``, ``data`` of each), and Q random queries (``level``,
``parent``, ``data`` of a random node and ``is_descendant`` against another), with
CLOCK eviction and with FIFO (load order) for comparison.
Each row: peak RSS, RSS after opening, loads, evictions, reads that found a demoted
leaf still in memory (``rescues``), time.  ``reads`` times reads of loaded leaves:
the plain ``LoadedLeaf`` subscript every policy here keeps, against a subclass that
records each read in Python (what exact LRU would need), interleaved in one process.
Not a timed test: numbers are for the docs and vary with the machine's load.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import subprocess
import sys
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

from botree import Database, Tree
from botree.storage.codec import vectors
from botree.storage.lazy import LoadedLeaf


def events(n: int, seed: int = 1) -> Iterator[Tuple[Any, bool]]:
    rng = random.Random(seed)
    depth = made = 0
    while made < n:
        if depth and rng.random() < 0.45:
            depth -= 1
            yield (None, False)
        else:
            yield ({"i": made, "name": f"node {made}"}, True)
            made += 1
            depth += 1
    for _ in range(depth):
        yield (None, False)


def rss_mb() -> float:
    """Peak RSS of this process so far, MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _open(path: str, cap: Optional[int], fifo: bool) -> Any:
    db = Database(path, cache_leaves=cap)
    db._leaf_cache.clock = not fifo  # the benchmark's switch; the library always uses CLOCK
    return db


def _report(db: Any, began: float, opened: float) -> Dict[str, Any]:
    cache = db._leaf_cache
    return {"peak_mb": round(rss_mb()), "open_mb": round(opened), "loads": cache.loads,
            "evictions": cache.evictions, "rescues": cache.rescues, "loaded": cache.loaded,
            "seconds": round(time.perf_counter() - began, 1)}


def walk(path: str, cap: Optional[int], fifo: bool) -> Dict[str, Any]:
    """Every node in preorder: level, parent and data of each."""
    db = _open(path, cap, fifo)
    head = db.tree
    opened = rss_mb()
    began = time.perf_counter()
    count = 0
    for node in head.preorder():
        head.level(node)
        head.parent(node)
        head.data(node)
        count += 1
    out = _report(db, began, opened)
    out["nodes"] = count
    db.close()
    return out


def queries(path: str, cap: Optional[int], fifo: bool, count: int) -> Dict[str, Any]:
    """``count`` random queries: level, parent, data of a random node, is_descendant of two (same seed every run).

    The nodes are random ids (a bulk build numbers nodes 0..n-1): ``at_rank`` would
    dominate, being a binary search that reads ~20 random leaves.
    """
    db = _open(path, cap, fifo)
    head = db.tree
    opened = rss_mb()
    rng = random.Random(5)
    n = len(head)
    began = time.perf_counter()
    for _ in range(count):
        x = rng.randrange(n)
        y = rng.randrange(n)
        head.level(x)
        head.parent(x)
        head.data(x)
        head.is_descendant(x, y)
    out = _report(db, began, opened)
    db.close()
    return out


_last: List[Any] = [None]


class _Recording(LoadedLeaf):
    """A loaded leaf whose every read runs Python code to record itself: the least any per-read hook
    (exact LRU, or a CLOCK reference bit set on reads) costs."""

    __slots__ = ()

    def __getitem__(self, i: Any) -> Any:
        _last[0] = self
        return list.__getitem__(self, i)


def reads(path: str, rounds: int = 7) -> Dict[str, Any]:
    """Reads of loaded leaves, plain then recording, interleaved; the best round of each, µs.

    ``query``: level, parent and data of 20,000 random nodes; ``walk``: the first
    100,000 nodes in preorder (the same three reads), both after one untimed pass that
    loads every leaf they touch (uncapped).
    """
    db = Database(path)
    head = db.tree
    rng = random.Random(3)
    n = len(head)
    nodes = [rng.randrange(n) for _ in range(20_000)]
    loaded = list(vectors(head.order_index).values())

    def query() -> float:
        began = time.perf_counter()
        for x in nodes:
            head.level(x)
            head.parent(x)
            head.data(x)
        return (time.perf_counter() - began) / len(nodes) * 1e6

    def walk() -> float:
        began = time.perf_counter()
        for x in itertools.islice(head.preorder(), 100_000):
            head.level(x)
            head.parent(x)
            head.data(x)
        return (time.perf_counter() - began) / 100_000 * 1e6

    def set_class(cls: type) -> None:
        for vec in loaded:
            for mid in vec.chunks:
                for leaf in mid:
                    if type(leaf) in (LoadedLeaf, _Recording):
                        leaf.__class__ = cls

    out: Dict[str, Any] = {}
    for name, run in (("query", query), ("walk", walk)):
        run()  # loads every leaf the reads touch
        plain: List[float] = []
        hooked: List[float] = []
        for _ in range(rounds):
            set_class(LoadedLeaf)
            plain.append(run())
            set_class(_Recording)
            hooked.append(run())
        set_class(LoadedLeaf)
        out[name] = {"plain_us": round(min(plain), 2), "recording_us": round(min(hooked), 2),
                     "ratio": round(min(hooked) / min(plain), 2)}
    db.close()
    return out


def policies(path: str, cap: int, count: int, rounds: int = 5) -> Dict[str, Any]:
    """CLOCK against FIFO in one process: two objects with the same cap answer the same random queries, interleaved.

    Per policy: wall-clock and CPU seconds (this thread's: less sensitive to a shared
    machine) over all rounds, loads, rescues.  The queries are those of ``queries``,
    split into ``rounds`` runs taken in turn.
    """
    dbs = {"CLOCK": _open(path, cap, False), "FIFO": _open(path, cap, True)}
    heads = {name: db.tree for name, db in dbs.items()}
    rng = random.Random(5)
    n = len(heads["CLOCK"])
    pairs = [(rng.randrange(n), rng.randrange(n)) for _ in range(count)]
    took = dict.fromkeys(dbs, 0.0)
    cpu = dict.fromkeys(dbs, 0.0)
    per = count // rounds
    for r in range(rounds):
        for name in (("CLOCK", "FIFO") if r % 2 == 0 else ("FIFO", "CLOCK")):
            head = heads[name]
            began, began_cpu = time.perf_counter(), time.thread_time()
            for x, y in pairs[r * per:(r + 1) * per]:
                head.level(x)
                head.parent(x)
                head.data(x)
                head.is_descendant(x, y)
            took[name] += time.perf_counter() - began
            cpu[name] += time.thread_time() - began_cpu
    out = {name: {"seconds": round(took[name], 1), "cpu_seconds": round(cpu[name], 1),
                  "loads": db._leaf_cache.loads, "rescues": db._leaf_cache.rescues}
           for name, db in dbs.items()}
    for db in dbs.values():
        db.close()
    return out


def _child(args: List[str]) -> Dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "benchmarks.leaf_cache_rss", *args], check=True,
                         capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def table(path: str, caps: List[Optional[int]], count: int) -> None:
    """One fresh process per measurement; a markdown table on stdout."""
    print(f"load average before: {os.getloadavg()[0]:.1f}", file=sys.stderr)
    print("| read | cap | policy | peak RSS MB | RSS after open MB | loads | evictions | rescues | s (load) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for cap in caps:
        capflag = [] if cap is None else ["--cap", str(cap)]
        runs = [("walk", "CLOCK", ["walk", path, *capflag])]
        if cap is not None:
            runs.append(("walk", "FIFO", ["walk", path, *capflag, "--fifo"]))
        runs.append((f"{count:,} queries", "CLOCK", ["queries", path, *capflag, "--queries", str(count)]))
        if cap is not None:
            runs.append((f"{count:,} queries", "FIFO", ["queries", path, *capflag, "--queries", str(count), "--fifo"]))
        for what, policy, args in runs:
            r = _child(args)
            print(f"| {what} | {cap if cap is not None else 'none'} | {policy if cap is not None else '-'} | "
                  f"{r['peak_mb']:,} | {r['open_mb']:,} | {r['loads']:,} | {r['evictions']:,} | {r['rescues']:,} | "
                  f"{r['seconds']} ({os.getloadavg()[0]:.1f}) |", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("verb", choices=["build", "walk", "queries", "table", "reads", "policies"])
    parser.add_argument("path")
    parser.add_argument("nodes", nargs="?", type=int, help="build: how many nodes")
    parser.add_argument("--cap", type=int, default=None)
    parser.add_argument("--fifo", action="store_true", help="evict in load order instead of CLOCK")
    parser.add_argument("--queries", type=int, default=20_000)
    parser.add_argument("--caps", default="1000,10000,none")
    a = parser.parse_args()
    if a.verb == "build":
        if a.nodes is None:
            parser.error("build needs N")
        db = Database(a.path)
        db.replace(Tree.from_events(events(a.nodes)), message="bulk")
        db.close()
        print(f"built {a.nodes} nodes, peak RSS {rss_mb():.0f} MB")
    elif a.verb == "walk":
        print(json.dumps(walk(a.path, a.cap, a.fifo)))
    elif a.verb == "queries":
        print(json.dumps(queries(a.path, a.cap, a.fifo, a.queries)))
    elif a.verb == "policies":
        print(json.dumps(policies(a.path, a.cap or 1000, a.queries)))
    elif a.verb == "reads":
        print(json.dumps(reads(a.path)))
    else:
        caps = [None if c == "none" else int(c) for c in a.caps.split(",")]
        table(a.path, caps, a.queries)


if __name__ == "__main__":
    main()
