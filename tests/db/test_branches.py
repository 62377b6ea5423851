"""Branches, semantic merge and questions across versions (issue 17), on memory, SQLite and PostgreSQL.

The reorganisation scenario end to end; merge commutes with applying both branches'
updates in either order (hypothesis, ``check()`` after); conflicts reported all at
once with nothing committed; ``node_history`` against brute force over every version.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botree import Database, Tree
from botree.db.database import run_logged
from botree.errors import BranchNotFound, ConflictError, InvalidArgument, MergeConflict, VersionNotFound
from botree.tree.diff import full_diff
from botree.tree.updates import UPDATES
from tests.conftest import pg_schema_url

KINDS = ["memory", "sqlite", "postgres"]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Opener:
    """Opens fresh databases of one kind (memory, an SQLite file, a PostgreSQL schema)."""

    def __init__(self, kind: str, tmp: str) -> None:
        self.kind = kind
        self.tmp = tmp
        self.count = 0
        self.opened: List[Database] = []
        self.schemas: List[Iterator[str]] = []

    def __call__(self) -> Database:
        self.count += 1
        if self.kind == "memory":
            db = Database()
        elif self.kind == "sqlite":
            db = Database(os.path.join(self.tmp, f"b{self.count}.db"))
        else:
            gen = pg_schema_url()
            self.schemas.append(gen)
            db = Database(next(gen))
        self.opened.append(db)
        return db

    def close(self) -> None:
        for db in self.opened:
            db.close()
        for gen in self.schemas:
            for _ in gen:
                pass


@pytest.fixture
def new_db(kind: str, tmp_path: Any) -> Iterator[Opener]:
    opener = Opener(kind, str(tmp_path))
    yield opener
    opener.close()


def shape(tree: Tree) -> List[Tuple[int, Any, Optional[int]]]:
    """Every node as (id, data, parent), in document order: equal shapes are equal trees with equal ids."""
    return [(n, tree.data(n), tree.parent(n)) for n in tree.preorder()]


def named(tree: Tree) -> Dict[str, Any]:
    """The tree as nested {data: children} (data are unique strings in these tests)."""
    out: Dict[str, Any] = {}
    stack = [(None, out)]
    while stack:
        parent, into = stack.pop()
        for child in tree.children(parent):
            sub: Dict[str, Any] = {}
            into[tree.data(child)] = sub
            stack.append((child, sub))
    return out


def rooted(new_db: Opener) -> Tuple[Database, int, Database]:
    """A fresh database holding one root node ``"r"``, and a branch ``side`` forked there."""
    db = new_db()
    with db.transaction() as tx:
        root = tx.insert_root("r")
    return db, root, db.branch("side")


# -- the reorganisation scenario -------------------------------------------------------------------


def test_reorganisation_scenario(new_db: Opener) -> None:
    db = new_db()
    with db.transaction() as tx:
        org = tx.insert_root("org")
        sales = tx.insert_child(org, "sales")
        eng = tx.insert_child(org, "eng")
        ops = tx.insert_child(org, "ops")
        tx.insert_child(sales, "north")
        south = tx.insert_child(sales, "south")
        web = tx.insert_child(eng, "web")
        infra = tx.insert_child(eng, "infra")
    fork = db.version
    plan = db.branch("reorg")
    # The planned reorganisation: infra moves to ops, a new division groups sales and ops.
    with plan.transaction("reorg 1") as tx:
        tx.move(infra, ops)
        division = tx.insert_child(org, "business", 0)
        tx.move(sales, division)
    with plan.transaction("reorg 2") as tx:
        tx.move(ops, division)
        tx.set_data(south, "south+east")
    # Meanwhile the live chart keeps changing, including the nodes the branch moved.
    with db.transaction("live 1") as tx:
        tx.set_data(infra, "platform")  # renamed while the branch moves it
        sre = tx.insert_child(infra, "sre")  # a new team inside a moved department
        tx.insert_child(sales, "west")  # a new region in a moved department
    with db.transaction("live 2") as tx:
        tx.delete(web)
    assert plan.version < db.version and plan.tree.data(infra) == "infra"
    before = db.history()
    version = db.merge("reorg", message="reorganisation")
    assert version == db.version and db.branches() == {"main": version, "reorg": plan.version}
    commit = db.history()[-1]
    assert (commit.parent, commit.merged, commit.message) == (before[-1].version, plan.version, "reorganisation")
    db.tree.check()
    assert named(db.tree) == {
        "org": {
            "business": {
                "sales": {"north": {}, "south+east": {}, "west": {}},
                "ops": {"platform": {"sre": {}}},
            },
            "eng": {},
        }
    }
    assert db.tree.parent(sre) == infra and db.tree.parent(infra) == ops
    # History of a node the branch moved and main renamed; questions across branches.
    kinds = [(e.version, e.kind) for e in db.node_history(infra)]
    assert kinds == [(1, "inserted"), (before[-2].version, "data"), (version, "moved")]
    across = db.changes(plan.version, before[-1].version)
    assert across == full_diff(plan.tree, db.as_of(before[-1].version))
    assert plan.since(fork) == full_diff(db.as_of(fork), plan.tree)
    # Merging again is a no-op; so is merging main's ancestor or main itself.
    assert db.merge("reorg") == version and db.merge(db) == version
    assert plan.merge("main") > version  # the branch catches up: main's live edits come in
    assert shape(plan.tree) == shape(db.tree)


# -- merge commutes --------------------------------------------------------------------------------

Step = Tuple[str, int, int]  # (what, a, b): indices resolved against the side's own nodes


def apply_steps(tx: Any, own: List[int], steps: List[Step], tag: str) -> None:
    """Run ``steps`` inside one side's own subtree (``own[0]`` its root): nothing the other side touches."""
    for i, (what, a, b) in enumerate(steps):
        live = [n for n in own if n in tx]
        node = live[a % len(live)]
        other = live[b % len(live)]
        if what == "insert":
            own.append(tx.insert_child(node, f"{tag}{i}", 0 if b % 2 else -1))
        elif what == "data":
            tx.set_data(node, f"{tag}{i}")
        elif what == "delete" and node != own[0]:
            tx.delete(node)
        elif what == "move" and node != own[0] and not _ancestor(tx, node, other):
            tx.move(node, other, 0 if a % 2 else -1)


