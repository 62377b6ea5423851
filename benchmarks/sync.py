"""Sync benchmark: ``db.sync`` of a keyed parent table with 1% changes, against ``db.replace``.

Run from the repository root::

    PYTHONPATH=. python -m benchmarks.sync            # 10^5 rows (~1 minute)
    PYTHONPATH=. python -m benchmarks.sync --big      # 10^5 and 10^6 rows (~10 minutes, ~4 GB)

For each size n: a random recursive tree of n rows ``{"id", "parent", "name", "v"}``
(ids are ints, the tree built with ``Tree.from_parent_table(rows, key="id")``, the
whole row as the node's data, as ``botree import`` keeps it) is stored with
``db.replace`` in a keyed SQLite database (``Database(path, key="id")``).
The target table is the same rows with 1% of them changed, a quarter each: new rows
(under a random node), deleted rows (their children go to the deleted row's parent),
moved rows (a new parent with a smaller id, so no cycle; the row's ``parent`` field
changes too) and edited ``v`` values.  Then, on that database:

* ``db.sync(target)`` (by the database's key): one commit of only the differences;
* ``db.sync`` of the same target again: nothing to commit;
* ``db.changes`` across the sync (the logged updates, replayed);

and on a second database holding the same start, ``db.replace(target)`` (what
``botree import --replace`` does), with ``db.changes`` across it (a full comparison:
``from_parent_table`` numbers nodes in preorder, so ids no longer match).  Times are
seconds (``time.perf_counter``, garbage collector on), medians of ``--repeat`` runs
(default 3) up to 10^5 rows and one run above; building the target tree, which both
need, is timed apart.  Printed and written (overwritten) to
``docs/benchmarks-sync.md``.  A report: nothing here asserts on timings.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar

from botree import Database, Tree
from botree.tree.sync import plan_sync

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")
Row = Dict[str, Any]


def rows_of(n: int, seed: int = 1) -> List[Row]:
    """A random recursive tree as parent-table rows (a row's parent has a smaller id)."""
    rng = random.Random(seed)
    return [
        {"id": i, "parent": rng.randrange(i) if i else None, "name": f"n{i}", "v": rng.randrange(1000)}
        for i in range(n)
    ]


def changed(rows: List[Row], fraction: float = 0.01, seed: int = 2) -> Tuple[List[Row], Dict[str, int]]:
    """``rows`` with ``fraction`` of them changed (a quarter each: inserts, deletes, moves, edits)."""
    rng = random.Random(seed)
    n = len(rows)
    each = max(1, int(n * fraction) // 4)
    picked = rng.sample(range(1, n), 3 * each)
    deletes, moves, edits = set(picked[:each]), picked[each : 2 * each], picked[2 * each :]
    out = {row["id"]: dict(row) for row in rows}
    for i in edits:
        out[i]["v"] = -out[i]["v"] - 1
    for i in moves:
        out[i]["parent"] = rng.randrange(i)
    for i in sorted(deletes, reverse=True):  # children take the deleted row's parent (itself maybe deleted later)
        del out[i]
    up = {i: rows[i]["parent"] for i in deletes}
    for row in out.values():
        parent = row["parent"]
        while parent in up:
            parent = up[parent]
        row["parent"] = parent
    alive = list(out)
    for k in range(each):
        out[n + k] = {"id": n + k, "parent": rng.choice(alive), "name": f"new{k}", "v": 0}
    return list(out.values()), {"inserted": each, "deleted": each, "moved": each, "edited": each}


def timed(fn: Callable[[], T]) -> Tuple[T, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def size_of(path: str) -> int:
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


def measure(n: int, folder: str) -> Dict[str, Any]:
    rows = rows_of(n)
    start, build_s = timed(lambda: Tree.from_parent_table(rows, key="id"))
    target_rows, edits = changed(rows)
    target, target_s = timed(lambda: Tree.from_parent_table(target_rows, key="id"))
    synced_path = os.path.join(folder, f"sync-{n}.db")
    replaced_path = os.path.join(folder, f"replace-{n}.db")
    out: Dict[str, Any] = {"n": n, "edits": edits, "build_s": build_s, "target_s": target_s}
    for path in (synced_path, replaced_path):
        with Database(path, key="id") as db:
            _, out["import_s"] = timed(lambda: db.replace(start, message="import"))  # noqa: B023
    # Every timed call but plan_s runs on a freshly opened database: its leaves load from the file as read.
    before = size_of(synced_path)
    with Database(synced_path) as db:
        v1 = db.version
        report, out["sync_s"] = timed(lambda: db.sync(target, message="sync"))  # by the database's key
        out["report"] = report
        out["ops"] = len(db.history()[-1].ops or ())
        changes, out["sync_changes_s"] = timed(lambda: db.changes(v1, db.version))
        out["sync_changes"] = _counts(changes)
    out["sync_bytes"] = size_of(synced_path) - before
    with Database(synced_path) as db:
        again, out["unchanged_s"] = timed(lambda: db.sync(target))
        out["unchanged_version"] = again.version
        plan, out["plan_s"] = timed(lambda: plan_sync(db.tree, target, "id"))  # leaves loaded by now
        out["planned_steps"] = len(plan.steps)
        del plan
        db.verify()
    before = size_of(replaced_path)
    with Database(replaced_path) as other:
        w1 = other.version
        _, out["replace_s"] = timed(lambda: other.replace(target, message="replace"))
        changes, out["replace_changes_s"] = timed(lambda: other.changes(w1, other.version))
        out["replace_changes"] = _counts(changes)
    out["replace_bytes"] = size_of(replaced_path) - before
    return out


def _counts(changes: Any) -> Tuple[int, int, int, int]:
    return len(changes.inserted), len(changes.deleted), len(changes.moved), len(changes.data_changed)


def _runs(count: int) -> str:
    return "one run" if count == 1 else f"median of {count} runs"


def _git() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT,
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def report(results: List[Dict[str, Any]]) -> str:
    lines = [
        "# Sync benchmark",
        "",
        f"Generated by `python -m benchmarks.sync{' --big' if len(results) > 1 else ''}` on CPython "
        f"{platform.python_version()}, {platform.machine()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"git {_git()}; 2 cores shared with other processes (expect noise).  Seconds; each timed call "
        "but the planning alone runs on a freshly opened database (its leaves load as they are read).",
        "",
        "A keyed parent table (`id`, `parent`, `name`, `v`; a random recursive tree) stored in a keyed SQLite "
        "database (`Database(path, key=\"id\")`), then synced "
        "with the same table with 1% of its rows changed (a quarter each: inserted, deleted, moved, `v` edited), "
        "against `db.replace` of the same target on a second database (what `botree import --replace` does).  "
        "Building the target tree (`Tree.from_parent_table`), which both need, is timed apart.",
        "",
    ]
    header = "| | " + " | ".join(f"{r['n']:,} rows ({_runs(r['runs'])})" for r in results) + " |"
    lines += [header, "|:---|" + "---:|" * len(results)]

    def row(label: str, cell: Callable[[Dict[str, Any]], str]) -> None:
        lines.append(f"| {label} | " + " | ".join(cell(r) for r in results) + " |")

    row("build the target tree (`from_parent_table(..., key=\"id\")`)", lambda r: f"{r['target_s']:.2f} s")
    row("store the first version (`replace`)", lambda r: f"{r['import_s']:.2f} s")
    row("**`db.sync(target)`**, 1% changed", lambda r: f"**{r['sync_s']:.2f} s**")
    row("planning alone, leaves already loaded (`plan_sync`)", lambda r: f"{r['plan_s']:.2f} s")
    row("`db.replace(target)`", lambda r: f"{r['replace_s']:.2f} s")
    row("ratio sync / replace", lambda r: f"{r['sync_s'] / r['replace_s']:.2f}")
    row("ratio (build + sync) / (build + replace)",
        lambda r: f"{(r['target_s'] + r['sync_s']) / (r['target_s'] + r['replace_s']):.2f}")
    row("`db.sync` of the unchanged target (commits nothing)", lambda r: f"{r['unchanged_s']:.2f} s")
    row("ratio unchanged sync / replace", lambda r: f"{r['unchanged_s'] / r['replace_s']:.2f}")
    row("sync report (inserted, deleted, moved, changed)",
        lambda r: "{}, {}, {}, {}".format(r["report"].inserted, r["report"].deleted, r["report"].moved,
                                          r["report"].changed))
    row("logged updates in the sync commit", lambda r: f"{r['ops']:,}")
    row("bytes written: sync / replace",
        lambda r: f"{r['sync_bytes'] / 2**20:.1f} / {r['replace_bytes'] / 2**20:.1f} MiB")
    row("`changes` across the sync: inserted, deleted, moved, data", lambda r: ", ".join(map(str, r["sync_changes"])))
    row("`changes` across the sync: time", lambda r: f"{r['sync_changes_s']:.2f} s")
    row("`changes` across the replace: inserted, deleted, moved, data",
        lambda r: ", ".join(f"{c:,}" for c in r["replace_changes"]))
    row("`changes` across the replace: time", lambda r: f"{r['replace_changes_s']:.2f} s")
    lines += [
        "",
        "The edits: `v` changed on 0.25% of the rows; 0.25% moved to a new parent (their `parent` field changes "
        "too, so they count as moved and re-valued); 0.25% deleted (their children's `parent` changes to the "
        "deleted row's parent: moved and re-valued); 0.25% new rows.  A sync keeps every surviving node's id, so "
        "`changes` names exactly those rows; after `replace` every node has the id of its new preorder position "
        "and `changes` compares the whole trees.",
        "",
    ]
    return "\n".join(lines)


def median_run(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    """One result whose timings (keys ending in ``_s``) are the medians over ``runs``; the rest from the first."""
    out = dict(runs[0])
    for name in out:
        if name.endswith("_s"):
            out[name] = statistics.median(run[name] for run in runs)
    out["runs"] = len(runs)
    return out


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big", action="store_true", help="also 10^6 rows")
    parser.add_argument("--sizes", help="comma-separated row counts instead (e.g. 10000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size up to 10^5 rows, medians reported")
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks-sync.md"), help="'' to not write")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [10**5] + ([10**6] if args.big else [])
    results = []
    with tempfile.TemporaryDirectory(prefix="botree-sync-") as folder:
        for n in sizes:
            runs = []
            for _ in range(args.repeat if n <= 10**5 else 1):
                runs.append(measure(n, folder))
                print(runs[-1], file=sys.stderr, flush=True)
            results.append(median_run(runs))
    text = report(results)
    print(text)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
