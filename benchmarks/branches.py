"""Merge and node_history costs on trees of 10^4..10^6 nodes (issue 17).

``python -m benchmarks.branches [max_n]``: for each n, a branch and main each commit
k = 1000 updates (moves, inserts, data changes on random nodes, disjoint between the
sides) in 20 commits, then main merges the branch; prints the merge time per replayed
update, its ratio to replaying the same logged updates on the fork's tree in the same run, the
ratio to the smallest n (O(k log n): it should stay near 1), and the time of
``node_history`` for a node over the ~40 commits.
"""

from __future__ import annotations

import random
import sys
import time
from typing import Any, List

from benchmarks.leaf_cache_rss import events
from botree import Database, Tree
from botree.db.database import run_logged
from botree.tree.updates import UPDATES


def side_updates(db: Any, nodes: List[int], k: int, rng: random.Random, tag: str) -> None:
    """k updates in k/50 commits on ``nodes`` (which this side alone touches)."""
    for start in range(0, k, 50):
        with db.transaction() as tx:
            for i in range(start, min(k, start + 50)):
                node = rng.choice(nodes)
                what = i % 3
                if what == 0:
                    tx.set_data(node, f"{tag}{i}")
                elif what == 1:
                    nodes.append(tx.insert_child(node, f"{tag}{i}", 0))
                else:
                    target = rng.choice(nodes)
                    if target != node and not _above(tx, node, target):
                        tx.move(node, target, 0)


def _above(tx: Any, a: int, b: int) -> bool:
    while b is not None:
        if b == a:
            return True
        b = tx.parent(b)
    return False


def run(n: int, k: int) -> float:
    rng = random.Random(n)
    tree = Tree.from_events(events(n))
    db = Database(tree)
    all_nodes = list(tree.preorder())
    rng.shuffle(all_nodes)
    # Each side works on its own leaves (and what it inserts under them): no conflicts.
    leaves = [node for node in all_nodes[: 4 * k] if next(iter(tree.children(node)), None) is None]
    mine, theirs = leaves[: len(leaves) // 2], leaves[len(leaves) // 2 :]
    side = db.branch("side")
    side_updates(side, theirs, k, rng, "t")
    side_updates(db, mine, k, rng, "m")
    commits = [c for c in side.history() if c.version > 0]
    replayed = sum(len(c.ops or ()) for c in commits)
    # The reference: the same logged updates applied to the fork's tree (no conflict checks, no commit).
    start = time.perf_counter()
    batch = db.as_of(0).order_index.transient()
    for commit in commits:
        for name, args, result in commit.ops or ():
            run_logged(batch, UPDATES[name], args, result)
    Tree.from_order_index(batch.persistent())
    direct = time.perf_counter() - start
    start = time.perf_counter()
    db.merge("side")
    took = time.perf_counter() - start
    if n <= 10**4:
        db.tree.check()
    node = mine[0]
    start = time.perf_counter()
    history = db.node_history(node)
    hist = time.perf_counter() - start
    commits = len(db.history())
    print(f"n={n:>8}  merge of {replayed} updates: {took * 1e3:8.1f} ms ({took / replayed * 1e6:6.1f} us/update, "
          f"{took / direct:.2f}x replaying them alone)  node_history over {commits} commits: "
          f"{hist * 1e3:7.1f} ms ({len(history)} events)", flush=True)
    return took / replayed


def main() -> None:
    top = int(sys.argv[1]) if len(sys.argv) > 1 else 10**6
    sizes = [n for n in (10**4, 10**5, 10**6) if n <= top]
    per = [run(n, 1000) for n in sizes]
    for n, cost in zip(sizes, per):
        print(f"n={n:>8}  merge cost per update / at n={sizes[0]}: {cost / per[0]:.2f}")


if __name__ == "__main__":
    main()
