"""Foundation benchmark: costs of ``botree.OrderIndex`` operations.

Run from the repository root (botree's dependencies installed)::

    PYTHONPATH=. python -m benchmarks.foundation           # full run, ~5-10 minutes
    PYTHONPATH=. python -m benchmarks.foundation --quick   # 10^5 entries only, ~1 minute

Measures, with ``time.perf_counter`` and the garbage collector left on:

1. a block-size sweep at 10^5 entries (50,000 nodes): build time per node, ``before``,
   ``level``, ``enclosing``, ``rank``, a persistent ``insert_pair``, and ``relocate``
   of a small and of a half-the-tree subtree, plus the index height;
2. the default block size at 10^5 and 10^6 entries, with and without ``gc.freeze()``
   after the build, including ``blocks_written`` of the updates;
3. interpolation search against ``bisect_left`` on the key lists of real leaves, and
   ``level``/``enclosing`` with ``botree.core.reader.bisect_left`` swapped for
   ``interpolation_search`` (inside this process only; restored afterwards).

Every figure is the median over repeated runs.  The tree is a random recursive tree:
node i becomes the last child of a uniformly random earlier node.  The results are
printed and written (overwritten) to ``docs/benchmarks-foundation.md``.  This is a
report: nothing here asserts on timings.
"""

from __future__ import annotations

import argparse
import bisect
import functools
import gc
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import botree
import botree.core.reader
from botree import DEFAULT_BLOCK_SIZE, OrderIndex
from botree.core.gapkeys import interpolation_search

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks-foundation.md"
SWEEP_BLOCK_SIZES = (8, 16, 32, 64, 128, 256)
SMALL_SUBTREE_MAX = 8  # a "small" subtree has at most this many nodes

Bound = Tuple[int, bool]


# -- settings -----------------------------------------------------------------


@dataclass
class Settings:
    """Repetition counts: ``reps`` timed runs of ``*_ops`` operations each."""

    quick: bool
    seed: int
    build_reps: int  # builds per block size at 10^5 entries (median reported)
    big_build_reps: int  # builds at 10^6 entries
    reps: int
    query_ops: int
    insert_ops: int
    relocate_ops: int
    written_ops: int  # operations whose blocks_written is recorded
    search_pairs: int  # (leaf keys, key) pairs for the search micro-benchmark
    sizes: Tuple[int, ...]  # entry counts for part 2

    @classmethod
    def make(cls, quick: bool, seed: int) -> "Settings":
        if quick:
            return cls(quick, seed, 2, 1, 11, 1500, 300, 80, 60, 30_000, (10**5,))
        return cls(quick, seed, 3, 2, 15, 2000, 300, 80, 60, 40_000, (10**5, 10**6))


# -- timing helpers -------------------------------------------------------------


def us(seconds: float) -> float:
    return seconds * 1e6


def fmt(x: float) -> str:
    """A number with about three significant digits."""
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def count(x: float) -> str:
    """A median block count (an integer or a half)."""
    return f"{x:g}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# -- the tree -------------------------------------------------------------------


def random_parents(nodes: int, seed: int) -> List[int]:
    """parents[i] (i >= 1) is a uniformly random earlier node; parents[0] = -1 (the root)."""
    rng = random.Random(seed)
    return [-1] + [rng.randrange(i) for i in range(1, nodes)]


def build(parents: List[int], block_size: int) -> Tuple[OrderIndex, List[int], float]:
    """One batch of insert_pair calls, then persistent(); returns (index, node ids, seconds)."""
    t0 = time.perf_counter()
    batch = OrderIndex(block_size=block_size).transient()
    ids: List[int] = []
    insert = batch.insert_pair
    append = ids.append
    append(insert(None, None))
    for p in parents[1:]:
        append(insert(None, (ids[p], False)))
    idx = batch.persistent()
    return idx, ids, time.perf_counter() - t0


def subtree_sizes(parents: List[int]) -> List[int]:
    """Nodes in each node's subtree (itself included). O(n): parents precede children."""
    sizes = [1] * len(parents)
    for i in range(len(parents) - 1, 0, -1):
        sizes[parents[i]] += sizes[i]
    return sizes


