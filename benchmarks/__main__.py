"""Peer comparison: botree against anytree, bigtree, treelib, networkx and SQLite.

Run from the repository root (botree's dependencies and the ``bench`` extra installed)::

    PYTHONPATH=. python -m benchmarks            # full run: random trees of 10^4, 10^5, 10^6 nodes
    PYTHONPATH=. python -m benchmarks --quick    # 10^4 nodes only, fewer repetitions

A full run ends with issue 16's targets on the pure and the compiled build side by side
(``benchmarks.targets``: its own interleaved measurements, not this run's medians); the
report puts that section after the machine and the trees.

Every library is built from the same parent array and answers the same randomly chosen
arguments; each figure is a median over repeated timed runs (``time.perf_counter``, the
garbage collector left on).  Slow libraries get a time cap: a build or operation that
runs past it (or is predicted to, from the smaller size) is reported as "DNF".  The
results go to ``docs/benchmarks.md`` and plots to ``docs/benchmarks/`` (overwritten).
This is a report: nothing asserts on timings.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sqlite3
import statistics
import sys
import time
import traceback
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from . import builds, peer_report, peer_trees, peers, targets
from .peer_trees import TreeSpec, Workload
from .peers import DEADLINE, Inputs, NotSupported, Peer

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"

Cell = Union[float, str]  # µs per unit, or "DNF", "RecursionError", "n/a", "—", "n/m"


@dataclass(frozen=True)
class Op:
    key: str
    label: str
    unit: str  # "op", "node" or "B/node"
    method: str = ""  # Peer method (default: key)
    args: Optional[str] = None  # Workload field holding the arguments
    mutates: bool = False
    only: Optional[str] = None  # a botree-only variant
    ratio_to: Optional[str] = None  # the peer row a botree-only variant is compared with


OPS: Tuple[Op, ...] = (
    Op("build", "build (botree: from_parent_table)", "node"),
    Op("build_events", "build: Tree.from_events", "node", only="botree", ratio_to="build"),
    Op("build_tx", "build: insert_child one by one in a transaction", "node", only="botree", ratio_to="build"),
    Op("is_descendant", "is_descendant", "op", args="pairs"),
    Op("level", "level", "op", args="nodes"),
    Op("parent", "parent", "op", args="nodes"),
    Op("children", "children (list them)", "op", args="nodes"),
    Op("size", "size (subtree)", "op", args="nodes"),
    Op("rank", "rank (preorder)", "op", args="nodes"),
    Op("insert", "insert leaf (botree: persistent)", "op", args="insert_parents", mutates=True),
    Op("insert_tx", "insert leaf in a transaction", "op", args="insert_parents", only="botree", ratio_to="insert"),
    Op("delete", "delete small subtree", "op", args="small", mutates=True),
    Op("move_small", "move small subtree", "op", method="move", args="small_moves", mutates=True),
    Op("move_half", "move half-the-tree subtree", "op", method="move", args="half_moves", mutates=True),
    Op("wrap", "wrap in a new parent", "op", args="wraps", mutates=True),
    Op("preorder", "preorder scan (per node)", "node"),
    Op("snapshot", "snapshot / copy", "op"),
    Op("lca", "lowest common ancestor", "op", args="lca_pairs"),
    Op("range_find", "range find (~0.1% of nodes)", "op", args="ranges"),
    Op("scoped_find", "scoped range find (1%-10% subtree, 1% of values)", "op", args="scoped"),
    Op("memory", "memory (no user data)", "B/node"),
)
OP_BY_KEY = {op.key: op for op in OPS}


@dataclass
class Settings:
    quick: bool
    seed: int
    sizes: Tuple[int, ...]  # random tree sizes
    wide: Tuple[int, ...]  # children of the wide tree's root
    deep: int  # depth of the deep tree
    dirs_limit: Optional[int]
    ast_target: int
    queries: int  # arguments per query operation
    updates: int  # arguments per update operation
    half_moves: int
    max_reps: int  # timed repetitions of a batch at most
    op_budget: float  # seconds of timed batches per (library, operation), roughly
    batch_target: float  # seconds per batch (sets how many arguments a slow library uses)
    slow_samples: int  # an operation slower than batch_target: this many single calls at most
    slow_budget: float  # ... within this many seconds
    cap: float  # a single call (batch) running longer is stopped: "DNF"
    build_cap: float
    build_reps: int
    build_budget: float

    @classmethod
    def make(cls, quick: bool, seed: int, sizes: Optional[Sequence[int]]) -> "Settings":
        if quick:
            return cls(
                quick, seed, tuple(sizes or (10**4,)), (10**4,), 10**4, 10**4, 10**4,
                300, 40, 10, 5, 0.25, 0.02, 3, 0.5, 10.0, 20.0, 3, 1.0,
            )  # fmt: skip
        return cls(
            quick, seed, tuple(sizes or (10**4, 10**5, 10**6)), (10**4, 10**5), 10**4, None, 10**5,
            1000, 100, 20, 7, 1.0, 0.05, 3, 3.0, 30.0, 60.0, 3, 5.0,
        )  # fmt: skip


# -- one guarded, timed call -------------------------------------------------------------------


class Overtime(BaseException):
    """Raised by the interval timer inside a call that ran past its cap (BaseException: peers catch Exception)."""


class Stop(Exception):
    """A call could not be measured; ``cell`` says why."""

    def __init__(self, cell: str) -> None:
        super().__init__(cell)
        self.cell = cell


def _alarm(signum: int, frame: Any) -> None:
    raise Overtime()


def guarded(call: Callable[..., Tuple[float, int]], args: Any, cap: float) -> Tuple[float, int]:
    """``call(args)`` under a time cap; failures become ``Stop``."""
    DEADLINE[0] = time.perf_counter() + cap
    signal.setitimer(signal.ITIMER_REAL, cap)
    try:
        return call(args) if args is not None else call()
    except Overtime:
        raise Stop("DNF") from None
    except RecursionError:
        raise Stop("RecursionError") from None
    except NotSupported:
        raise Stop("n/a") from None
    except sqlite3.OperationalError as exc:
        if "interrupt" in str(exc):
            raise Stop("DNF") from None
        traceback.print_exc()
        raise Stop(f"error: {type(exc).__name__}") from None
    except Exception as exc:
        traceback.print_exc()
        raise Stop(f"error: {type(exc).__name__}") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        DEADLINE[0] = float("inf")


@dataclass
class Measured:
    cell: Cell
    first_call: float = 0.0  # seconds of the first (calibration) call, for predictions
    detail: str = ""


def measure(call: Callable[..., Tuple[float, int]], args: Optional[list], s: Settings, cap: float) -> Measured:
    """Median µs per unit over repeated calls, within the settings' budgets."""
    if args is not None and not args:
        return Measured("—")
    try:
        sec, units = guarded(call, args[:1] if args is not None else None, cap)
    except Stop as stop:
        return Measured(stop.cell)
    if args is not None and sec < s.batch_target / 20 and len(args) > 1:
        # The first call was a warm-up; size the batches on a few more arguments.
        try:
            sec, units = guarded(call, args[:10], cap)
        except Stop as stop:
            return Measured(stop.cell)
        sec /= units
        units = 1
    first = sec
    samples: List[float] = [sec / units]
    detail = "1 call"
    try:
        if args is None:
            # A whole-tree call (scan, copy): repeat while the budget allows.
            reps = min(s.max_reps, int(s.op_budget / max(sec, 1e-9)))
            if reps < 3:
                reps = min(3, int(s.slow_budget / max(sec, 1e-9)))
            if reps > 1:
                samples = []
                for _ in range(reps):
                    sec, units = guarded(call, None, cap)
                    samples.append(sec / units)
                detail = f"{reps} calls"
        elif sec >= s.batch_target:
            # An expensive operation: a few single calls on different arguments.
            m = min(s.slow_samples, len(args), int(s.slow_budget / max(sec, 1e-9)))
            if m > 1:
                samples = []
                for i in range(m):
                    sec, units = guarded(call, [args[i]], cap)
                    samples.append(sec / units)
                detail = f"{m} single calls"
        else:
            k = max(1, min(len(args), int(s.batch_target / max(sec, 1e-9))))
            reps = max(3, min(s.max_reps, int(s.op_budget / max(sec * k, 1e-9))))
            samples = []
            for _ in range(reps):
                sec, units = guarded(call, args[:k], cap)
                samples.append(sec / units)
            detail = f"{reps} x {k} args"
    except Stop as stop:
        return Measured(stop.cell, first)
    return Measured(statistics.median(samples) * 1e6, first, detail)


