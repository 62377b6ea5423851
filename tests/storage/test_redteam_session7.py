"""Red-team session 7: what a group's sweep of stray temporary request files (SQLite) may remove.

A passing test pinning a promise: only plain ``<digits>-<digits>.tmp`` names older than a
minute go; a symlink so named goes as a link, never what it points to; nothing else is touched.
"""

from __future__ import annotations

import os
import time
from typing import Any

from botree import Database


def test_the_stray_sweep_removes_only_old_stray_names_and_never_follows_a_link(tmp_path: Any) -> None:
    """``post`` writes ``<name>.tmp`` then renames it; a writer killed in between leaves the temporary
    file.  A later group removes such files once a minute old, never serves them, never follows a
    link, and keeps every other name."""
    target = os.path.join(str(tmp_path), "t.db")
    db = Database(target)
    with db.transaction() as tx:
        root = tx.insert_root("r")
    queue = target + "-queue"
    os.makedirs(queue, exist_ok=True)
    outside = os.path.join(str(tmp_path), "precious-1.tmp")
    with open(outside, "wb") as out:
        out.write(b"keep me")
    hour_ago = time.time() - 3600
    os.utime(outside, (hour_ago, hour_ago))
    link = os.path.join(queue, "1-2.tmp")
    os.symlink(outside, link)
    os.utime(link, (hour_ago, hour_ago), follow_symlinks=False)
    directory = os.path.join(queue, "3-4.tmp")
    os.mkdir(directory)
    os.utime(directory, (hour_ago, hour_ago))
    kept = []
    for name in ("5-6.tmp.bak", "x-7.tmp", "8-9.TMP", "10-11.req.tmp"):  # not post's temporary names
        path = os.path.join(queue, name)
        with open(path, "wb") as out:
            out.write(b"other")
        os.utime(path, (hour_ago, hour_ago))
        kept.append(path)
    young = os.path.join(queue, f"{time.time_ns():020d}-12.tmp")  # a live post's file: just written
    with open(young, "wb") as out:
        out.write(b"half")
    with db.transaction() as tx:  # a group: serves the queue, then sweeps it
        tx.insert_child(root, "y")
    assert not os.path.lexists(link)  # the stray link itself goes ...
    with open(outside, "rb") as f:
        assert f.read() == b"keep me"  # ... never what it points to
    assert os.path.isdir(directory)
    assert os.path.exists(young)
    assert all(os.path.exists(path) for path in kept)
    assert [db.tree.data(n) for n in db.tree.preorder()] == ["r", "y"]
    db.close()
