"""Damaged SQLite files: every read gives exactly what was committed, or CorruptDatabase / StorageError.

Bits are flipped at random inside the pages of every b-tree of the file — the cell
tables and the commits, and the indexes on their primary keys (found through
SQLite's ``dbstat``) — and the whole database is read back: every version, the
history and ``verify()``.  Never a different tree, never an untyped exception, never
an endless read.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
from collections import Counter
from typing import Any, Dict, List, Tuple

import pytest

from botree import Database
from botree.errors import CorruptDatabase, StorageError

Expected = Dict[int, List[Tuple[int, Any, Any]]]


class EndlessRead(Exception):
    """A read that did not finish in time."""


def build(path: str) -> Tuple[Expected, List[str]]:
    """A database with a few hundred nodes over several versions; what each version holds."""
    rnd = random.Random(7)
    with Database(path, block_size=8, fields=("name",)) as db:
        with db.transaction(message="load") as tx:
            nodes = [tx.insert_child(None, {"name": "root"})]
            for i in range(300):
                nodes.append(tx.insert_child(rnd.choice(nodes), {"name": f"n{i}", "tags": (i, str(i))}))
        for step in range(6):
            with db.transaction(message=f"step {step}") as tx:
                live = list(tx.preorder())
                for _ in range(5):
                    node = rnd.choice(live[1:])
                    if node not in tx:
                        continue
                    action = rnd.random()
                    if action < 0.3:
                        tx.set_data(node, {"name": f"changed {step}", "n": [step, None, 1.5]})
                    elif action < 0.6:
                        target = rnd.choice(live)
                        if target in tx and target != node and not tx.is_descendant(target, node):
                            tx.move(node, target)
                    elif action < 0.8:
                        tx.insert_child(node, {"name": f"new {step}"})
                    else:
                        tx.delete(node)
        expected = {v: snapshot(db, v) for v in range(db.version + 1)}
        messages = [c.message for c in db.history()]
    return expected, messages


def snapshot(db: Database, version: int) -> List[Tuple[int, Any, Any]]:
    tree = db.as_of(version)
    return [(n, tree.parent(n), tree.data(n)) for n in tree.preorder()]


def read_everything(path: str, expected: Expected, messages: List[str]) -> str:
    """'exact' if the file reads back as committed; 'refused' if it raised a storage error."""
    try:
        with Database(path) as db:
            assert [c.message for c in db.history()] == messages, "the history changed"
            for version, nodes in expected.items():
                assert snapshot(db, version) == nodes, f"version {version} reads differently"
            db.verify()
    except StorageError:  # CorruptDatabase is one
        return "refused"
    return "exact"


def pages_by_btree(path: str) -> Tuple[Dict[str, List[int]], int]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT name, pageno FROM dbstat").fetchall()
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()
    out: Dict[str, List[int]] = {}
    for name, page in rows:
        out.setdefault(name, []).append(page)
    return out, page_size


def flip(path: str, page: int, page_size: int, rnd: random.Random) -> None:
    with open(path, "r+b") as f:
        start = (page - 1) * page_size + (100 if page == 1 else 0)
        offset = start + rnd.randrange(page_size - (100 if page == 1 else 0))
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ (1 << rnd.randrange(8))]))


def _alarm(signum: int, frame: Any) -> None:
    raise EndlessRead()


@pytest.mark.parametrize("kind", ["index", "table"])
def test_bit_flips_give_the_committed_data_or_an_error(tmp_path: Any, kind: str) -> None:
    pristine = os.path.join(str(tmp_path), "pristine.db")
    expected, messages = build(pristine)
    pages, page_size = pages_by_btree(pristine)
    if kind == "index":
        targets = [p for name, ps in pages.items() if name.startswith("sqlite_autoindex") for p in ps]
    else:
        targets = [p for name, ps in pages.items() if name in ("blocks", "links", "nodes", "commits", "head")
                   for p in ps]
    assert len(targets) >= 4, pages
    rnd = random.Random(kind)
    outcomes: Counter[str] = Counter()
    damaged = os.path.join(str(tmp_path), "damaged.db")
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        for round_ in range(150):
            shutil.copyfile(pristine, damaged)
            for _ in range(1 + round_ % 3):  # one to three flips
                flip(damaged, rnd.choice(targets), page_size, rnd)
            signal.alarm(20)
            try:
                outcomes[read_everything(damaged, expected, messages)] += 1
            except EndlessRead:
                pytest.fail(f"round {round_}: a read of the damaged file did not end")
            finally:
                signal.alarm(0)
    finally:
        signal.signal(signal.SIGALRM, previous)
    print(f"{kind} pages: {dict(outcomes)}")
    assert outcomes["refused"] > 0  # the flips did reach data that matters


def _sql(target: str, statement: str) -> None:
    """Run one statement on the stored database behind botree's back."""
    if "://" in target:
        import psycopg

        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute(statement)
    else:
        conn = sqlite3.connect(target)
        try:
            conn.execute(statement)
            conn.commit()
        finally:
            conn.close()


@pytest.mark.parametrize("oldest", [2, 99, -1])
def test_a_damaged_oldest_version_in_the_head_row_is_corrupt_not_a_shorter_history(
    target: str, oldest: int
) -> None:
    # A wrong head.oldest used to make history() silently drop commits (all of them when
    # it pointed past the head) while verify() passed.
    with Database(target) as db:
        for i in range(4):
            with db.transaction(message=f"m{i}") as tx:
                tx.insert_child(None, i)
    _sql(target, f"UPDATE head SET oldest = {oldest}")
    with Database(target) as db:
        with pytest.raises(CorruptDatabase, match="oldest"):
            db.history()
        with pytest.raises(CorruptDatabase):
            db.verify()
