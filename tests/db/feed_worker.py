"""Subprocesses for the change-feed tests: ``python -m tests.db.feed_worker MODE DB ...`` from the repository root.

* ``listen DB UNTIL``: subscribe, print ``ready``, then, once version UNTIL has been
  delivered and 0.3 s more have passed (a late repeat is caught too), print one JSON
  list of ``[version, changes]`` (``changes_json``) and exit (exit 3 after 120 s
  without it).
* ``commit DB SEED COUNT``: commit COUNT transactions of ``apply_step`` (random inserts,
  moves, data changes and deletes), re-running one that conflicts.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any, List

from botree import Database
from botree.errors import ConflictError
from tests.db.storage_workload import apply_step


def changes_json(changes: Any) -> List[Any]:
    """``Changes`` as JSON-able lists (moved: sorted [node, old place, new place])."""
    moved = sorted([node, list(old), list(new)] for node, (old, new) in changes.moved.items())
    return [list(changes.inserted), list(changes.deleted), moved, list(changes.data_changed)]


def listen(target: str, until: int) -> int:
    db = Database(target)
    seen: List[Any] = []
    done = threading.Event()

    def hear(version: int, changes: Any) -> None:
        seen.append([version, changes_json(changes)])
        if version >= until:
            done.set()

    db.subscribe(hear)
    print("ready", flush=True)
    if not done.wait(120):
        return 3
    time.sleep(0.3)
    db.close()
    print(json.dumps(seen), flush=True)
    return 0


def commit(target: str, seed: int, count: int) -> int:
    db = Database(target)
    for i in range(count):
        while True:
            try:
                with db.transaction(message=f"seed {seed} step {i}") as tx:
                    apply_step(tx, seed * 1000 + i)
                break
            except ConflictError:
                continue
    db.close()
    return 0


if __name__ == "__main__":
    mode, target, *rest = sys.argv[1:]
    if mode == "listen":
        sys.exit(listen(target, int(rest[0])))
    sys.exit(commit(target, int(rest[0]), int(rest[1])))
