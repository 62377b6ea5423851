"""Field index cost (issue 13 item 2): a cold ``find`` in a fresh process, stored index against rebuild.

    python -m benchmarks.fields [--before CHECKOUT] [N ...]     # default N: 100000

For each N: build a forest of N nodes with indexed fields ``name`` (unique-ish) and
``size`` (97 values) by ``Tree.from_events``, store it in SQLite, then in fresh
processes measure open + the first ``find(name=...)``, 100 further cold finds, a cold
``Range`` over ``size``, and the leaves loaded (``leaf_stats``):

- *stored*: this checkout (the field index is read from the ``fields`` cells);
- *rebuild*: this checkout with the stored index ignored (as for a version written
  before it was stored: the index is built from every row on first use);
- *before* (with ``--before``): another checkout of botree (e.g. ``main`` before this
  change, which builds its in-memory index from every row) run on the same file.

In memory it also times warm equality finds, a range, and persistent ``set_data``
changing an indexed value.  Ratios are to peers in the same run; not a timed test.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Iterator, List, Tuple

from botree import Database, Range, Tree

from .leaf_cache_rss import events as random_forest

FIELDS = ("name", "size")


def events(n: int) -> Iterator[Tuple[Any, bool]]:
    """``leaf_cache_rss``'s random forest of n nodes, each with a unique name and one of 97 sizes."""
    for data, is_open in random_forest(n):
        yield ({"name": f"n{data['i']}", "size": data["i"] % 97} if is_open else None), is_open


def timed(fn: Callable[[], Any]) -> Tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def in_memory(n: int) -> Tree:
    build_s, tree = timed(lambda: Tree.from_events(events(n), fields=FIELDS))
    plain_s, _ = timed(lambda: Tree.from_events(events(n)))
    print(f"n={n:,}: build {build_s:.2f} s with 2 indexed fields vs {plain_s:.2f} s without")
    rng = random.Random(2)
    names = [f"n{rng.randrange(n)}" for _ in range(10_000)]
    nodes = tree.order_index.nodes
    find_s, _ = timed(lambda: [nodes.find_ids("name", x) for x in names])
    mapping = {f"n{i}": i for i in range(n)}
    dict_s, _ = timed(lambda: [mapping[x] for x in names])
    rng_s, hits = timed(lambda: nodes.find_ids("size", Range(10, 12)))
    sample = rng.sample(range(n), 2000)

    def renames() -> None:
        t = tree
        for i, x in enumerate(sample):
            t = t.set_data(x, {"name": f"r{i}", "size": i})

    set_s, _ = timed(renames)
    print(
        f"  warm equality find {find_s / len(names) * 1e6:.1f} us (dict {dict_s / len(names) * 1e6:.2f} us); "
        f"Range of {len(hits)} ids {rng_s * 1e3:.2f} ms; persistent set_data of both fields "
        f"{set_s / len(sample) * 1e6:.1f} us"
    )
    return tree


def stored(n: int, tree: Tree, before: str) -> None:
    path = os.path.join(tempfile.mkdtemp(prefix="botree-fields-"), "fields.db")
    db = Database(path, fields=FIELDS)
    store_s, _ = timed(lambda: db.replace(tree, message="bulk"))
    db.close()
    print(f"  stored in SQLite in {store_s:.1f} s ({os.path.getsize(path) / 1e6:.0f} MB)")
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    runs = [("stored", here, "stored"), ("rebuild", here, "rebuild")]
    if before:
        runs.append(("before", os.path.abspath(before), "any"))
    for label, root, mode in runs:
        env = dict(os.environ, PYTHONPATH=root, PYTHONDONTWRITEBYTECODE="1")  # never write into a checkout
        out = subprocess.run(
            [sys.executable, "-c", COLD, path, str(n), mode],
            capture_output=True, text=True, check=True, cwd=root, env=env,
        )
        print(f"  {label:8} {out.stdout.rstrip()}")


# Run in a fresh process with PYTHONPATH set to the checkout measured; only APIs both sides have.
COLD = r"""
import random, sys, time
from botree import Database, Range
path, n, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = random.Random(3)
names = [f"n{rng.randrange(n)}" for _ in range(101)]
t = time.perf_counter()
db = Database(path)
tree = db.tree
if mode == "rebuild":
    tree.order_index.nodes._index = None  # as a version stored without its field index
open_s = time.perf_counter() - t
t = time.perf_counter()
tree.find(name=names[0])
first_s = time.perf_counter() - t
loads_first = db.leaf_stats["loads"]
t = time.perf_counter()
for x in names[1:]:
    tree.find(name=x)
more_s = (time.perf_counter() - t) / 100
loads_more = (db.leaf_stats["loads"] - loads_first) / 100
t = time.perf_counter()
hits = tree.order_index.nodes.find_ids("size", Range(10, 12))
range_s = time.perf_counter() - t
print(f"open {open_s * 1e3:.0f} ms; first find {first_s * 1e3:.1f} ms ({loads_first} leaves loaded); "
      f"next finds {more_s * 1e3:.2f} ms ({loads_more:.1f} leaves each); Range of {len(hits)} ids "
      f"{range_s * 1e3:.1f} ms; {db.leaf_stats['loads']} leaves in all")
"""


def main(argv: List[str]) -> None:
    before = ""
    if argv and argv[0] == "--before":
        before, argv = argv[1], argv[2:]
    for n in [int(a) for a in argv] or [100_000]:
        tree = in_memory(n)
        stored(n, tree, before)


if __name__ == "__main__":
    main(sys.argv[1:])
