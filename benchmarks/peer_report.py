"""The peer comparison's report: markdown tables, plots, and the targets section of ``benchmarks.targets``
(``docs/benchmarks.md``)."""

from __future__ import annotations

import math
import os
import platform
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from . import targets as targets_section

if TYPE_CHECKING:
    from .__main__ import Run

LIB_TITLES = {
    "botree": "botree",
    "anytree": "anytree",
    "bigtree": "bigtree",
    "treelib": "treelib",
    "networkx": "networkx",
    "sqlite_nested": "SQLite nested set",
    "sqlite_adjacency": "SQLite adjacency",
}
def fmt(x: Any) -> str:
    """A number with about three significant digits, or the cell's text."""
    if not isinstance(x, float):
        return str(x)
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    if x == 0:
        return "0"
    return f"{x:.{max(2, 2 - math.floor(math.log10(x)))}f}"


def fmt_ratio(r: float) -> str:
    if r >= 100:
        return f"{r:,.0f}"
    if r >= 10:
        return f"{r:.1f}"
    if r >= 0.01:
        return f"{r:.2f}"
    return f"{r:.1e}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> List[str]:
    """A markdown table; ``align`` has one letter per column, l or r (default: first left, rest right)."""
    align = align or "l" + "r" * (len(header) - 1)
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(":---" if a == "l" else "---:" for a in align) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


class Results:
    """Lookups over a run's cells."""

    def __init__(self, run: "Run") -> None:
        self.run = run
        self.cells = run.results

    def get(self, tree: str, op: str, lib: str) -> Any:
        return self.cells.get((tree, op, lib))

    def ratio(self, tree: str, op_key: str, lib: str) -> Tuple[Optional[float], str]:
        """botree / lib for this row: (ratio, text)."""
        from .__main__ import OP_BY_KEY

        op = OP_BY_KEY[op_key]
        mine = self.get(tree, op_key, "botree")
        theirs = self.get(tree, op.ratio_to or op_key, lib)
        if mine is None or theirs is None:
            return None, ""
        if isinstance(mine, float) and isinstance(theirs, float):
            if theirs <= 0:
                return None, "—"
            r = mine / theirs
            return r, fmt_ratio(r)
        if isinstance(mine, float) and theirs in ("DNF", "RecursionError"):
            return 0.0, f"{lib} {theirs}"
        if isinstance(theirs, float) and mine in ("DNF", "RecursionError"):
            return math.inf, f"botree {mine}"
        return None, "n/a" if "n/a" in (mine, theirs) else "—"

    def op(self, key: str) -> Any:
        from .__main__ import OP_BY_KEY

        return OP_BY_KEY[key]

    def random_tree(self, n: int) -> Optional[str]:
        for t in self.run.trees:
            if t["family"] == "random" and t["n"] == n:
                return t["label"]
        return None

    def family(self, family: str) -> List[Dict[str, Any]]:
        return [t for t in self.run.trees if t["family"] == family]


# -- plots ----------------------------------------------------------------------------------------


