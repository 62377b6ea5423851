"""Issue 16's rows on the pure and the compiled build, side by side (docs/benchmarks.md, "Pure and compiled builds").

Runs ``benchmarks.interleaved`` (botree and anytree back to back, minimum over repetitions)
once on this tree's pure sources and once on a compiled build, alternating the two runs per
tree size, and prints one table: each build's ratio to anytree (measured in its own run, so
the load of the moment cancels out) and the compiled build's gain, pure ratio / compiled ratio.

The compiled build lives in a throwaway copy of the tree (``--copy``, default
``/tmp/botree-compiled-<this tree's folder name>``, so that two checkouts benchmarked at
once do not rebuild each other's copy): a compiled module beside its source would shadow later edits
(docs/design.md, "Compiled build").  The copy is made, or refreshed, from this tree with
``BOTREE_COMPILE=1 pip install -e '.[anytree]'`` in its own venv.

    PYTHONPATH=. python -m benchmarks.builds --sizes 100000,1000000 [--reps 15] [--copy DIR] [--reuse]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from typing import Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD_OF = "import botree.core.index as m; print('pure' if m.__file__.endswith('.py') else 'compiled')"
SKIP = {".git", ".venv", "build", ".hypothesis", ".pytest_cache", ".mypy_cache", ".ruff_cache", "__pycache__"}


def make_copy(copy: str) -> str:
    """A copy of this tree with the compiled build installed in place; its interpreter. Minutes (mypyc + cc)."""
    if os.path.exists(copy):
        shutil.rmtree(copy)
    shutil.copytree(ROOT, copy, ignore=lambda d, names: [n for n in names if n in SKIP or n.endswith(".egg-info")])
    subprocess.run([sys.executable, "-m", "venv", os.path.join(copy, ".venv")], check=True)
    python = os.path.join(copy, ".venv", "bin", "python")
    env = dict(os.environ, BOTREE_COMPILE="1")
    subprocess.run([python, "-m", "pip", "install", "-q", "-e", ".[anytree]"], cwd=copy, env=env, check=True)
    return python


def build_of(python: str, cwd: str) -> str:
    return subprocess.run([python, "-c", BUILD_OF], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def interleaved(python: str, cwd: str, size: int, reps: int, seed: int) -> Tuple[Dict[str, Tuple[str, str]], str]:
    """{operation: (botree µs, ratio to anytree)} of one run, and its load lines."""
    env = dict(os.environ, PYTHONPATH=cwd)
    out = subprocess.run(
        [python, "-m", "benchmarks.interleaved", "--sizes", str(size), "--reps", str(reps), "--seed", str(seed)],
        cwd=cwd, env=env, capture_output=True, text=True, check=True,
    ).stdout
    rows: Dict[str, Tuple[str, str]] = {}
    loads: List[str] = []
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[1].replace(",", "").isdigit():
            rows[cells[0]] = (cells[2], cells[4])
        elif line.startswith("load average"):
            loads.append(line.split(": ", 1)[1])
    return rows, " → ".join(loads)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.builds", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--copy", default=f"/tmp/botree-compiled-{os.path.basename(ROOT)}",
        help="where the compiled copy of the tree lives",
    )
    parser.add_argument("--reuse", action="store_true", help="use the compiled copy as it is (no rebuild)")
    args = parser.parse_args(argv)
    compiled_python = os.path.join(args.copy, ".venv", "bin", "python")
    if not (args.reuse and os.path.exists(compiled_python)):
        compiled_python = make_copy(args.copy)
    runs = {"pure": (sys.executable, ROOT), "compiled": (compiled_python, args.copy)}
    for name, (python, cwd) in runs.items():
        found = build_of(python, cwd)
        if found != name:
            raise SystemExit(f"the {name} run would import the {found} build ({python} in {cwd})")
    print("| operation | nodes | pure µs | compiled µs | pure / anytree | compiled / anytree | compiled gain |")
    print("|:---|---:|---:|---:|---:|---:|---:|")
    notes = []
    for size in [int(float(x)) for x in args.sizes.split(",")]:
        results = {}
        for name, (python, cwd) in runs.items():  # one after the other, per size: the same moment of load
            results[name], load = interleaved(python, cwd, size, args.reps, args.seed)
            notes.append(f"{name} {size:,}: load {load}")
        for op, (pure_us, pure_ratio) in results["pure"].items():
            comp_us, comp_ratio = results["compiled"].get(op, ("-", "-"))
            try:
                gain = f"{float(pure_ratio) / float(comp_ratio):.2f}x"
            except (ValueError, ZeroDivisionError):
                gain = "-"
            print(f"| {op} | {size:,} | {pure_us} | {comp_us} | {pure_ratio} | {comp_ratio} | {gain} |", flush=True)
    print()
    for note in notes:
        print(f"- {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