steps_strategy = st.lists(
    st.tuples(st.sampled_from(["insert", "data", "delete", "move"]), st.integers(0, 50), st.integers(0, 50)),
    max_size=12,
)


def _ancestor(tx: Any, a: int, b: int) -> bool:
    """True if ``a`` is ``b`` or above it."""
    node: Optional[int] = b
    while node is not None:
        if node == a:
            return True
        node = tx.parent(node)
    return False


def replayed(base: Tree, commits: List[Any]) -> Tree:
    transient = base.order_index.transient()
    for commit in commits:
        for name, args, result in commit.ops:
            run_logged(transient, UPDATES[name], args, result)
    return Tree.from_order_index(transient.persistent())


@pytest.mark.parametrize("where", KINDS)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ours=st.lists(steps_strategy, min_size=1, max_size=3), theirs=st.lists(steps_strategy, min_size=1, max_size=3))
def test_merge_commutes_with_applying_both_sides(
    where: str, tmp_path: Any, ours: List[List[Step]], theirs: List[List[Step]]
) -> None:
    opener = Opener(where, tempfile.mkdtemp(dir=str(tmp_path)))
    try:
        merge_commutes(opener(), ours, theirs)
    finally:
        opener.close()


def merge_commutes(db: Database, ours: List[List[Step]], theirs: List[List[Step]]) -> None:
    """Both sides' updates on a fresh database, merged both ways; equal to applying them in either order."""
    with db.transaction() as tx:
        root = tx.insert_root("root")
        left = [tx.insert_child(root, "L")]
        right = [tx.insert_child(root, "R")]
        shared = tx.insert_child(root, "shared")
        for i in range(3):
            left.append(tx.insert_child(left[0], f"l{i}"))
            right.append(tx.insert_child(right[0], f"r{i}"))
    fork = db.version
    branch = db.branch("b")
    for steps in ours:
        with db.transaction() as tx:
            apply_steps(tx, left, steps, "o")
            tx.set_data(shared, "ours")  # only main sets it: no conflict
    for steps in theirs:
        with branch.transaction() as tx:
            apply_steps(tx, right, steps, "t")
    main_commits = db.history()[fork + 1 :]
    branch_commits = branch.history()[fork + 1 :]
    base = db.as_of(fork)
    one = replayed(replayed(base, main_commits), branch_commits)
    two = replayed(replayed(base, branch_commits), main_commits)
    db.merge("b")
    db.tree.check()
    assert shape(db.tree) == shape(one) == shape(two)
    # And the other way round: the branch takes main's updates and ends equal.
    branch.merge("main")
    branch.tree.check()
    assert shape(branch.tree) == shape(db.tree)


# -- conflicts -------------------------------------------------------------------------------------


