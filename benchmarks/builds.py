"""The compiled build's throwaway copy, and issue 16's rows on both builds side by side.

The compiled build lives in a copy of the tree (``--copy``, default
``/tmp/botree-compiled-<this tree's folder name>``, so that two checkouts benchmarked at once do
not rebuild each other's copy): a compiled module beside its source would shadow later edits
(docs/design.md, "Compiled build").  The copy is made, or refreshed, from this tree with
``BOTREE_COMPILE=1 pip install -e '.[anytree]'`` in its own venv.  ``benchmarks.targets`` uses it
to report the targets on both builds; this module's command prints every row of
``benchmarks.interleaved`` on both, with each build's ratio to anytree (measured in its own run,
so the load of the moment cancels out) and the compiled build's gain, pure ratio / compiled ratio.

    PYTHONPATH=. python -m benchmarks.builds --sizes 100000,1000000 [--reps 15] [--copy DIR] [--reuse]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from typing import Dict, List, Optional, Tuple

from .interleaved import LABELS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_COPY = f"/tmp/botree-compiled-{os.path.basename(ROOT)}"
BUILD_OF = "from benchmarks.builds import build_name; print(build_name())"
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


def interpreters(compiled: Optional[str], reuse: bool) -> Dict[str, Tuple[str, str]]:
    """{build: (interpreter, folder to run it in)}: the pure build from this tree and, unless
    ``compiled`` is None, the compiled copy there (made unless ``reuse`` finds one); each
    checked to import the build it is named for (``SystemExit`` otherwise)."""
    runs = {"pure": (sys.executable, ROOT)}
    if compiled is not None:
        python = os.path.join(compiled, ".venv", "bin", "python")
        if not (reuse and os.path.exists(python)):
            python = make_copy(compiled)
        runs["compiled"] = (python, compiled)
    for name, (python, cwd) in runs.items():
        found = build_of(python, cwd)
        if found != name:
            raise SystemExit(f"the {name} run would import the {found} build ({python} in {cwd})")
    return runs


def build_name() -> str:
    """"pure" or "compiled": which build this interpreter imports."""
    import botree.core.index as m

    return "pure" if m.__file__.endswith(".py") else "compiled"


def git_rev() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() or "?"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.builds", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--copy", default=DEFAULT_COPY,
        help="where the compiled copy of the tree lives",
    )
    parser.add_argument("--reuse", action="store_true", help="use the compiled copy as it is (no rebuild)")
    args = parser.parse_args(argv)
    from . import targets

    runs = interpreters(args.copy, args.reuse)
    print("| operation | nodes | pure µs | compiled µs | pure / anytree | compiled / anytree | compiled gain |")
    print("|:---|---:|---:|---:|---:|---:|---:|")
    notes = []
    for size in [int(float(x)) for x in args.sizes.split(",")]:
        parts = {}
        for name, (python, cwd) in runs.items():  # one after the other, per size: the same moment of load
            parts[name] = targets.run_part(python, cwd, "random", size, args.reps, args.seed, False)
            notes.append(f"{name} {size:,}: load {parts[name]['load'][0]} → {parts[name]['load'][1]}")
        for key, label in LABELS.items():
            if key not in parts["pure"]["rows"]:
                continue
            pure, comp = parts["pure"]["rows"][key], parts["compiled"]["rows"][key]
            pr, cr = pure["botree"] / pure["anytree"], comp["botree"] / comp["anytree"]
            times = f"{pure['botree']:.3g} | {comp['botree']:.3g}"
            print(f"| {label} | {size:,} | {times} | {pr:.2f} | {cr:.2f} | {pr / cr:.2f}x |", flush=True)
    print()
    for note in notes:
        print(f"- {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
