"""The command line on a keyed CSV: ``botree sync`` against ``botree import --replace``, and lookups by key.

Run from the repository root::

    PYTHONPATH=. python -m benchmarks.cli_sync            # 10^5 rows
    PYTHONPATH=. python -m benchmarks.cli_sync 1000000    # 10^6 rows (several minutes)

For n rows (``id,parent,name,v``: the random tree and the 1% changes of
``benchmarks.sync``, a quarter each inserts, deletes, moves and edits) written as CSV
files: ``botree import`` of the first file, then on one copy ``botree sync`` of the
changed file, ``botree sync`` of it again (nothing to commit), and on another copy
``botree import --replace`` of it; ``botree export --format csv`` of the result; and
``botree query DB KEY --level`` (one process: opening, one key lookup, printing)
against ``botree query DB '#ID' --level`` (the same by internal id).  Each figure is the
wall time of one fresh ``botree`` process in seconds (best of 3 for the queries).  A
report: nothing asserts on timings.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Sequence

from benchmarks.sync import changed, rows_of


def write_csv(path: str, rows: List[Dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["id", "parent", "name", "v"])
        for row in rows:
            writer.writerow([row["id"], "" if row["parent"] is None else row["parent"], row["name"], row["v"]])


def botree(*args: str) -> float:
    """Wall time of one ``botree ARGS`` process (output discarded); fails loudly on a non-zero exit."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "botree", *args], capture_output=True)
    elapsed = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"botree {' '.join(args)}: exit {done.returncode}: {done.stderr.decode()}")
    return elapsed


def best(runs: int, *args: str) -> float:
    return min(botree(*args) for _ in range(runs))


def main(argv: Sequence[str]) -> None:
    n = int(argv[0]) if argv else 100_000
    rows = rows_of(n)
    target, edits = changed(rows)
    with tempfile.TemporaryDirectory() as folder:
        first, second = os.path.join(folder, "a.csv"), os.path.join(folder, "b.csv")
        write_csv(first, rows)
        write_csv(second, target)
        synced, replaced = os.path.join(folder, "s.db"), os.path.join(folder, "r.db")
        figures = {"import": botree("import", first, synced)}
        shutil.copy(synced, replaced)
        figures["sync (1% changed)"] = botree("sync", second, synced)
        figures["sync again (no changes)"] = botree("sync", second, synced)
        figures["import --replace"] = botree("import", second, replaced, "--replace")
        figures["export --format csv"] = botree("export", synced, "--format", "csv")
        key = str(target[len(target) // 2]["id"])
        figures["query KEY --level"] = best(3, "query", synced, key, "--level")
        figures["query '#ID' --level"] = best(3, "query", synced, "#1", "--level")
        figures["ls --limit 1 (start-up)"] = best(3, "ls", synced, "--limit", "1")
    print(f"botree CLI on a {n:,}-row keyed CSV; changes: {edits}")
    for what, seconds in figures.items():
        print(f"  {what:<28} {seconds:8.2f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