def test_conflicts_are_reported_all_at_once_and_nothing_is_committed(new_db: Opener) -> None:
    db = new_db()
    with db.transaction() as tx:
        root = tx.insert_root("root")
        a, b, d, e, x, y = (tx.insert_child(root, name) for name in "abdexy")
        z = tx.insert_child(root, "z")
    side = db.branch("side")
    with side.transaction() as tx:
        tx.move(x, d)  # main deletes d: delete vs. move into
        tx.delete(e)  # main moves y into e: move into vs. delete
        tx.move(b, a)  # main moves a under b: a cycle after the other side's move
        tx.set_data(z, "side")  # main sets z too: concurrent set_data
        tx.insert_child(root, "fine")  # applies
    with db.transaction() as tx:
        tx.delete(d)
        tx.move(y, e)
        tx.move(a, b)
        tx.set_data(z, "main")
    version, tree, history = db.version, db.tree, db.history()
    with pytest.raises(MergeConflict) as caught:
        db.merge("side")
    conflicts = caught.value.conflicts
    assert isinstance(caught.value, ConflictError)
    assert [(c.node, c.data_only) for c in conflicts] == [(d, False), (e, False), (b, False), (z, True)]
    assert conflicts[0].ours == ("delete", (d,), None) and conflicts[0].theirs[0] == "move"
    assert "cycle" in conflicts[2].reason or "inside" in conflicts[2].reason
    assert conflicts[3].ours == ("set_data", (z, "main"), None)
    assert conflicts[3].theirs == ("set_data", (z, "side"), None)
    assert db.version == version and db.tree == tree and db.history() == history
    # ours/theirs settle only the data conflict: the others remain.
    with pytest.raises(MergeConflict) as again:
        db.merge("side", resolve="theirs")
    assert [c.node for c in again.value.conflicts] == [d, e, b]
    assert db.version == version


def test_data_conflicts_resolve_ours_or_theirs(new_db: Opener) -> None:
    db = new_db()
    with db.transaction() as tx:
        node = tx.insert_root("start")
        same = tx.insert_child(node, "same")
    side = db.branch("side")
    with side.transaction() as tx:
        tx.set_data(node, "side")
        tx.set_data(same, "equal")
    with db.transaction() as tx:
        tx.set_data(node, "main")
        tx.set_data(same, "equal")  # equal values are no conflict
    other = db.branch("copy")
    with pytest.raises(MergeConflict) as caught:
        db.merge("side")
    assert len(caught.value.conflicts) == 1 and caught.value.conflicts[0].data_only
    other.merge("side", resolve="theirs")
    assert other.tree.data(node) == "side"
    db.merge("side", resolve="ours")
    assert db.tree.data(node) == "main" and db.tree.data(same) == "equal"
    with pytest.raises(InvalidArgument):
        db.merge("side", resolve="mine")


def test_a_replaced_tree_cannot_be_replayed(new_db: Opener) -> None:
    db = new_db()
    with db.transaction() as tx:
        tx.insert_root("r")
    side = db.branch("side")
    side.replace(Tree().insert_root("other")[0])
    with side.transaction() as tx:
        tx.insert_root("more")
    with pytest.raises(MergeConflict, match="replace"):
        db.merge("side")


# -- branches: names, handles, ids -----------------------------------------------------------------


def test_branch_handles_names_and_deletion(new_db: Opener) -> None:
    db = new_db()
    assert db.branches() == {"main": 0} and db.branch_name == "main"
    with db.transaction() as tx:
        r = tx.insert_root("r")
    old = db.branch("old", at=0)
    assert len(old.tree) == 0 and old.version == 0 and old.branch_name == "old"
    with old.transaction() as tx:
        fresh = tx.insert_root("o")
    assert fresh != r  # branches share one range of fresh ids
    assert db.on("old").tree == old.tree and db.tree.data(r) == "r"
    heard: List[int] = []
    stop = old.subscribe(lambda version, changes: heard.append(version))
    with db.transaction() as tx:
        tx.insert_child(r, "main only")
    with old.transaction() as tx:
        tx.set_data(fresh, "o2")
    stop()
    assert heard == [old.version]
    assert [c.version for c in old.history()] == [0, 2, old.version] and old.version == 4
    with pytest.raises(InvalidArgument):
        db.branch("old")
    with pytest.raises(InvalidArgument):
        db.branch(" bad")
    with pytest.raises(VersionNotFound):
        db.branch("nowhere", at=999)
    with pytest.raises(BranchNotFound):
        db.on("nope")
    with pytest.raises(InvalidArgument):
        db.delete_branch("main")
    db.delete_branch("old")
    assert set(db.branches()) == {"main"}
    with pytest.raises(BranchNotFound):
        _ = old.tree
    with pytest.raises(BranchNotFound):
        db.merge("old")