def outside(idx: OrderIndex, node: int, target: int) -> bool:
    """True if ``target`` is not in ``node``'s subtree (so (target, False) is a valid relocate target)."""
    if target == node:
        return False
    inside = idx.before((node, True), (target, True)) and idx.before((target, True), (node, False))
    return not inside


def moves_for(idx: OrderIndex, ids: List[int], nodes: List[int], count: int, rng: random.Random) -> List[tuple]:
    """``count`` relocations (first, last, before) of subtrees drawn from ``nodes`` to random valid targets."""
    moves: List[tuple] = []
    while len(moves) < count:
        node = rng.choice(nodes)
        target = ids[rng.randrange(len(ids))]
        if outside(idx, node, target):
            moves.append(((node, True), (node, False), (target, False)))
    return moves


# -- part 1 and 2: operation costs ---------------------------------------------------------


@dataclass
class Ops:
    """Per-operation results for one index (µs unless noted)."""

    build_us_per_node: float = math.nan
    height: int = 0
    results: Dict[str, float] = field(default_factory=dict)
    frozen: Dict[str, float] = field(default_factory=dict)
    written: Dict[str, float] = field(default_factory=dict)  # median blocks_written
    large_nodes: int = 0


OP_COLUMNS = (
    ("before", "before"),
    ("level", "level"),
    ("enclosing", "enclosing"),
    ("rank", "rank"),
    ("insert", "insert_pair (persistent)"),
    ("reloc_small", "relocate small"),
    ("reloc_large", "relocate large"),
)


def calls(fn: Callable[..., Any], args: Sequence[Any], spread: bool = False) -> Callable[[], int]:
    """A timed run: ``fn`` on every argument (``spread``: each argument is a tuple of arguments)."""
    if spread:

        def run_spread() -> int:
            for a in args:
                fn(*a)
            return len(args)

        return run_spread

    def run() -> int:
        for a in args:
            fn(a)
        return len(args)

    return run


def time_ops(idx: OrderIndex, workload: Dict[str, Any], s: Settings) -> Dict[str, float]:
    """µs per operation for every column of OP_COLUMNS, each a median over s.reps runs."""
    pairs = workload["pairs"]
    relocate = idx.relocate

    def mover(moves: List[tuple]) -> Callable[[], int]:
        def run() -> int:
            for first, last, target in moves:
                relocate(first, last, target)
            return len(moves)

        return run

    runs = {
        "before": calls(idx.before, pairs, spread=True),
        "level": calls(idx.level, workload["nodes"]),
        "enclosing": calls(idx.enclosing, workload["nodes"]),
        "rank": calls(idx.rank, workload["bounds"]),
        "insert": calls(functools.partial(idx.insert_pair, None), workload["insert_targets"]),
        "reloc_small": mover(workload["small_moves"]),
        "reloc_large": mover(workload["large_moves"]),
    }
    # One operation at a time: interleaving would charge the queries for the collector work and
    # cold caches the updates leave behind.
    return {name: us(alternating([run], s.reps)[0]) for name, run in runs.items()}


def blocks_written(idx: OrderIndex, workload: Dict[str, Any], s: Settings) -> Dict[str, float]:
    """Median ``blocks_written`` of one-operation batches."""
    out: Dict[str, float] = {}
    counts = []
    for t in workload["insert_targets"][: s.written_ops]:
        batch = idx.transient()
        batch.insert_pair(None, t)
        counts.append(batch.blocks_written)
    out["insert"] = statistics.median(counts)
    for key in ("small_moves", "large_moves"):
        counts = []
        for first, last, target in workload[key][: s.written_ops]:
            batch = idx.transient()
            batch.relocate(first, last, target)
            counts.append(batch.blocks_written)
        out[key] = statistics.median(counts)
    return out


