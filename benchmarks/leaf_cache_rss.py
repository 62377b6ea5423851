"""Peak RSS while walking a stored tree, uncapped and with ``cache_leaves`` (issue 14 item 4).

    python benchmarks/leaf_cache_rss.py build PATH N      # store a random tree of N nodes
    python benchmarks/leaf_cache_rss.py walk PATH [CAP]   # one process per walk: peak RSS, time

Each walk visits every node in preorder (at_rank, level, parent, data).  Not a timed test.
"""

from __future__ import annotations

import random
import resource
import sys
import time
from typing import Any, Iterator, Tuple

from botree import Database, Tree


def events(n: int, seed: int = 1) -> Iterator[Tuple[Any, bool]]:
    rng = random.Random(seed)
    depth = made = 0
    while made < n:
        if depth and rng.random() < 0.45:
            depth -= 1
            yield (None, False)
        else:
            yield ({"i": made, "name": f"node {made}"}, True)
            made += 1
            depth += 1
    for _ in range(depth):
        yield (None, False)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    verb, path = sys.argv[1], sys.argv[2]
    if verb == "build":
        db = Database(path)
        db.replace(Tree.from_events(events(int(sys.argv[3]))), message="bulk")
        db.close()
        print(f"built {sys.argv[3]} nodes, peak RSS {rss_mb():.0f} MB")
        return
    cap = int(sys.argv[3]) if len(sys.argv) > 3 else None
    db = Database(path, cache_leaves=cap)
    head = db.tree
    opened = rss_mb()
    t = time.perf_counter()
    for k in range(len(head)):
        node = head.at_rank(k)
        head.level(node)
        head.parent(node)
        head.data(node)
    took = time.perf_counter() - t
    print(f"cap={cap} nodes={len(head)} open RSS {opened:.0f} MB, peak RSS {rss_mb():.0f} MB, "
          f"walk {took:.1f} s, {db.leaf_stats}")
    db.close()


if __name__ == "__main__":
    main()