def test_listeners_hear_their_own_branch_once(new_db: Opener) -> None:
    db, root, side = rooted(new_db)
    heard: Dict[str, List[Tuple[int, List[int]]]] = {"main": [], "side": []}
    stops = [
        handle.subscribe(lambda version, changes, name=name: heard[name].append((version, changes.inserted)))
        for name, handle in (("main", db), ("side", side))
    ]
    with side.transaction() as tx:
        a = tx.insert_child(root, "a")
    with db.transaction() as tx:
        b = tx.insert_child(root, "b")
    merged = db.merge("side")
    for stop in stops:
        stop()
    assert heard["side"] == [(side.version, [a])]
    assert heard["main"] == [(merged - 1, [b]), (merged, [a])]


def test_transactions_on_two_branches_never_share_an_id(new_db: Opener) -> None:
    db, root, side = rooted(new_db)
    t1 = db.transaction()
    t2 = side.transaction()
    a = t1.insert_child(root, "a")
    b = t2.insert_child(root, "b")
    assert a == b  # both began at the same mark
    t1.commit()
    t2.commit()  # replayed with fresh ids past main's
    assert side.tree.data(t2.ids[b]) == "b" and t2.ids[b] != a
    db.merge("side")
    db.tree.check()
    assert sorted(db.tree.data(n) for n in db.tree.children(root)) == ["a", "b"]


def test_transact_runs_again_when_another_branch_took_its_ids(new_db: Opener) -> None:
    db, root, side = rooted(new_db)
    runs: List[int] = []

    def add(tx: Any) -> int:
        runs.append(tx.base_version)
        if len(runs) == 1:
            with db.transaction() as other:  # main hands out the id this run is about to use
                other.insert_child(root, "main")
        return int(tx.insert_child(root, "side"))

    node = side.transact(add)
    assert len(runs) == 2 and side.tree.data(node) == "side" and node not in db.tree
    db.merge("side")
    assert sorted(db.tree.data(n) for n in db.tree.children(root)) == ["main", "side"]


def test_merge_twice_and_criss_cross(new_db: Opener) -> None:
    db, root, side = rooted(new_db)
    for round_ in range(3):
        with side.transaction() as tx:
            tx.insert_child(root, f"side{round_}")
        with db.transaction() as tx:
            tx.insert_child(root, f"main{round_}")
        db.merge("side")
        side.merge("main")
        db.tree.check()
        side.tree.check()
        # Same nodes, ids and data; sibling order follows each side's replay (both appended last).
        assert sorted(shape(db.tree)) == sorted(shape(side.tree))
    assert sorted(db.tree.data(n) for n in db.tree.children(root)) == sorted(
        [f"side{i}" for i in range(3)] + [f"main{i}" for i in range(3)]
    )
    assert db.merge("side") == db.version and side.merge("main") == side.version


def test_as_of_time_and_since(new_db: Opener) -> None:
    db = new_db()
    with db.transaction() as tx:
        r = tx.insert_root("one")
    first = db.version
    time.sleep(0.02)
    middle = time.time()
    time.sleep(0.02)
    with db.transaction() as tx:
        tx.set_data(r, "two")
    assert db.version_at(middle) == first and db.as_of(time=middle).data(r) == "one"
    assert db.as_of(time=time.time()) == db.tree
    with pytest.raises(VersionNotFound):
        db.as_of(time=0.0)
    assert db.since(first).data_changed == [r]


# -- node_history against brute force ----------------------------------------------------------


@pytest.mark.parametrize("where", KINDS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(steps_strategy, min_size=1, max_size=6), st.integers(0, 4))
def test_node_history_matches_brute_force(
    where: str, tmp_path: Any, batches: List[List[Step]], merge_after: int
) -> None:
    opener = Opener(where, tempfile.mkdtemp(dir=str(tmp_path)))
    try:
        node_history_matches(opener(), batches, merge_after)
    finally:
        opener.close()