def make_workload(idx: OrderIndex, ids: List[int], parents: List[int], s: Settings, seed: int) -> Dict[str, Any]:
    rng = random.Random(seed)
    n = len(ids)
    sizes = subtree_sizes(parents)

    def rnd() -> int:
        return ids[rng.randrange(n)]

    small = [ids[i] for i in range(1, n) if sizes[i] <= SMALL_SUBTREE_MAX]
    # The non-root node whose subtree is closest to half the tree.
    half = min(range(1, n), key=lambda i: abs(sizes[i] - n / 2))
    large = ids[half]
    # Its size as the index sees it: the bounds between its opening and closing bound.
    large_nodes = (idx.rank((large, False)) - idx.rank((large, True)) + 1) // 2
    return {
        "pairs": [((rnd(), rng.random() < 0.5), (rnd(), rng.random() < 0.5)) for _ in range(s.query_ops)],
        "nodes": [rnd() for _ in range(s.query_ops)],
        "bounds": [(rnd(), rng.random() < 0.5) for _ in range(s.query_ops)],
        "insert_targets": [(rnd(), False) for _ in range(s.insert_ops)],
        "small_moves": moves_for(idx, ids, small, s.relocate_ops, rng),
        "large_moves": moves_for(idx, ids, [large], s.relocate_ops, rng),
        "large_nodes": large_nodes,
    }


def measure_index(
    parents: List[int], block_size: int, build_reps: int, s: Settings, with_written: bool
) -> Tuple[Ops, OrderIndex, List[int], Dict[str, Any]]:
    """Build (median of build_reps builds), then time every operation without and with gc.freeze()."""
    ops = Ops()
    build_times = []
    idx: Optional[OrderIndex] = None
    ids: List[int] = []
    for _ in range(build_reps):
        idx = None
        gc.collect()
        idx, ids, seconds = build(parents, block_size)
        build_times.append(seconds)
    assert idx is not None
    ops.build_us_per_node = us(statistics.median(build_times)) / len(parents)
    ops.height = idx.height
    workload = make_workload(idx, ids, parents, s, s.seed + block_size)
    ops.large_nodes = workload["large_nodes"]
    gc.collect()
    ops.results = time_ops(idx, workload, s)
    gc.collect()
    gc.freeze()
    try:
        ops.frozen = time_ops(idx, workload, s)
    finally:
        gc.unfreeze()
    gc.collect()
    if with_written:
        ops.written = blocks_written(idx, workload, s)
    return ops, idx, ids, workload


# -- part 3: interpolation vs binary search -------------------------------------


@dataclass
class Search:
    entries: int
    block_size: int
    leaves: int
    fill: float  # mean bounds per leaf
    hit_rate: float  # fraction of lookups answered by the interpolation guess alone
    bisect_ns: float
    interp_ns: float
    level_bisect_us: float
    level_interp_us: float
    encl_bisect_us: float
    encl_interp_us: float


def leaf_key_lists(idx: OrderIndex) -> List[List[int]]:
    blocks = idx._blocks
    out = []
    leaf: Optional[int] = idx._first_leaf()
    while leaf is not None:
        out.append(blocks[leaf].keys)
        leaf = idx._next_leaf(leaf)
    return out