# -- the run -----------------------------------------------------------------------------------


@dataclass
class Run:
    settings: Settings
    libs: List[str]
    trees: List[Dict[str, Any]] = field(default_factory=list)  # label, family, n, depth, source, half
    results: Dict[Tuple[str, str, str], Cell] = field(default_factory=dict)  # (tree, op, lib) -> cell
    notes: List[str] = field(default_factory=list)
    versions: Dict[str, str] = field(default_factory=dict)
    history: Dict[Tuple[str, str, str], Tuple[int, float]] = field(default_factory=dict)
    load_start: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_end: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    started: float = 0.0
    seconds: float = 0.0


def predicted_over(run: Run, lib: str, spec: TreeSpec, op: str, cap: float) -> bool:
    """True if this call at the smaller size, scaled linearly to this size, would pass the cap."""
    past = run.history.get((lib, spec.family, op))
    if past is None:
        return False
    n0, seconds = past
    return spec.n > n0 and seconds * spec.n / n0 > cap


def translate(peer: Peer, work: Workload, name: str) -> list:
    h = peer.handle
    items = getattr(work, name)
    if name == "ranges":  # (low, high) values, no nodes
        return list(items)
    if name == "scoped":  # (under, low, high)
        return [(h(x), lo, hi) for x, lo, hi in items]
    if items and isinstance(items[0], tuple):
        return [(h(a), h(b)) for a, b in items]
    return [h(x) for x in items]