def plots(run: "Run", res: Results, folder: Path) -> List[Tuple[str, str]]:
    """One PNG per operation: µs vs n on the random trees. Returns (label, relative path).

    Without matplotlib (it is not a test or lint dependency) no plots are drawn.
    """
    try:
        import matplotlib
    except ImportError:
        return []

    from .__main__ import OPS

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trees = sorted(res.family("random"), key=lambda t: t["n"])
    if not trees:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("random_*.png"):  # this function's own output from an earlier run
        stale.unlink()
    out = []
    markers = "osD^v<>"
    for op in OPS:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        drawn = 0
        for i, lib in enumerate(run.libs):
            pts = [(t["n"], res.get(t["label"], op.key, lib)) for t in trees]
            pts = [(n, v) for n, v in pts if isinstance(v, float) and v > 0]
            if not pts:
                continue
            xs, ys = zip(*pts)
            ax.plot(
                xs,
                ys,
                marker=markers[i % len(markers)],
                label=LIB_TITLES.get(lib, lib),
                linewidth=2 if lib == "botree" else 1,
            )
            drawn += 1
        if not drawn:
            plt.close(fig)
            continue
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("nodes (random tree)")
        ax.set_ylabel("B per node" if op.unit == "B/node" else f"µs per {op.unit}")
        ax.set_title(op.label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        name = f"random_{op.key}.png"
        fig.savefig(folder / name, dpi=90)
        plt.close(fig)
        out.append((op.label, f"{folder.name}/{name}"))
    return out


# -- the document ------------------------------------------------------------------------------


def matplotlib_version() -> str:
    try:
        import matplotlib

        return str(matplotlib.__version__)
    except ImportError:
        return "not installed"


def machine(run: "Run") -> List[str]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = "?"

    return [
        f"- Python {platform.python_version()} ({platform.python_implementation()}), {sys.executable}",
        f"- Platform: {platform.platform()}; CPU: {cpu}",
        f"- CPUs: {os.cpu_count()}; load average (1, 5, 15 min) at the start: "
        + ", ".join(f"{x:.2f}" for x in run.load_start)
        + "; at the end: "
        + ", ".join(f"{x:.2f}" for x in run.load_end)
        + " (another process may use one core: expect noise)",
        f"- Garbage collector: enabled throughout (never disabled by the benchmark; botree's bulk build pauses it"
        f" internally, as shipped); thresholds {__import__('gc').get_threshold()}",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(run.started))} UTC; git {commit or '?'}",
        f"- Run: {'quick' if run.settings.quick else 'full'}, {run.seconds / 60:.1f} minutes",
    ]