def node_history_matches(db: Database, batches: List[List[Step]], merge_after: int) -> None:
    """``node_history`` of every node equals a brute-force diff of each commit of the chain."""
    with db.transaction() as tx:
        root = tx.insert_root("root")
        own = [root] + [tx.insert_child(root, f"n{i}") for i in range(4)]
    side = db.branch("side")
    with side.transaction() as tx:
        tx.insert_child(root, "from side")
    for i, steps in enumerate(batches):
        with db.transaction() as tx:
            apply_steps(tx, own, steps, f"b{i}-")
        if i == merge_after:
            db.merge("side")
    chain = db.history()
    every = {n for c in chain for n in db.as_of(c.version).preorder()}
    for node in every:
        expected = []
        for commit in chain[1:]:
            before, after = db.as_of(commit.parent), db.as_of(commit.version)
            diff = full_diff(before, after)
            if node in diff.inserted:
                expected.append((commit.version, "inserted"))
            if node in diff.deleted:
                expected.append((commit.version, "deleted"))
            if node in diff.moved:
                expected.append((commit.version, "moved", diff.moved[node]))
            if node in diff.data_changed:
                expected.append((commit.version, "data", before.data(node), after.data(node)))
        got = []
        for e in db.node_history(node):
            if e.kind in ("inserted", "deleted"):
                got.append((e.version, e.kind))
            elif e.kind == "moved":
                got.append((e.version, e.kind, (e.old, e.new)))
            else:
                got.append((e.version, e.kind, e.old, e.new))
        assert got == expected, node


# -- stored: crash safety, old databases ------------------------------------------------------------

KILL_DURING_MERGE = """
import os, sys
from botree import Database
from botree.storage import store

insert = store.Store._insert

def insert_then_die(self, row, cells):
    insert(self, row, cells)  # the merge's commit row and cells are written, the transaction is open
    os._exit(9)

db = Database(sys.argv[1])
store.Store._insert = insert_then_die
db.merge("side", message="merge side")
"""


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_kill_during_a_merge_commit_leaves_nothing(new_db: Opener) -> None:
    db, root, side = rooted(new_db)
    with side.transaction() as tx:
        tx.insert_child(root, "from side")
    with db.transaction() as tx:
        tx.insert_child(root, "from main")
    target = db.target  # type: ignore[attr-defined]
    heads, history = db.branches(), db.history(all_branches=True)
    done = subprocess.run([sys.executable, "-c", KILL_DURING_MERGE, target], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 9, done.stderr
    again = Database(target)
    again.verify()
    assert again.branches() == heads and again.history(all_branches=True) == history
    version = again.merge("side")
    assert again.history()[-1].merged == heads["side"] and version == again.version
    assert sorted(again.tree.data(n) for n in again.tree.children(root)) == ["from main", "from side"]
    again.close()


def test_a_database_without_branch_tables_opens_read_only_unchanged(tmp_path: Any) -> None:
    path = os.path.join(str(tmp_path), "old.db")
    with Database(path) as written, written.transaction() as tx:  # a botree-2 database: one line of history
        tx.insert_root("r")

    def tables() -> List[str]:
        with sqlite3.connect(path) as conn:
            return sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))

    before = tables()
    old = Database(path, create=False)
    assert old.branches() == {"main": 1} and [c.branch for c in old.history()] == ["main", "main"]
    assert old.node_history(0)[0].kind == "inserted" and old.since(0).inserted == [0]
    with pytest.raises(BranchNotFound):
        old.on("x")
    old.compact(1)  # no branches: compaction works as before
    old.close()
    assert tables() == before and "branches" not in before


def test_the_first_branch_is_created_at_once_though_main_moved_meanwhile(tmp_path: Any) -> None:
    """Creating the branch tables records main's head and id mark.  When main moved between reading
    its head and the write transaction, the head's own commit row (read with the head locked) gives
    them; before, the creator read everything again and retried, and under a stream of commits
    could retry until the version it branched from was compacted away."""
    from botree.db.database import next_node_id

    path = str(tmp_path / "t.db")
    with Database(path) as db, Database(path) as other:
        with db.transaction() as tx:
            root = tx.insert_root("root")
        store = db._store  # type: ignore[attr-defined]
        real_create = store.create_branch
        tries: List[int] = []

        def create(*args: Any) -> Any:
            tries.append(1)
            assert len(tries) < 5, "the creator keeps retrying"
            with other.transaction() as tx:  # another writer commits between the read and the transaction
                tx.insert_child(root, len(tries))
            return real_create(*args)

        store.create_branch = create
        handle = db.branch("side")
        store.create_branch = real_create
        assert len(tries) == 1
        assert db.branches()["main"] == other.version
        assert store.id_mark() == next_node_id(other.tree)
        with handle.transaction() as tx:
            mine = tx.insert_child(root, "on side")
        assert mine not in other.tree  # ids of the branch never collide with main's
        db.merge("side")
        assert sorted(str(db.tree.data(n)) for n in db.tree.children(root)) == ["1", "on side"]
        db.verify()
