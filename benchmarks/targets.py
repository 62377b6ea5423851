"""Issue 16's targets, measured on the pure and the compiled build side by side.

Each build is measured by a fresh interpreter running this module with ``--json``: the pure
build from this tree, the compiled one from a throwaway copy of it compiled with mypyc
(``benchmarks.builds``).  The two runs alternate per part (random 10^5, random 10^6, deep
tree), so each part of both builds is timed at about the same moment of load, and every
ratio is taken inside one run: botree and anytree (or the deep and the random tree) are
alive at once and timed back to back, minimum over the repetitions
(``benchmarks.interleaved``).  For each target the pure build misses, the report adds the
pure build's profile of that operation (cProfile, the functions with the most own time)
and the design reason, written down in ``WHY``.

    PYTHONPATH=. python -m benchmarks.targets                 # both builds; rewrites the section in docs/benchmarks.md
    PYTHONPATH=. python -m benchmarks.targets --no-compiled   # the pure build only
    PYTHONPATH=. python -m benchmarks.targets --json random 100000   # one part of one build, as JSON

``python -m benchmarks`` (the full peer comparison) runs this too and puts the section
at the top of its report.  A report only: nothing asserts on timings.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from . import builds, interleaved, peer_trees, peers

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"
START = "<!-- targets: benchmarks.targets -->"
END = "<!-- /targets -->"
SIZES = (100_000, 1_000_000)
DEFAULT_REPS = 9
DEEP_N = 100_000  # the deep tree's size: a path of depth ~80,000 with leaves on a quarter of its nodes

Part = Dict[str, Any]  # one part of one build's measurements, as JSON


# -- what the targets are -------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    key: str  # the interleaved row (or "memory", "deep")
    what: str
    limit: float
    unit: str  # "ratio": botree / anytree; "µs", "s", "B/node": botree's own figure
    largest_only: bool = False  # judged on the largest random tree (10^6) only


TARGETS: Tuple[Target, ...] = (
    Target("parent", "parent", 2.0, "ratio"),
    Target("children", "list children", 2.0, "ratio"),
    Target("is_descendant", "is_descendant", 0.4, "ratio"),
    Target("level", "level", 0.4, "ratio"),
    Target("preorder", "preorder scan (per node)", 0.15, "ratio"),
    Target("insert", "single persistent insert_child", 2.0, "ratio"),
    Target("insert_tx", "insert_child inside a transaction", 1.0, "ratio"),
    Target("move_small", "move a small subtree", 3.0, "ratio"),
    Target("delete", "delete a small subtree", 3.0, "ratio"),
    Target("wrap", "wrap a node in a new parent", 3.0, "ratio"),
    Target("move_half", "move half the tree", 200.0, "µs", True),
    Target("from_parent_table", "Tree.from_parent_table", 2.0, "s", True),
    Target("from_events", "Tree.from_events", 0.7, "s", True),
    Target("memory", "memory without user data", 200.0, "B/node"),
)

#: Why a target is missed: the design reason, confirmed by the profile printed beside it.
WHY: Dict[str, str] = {
    "parent": (
        "Parents are kept in rows, so `parent` is one row read; what is left is the call itself: the "
        "public method checks its argument (an int id, not a bool, in range) and reads the row through the "
        "node table's trie (three list indexings), where anytree reads an attribute."
    ),
    "children": (
        "Children are not stored as a list (a persistent list per node would make moving or wrapping a run "
        "of k siblings O(k) and double the memory): they are read off the order index, from the node's "
        "opening bound, jumping from each child's opening to the bound after its closing one. Per call: "
        "the row, a bisect in the leaf, a list and an iterator; anytree returns its stored tuple."
    ),
    "is_descendant": (
        "Two rows, a leaf bisect each and a comparison of the two bounds' positions in the order index; "
        "on the pure build the interpreter's calls and list indexings dominate (the compiled build reads "
        "the typed rows and blocks natively)."
    ),
    "level": (
        "A level is summed from the level deltas of the blocks on the leaf-to-root path (O(log n)); on the "
        "pure build that is a Python loop over the path (the compiled build runs it natively)."
    ),
    "insert": (
        "A persistent update must leave the old tree intact. Its commonest forms make no batch "
        "(`OrderIndex.single_*`, docs/design.md): a copy of the leaf it writes, the `counts` lists on the "
        "leaf-to-root path, and the top, middle and leaf lists of the block and row vectors, once each; "
        "anytree appends to a list. What is left is memory work, ~30 allocations and ~10 copies of 64-slot "
        "lists per update (each copy touches every element's reference count), which compiling does not "
        "remove (the compiled build is no faster here). Closing the gap needs another structure (counts "
        "outside the blocks, array-backed leaf items, another vector shape), not attempted."
    ),
    "insert_tx": (
        "Inside a transaction the copies are made once per batch, but each insert still finds the parent's "
        "closing bound (row, bisect), places two bounds with new gap keys in the leaf, writes the new row "
        "(and its back-links) and adds 2 to the counts on the path to the root: ~18 Python calls where "
        "anytree appends to a list. The compiled build gains ~1.1x: list and object work, not calls."
    ),
    "move_small": (
        "A move takes the subtree's bounds out of one leaf and puts them before the new parent's closing "
        "bound, rewrites the moved rows (back-links, the node's parent) and copies both leaf-to-root paths' "
        "counts, all without a batch in the common case; anytree rewires two lists. As for the persistent "
        "insert, what remains is copying (see there)."
    ),
    "delete": (
        "anytree's delete is `node.parent = None` (one list removal, ~1 µs); botree's persistent delete "
        "removes the bounds from a copy of the leaf, drops the rows (copies of the row vector's top, middle "
        "and leaf lists), copies the counts up the path and assembles a new tree: the copying of a "
        "persistent update (see the persistent insert) against one mutation. Without a batch since "
        "session 5, its time fell by a quarter to a third; the ratio stays ~10x."
    ),
    "wrap": "",
    "move_half": (
        "The relocation cuts the block path on both ends of the moved range and splices it: O(log n) "
        "blocks, independent of the subtree's size (528,775 nodes here); its constant is the seam repair "
        "(rebalancing the blocks cut at each level) and the copies of every block and link it touches, "
        "~1,200 Python calls. The compiled build meets the target (those calls become native)."
    ),
    "from_parent_table": (
        "Grouping 10^6 (id, parent) rows by parent, ordering siblings and resolving keys is Python work "
        "per row (dicts and lists), before the O(n) bottom-up build of `from_events`."
    ),
    "from_events": (
        "The O(n) bottom-up build creates one row object and two leaf entries per node (~10^6 Python "
        "objects; the pass over the events is most of its own time), then the collector's pass over them, "
        "which also walks the other structures alive in the process (here anytree's 10^6 nodes)."
    ),
    "memory": (
        "The pure build meets it. The compiled build's rows are larger: `sys.getsizeof` of a `Row` is 96 B "
        "compiled against 80 B pure (mypyc's native instances carry a vtable pointer and a bitmap of which "
        "attributes are set), ~16–20 B more per node."
    ),
    "deep": (
        "The deep tree is a path of depth ~0.8 n, so most nodes' subtrees run from one half of the index "
        "to the other; where an operation follows a subtree to its far end it crosses leaves a random tree's "
        "small subtrees keep to one. **Wrap**: 81 of 100 deep wraps enclose such a spine node, a run opening "
        "and closing in different leaves: the new levels shift along both leaf-to-root paths (~68 link "
        "writes and ~6 blocks copied per wrap, against ~0.6 and ~4 for the random tree's mostly leaf-local "
        "wraps; with the link writes stubbed out a deep wrap takes 24–26 µs instead of 39). **List "
        "children**: a spine node's child closes in the far half, so the walk reads a distant leaf 0.8 times "
        "per call (random: 0.23), and 22% of the nodes are childless (random: 49%, answered inside one "
        "leaf). **is_descendant**: an ancestor's closing bound lies in the far half, so the climb to the "
        "blocks that hold both bounds reaches the root (7.7 link reads per call against 6.6). "
        "**from_events**: a deep node's row is completed long after it opened (a cold write) and levels "
        "above 256 are new int objects. (Measured by counting, on trees of 10^5 nodes.)"
    ),
}


# -- measuring one build ---------------------------------------------------------------------------


def memory_per_node(n: int, seed: int) -> float:
    """Bytes per node of a botree without user data (tracemalloc around ``Tree.from_events``)."""
    inp = peers.Inputs.make(peer_trees.random_tree(n, seed).parents)
    peer = peers.PEERS["botree"]()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tree = peer.build_bare(inp)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del tree
    return (after - before) / n


def profile(key: str, n: int, seed: int, top: int = 8) -> Dict[str, Any]:
    """Where botree's ``key`` row spends its time on a random tree of ``n`` nodes: Python-level calls
    per operation, and the ``top`` functions by own time as (share of the total, calls per operation,
    function)."""
    spec = peer_trees.random_tree(n, seed)
    work = peer_trees.make_workload(spec, 1000, 100, 20, seed + n)
    inp = peers.Inputs.make(spec.parents)
    peer = peers.PEERS["botree"]()
    call: Callable[[], Any]
    units = 1
    if key in interleaved.BUILDS:
        method = peer.build if key == "from_parent_table" else peer.build_events
        call = lambda: method(inp)  # noqa: E731
        peer.build(inp)
        units = n
    else:
        peer.build(inp)
        row = next(r for r in interleaved.ROWS if r[0] == key)
        args = interleaved._args(peer, work, row[4], 20 if key == "move_half" else 100)
        fn = getattr(peer, row[2])
        call = (lambda: fn(args)) if args is not None else fn
        units = len(args) if args is not None else n
    call()  # warm-up
    prof = cProfile.Profile()
    reps = 1 if key in interleaved.BUILDS else 5
    gc.collect()
    gc.disable()  # a collection's pass would be charged to whichever function allocated when it ran
    try:
        prof.enable()
        for _ in range(reps):
            call()
        prof.disable()
    finally:
        gc.enable()
    stats = pstats.Stats(prof)
    # botree's own functions and the builtins they call; not the benchmark's loop around them.
    table: Dict[Any, Any] = {
        where: v for where, v in stats.stats.items()  # type: ignore[attr-defined]
        if "benchmarks" not in Path(where[0]).parts
        and where[2] not in ("<built-in method time.perf_counter>", "<method 'disable' of '_lsprof.Profiler' objects>")
    }
    total = sum(v[2] for v in table.values()) or 1.0
    rows = [kv for kv in sorted(table.items(), key=lambda kv: -kv[1][2])[:top] if kv[1][2] >= 0.01 * total]
    out = []
    for (path, line, name), (_, ncalls, tottime, _, _) in rows:
        where = name if path == "~" else f"{name} ({_short(path)}:{line})"
        out.append((tottime / total, round(ncalls / (reps * units), 1), where))
    calls = sum(v[1] for v in table.values()) / (reps * units)
    return {"calls": round(calls, 1), "top": out}


def _short(path: str) -> str:
    parts = Path(path).parts
    for anchor in ("botree", "benchmarks"):
        if anchor in parts:
            i = len(parts) - 1 - parts[::-1].index(anchor)
            return "/".join(parts[i:])
    return Path(path).name


def measure_part(part: str, n: int, reps: int, seed: int, profiles: bool) -> Part:
    """One part of one build's measurements: "random" (the interleaved rows against anytree and the
    memory per node) or "deep" (each operation on a deep tree against a random tree of the same size)."""
    load_start = os.getloadavg()
    out: Part = {"part": part, "n": n, "build": builds.build_name(), "python": sys.executable}
    if part == "random":
        out["rows"] = {key: best for key, _, _, best in interleaved.measure(n, reps, seed)}
        out["memory"] = memory_per_node(n, seed)
        if profiles:
            out["profiles"] = {key: profile(key, n, seed) for key in out["rows"]}
    else:
        from . import deep

        out["rows"] = {key: {"deep": d, "random": r} for key, _, d, r in deep.measure(n, reps, seed)}
    out["load"] = [load_start, os.getloadavg()]
    return out


# -- running both builds ---------------------------------------------------------------------------


def run_part(python: str, cwd: str, part: str, n: int, reps: int, seed: int, profiles: bool) -> Part:
    """``measure_part`` in a fresh interpreter (``python`` in ``cwd``: one build)."""
    argv = [python, "-m", "benchmarks.targets", "--json", part, str(n), "--reps", str(reps), "--seed", str(seed)]
    if profiles:
        argv.append("--profiles")
    env = dict(os.environ, PYTHONPATH=cwd)
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr}")
    result: Part = json.loads(done.stdout)
    return result


def measure_all(
    reps: int, seed: int, compiled: Optional[str], reuse: bool, sizes: Sequence[int] = SIZES, deep_n: int = DEEP_N
) -> Dict[str, List[Part]]:
    """Every part on each build, the builds alternating per part: {build: [parts]}."""
    runs = builds.interpreters(compiled, reuse)
    results: Dict[str, List[Part]] = {name: [] for name in runs}
    parts = [("random", n) for n in sizes] + [("deep", deep_n)]
    for part, n in parts:
        for name, (python, cwd) in runs.items():
            print(f"targets: {name} build, {part} {n:,}", file=sys.stderr, flush=True)
            # Profiles of the pure build only: cProfile does not see inside compiled functions.
            profiles = name == "pure" and part == "random" and n == sizes[0]
            results[name].append(run_part(python, cwd, part, n, reps, seed, profiles))
    return results


# -- the report ------------------------------------------------------------------------------------


def _value(t: Target, part: Part) -> Tuple[Optional[float], str]:
    """(the figure the target limits, how it reads) in one random part."""
    if t.key == "memory":
        v = part["memory"]
        return v, f"{v:.0f} B/node"
    best = part["rows"].get(t.key)
    if best is None:
        return None, "—"
    mine, theirs = best["botree"], best["anytree"]
    if t.unit == "ratio":
        return mine / theirs, f"{mine / theirs:.2f} ({mine:.3g} / {theirs:.3g} µs)"
    if t.unit == "s":
        return mine, f"{mine:.2f} s ({mine / theirs:.2f}x anytree's {theirs:.2f} s)"
    return mine, f"{mine:.3g} µs ({mine / theirs:.0f}x anytree's {theirs:.3g} µs)"


def _status(v: Optional[float], limit: float) -> str:
    return "—" if v is None else ("met" if v <= limit else "**missed**")


def _limit(t: Target) -> str:
    return {"ratio": f"≤ {t.limit:g}x anytree", "µs": f"< {t.limit:g} µs", "s": f"≤ {t.limit:g} s"}.get(
        t.unit, f"≤ {t.limit:g} {t.unit}"
    )


def report(results: Dict[str, List[Part]], started: float, seconds: float) -> List[str]:
    """The markdown section (between the ``START`` and ``END`` markers)."""
    names = list(results)
    by = {name: {(p["part"], p["n"]): p for p in parts} for name, parts in results.items()}
    sizes = sorted(p["n"] for p in results[names[0]] if p["part"] == "random")
    lines = [
        START,
        "## Targets (issue 16): pure and compiled builds",
        "",
        "Written by `python -m benchmarks.targets` (also run by `python -m benchmarks`). Each build runs in "
        "a fresh interpreter; the two alternate per part, and every figure's ratio is taken inside one run "
        "(botree and anytree alive at once, timed back to back, minimum over the repetitions), so the "
        "load of the moment cancels out of it. Random recursive trees; µs per operation.",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}; git {builds.git_rev()}; "
        f"{seconds / 60:.1f} minutes; Python {sys.version.split()[0]}; {os.cpu_count()} CPUs",
    ]
    for name in names:
        loads = "; ".join(
            f"{p['part']} {p['n']:,}: {_load(p['load'][0])} → {_load(p['load'][1])}" for p in results[name]
        )
        lines.append(f"- Load average (1, 5, 15 min) of the {name} build's runs: {loads}")
    statuses_head = " | ".join(f"{name} status" for name in names)
    lines += ["", "| target | nodes | " + " | ".join(names) + " | " + statuses_head + " |"]
    lines.append("|:---|---:|" + "---:|" * len(names) + ":---|" * len(names))
    missed: Dict[str, List[str]] = {}  # target -> "where (builds)" of each miss
    tally = {name: [0, 0] for name in names}  # met, measured
    for t in TARGETS:
        for n in sizes[-1:] if t.largest_only else sizes:
            values = [_value(t, by[name][("random", n)]) for name in names]
            statuses = [_status(v, t.limit) for v, _ in values]
            label = f"{t.what} {_limit(t)}"
            cells = " | ".join(text for _, text in values) + " | " + " | ".join(statuses)
            lines.append(f"| {label} | {n:,} | {cells} |")
            _count(tally, names, statuses)
            _note_missed(missed, t.key, f"{n:,}", names, statuses)
    deep_rows, deep_missed = _deep(by, names, tally)
    lines += deep_rows
    if deep_missed:
        missed["deep"] = deep_missed
    met = "; ".join(f"{name} build {m} of {k}" for name, (m, k) in tally.items())
    lines += ["", f"Rows met: {met}."]
    lines += _explain(missed, by, sizes[0])
    lines.append(END)
    return lines


def _load(x: Sequence[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in x)


def _deep(
    by: Dict[str, Dict[Tuple[str, int], Part]], names: List[str], tally: Dict[str, List[int]]
) -> Tuple[List[str], List[str]]:
    """The deep-tree target: every operation at least as fast on a deep tree as on a random one."""
    lines = [
        "",
        "Deep trees: every operation at least as fast as on a random tree of the same size (a path with a "
        "leaf on a quarter of its nodes, depth ~0.8 n; ratio = deep / random, both botree trees alive and "
        "timed back to back; a row is met within 10%, the noise between two different trees):",
        "",
        "| operation | " + " | ".join(f"{name} deep / random (µs or s)" for name in names) + " | "
        + " | ".join(f"{name} status" for name in names) + " |",
        "|:---|" + "---:|" * len(names) + ":---|" * len(names),
    ]
    misses: Dict[str, List[str]] = {}
    parts = [next((p for (part, _), p in by[name].items() if part == "deep"), None) for name in names]
    if any(p is None for p in parts):
        return lines + ["| (not measured) |" + " — |" * (2 * len(names))], []
    labels = {key: label for key, label, *_ in interleaved.ROWS}
    for key in parts[0]["rows"]:  # type: ignore[index]
        cells, statuses = [], []
        for p in parts:
            d, r = p["rows"][key]["deep"], p["rows"][key]["random"]  # type: ignore[index]
            cells.append(f"{d / r:.2f} ({d:.3g} / {r:.3g})")
            # 10% of slack: two different trees' timings are noisier than one tree's against anytree.
            statuses.append("met" if d <= 1.1 * r else "**missed**")
        _count(tally, names, statuses)
        _note_missed(misses, key, labels.get(key, key), names, statuses)
        lines.append(f"| {labels.get(key, key)} | " + " | ".join(cells) + " | " + " | ".join(statuses) + " |")
    return lines, [where for found in misses.values() for where in found]


def _note_missed(missed: Dict[str, List[str]], key: str, where: str, names: List[str], statuses: List[str]) -> None:
    """Record ``where`` under ``key`` with the builds that miss there, if any does."""
    builds = [name for name, status in zip(names, statuses) if status == "**missed**"]
    if builds:
        missed.setdefault(key, []).append(f"{where} ({', '.join(builds)})")


def _count(tally: Dict[str, List[int]], names: List[str], statuses: List[str]) -> None:
    for name, status in zip(names, statuses):
        tally[name][0] += status == "met"
        tally[name][1] += status != "—"


def _explain(missed: Dict[str, List[str]], by: Dict[str, Dict[Tuple[str, int], Part]], n: int) -> List[str]:
    """For each target a build misses: why, and the pure build's profile on ``n`` nodes (cProfile does not
    see inside compiled functions)."""
    if not missed:
        return []
    lines = [
        "",
        "### Why the missed targets are missed",
        "",
        "Each miss with the builds that miss it, the design reason, and the pure build's profile (taken with "
        "the collector paused: its passes would be charged to whichever function allocated; builds and the "
        "scan counted per node).",
        "",
    ]
    pure = by.get("pure", {}).get(("random", n), {})
    profiles: Dict[str, Dict[str, Any]] = pure.get("profiles", {})
    for key, where in missed.items():
        what = next((t.what for t in TARGETS if t.key == key), "deep trees")
        lines.append(f"**{what}** (missed at {'; '.join(where)}). {WHY.get(key, '')}".rstrip())
        prof = profiles.get(key)
        if prof:
            lines.append("")
            lines.append(
                f"Profile at {n:,} nodes, {prof['calls']:g} Python-level calls per operation (or node); the "
                "functions with the most own time (share, calls per operation):"
            )
            lines.append("")
            lines += [f"- {share:.0%} ×{calls:g} {fn}" for share, calls, fn in prof["top"]]
        lines.append("")
    return lines


def write_section(output: Path, section: List[str]) -> None:
    """Replace the section between the markers in ``output`` (or put it after the title)."""
    text = output.read_text(encoding="utf-8") if output.exists() else "# Benchmarks\n"
    body = "\n".join(section)
    start, end = text.find(START), text.find(END)
    if 0 <= start < end:
        text = text[:start] + body + text[end + len(END) :]
    else:
        head, _, rest = text.partition("\n")
        text = f"{head}\n\n{body}\n{rest}"
    output.write_text(text, encoding="utf-8")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.targets", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", nargs=2, metavar=("PART", "N"), help="measure one part (random|deep) of this build")
    parser.add_argument("--profiles", action="store_true", help="with --json random: add cProfile summaries")
    parser.add_argument("--reps", type=int, default=DEFAULT_REPS)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-compiled", action="store_true", help="measure the pure build only")
    parser.add_argument("--copy", default=builds.DEFAULT_COPY, help="where the compiled copy of the tree lives")
    parser.add_argument("--reuse", action="store_true", help="use the compiled copy as it is (no rebuild)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="random-tree sizes (a smoke run: 10000)")
    parser.add_argument("--deep-n", type=int, default=DEEP_N, help="the deep tree's size")
    args = parser.parse_args(argv)
    if args.json:
        part, n = args.json
        print(json.dumps(measure_part(part, int(float(n)), args.reps, args.seed, args.profiles)))
        return 0
    started, t0 = time.time(), time.perf_counter()
    sizes = [int(float(x)) for x in args.sizes.split(",")]
    compiled = None if args.no_compiled else args.copy
    results = measure_all(args.reps, args.seed, compiled, args.reuse, sizes, args.deep_n)
    section = report(results, started, time.perf_counter() - t0)
    write_section(args.output, section)
    print("\n".join(section))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