def write(run: "Run", output: Path, argv: List[str], targets: Optional[List[str]] = None) -> None:
    """Write the report to ``output``; ``targets``: the section of ``benchmarks.targets`` (None: keep
    the one the existing report has)."""
    from .__main__ import OPS

    res = Results(run)
    s = run.settings
    lines: List[str] = [
        "# Benchmarks: botree against its peers",
        "",
        "Written by `benchmarks/__main__.py` (overwritten on every run). Reproduce from the repository root:",
        "",
        "    PYTHONPATH=. python -m benchmarks            # full: random trees of 10^4, 10^5, 10^6 nodes (~25 min)",
        "    PYTHONPATH=. python -m benchmarks --quick    # 10^4 nodes only (~2 min)",
        "    PYTHONPATH=. python -m benchmarks --sizes 10000,100000 --only botree,anytree --trees random,deep",
        "",
        f"This file came from `python -m benchmarks{''.join(' ' + a for a in argv)}`.",
        "",
        "## Method",
        "",
        "- Every library is built from the same parent array (node i's parent is an earlier node; children in index"
        " order) and answers the same random arguments, chosen once per tree. A slow library uses a prefix of the"
        " argument list.",
        f"- Timing: `time.perf_counter`; each figure is the median over repeated timed batches (up to {s.max_reps};"
        f" queries: up to {s.queries} arguments per batch, updates: up to {s.updates},"
        f" half-tree moves: {s.half_moves})."
        " An operation slower than a batch is timed as a few single calls. The first call of every operation is an"
        " untimed warm-up that also sizes the batches.",
        "- The garbage collector stays **on** (the benchmark never disables it); `gc.collect()` runs between"
        " measurements, and only one library's structure is alive at a time.",
        "- Updates: botree's persistent updates all start from the same `Tree` (the result is dropped). Mutable"
        " peers run each update on the tree as built and undo it right after, untimed (anytree/bigtree/treelib/"
        "networkx: the inverse operation, which may re-append a node as the last child; SQLite: each update between"
        " `SAVEPOINT` and `ROLLBACK TO`, all inside one transaction).",
        f"- Caps: a build running past {s.build_cap:.0f} s, or any other call past {s.cap:.0f} s, is stopped and"
        " reported **DNF**; so is a call whose time at the smaller size, scaled linearly by n, exceeds the cap (not"
        " attempted). A peer raising `RecursionError` is reported as such. `n/a`: the library has no way to answer;"
        " `—`: no such argument (e.g. no half-size subtree in the wide tree); `n/m`: not measured (the tracemalloc"
        " build would take too long, or an interrupted update left the structure unusable).",
        "- Units: µs per operation; build and preorder scan in µs per node; memory in bytes per node (tracemalloc"
        " around a build without user data, node keys pre-made; SQLite: `page_count × page_size` of the in-memory"
        " database, tables and indexes).",
        "",
        "What each library runs:",
        "",
        "- **botree**: build `load_parent_table(rows)` (= `Tree.from_parent_table`, rows `(id, parent)`); also"
        " `Tree.from_events` on ready events and `insert_child` one by one in a transaction. `is_descendant`, `level`,"
        " `parent`, `list(children)`, `size`, `rank`, `insert_child(p, None)` (persistent) and inside `transaction()`"
        " (commit included, amortised), `delete`, `move(n, target)`, `insert_parent(n, None)`, `preorder()`;"
        " snapshot = keeping a reference to the immutable `Tree` (`versions.append(t)`): the path copying that keeps"
        " old versions intact is already inside every update's time.",
        "- **anytree** `Node`: `b in a.ancestors`, `.depth`, `.parent`, `.children`, `.size`, `Node(x, parent=p)`,"
        " `node.parent = None` (delete), `node.parent = target`, wrap = new node under the parent then reparent,"
        " `PreOrderIter`, `copy.deepcopy(root)`.",
        "- **bigtree** `Node` (string names): the same idioms; `.depth`, size = count of `.descendants` + 1,"
        " `preorder_iter`, `root.copy()`.",
        "- **treelib** `Tree`: `is_ancestor`, `level`, `parent`, `children`, size = count of `expand_tree(n)`,"
        " `create_node`, `remove_node`, `move_node`, `expand_tree(sorting=False)`, `Tree(tree, deep=True)`.",
        "- **networkx** `DiGraph` (parent → child edges): `b in ancestors(G, a)`, `len(ancestors(G, a))`,"
        " `predecessors`, `successors`, `len(descendants)+1`, `add_edge`, remove the node and its descendants,"
        " move = cycle check + edge swap, `dfs_preorder_nodes`, `G.copy()`.",
        "- **SQLite nested set** (stdlib `sqlite3`, in-memory): `ns(id INTEGER PRIMARY KEY, lft, rgt, level)`, indexes"
        " on `lft`, `rgt`, `(level, lft)`; parent = last node one level up starting before; children via"
        " `(level, lft)`; size `(rgt-lft+1)/2`; rank `(lft+level)/2` (numbers kept dense); updates renumber with"
        " `UPDATE`s (a move is one `UPDATE … CASE`); scan `ORDER BY lft`; snapshot = `backup()` to a new database.",
        "- **SQLite adjacency**: `adj(id INTEGER PRIMARY KEY, parent)` indexed on parent; ancestors and descendants"
        " by recursive CTEs (level = count of ancestors; move checks for a cycle first); preorder by a recursive"
        " CTE ordered depth-first.",
        "",
        "## Machine",
        "",
        *machine(run),
        "",
        "Versions: "
        + ", ".join(f"{LIB_TITLES.get(k, k)} {v}" for k, v in run.versions.items() if not k.startswith("sqlite"))
        + f"; SQLite {sqlite3.sqlite_version} (Python's sqlite3 module); matplotlib {matplotlib_version()}.",
        "",
        "## Trees",
        "",
    ]
    lines += table(
        ["tree", "nodes", "depth", "half subtree", "what"],
        [
            [t["label"], f"{t['n']:,}", f"{t['depth']:,}", f"{t['half']:,}" if t["half"] else "—", t["source"]]
            for t in run.trees
        ],
        "lrrrl",
    )
    if targets is None:
        targets = kept_section(output, targets_section.START, targets_section.END)
    lines += [""] + targets
    lines.append("")

    # Biggest losses.
    losses = []
    for t in run.trees:
        for op in OPS:
            if op.key == "memory":
                continue
            for lib in run.libs:
                if lib == "botree":
                    continue
                r, _ = res.ratio(t["label"], op.key, lib)
                if r is not None and r > 1 and math.isfinite(r):
                    losses.append((r, t["label"], op.label, lib))
    losses.sort(reverse=True)
    lines += ["", "## Where botree loses", ""]
    if losses:
        lines.append("The largest ratios botree / peer above 1 (botree slower), over every tree and operation:")
        lines.append("")
        lines += table(
            ["botree / peer", "tree", "operation", "peer", "botree", "peer value"],
            [
                [
                    fmt_ratio(r), tree, label, LIB_TITLES.get(lib, lib),
                    fmt(res.get(tree, next(o.key for o in OPS if o.label == label), "botree")),
                    fmt(res.get(tree, next(o.ratio_to or o.key for o in OPS if o.label == label), lib)),
                ]
                for r, tree, label, lib in losses[:15]
            ],
            "rlllrr",
        )  # fmt: skip
    else:
        lines.append("No peer was faster on any measured operation.")

    # Medians and ratios per tree.
    lines += ["", "## Medians", "", "µs per operation (build and scan: per node; memory: bytes per node)."]
    for t in run.trees:
        tree = t["label"]
        rows = []
        for op in OPS:
            cells = [res.get(tree, op.key, lib) for lib in run.libs]
            if all(c is None for c in cells):
                continue
            rows.append([op.label, op.unit] + ["" if c is None else fmt(c) for c in cells])
        lines += ["", f"### {tree} ({t['source']})", ""]
        lines += table(
            ["operation", "unit"] + [LIB_TITLES.get(lib, lib) for lib in run.libs], rows, "ll" + "r" * len(run.libs)
        )

    peers_ = [lib for lib in run.libs if lib != "botree"]
    if "botree" in run.libs and peers_:
        lines += [
            "",
            "## Ratios botree / peer",
            "",
            "Same run, same tree: botree's median divided by the peer's (< 1: botree is faster). For botree-only"
            " rows the peer's build (resp. insert) is the denominator. 'X DNF' / 'X RecursionError': only botree"
            " finished.",
        ]
        for t in run.trees:
            tree = t["label"]
            rows = []
            for op in OPS:
                if res.get(tree, op.key, "botree") is None:
                    continue
                texts = [res.ratio(tree, op.key, lib)[1] for lib in peers_]
                if all(not x for x in texts):
                    continue
                rows.append([op.label] + texts)
            lines += ["", f"### {tree}", ""]
            lines += table(["operation"] + [LIB_TITLES.get(lib, lib) for lib in peers_], rows)

    folder = output.parent / output.stem
    images = plots(run, res, folder)
    if images:
        lines += ["", "## Plots (random trees)", ""]
        lines += [f"- [{label}]({path})" for label, path in images]
        lines += [""] + [f"![{label}]({path})" for label, path in images]
    if run.notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in run.notes]
    lines += [""] + kept_section(output, KEEP_START, KEEP_END)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(lines) + "\n", encoding="utf-8")


KEEP_START = "<!-- kept: benchmarks.interleaved -->"
KEEP_END = "<!-- /kept -->"


def kept_section(output: Path, start_marker: str, end_marker: str) -> List[str]:
    """The section between the markers in the existing report (written by another command than this
    run), so a rerun does not drop it."""
    if not output.exists():
        return []
    text = output.read_text(encoding="utf-8")
    start, end = text.find(start_marker), text.find(end_marker)
    if start < 0 or end < start:
        return []
    return [text[start : end + len(end_marker)]]
