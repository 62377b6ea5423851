"""Issue 16's deep-tree target: every operation on a deep tree at least as fast as on a random tree.

The deep tree is ``peer_trees.deep_tree(depth, seed)`` — a path (the spine) with a leaf twig
on ~1/4 of its nodes, so it has ~1.25 · depth + 1 nodes — with the depth chosen to give ~n
nodes (never below 10^4: n = 10^5 gives depth 79,999 and 100,047 nodes (seed 1)); the random tree is
``peer_trees.random_tree`` of exactly as many nodes.  The operations, their arguments and
their timing are ``benchmarks/interleaved.py``'s (``ROWS``, ``peers.PEERS["botree"]``,
``peer_trees.make_workload``, ``_args``, ``_per_unit``): both botree trees are alive at
once, every repetition times the deep and the random tree back to back on their own
arguments (the order alternates between repetitions), and each figure is the minimum over
the repetitions, so the load of the moment cancels out of the ratio.  The two bulk builds
(``load_parent_table`` on the (id, parent) rows, ``Tree.from_events`` on ready events) are
timed the same way, in seconds.

What is compared: the same operation, drawn by the same rules, on two shapes of the same
size — not the same arguments.  On the deep tree a random node is a spine node (~80%, its
subtree spans everything below it: on average half the tree) or a twig leaf (~20%); its
parent is the spine node above; its children are at most two (a twig leaf, then the next
spine node); ``is_descendant`` pairs are half (node, random ancestor) with ancestors tens of
thousands of levels apart, half random pairs; ``level`` answers tens of thousands; the
"small subtrees" (≤ 8 nodes) moved and deleted are almost all twig leaves (plus the last
few spine nodes); a wrapped node is a random node, so most wraps enclose a subtree of
~n/2 nodes; "half the tree" is the spine node in the middle, moved under random targets
outside it.  On the random tree (depth ~ln n) most nodes are leaves or have tiny subtrees.

    PYTHONPATH=. python -m benchmarks.deep --sizes 100000 [--reps 7] [--seed 1]

Prints a markdown table: µs per operation (builds: seconds), deep and random, and deep / random.
"""

from __future__ import annotations

import argparse
import gc
import os
import time
from typing import Dict, List, Optional, Sequence, Tuple

from . import peer_trees, peers
from .interleaved import ROWS, _args, _per_unit

UPDATES = ("insert_parents", "small", "small_moves", "wraps")
SHAPES = ("deep", "random")


def deep_depth(n: int) -> int:
    """The depth of ``peer_trees.deep_tree`` that gives ~n nodes (at least 10^4)."""
    return max(peer_trees.DEEP_DEPTH, round((n - 1) / 1.25))


def measure(n: int, reps: int, seed: int) -> List[Tuple[str, str, float, float]]:
    """Per operation ``(key, label, deep, random)``: µs per operation (the builds: seconds),
    each the minimum over ``reps`` repetitions that time both trees back to back."""
    deep = peer_trees.deep_tree(deep_depth(n), seed)
    specs = {"deep": deep, "random": peer_trees.random_tree(deep.n, seed)}
    works = {s: peer_trees.make_workload(spec, 1000, 100, 20, seed + spec.n) for s, spec in specs.items()}
    inputs = {s: peers.Inputs.make(spec.parents) for s, spec in specs.items()}
    libs: Dict[str, peers.Peer] = {s: peers.PEERS["botree"]() for s in SHAPES}
    out: List[Tuple[str, str, float, float]] = []

    def order(rep: int) -> Sequence[str]:
        return SHAPES if rep % 2 == 0 else SHAPES[::-1]

    for key, label, method in (
        ("from_parent_table", "from_parent_table (s)", "build"),
        ("from_events", "from_events (s)", "build_events"),
    ):
        best = {s: float("inf") for s in SHAPES}
        for rep in range(reps):
            for s in order(rep):
                gc.collect()
                t0 = time.perf_counter()
                getattr(libs[s], method)(inputs[s])
                best[s] = min(best[s], time.perf_counter() - t0)
        out.append((key, label, best["deep"], best["random"]))
    for key, label, bmethod, _amethod, field in ROWS:
        # Short batches, as in interleaved: the minimum over many finds the undisturbed moments.
        limit = 20 if key == "move_half" else (100 if field in UPDATES else 200)
        args = {s: _args(libs[s], works[s], field, limit) for s in SHAPES}
        if field is not None and not all(args.values()):
            continue
        best = {s: float("inf") for s in SHAPES}
        gc.collect()
        for rep in range(reps):
            for s in order(rep):
                best[s] = min(best[s], _per_unit(getattr(libs[s], bmethod), args[s]))
        out.append((key, label, best["deep"], best["random"]))
    for peer in libs.values():
        peer.reset()
    return out


def table(sizes: Sequence[int], reps: int, seed: int) -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        f"load average at the start: {load}",
        "",
        "| operation | nodes | deep µs | random µs | deep / random |",
        "|:---|---:|---:|---:|---:|",
    ]
    for n in sizes:
        nodes = peer_trees.deep_tree(deep_depth(n), seed).n
        for _key, label, d, r in measure(n, reps, seed):
            cell = (lambda x: f"{x:.3f}") if label.endswith("(s)") else (lambda x: f"{x:.3g}")
            lines.append(f"| {label} | {nodes:,} | {cell(d)} | {cell(r)} | {d / r:.2f} |")
        gc.collect()
    lines.append("")
    lines.append(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.deep", description=doc.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000", help="node counts, comma-separated (default 100000)")
    parser.add_argument("--reps", type=int, default=7, help="repetitions per operation and tree (default 7)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    sizes = [int(float(x)) for x in args.sizes.split(",")]
    print(table(sizes, args.reps, args.seed), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