def log(msg: str) -> None:
    print(msg, flush=True)


def measure_peer(run: Run, lib: str, spec: TreeSpec, inp: Inputs, work: Workload) -> None:
    s = run.settings
    peer = peers.PEERS[lib]()
    run.versions.setdefault(lib, peer.version())
    res = run.results
    tree = spec.label

    def record(op: str, m: Measured) -> None:
        res[(tree, op, lib)] = m.cell
        if isinstance(m.cell, float) and m.first_call:
            run.history[(lib, spec.family, op)] = (spec.n, m.first_call)
        shown = f"{m.cell:,.3f}" if isinstance(m.cell, float) else m.cell
        log(f"  {lib:17} {op:14} {shown:>14} {OP_BY_KEY[op].unit:6} {m.detail}")

    def skip_all(cell: str, why: str) -> None:
        for op in OPS:
            if op.only is None or op.only == lib:
                res[(tree, op.key, lib)] = cell
        run.notes.append(f"{lib} on {tree}: {why}")
        log(f"  {lib:17} {why}")

    # Build: repeated (median), the last build is kept for the operations.
    if predicted_over(run, lib, spec, "build", s.build_cap):
        skip_all(
            "DNF", f"skipped: its build at the smaller size, scaled to {spec.n:,} nodes, exceeds {s.build_cap:.0f} s"
        )
        return
    gc.collect()
    build_times: List[float] = []
    try:
        for _ in range(s.build_reps):
            sec, units = guarded(lambda: peer.build(inp), None, s.build_cap)
            build_times.append(sec)
            if sum(build_times) + sec > s.build_budget:
                break
    except Stop as stop:
        skip_all(stop.cell, f"build: {stop.cell} (cap {s.build_cap:.0f} s)")
        peer.reset()
        return
    build_s = statistics.median(build_times)
    record("build", Measured(build_s / spec.n * 1e6, build_times[0], f"{len(build_times)} build(s), {build_s:.2f} s"))
    mem_direct = peer.memory_bytes()

    if lib == "botree":
        for key in ("build_events", "build_tx"):
            if predicted_over(run, lib, spec, key, s.build_cap):
                record(key, Measured("DNF", 0.0, "predicted over the cap"))
                continue
            method = getattr(peer, key)
            record(key, measure(lambda method=method: method(inp), None, s, s.build_cap))

    tainted = False
    for op in OPS:
        if op.key in ("build", "build_events", "build_tx", "memory"):
            continue
        if op.only is not None and op.only != lib:
            continue
        if op.mutates and tainted:
            record(op.key, Measured("n/m", 0.0, "state lost after an interrupted update"))
            continue
        if predicted_over(run, lib, spec, op.key, s.cap):
            record(op.key, Measured("DNF", 0.0, "predicted over the cap"))
            continue
        method = getattr(peer, op.method or op.key)
        args = translate(peer, work, op.args) if op.args else None
        gc.collect()
        m = measure(method, args, s, s.cap)
        if op.mutates and isinstance(m.cell, str) and m.cell not in ("n/a", "—") and not lib.startswith("sqlite"):
            tainted = True
        record(op.key, m)

    # Memory: SQLite from its page count; the others by tracemalloc around a second build.
    if mem_direct is not None:
        record("memory", Measured(mem_direct / spec.n, 0.0, "page_count x page_size"))
        peer.reset()
        return
    peer.reset()
    gc.collect()
    if build_s * 3 > s.build_cap or predicted_over(run, lib, spec, "memory", s.build_cap):
        record("memory", Measured("n/m", 0.0, "tracemalloc build predicted over the cap"))
        return
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        t0 = time.perf_counter()
        kept = guarded(lambda: (peer.build_bare(inp), 1), None, s.build_cap)
        elapsed = time.perf_counter() - t0
        after = tracemalloc.get_traced_memory()[0]
        del kept
        record("memory", Measured((after - before) / spec.n, elapsed, "tracemalloc"))
    except Stop as stop:
        record("memory", Measured(stop.cell))
    finally:
        tracemalloc.stop()
        gc.collect()


