"""Workers for the red-team tests of the stored commit path with branches, run as subprocesses.

Run as ``python -m tests.db.branch_worker MODE TARGET ...`` from the repository root;
each prints one JSON summary line when done:

* ``writer TARGET BRANCH NAME COUNT``: waits until BRANCH exists, then commits COUNT
  transactions inserting ``[NAME, i]`` under node 0 on it; ``{"landed": [[i, version]...]}``;
* ``brancher TARGET NAMES...``: creates each branch (at main's head) and commits
  ``["on", name]`` on it; ``{"created": [[name, version]...], "refused": [names taken]}``;
* ``merger TARGET SOURCE COUNT [INTO]``: waits until SOURCE (and INTO) exist, then merges
  SOURCE into INTO (default main) COUNT times; ``{"versions": [...]}``;
* ``keyed TARGET BRANCH NAME KEYS...``: inserts ``{"k": key, "by": NAME}`` under node 0
  for each key, each in its own transaction; ``{"landed": [...], "refused": [...]}``;
* ``crash TARGET TAG``: forever: a commit on main, one on branch ``side``, a merge of
  ``side`` into main, printing ``kind version`` after each (the parent SIGKILLs it);
* ``reconfigure TARGET TAG``: the same with keyed data, and before each merge, on main,
  adding or dropping the index of field ``n`` and setting or clearing the key ``k``.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Dict, List

from botree import Database
from botree.errors import ConflictError, DuplicateKey, InvalidArgument


def _on(db: Database, branch: str) -> Database:
    """A handle on ``branch`` once it exists (created by another process meanwhile)."""
    if branch == "main":
        return db
    deadline = time.monotonic() + 30
    while branch not in db.branches():
        if time.monotonic() > deadline:
            raise SystemExit(f"branch {branch} never appeared")
        time.sleep(0.01)
    return db.on(branch)


def writer(target: str, branch: str, name: str, count: int) -> Dict[str, Any]:
    db = Database(target)
    handle = _on(db, branch)
    landed: List[List[int]] = []
    for i in range(count):
        with handle.transaction(message=f"{name} {i}") as tx:
            tx.insert_child(0, [name, i])
        assert tx.committed is not None
        landed.append([i, tx.committed])
    db.close()
    return {"landed": landed}


def brancher(target: str, names: List[str]) -> Dict[str, Any]:
    db = Database(target)
    created, refused = [], []
    for name in names:
        try:
            handle = db.branch(name)
        except InvalidArgument:
            refused.append(name)
            continue
        with handle.transaction(message=f"on {name}") as tx:
            tx.insert_child(0, ["on", name])
        created.append([name, tx.committed])
    db.close()
    return {"created": created, "refused": refused}


def merger(target: str, source: str, count: int, into: str = "main") -> Dict[str, Any]:
    db = Database(target)
    _on(db, source)
    handle = _on(db, into)
    versions = []
    for _ in range(count):
        versions.append(handle.merge(source, message=f"merge {source} into {into}"))
        time.sleep(0.02)
    db.close()
    return {"versions": versions}


def keyed(target: str, branch: str, name: str, keys: List[str]) -> Dict[str, Any]:
    db = Database(target)
    handle = _on(db, branch)
    landed, refused = [], []
    for key in keys:
        try:
            with handle.transaction(message=f"{name} {key}") as tx:
                tx.insert_child(0, {"k": key, "by": name})
            landed.append(key)
        except (ConflictError, DuplicateKey) as exc:
            refused.append([key, type(exc).__name__])
    db.close()
    return {"landed": landed, "refused": refused}


def crash(target: str, tag: str, reconfigure: bool = False) -> None:
    db = Database(target)
    side = _on(db, "side")
    i = 0
    while True:
        i += 1
        for handle in (db, side):
            name = handle.branch_name
            with handle.transaction(message=f"{name} {i}") as tx:
                tx.insert_child(0, {"k": f"{tag}.{name}.{i}", "n": i} if reconfigure else [name, f"{tag}.{i}"])
            print(name, tx.committed, flush=True)
        if reconfigure:  # main only: a reconfigured branch cannot be merged from
            fields, key = db.tree.order_index.nodes.fields, db.tree.key
            print("index", db.drop_index("n") if "n" in fields else db.add_index("n"), flush=True)
            print("key", db.set_key(None if key else "k"), flush=True)
        print("merge", db.merge("side", message=f"merge {i}"), flush=True)


if __name__ == "__main__":
    mode, target, *args = sys.argv[1:]
    if mode == "writer":
        result = writer(target, args[0], args[1], int(args[2]))
    elif mode == "brancher":
        result = brancher(target, args)
    elif mode == "merger":
        result = merger(target, args[0], int(args[1]), *args[2:])
    elif mode == "keyed":
        result = keyed(target, args[0], args[1], args[2:])
    elif mode in ("crash", "reconfigure"):
        crash(target, args[0], mode == "reconfigure")
        raise SystemExit(0)
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(result), flush=True)
