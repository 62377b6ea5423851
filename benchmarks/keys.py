"""Key lookup cost (issue 13): in memory against a plain dict, and on a stored tree from a cold open.

    python -m benchmarks.keys [N ...]        # default: 100000 1000000
    python -m benchmarks.keys --target postgresql://... [N ...]   # store in PostgreSQL instead of SQLite

For each N: build a keyed forest of N nodes (str keys "k<i>", random shape) with
``Tree.from_events(..., key="id")`` and time it against the same build without a key;
then time ``node_of`` and ``key_of`` for 100,000 random keys against a dict lookup,
``set_data`` changing a key, an insert; store the tree in SQLite, and in a fresh
process measure the cold open plus the first lookups (leaves loaded per lookup from
``leaf_stats``) and warm lookups.  Ratios are to peers in the same run; not a timed test.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Iterator, List, Tuple

from botree import Database, Tree

from .leaf_cache_rss import events as random_forest

LOOKUPS = 100_000


def events(n: int) -> Iterator[Tuple[Any, bool]]:
    """``leaf_cache_rss``'s random forest of n nodes, each with a str key "k<i>"."""
    for data, is_open in random_forest(n):
        yield ({"id": f"k{data['i']}", "name": data["name"]} if is_open else None), is_open


def timed(fn: Callable[[], Any]) -> Tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def in_memory(n: int) -> None:
    plain_s, _ = timed(lambda: Tree.from_events(events(n)))
    keyed_s, tree = timed(lambda: Tree.from_events(events(n), key="id"))
    print(f"n={n:,}: build {keyed_s:.2f} s keyed vs {plain_s:.2f} s unkeyed ({keyed_s / plain_s:.2f}x)")
    rng = random.Random(2)
    keys = [f"k{rng.randrange(n)}" for _ in range(LOOKUPS)]
    mapping = {f"k{i}": i for i in range(n)}
    dict_s, _ = timed(lambda: [mapping[k] for k in keys])
    node_of = tree.node_of
    key_s, nodes = timed(lambda: [node_of(k) for k in keys])
    key_of = tree.key_of
    back_s, _ = timed(lambda: [key_of(x) for x in nodes])
    print(f"  node_of {key_s / LOOKUPS * 1e6:.2f} us, key_of {back_s / LOOKUPS * 1e6:.2f} us, "
          f"dict {dict_s / LOOKUPS * 1e6:.3f} us per lookup (node_of/dict {key_s / dict_s:.0f}x)")
    sample = rng.sample(range(n), 2000)

    def renames() -> None:
        t = tree
        for i, x in enumerate(sample):
            t = t.set_data(x, {"id": f"r{i}"})

    def inserts() -> None:
        t = tree
        for i in range(2000):
            t, _ = t.insert_root({"id": f"new{i}"})

    def inserts_unkeyed() -> None:
        t = Tree.from_order_index(tree.order_index.configured((), None))
        for i in range(2000):
            t, _ = t.insert_root({"id": f"new{i}"})

    set_s, _ = timed(renames)
    ins_s, _ = timed(inserts)
    plain_ins_s, _ = timed(inserts_unkeyed)
    print(f"  persistent set_data changing a key {set_s / 2000 * 1e6:.1f} us; insert_root {ins_s / 2000 * 1e6:.1f} us "
          f"keyed vs {plain_ins_s / 2000 * 1e6:.1f} us unkeyed")


def stored(n: int, target: str = "") -> None:
    path = target or os.path.join(tempfile.mkdtemp(prefix="botree-keys-"), "keys.db")
    db = Database(path, key="id")
    store_s, _ = timed(lambda: db.replace(Tree.from_events(events(n), key="id"), message="bulk"))
    db.close()
    size = "" if target else f" ({os.path.getsize(path) / 1e6:.0f} MB)"
    print(f"  stored in {'PostgreSQL' if target else 'SQLite'} in {store_s:.1f} s{size}")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.keys", "--cold", path, str(n)],
        capture_output=True, text=True, check=True, cwd=root,
    )
    print(out.stdout.rstrip())


def cold(path: str, n: int) -> None:
    rng = random.Random(3)
    keys = [f"k{rng.randrange(n)}" for _ in range(1000)]
    open_s, db = timed(lambda: Database(path))
    tree = db.tree
    first_s, _ = timed(lambda: tree.node_of(keys[0]))
    loads_first = db.leaf_stats["loads"]
    cold_s, _ = timed(lambda: [tree.node_of(k) for k in keys[1:101]])
    loads = db.leaf_stats["loads"] - loads_first
    warm_s, _ = timed(lambda: [tree.node_of(k) for k in keys[1:101]])
    row_s, _ = timed(lambda: [tree.data(tree.node_of(k)) for k in keys[101:201]])
    print(f"  cold process: open {open_s * 1e3:.1f} ms, first node_of {first_s * 1e3:.2f} ms "
          f"({loads_first} leaf loaded); 100 more cold node_of {cold_s / 100 * 1e3:.3f} ms each "
          f"({loads / 100:.2f} leaves each), warm {warm_s / 100 * 1e6:.2f} us; "
          f"node_of + data, cold {row_s / 100 * 1e3:.3f} ms each")
    db.close()


def main(argv: List[str]) -> None:
    if argv and argv[0] == "--cold":
        cold(argv[1], int(argv[2]))
        return
    target = ""
    if argv and argv[0] == "--target":
        target, argv = argv[1], argv[2:]
    for n in [int(a) for a in argv] or [100_000, 1_000_000]:
        if not target:
            in_memory(n)
        stored(n, target)


if __name__ == "__main__":
    main(sys.argv[1:])