def tree_specs(s: Settings, families: Optional[Sequence[str]]) -> List[Callable[[], TreeSpec]]:
    makers: List[Tuple[str, Callable[[], TreeSpec]]] = []
    for n in s.sizes:
        makers.append(("random", lambda n=n: peer_trees.random_tree(n, s.seed)))
    makers.append(("deep", lambda: peer_trees.deep_tree(s.deep, s.seed)))
    for k in s.wide:
        makers.append(("wide", lambda k=k: peer_trees.wide_tree(k)))
    makers.append(("dirs", lambda: peer_trees.directory_tree(s.dirs_limit)))
    makers.append(("ast", lambda: peer_trees.ast_tree(s.ast_target)))
    return [make for family, make in makers if not families or family in families]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10^4 nodes only, fewer repetitions (~2 minutes)")
    parser.add_argument("--sizes", help="random-tree sizes, comma-separated (default 10000,100000,1000000)")
    parser.add_argument("--only", help=f"libraries, comma-separated (default all: {','.join(peers.PEERS)})")
    parser.add_argument("--trees", help="tree families, comma-separated (default all: random,deep,wide,dirs,ast)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="markdown report (plots go next to it)")
    parser.add_argument(
        "--targets", choices=("both", "pure", "none"), default=None,
        help="issue 16's targets (benchmarks.targets): on both builds (default of a full run), the pure build only, "
        "or not measured (default with --quick: the report keeps its existing section)",
    )
    args = parser.parse_args(argv)

    sizes = [int(float(x)) for x in args.sizes.split(",")] if args.sizes else None
    libs = args.only.split(",") if args.only else list(peers.PEERS)
    unknown = [x for x in libs if x not in peers.PEERS]
    if unknown:
        parser.error(f"unknown libraries: {', '.join(unknown)}")
    families = args.trees.split(",") if args.trees else None
    s = Settings.make(args.quick, args.seed, sizes)
    run = Run(s, libs, load_start=os.getloadavg(), started=time.time())
    signal.signal(signal.SIGALRM, _alarm)
    t_start = time.perf_counter()
    log(f"gc enabled: {gc.isenabled()}; load average {run.load_start}")

    for make in tree_specs(s, families):
        spec = make()
        work = peer_trees.make_workload(spec, s.queries, s.updates, s.half_moves, s.seed + spec.n)
        inp = Inputs.make(spec.parents)
        run.trees.append(
            {
                "label": spec.label,
                "family": spec.family,
                "n": spec.n,
                "depth": work.depth,
                "source": spec.source,
                "half": work.half_size,
            }
        )
        log(f"{spec.label}: depth {work.depth:,}, half subtree {work.half_size:,} ({spec.source[:80]})")
        for lib in libs:
            t_peer = time.perf_counter()
            measure_peer(run, lib, spec, inp, work)
            log(f"  {lib:17} ({time.perf_counter() - t_peer:.1f} s)")
        del inp, work, spec
        gc.collect()

    run.seconds = time.perf_counter() - t_start
    run.load_end = os.getloadavg()
    argv_list = list(argv) if argv is not None else sys.argv[1:]
    section = None
    mode = args.targets or ("none" if args.quick else "both")
    if mode != "none":
        log(f"targets ({mode} build{'s' if mode == 'both' else ''})")
        started, t0 = time.time(), time.perf_counter()
        copy = None if mode == "pure" else builds.DEFAULT_COPY
        results = targets.measure_all(targets.DEFAULT_REPS, args.seed, copy, False)
        section = targets.report(results, started, time.perf_counter() - t0)
    peer_report.write(run, args.output, argv_list, section)
    log(f"done in {run.seconds:.0f} s; wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