def guess_hits(keys: List[int], key: int) -> bool:
    """Whether ``interpolation_search`` answers without falling back to bisection."""
    n = len(keys)
    first, last = keys[0], keys[-1]
    if key == first or key == last:
        return True
    if first < key < last:
        return keys[(key - first) * (n - 1) // (last - first)] == key
    return False


def alternating(runs: Sequence[Callable[[], int]], reps: int) -> List[float]:
    """Median seconds per op of each run, the runs interleaved (ABAB...) to share drift."""
    samples: List[List[float]] = [[] for _ in runs]
    for run in runs:
        run()  # warm up
    for _ in range(reps):
        for j, run in enumerate(runs):
            t0 = time.perf_counter()
            count = run()
            samples[j].append((time.perf_counter() - t0) / count)
    return [statistics.median(x) for x in samples]


def measure_search(idx: OrderIndex, workload: Dict[str, Any], s: Settings) -> Search:
    rng = random.Random(s.seed)
    lists = [keys for keys in leaf_key_lists(idx) if keys]
    weights = [len(keys) for keys in lists]
    chosen = rng.choices(lists, weights=weights, k=s.search_pairs)
    pairs = [(keys, keys[rng.randrange(len(keys))]) for keys in chosen]
    hit_rate = sum(guess_hits(keys, k) for keys, k in pairs) / len(pairs)

    def searcher(fn: Callable[[List[int], int], int]) -> Callable[[], int]:
        def run() -> int:
            for keys, k in pairs:
                fn(keys, k)
            return len(pairs)

        return run

    bis, interp = alternating([searcher(bisect.bisect_left), searcher(interpolation_search)], s.reps)

    run_level = calls(idx.level, workload["nodes"])
    run_enclosing = calls(idx.enclosing, workload["nodes"])

    original = botree.core.reader.bisect_left

    def patched(run: Callable[[], int]) -> Callable[[], int]:
        def wrapped() -> int:
            setattr(botree.core.reader, "bisect_left", interpolation_search)  # noqa: B010 - this process only
            try:
                return run()
            finally:
                setattr(botree.core.reader, "bisect_left", original)  # noqa: B010

        return wrapped

    lv_b, lv_i, en_b, en_i = alternating([run_level, patched(run_level), run_enclosing, patched(run_enclosing)], s.reps)
    assert botree.core.reader.bisect_left is original
    return Search(
        idx.entry_count,
        idx.block_size,
        len(lists),
        sum(weights) / len(lists),
        hit_rate,
        bis * 1e9,
        interp * 1e9,
        us(lv_b),
        us(lv_i),
        us(en_b),
        us(en_i),
    )


# -- report -----------------------------------------------------------------------------


def git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "botree", "nodetable"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return rev + (" (botree/ or nodetable/ modified)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine_info(load: Tuple[float, float, float]) -> List[str]:
    try:
        from importlib.metadata import version

        pyr = version("pyrsistent")
    except Exception:  # noqa: BLE001 - informational only
        pyr = "unknown"
    try:
        import pvectorc  # type: ignore[import-not-found]  # noqa: F401

        pyr += " (C extension pvectorc)"
    except ImportError:
        pyr += " (pure Python, no pvectorc)"
    return [
        f"- Python {platform.python_version()} ({platform.python_implementation()}), {sys.executable}",
        f"- Platform: {platform.platform()}; processor: {platform.processor() or platform.machine()}",
        f"- CPUs: {os.cpu_count()}; load average (1, 5, 15 min) when the run started: "
        + ", ".join(f"{x:.2f}" for x in load)
        + " (other processes on the machine add noise)",
        f"- pyrsistent {pyr}",
        f"- botree {botree.__version__}, git {git_revision()}",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
    ]


def geomean(values: Sequence[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def overall(ops: Ops, frozen: bool = False) -> float:
    res = ops.frozen if frozen else ops.results
    return geomean([ops.build_us_per_node] + [res[k] for k, _ in OP_COLUMNS])


def sweep_tables(sweep: Dict[int, Ops], entries: int) -> Tuple[List[str], List[Tuple[int, float]]]:
    ref = DEFAULT_BLOCK_SIZE if DEFAULT_BLOCK_SIZE in sweep else next(iter(sweep))
    header = ["B", "height", "build /node"] + [label for _, label in OP_COLUMNS] + ["geomean", f"vs B={ref}"]
    out: List[str] = []
    for frozen in (False, True):
        rows = []
        ref_g = overall(sweep[ref], frozen)
        for b, ops in sweep.items():
            res = ops.frozen if frozen else ops.results
            g = overall(ops, frozen)
            rows.append(
                [str(b), str(ops.height), fmt(ops.build_us_per_node)]
                + [fmt(res[k]) for k, _ in OP_COLUMNS]
                + [fmt(g), f"{g / ref_g:.2f}"]
            )
        title = "with gc.freeze() after the build" if frozen else "GC on, not frozen"
        out += [f"#### {title}", "", table(header, rows), ""]
    wheader = ["B", "insert_pair", "relocate small", "relocate large"]
    wrows = [
        [str(b)] + [count(ops.written[k]) for k in ("insert", "small_moves", "large_moves")] for b, ops in sweep.items()
    ]
    out += [
        "#### Blocks written by one-operation batches (median)",
        "",
        table(wheader, wrows),
        "",
    ]
    ref_g = overall(sweep[ref])
    ranking = sorted(((b, overall(ops) / ref_g) for b, ops in sweep.items()), key=lambda x: x[1])
    large = {ops.large_nodes for ops in sweep.values()}
    out.insert(
        0,
        f"{entries:,} entries ({entries // 2:,} nodes). µs per operation (median). "
        f"'relocate small': a random subtree of at most {SMALL_SUBTREE_MAX} nodes; "
        f"'relocate large': the subtree closest to half the tree ({', '.join(f'{x:,}' for x in large)} nodes); "
        "both to a random valid target, as its last child, persistently on the same base each time. "
        "'build /node' is one batch of insert_pair plus persistent() (always GC on, not frozen). "
        f"'geomean' is the geometric mean of the µs columns (build included); 'vs B={ref}' divides it by "
        f"B={ref}'s.\n",
    )
    return out, ranking


def default_tables(rows_by_size: Dict[int, Ops]) -> List[str]:
    header = [
        "entries",
        "nodes",
        "height",
        "GC",
        "build /node",
        "before",
        "level",
        "enclosing",
        "rank",
        "insert_pair",
        "relocate small",
        "relocate half",
    ]
    rows = []
    for entries, ops in rows_by_size.items():
        for frozen in (False, True):
            res = ops.frozen if frozen else ops.results
            rows.append(
                [
                    f"{entries:,}",
                    f"{entries // 2:,}",
                    str(ops.height),
                    "frozen" if frozen else "on",
                    fmt(ops.build_us_per_node) if not frozen else "",
                    fmt(res["before"]),
                    fmt(res["level"]),
                    fmt(res["enclosing"]),
                    fmt(res["rank"]),
                    fmt(res["insert"]),
                    fmt(res["reloc_small"]),
                    fmt(res["reloc_large"]),
                ]
            )
    wheader = ["entries", "insert_pair", "relocate small", "relocate half", "half-tree nodes moved"]
    wrows = [
        [
            f"{entries:,}",
            count(ops.written["insert"]),
            count(ops.written["small_moves"]),
            count(ops.written["large_moves"]),
            f"{ops.large_nodes:,}",
        ]
        for entries, ops in rows_by_size.items()
    ]
    return [
        f"Block size {DEFAULT_BLOCK_SIZE} (the default). µs per operation (median); 'frozen' means "
        "gc.freeze() after the build (the collector stays on). 'relocate half' moves the subtree closest "
        "to half the tree.",
        "",
        table(header, rows),
        "",
        "Blocks written (copied or created) by one-operation batches (`idx.transient()`, one call, "
        "`batch.blocks_written`), median:",
        "",
        table(wheader, wrows),
        "",
    ]


def search_tables(results: List[Search]) -> Tuple[List[str], str]:
    header = [
        "entries",
        "B",
        "leaves",
        "mean fill",
        "guess hits",
        "bisect_left ns",
        "interpolation ns",
        "level, bisect µs",
        "level, interpolation µs",
        "enclosing, bisect µs",
        "enclosing, interpolation µs",
    ]
    rows = [
        [
            f"{r.entries:,}",
            str(r.block_size),
            f"{r.leaves:,}",
            f"{r.fill:.1f}",
            f"{100 * r.hit_rate:.0f}%",
            fmt(r.bisect_ns),
            fmt(r.interp_ns),
            fmt(r.level_bisect_us),
            fmt(r.level_interp_us),
            fmt(r.encl_bisect_us),
            fmt(r.encl_interp_us),
        ]
        for r in results
    ]
    raw_wins = sum(r.bisect_ns <= r.interp_ns for r in results)
    level_wins = sum(r.level_bisect_us <= r.level_interp_us for r in results)
    verdict = (
        f"bisect_left is faster on raw leaf searches in {raw_wins} of {len(results)} configurations "
        f"and in level() in {level_wins} of {len(results)}."
    )
    return [
        "Searches for keys present in real leaves (lookups weighted by leaf size, as `_locate` sees them): "
        "`bisect.bisect_left(keys, k)` against `botree.core.gapkeys.interpolation_search(keys, k)`. "
        "'guess hits' is the share answered by the interpolation guess without falling back to bisection. "
        "The level/enclosing columns time `OrderIndex.level` and `enclosing` with `botree.core.reader.bisect_left` "
        "replaced by `interpolation_search` (restored afterwards); the variants are timed interleaved.",
        "",
        table(header, rows),
        "",
        verdict,
        "",
    ], verdict


def command_line(argv: Sequence[str]) -> str:
    return " ".join(["PYTHONPATH=. python -m benchmarks.foundation", *argv])


def report(
    argv: Sequence[str],
    s: Settings,
    sweep: Dict[int, Ops],
    by_size: Dict[int, Ops],
    searches: List[Search],
    seconds: float,
    load: Tuple[float, float, float],
) -> str:
    sweep_lines, ranking = sweep_tables(sweep, 10**5)
    best_b, best_ratio = ranking[0]
    if best_b == DEFAULT_BLOCK_SIZE:
        runner_b, runner_ratio = ranking[1]
        best_text = f"B={best_b} (the default); the next best, B={runner_b}, is {runner_ratio:.2f}× its geomean"
    else:
        best_text = (
            f"B={best_b}, {best_ratio:.2f}× the geomean of B={DEFAULT_BLOCK_SIZE} ({100 * (1 - best_ratio):.0f}% lower)"
        )
    ranking_text = ", ".join(f"B={b} {r:.2f}" for b, r in ranking)
    search_lines, verdict = search_tables(searches)
    lines = [
        "# Benchmarks: the foundation (`botree.OrderIndex`)",
        "",
        "Reproduce from the repository root (dependencies installed):",
        "",
        f"    {command_line(argv)}",
        "",
        "Written by `benchmarks/foundation.py` (this file is overwritten on every run; "
        "`--quick` runs 10^5 entries only). Timings use `time.perf_counter`; each figure is the median "
        f"over {s.reps} back-to-back timed runs of a batch of operations "
        f"(queries: {s.query_ops} random arguments, persistent insert_pair: {s.insert_ops}, "
        f"relocations: {s.relocate_ops}), after a warm-up run. "
        "The garbage collector stays on throughout. The tree is a random recursive tree: node i is "
        "inserted as the last child of a uniformly random earlier node, all in one batch "
        f"(seed {s.seed}). Persistent updates are applied to the same base index each time.",
        "",
        "## Machine",
        "",
        *machine_info(load),
        f"- Run: {'quick' if s.quick else 'full'}, {seconds:.0f} s",
        "",
        "## Summary",
        "",
        f"- Fastest block size overall (geometric mean of the sweep's µs columns, GC on, not frozen): {best_text}.",
        f"- Ranking (geomean relative to B={DEFAULT_BLOCK_SIZE}): {ranking_text}.",
        f"- Search: {verdict}",
        "",
        "## 1. Block size sweep",
        "",
        *sweep_lines,
        "## 2. Default block size",
        "",
        *default_tables(by_size),
        "## 3. Interpolation search vs binary search",
        "",
        *search_lines,
    ]
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------------


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10^5 entries only, fewer repetitions (~1 minute)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help=f"markdown report to write (default {DEFAULT_OUTPUT})"
    )
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(args_list)
    s = Settings.make(args.quick, args.seed)
    load = os.getloadavg()
    start = time.perf_counter()

    def progress(msg: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f}s] {msg}", file=sys.stderr, flush=True)

    sweep: Dict[int, Ops] = {}
    by_size: Dict[int, Ops] = {}
    searches: List[Search] = []
    parents = random_parents(10**5 // 2, s.seed)
    for b in SWEEP_BLOCK_SIZES:
        progress(f"sweep: B={b}, 10^5 entries")
        ops, idx, _ids, workload = measure_index(parents, b, s.build_reps, s, True)
        sweep[b] = ops
        if b == DEFAULT_BLOCK_SIZE:
            by_size[10**5] = ops
        searches.append(measure_search(idx, workload, s))
        del idx, _ids, workload
    for entries in s.sizes:
        if entries in by_size:
            continue
        progress(f"default block size, {entries:,} entries")
        ops, idx, _ids, workload = measure_index(
            random_parents(entries // 2, s.seed), DEFAULT_BLOCK_SIZE, s.big_build_reps, s, True
        )
        by_size[entries] = ops
        searches.append(measure_search(idx, workload, s))
        del idx, _ids, workload
    text = report(args_list, s, sweep, by_size, searches, time.perf_counter() - start, load)
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text + "\n")
    progress(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
