"""A deterministic random workload for storage tests, and a worker script run as a subprocess.

``apply_step(tx, seed)`` applies a few random updates chosen by ``seed`` to a
transaction (stored or in memory): the same seed on the same tree gives the same
updates, so a test can rebuild in memory what a killed writer committed; ``run(db,
steps, seed)`` commits ``steps`` such transactions and returns the trees.

Run as ``python -m tests.db.storage_workload MODE DB ...`` from the repository root:
* ``crash DB``: commit ``apply_step(tx, version)`` forever, printing each committed
  version (the parent kills it with SIGKILL);
* ``worker DB NAME COUNT``: COUNT transactions inserting ``[NAME, i]`` under node 0,
  plus serializable increments of node 1's counter; prints a JSON summary;
* ``inserter DB NAME COUNT``: COUNT single-insert transactions ``[NAME, i]`` under a
  random existing node, as fast as it can; prints a JSON summary.
"""

from __future__ import annotations

import json
import random
import sys
import time
from typing import Any, List

from botree import Database, Tree
from botree.errors import ConflictError


def apply_step(tx: Any, seed: int) -> None:
    """A handful of inserts, moves, data changes and deletes chosen by ``seed``."""
    rng = random.Random(seed)
    nodes = list(tx.preorder())
    for _ in range(rng.randint(1, 6)):
        kind = rng.random()
        if not nodes or kind < 0.45:
            parent = rng.choice(nodes) if nodes and rng.random() < 0.9 else None
            nodes.append(tx.insert_child(parent, {"n": rng.randrange(1000), "tag": [seed, "x" * rng.randrange(8)]}))
        elif kind < 0.65:
            node, target = rng.choice(nodes), rng.choice(nodes)
            if node != target and not tx.is_descendant(target, node):
                tx.move(node, target, rng.choice([0, -1]))
        elif kind < 0.85:
            tx.set_data(rng.choice(nodes), (seed, rng.random()))
        elif len(nodes) > 3:
            victim = rng.choice(nodes)
            tx.delete(victim)
            nodes = list(tx.preorder())


def run(db: Database, steps: int, seed: int) -> List[Tree]:
    """Commit ``steps`` random transactions; the trees committed, by version."""
    trees = [db.tree]
    for step in range(steps):
        with db.transaction(message=f"step {step}", meta={"seed": seed}) as tx:
            apply_step(tx, seed * 1000 + step)
        trees.append(db.tree)
        assert db.version == step + 1
    return trees


def crash_writer(path: str) -> None:
    db = Database(path)
    while True:
        version = db.version
        with db.transaction(message=f"step {version + 1}") as tx:
            apply_step(tx, version + 1)
        print(version + 1, flush=True)


def worker(target: str, name: str, count: int) -> None:
    db = Database(target)
    inserted, conflicts, increments = [], 0, 0
    for i in range(count):
        try:
            with db.transaction(message=f"{name} {i}") as tx:
                tx.insert_child(0, [name, i])
            inserted.append(i)
        except ConflictError:
            conflicts += 1

        def bump(tx: Any) -> None:
            value = tx.data(1)
            time.sleep(0.002)  # widen the window between read and commit
            tx.set_data(1, value + 1)

        try:
            db.transact(bump, retries=0)
            increments += 1
        except ConflictError:
            conflicts += 1
    db.close()
    print(json.dumps({"inserted": inserted, "conflicts": conflicts, "increments": increments}), flush=True)


def inserter(target: str, name: str, count: int) -> None:
    db = Database(target)
    rng = random.Random(name)
    for i in range(count):
        with db.transaction(message=f"{name} {i}") as tx:
            tx.insert_child(rng.randrange(len(tx)), [name, i])  # ids 0.. are all live: nothing is deleted
    db.close()
    print(json.dumps({"committed": count}), flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "crash":
        crash_writer(sys.argv[2])
    elif mode == "inserter":
        inserter(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        worker(sys.argv[2], sys.argv[3], int(sys.argv[4]))
