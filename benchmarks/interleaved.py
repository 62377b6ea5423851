"""Issue 16's rows, botree against anytree, timed so that a shared machine still gives ratios.

``python -m benchmarks`` times each library in its own phase with wall-clock time; when
other processes come and go (five helpers on two cores), one phase can run at a third of
the speed of the other and the ratio means nothing.  Here both structures are alive at
once, every repetition times botree and anytree back to back on the same arguments, and
each figure is the minimum over the repetitions (the least disturbed one).  The clock
stays ``perf_counter`` (the peers time some operations call by call; a CPU-time clock is
a system call that would add ~0.5 µs to each).  The operations and arguments are those
of ``python -m benchmarks`` (``peers``, ``peer_trees``), so the figures are comparable.

    PYTHONPATH=. python -m benchmarks.interleaved --sizes 100000,1000000 [--reps 15] [--baseline DIR]

Prints a markdown table: µs per operation (build: seconds) and the ratio botree / anytree.
``--baseline DIR`` times a second checkout of botree (e.g. ``git worktree add DIR <commit>``)
in the same repetitions, so a change's before and after are compared under the same load.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from . import peer_trees, peers

# (key, label, botree method, anytree method, workload field or None)
ROWS: Tuple[Tuple[str, str, str, str, Optional[str]], ...] = (
    ("parent", "parent", "parent", "parent", "nodes"),
    ("children", "list children", "children", "children", "nodes"),
    ("is_descendant", "is_descendant", "is_descendant", "is_descendant", "pairs"),
    ("level", "level", "level", "level", "nodes"),
    ("insert", "single persistent insert_child", "insert", "insert", "insert_parents"),
    ("insert_tx", "insert_child inside a transaction", "insert_tx", "insert", "insert_parents"),
    ("move_small", "move a small subtree", "move", "move", "small_moves"),
    ("delete", "delete a small subtree", "delete", "delete", "small"),
    ("wrap", "wrap a node in a new parent", "wrap", "wrap", "wraps"),
    ("move_half", "move half the tree", "move", "move", "half_moves"),
    ("preorder", "preorder scan (per node)", "preorder", "preorder", None),
)
BUILDS = ("from_parent_table", "from_events")  # rows in seconds per build, not µs per operation
LABELS = {"from_parent_table": "from_parent_table (s)", "from_events": "from_events (s)"}
LABELS.update((key, label) for key, label, *_ in ROWS)


def _args(peer: peers.Peer, work: peer_trees.Workload, name: Optional[str], limit: int) -> Any:
    if name is None:
        return None
    items = getattr(work, name)[:limit]
    h = peer.handle
    if items and isinstance(items[0], tuple):
        return [(h(a), h(b)) for a, b in items]
    return [h(x) for x in items]


def _per_unit(call: Callable[..., Tuple[float, int]], args: Any) -> float:
    sec, units = call(args) if args is not None else call()
    return sec / units * 1e6


def baseline_peer(path: str) -> peers.Peer:
    """botree as checked out at ``path`` (e.g. the commit before a change), imported beside this
    one as ``botree_baseline``, so that before and after are timed in the same run."""
    spec = importlib.util.spec_from_file_location(
        "botree_baseline", os.path.join(path, "botree", "__init__.py"),
        submodule_search_locations=[os.path.join(path, "botree")],
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["botree_baseline"] = mod
    spec.loader.exec_module(mod)

    class BaselinePeer(peers.BotreePeer):
        name = "baseline"

        def build(self, inp: peers.Inputs) -> Tuple[float, int]:
            self.reset()
            t0 = time.perf_counter()
            tree, mapping = mod.load_parent_table(inp.rows, id=0, parent=1)
            elapsed = time.perf_counter() - t0
            self.t, self.inp = tree, inp
            self.ids = [mapping[k] for k in inp.keys]
            return elapsed, len(inp.keys)

        def build_events(self, inp: peers.Inputs) -> Tuple[float, int]:
            t0 = time.perf_counter()
            mod.Tree.from_events(inp.events)
            return time.perf_counter() - t0, len(inp.keys)

    return BaselinePeer()


#: One measured row: (key, label, nodes, {library: µs per operation, or seconds for a build}).
Measured = Tuple[str, str, int, Dict[str, float]]


def measure(n: int, reps: int, seed: int, baseline: Optional[str] = None) -> List[Measured]:
    """Issue 16's rows on a random tree of ``n`` nodes: botree and anytree (and ``baseline``, a
    second botree checkout) alive at once, timed back to back per repetition, minimum over ``reps``."""
    spec = peer_trees.random_tree(n, seed)
    work = peer_trees.make_workload(spec, 1000, 100, 20, seed + n)
    inp = peers.Inputs.make(spec.parents)
    libs: Dict[str, peers.Peer] = {"botree": peers.PEERS["botree"](), "anytree": peers.PEERS["anytree"]()}
    if baseline:
        libs["baseline"] = baseline_peer(baseline)
    out: List[Measured] = []
    builds: Dict[str, float] = {}
    for name, peer in libs.items():
        gc.collect()
        t0 = time.perf_counter()
        peer.build(inp)
        builds[name] = time.perf_counter() - t0
    out.append(("from_parent_table", LABELS["from_parent_table"], n, dict(builds)))
    events = {"anytree": builds["anytree"]}  # anytree has one build: the ratio's denominator
    for name, peer in libs.items():
        if name != "anytree":
            gc.collect()
            t0 = time.perf_counter()
            peer.build_events(inp)
            events[name] = time.perf_counter() - t0
    out.append(("from_events", LABELS["from_events"], n, events))
    updates = ("insert_parents", "small", "small_moves", "wraps")
    for key, label, bmethod, amethod, field in ROWS:
        best: Dict[str, float] = {name: float("inf") for name in libs}
        # Short batches: the minimum over many of them finds the undisturbed moments.
        limit = 20 if key == "move_half" else (100 if field in updates else 200)
        args = {name: _args(peer, work, field, limit) for name, peer in libs.items()}
        if field is not None and not args["botree"]:
            continue
        gc.collect()
        for _ in range(reps):
            for name, peer in libs.items():
                call = getattr(peer, amethod if name == "anytree" else bmethod)
                best[name] = min(best[name], _per_unit(call, args[name]))
        out.append((key, label, n, best))
    for peer in libs.values():
        peer.reset()
    return out


def run(sizes: Sequence[int], reps: int, seed: int, baseline: Optional[str] = None) -> str:
    """The markdown table of ``measure`` over ``sizes``, with the load average before and after."""
    extra = " baseline µs | baseline / anytree |" if baseline else ""
    lines = [
        f"load average at the start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}",
        "",
        "| operation | nodes | botree µs | anytree µs | botree / anytree |" + extra,
        "|:---|---:|---:|---:|---:|" + ("---:|---:|" if baseline else ""),
    ]
    for n in sizes:
        for key, label, _, best in measure(n, reps, seed, baseline):
            digits = ".2f" if key in BUILDS else ".3g"
            ratio = best["botree"] / best["anytree"]
            row = f"| {label} | {n:,} | {best['botree']:{digits}} | {best['anytree']:{digits}} | {ratio:.2f} |"
            if baseline:
                row += f" {best['baseline']:{digits}} | {best['baseline'] / best['anytree']:.2f} |"
            lines.append(row)
        gc.collect()
    lines.append("")
    lines.append(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.interleaved", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="random-tree sizes (default 100000,1000000)")
    parser.add_argument("--reps", type=int, default=15, help="repetitions per operation and library (default 15)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--baseline", default=None, help="a checkout of botree (e.g. a git worktree of the commit before a change) "
        "timed beside this one in the same run, as two more columns"
    )
    args = parser.parse_args(argv)
    sizes = [int(float(x)) for x in args.sizes.split(",")]
    print(run(sizes, args.reps, args.seed, args.baseline), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
