"""Red-team session 7: the shared-store commit path after the head read learned about branch tables,
and a thread's commit interrupted while it waits behind another thread of the same ``Database``.

Scenarios that hang (or send signals) are run in a child process with a deadline, so that a livelocked
commit cannot hold the test process (or the store's lock) hostage.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from botree import Database
from tests import ROOT

_DEADLINE = 20.0


def _child_says(code: str, *args: str) -> str:
    """What ``code`` prints, run in a fresh interpreter (argv[1:] = ``args``); it must exit 0, and a
    hang fails the test instead of stalling it."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code), *args],
            capture_output=True, text=True, cwd=ROOT, timeout=_DEADLINE,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"the child hung past {_DEADLINE} s: {exc.stdout!r} {exc.stderr!r}") from None
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


_BRANCH_DURING_TRANSACTION = """
    import sys
    from botree import Database
    target = sys.argv[1]
    a, b = Database(target), Database(target)
    with a.transaction() as tx:
        root = tx.insert_root("r")
    head = a.version
    with b.transaction() as tx:  # b's head read (at its start) saw no branch tables
        tx.insert_child(root, "y")
        a.branch("x")  # another handle makes them meanwhile; the head does not move
    fresh = Database(target)
    print(b.version, head, sorted(fresh.branches().items()), fresh.history()[-1].branch,
          [fresh.tree.data(n) for n in fresh.tree.preorder()],
          [fresh.on("x").tree.data(n) for n in fresh.on("x").tree.preorder()])
"""


def test_a_commit_on_main_lands_when_another_handle_branches_during_its_transaction(target: str) -> None:
    """Another handle makes the branch tables after b's transaction read the head, before it commits.

    The commit must see them in its own write transaction (``Store._append`` refuses a commit
    made without lineage) and be built again moving main's branch row.  It livelocked: the
    rebuild asked ``Store.branched(as_of=head)``, which trusted the stale head read (same head
    version: creating a branch does not move the head), so every rebuild was refused again.
    """
    assert _child_says(_BRANCH_DURING_TRANSACTION, target) == "2 1 [('main', 2), ('x', 1)] main ['r', 'y'] ['r']"


_THREADS_AND_A_BRANCH = """
    import collections, sys, threading, time
    from botree import Database
    target = sys.argv[1]
    a = Database(target)
    with a.transaction() as tx:
        root = tx.insert_root("r")
    other = Database(target)
    count, threads = 30, 4
    landed = collections.defaultdict(list)
    start = threading.Barrier(threads + 1)
    def work(t):
        start.wait()
        for i in range(count):
            with a.transaction() as tx:
                tx.insert_child(root, [t, i])
            landed[t].append(tx.committed)
    running = [threading.Thread(target=work, args=(t,), daemon=True) for t in range(threads)]
    for thread in running:
        thread.start()
    start.wait()
    deadline = time.monotonic() + 10
    while sum(map(len, landed.values())) < 20 and time.monotonic() < deadline:
        time.sleep(0.001)
    other.branch("x")  # the head does not move: the threads' next commits must move main's row
    for thread in running:
        thread.join(15)
    assert not any(thread.is_alive() for thread in running), "a committing thread hung"
    fresh = Database(target)
    data = collections.Counter(tuple(row["data"]) for row in fresh.tree.to_parent_table()[1:])
    versions = sorted(v for vs in landed.values() for v in vs)
    print(len(data), set(data.values()), versions == list(range(2, 2 + count * threads)),
          fresh.branches()["main"] == fresh.version, {c.branch for c in fresh.history()})
"""


def test_threads_sharing_a_database_commit_once_each_while_another_handle_branches(target: str) -> None:
    """Threads of one ``Database`` group their commits on main; another handle makes the first branch meanwhile.

    Every transaction lands once (a version each, in one numbering), main's branch row
    follows the head afterwards, and every commit is main's.
    """
    assert _child_says(_THREADS_AND_A_BRANCH, target) == "120 {1} True True {'main'}"


_QUEUED_WHEN_BRANCHED = """
    import sys, threading
    from botree import Database
    from tests.db.test_group_commit import commit_in_thread, queued, wait_for, writers_lock
    target = sys.argv[1]
    setup = Database(target)
    with setup.transaction() as tx:
        root = tx.insert_root("r")
    writers = [Database(target) for _ in range(3)]
    results = {}
    with writers_lock(target):  # a long transaction holds the writers' lock: every commit queues
        threads = [commit_in_thread(db, lambda tx, i=i: tx.insert_child(root, i), results, f"w{i}")
                   for i, db in enumerate(writers)]
        wait_for(lambda: queued(target) == 3)
        setup.branch("x")  # meanwhile: the first branch (the head does not move)
    for thread in threads:
        thread.join(15)
    assert not any(thread.is_alive() for thread in threads), "a queued commit hung"
    versions = sorted(results[f"w{i}"].committed for i in range(3))
    fresh = Database(target)
    print(versions, sorted(fresh.tree.data(n) for n in fresh.tree.children(root)), queued(target),
          fresh.branches()["main"], {c.branch for c in fresh.history()})
"""


def test_queued_requests_land_once_each_when_the_first_branch_appears_while_they_wait(target: str) -> None:
    """Three writers queue behind a held lock; another handle makes the first branch meanwhile.

    No group may serve the queue once branch tables exist: each waiter commits alone
    (``Regroup``), once, on main, moving main's branch row; the queue ends empty.
    """
    assert _child_says(_QUEUED_WHEN_BRANCHED, target) == "[2, 3, 4] [0, 1, 2] 0 4 {'main'}"


_INTERRUPTED_WAITER = """
    import os, signal, sys, threading, time
    from botree import Database
    target = sys.argv[1]
    db = Database(target)
    with db.transaction() as tx:
        root = tx.insert_root("r")
    db._writer.acquire()  # another thread of this object is committing: this commit queues in memory

    def interrupt():
        deadline = time.monotonic() + 10
        while not db._waiters and time.monotonic() < deadline:
            time.sleep(0.001)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: KeyboardInterrupt in the main thread, waiting

    threading.Thread(target=interrupt, daemon=True).start()
    try:
        with db.transaction(message="interrupted") as tx:
            tx.insert_child(root, "interrupted")
        print("not interrupted")
    except KeyboardInterrupt:
        pass
    db._writer.release()  # the other thread's commit is done
    with db.transaction(message="later") as tx:
        tx.insert_child(root, "later")
    fresh = Database(target)
    print([fresh.tree.data(n) for n in fresh.tree.children(root)], [c.message for c in fresh.history()][2:])
"""


def test_a_commit_interrupted_while_queued_behind_another_thread_is_not_applied_later(target: str) -> None:
    """A thread's commit waits in memory (``_writer_or_wait``) behind another thread's commit of the
    same ``Database``, and is interrupted (KeyboardInterrupt) before any group took it.

    Nothing of it was stored or sent anywhere, so it must never land.  It stayed in
    ``_waiters`` and the object's next commit served it: a transaction its caller saw
    interrupted was applied later (twice, had the caller retried it).
    """
    assert _child_says(_INTERRUPTED_WAITER, target) == "['later'] ['later']"


def test_history_names_the_branch_of_commits_made_after_a_head_read_that_saw_no_branches(target: str) -> None:
    """Passes: the head read's "no branch tables" covers only the commits up to the head it read.

    ``b`` reads the head (no branch tables: its store skips lineage up to there); another
    handle then branches and commits on the branch and on main.  ``b``'s history must name
    each later commit's branch (lineage read), the earlier ones main (no lineage row).
    """
    a, b = Database(target), Database(target)
    with a.transaction() as tx:
        root = tx.insert_root("r")
    first = b.version  # b's store: no branch tables as of this head
    assert [c.branch for c in b.history(all_branches=True)] == ["main", "main"]  # cached before any branch
    a.branch("x")
    with a.on("x").transaction() as tx:
        tx.insert_child(root, "on x")
    with a.transaction() as tx:
        tx.insert_child(root, "on main")
    assert b.version == first + 2  # main's head: its own commit, after x's
    assert [(c.version, c.branch) for c in b.history(all_branches=True)] == [
        (0, "main"), (1, "main"), (first + 1, "x"), (first + 2, "main")
    ]
    assert [c.version for c in b.history()] == [0, 1, first + 2]
    assert [b.on("x").tree.data(n) for n in b.on("x").tree.children(root)] == ["on x"]
    for db in (a, b):
        db.close()


def test_a_queued_commit_that_raised_because_its_database_was_closed_does_not_land_later(target: str) -> None:
    """A thread's commit waits, queued, behind a held writers' lock; another thread closes its ``Database``.

    The commit raises StorageError ("... is closed"), which does not say its outcome is
    unknown, and ``_commit_grouped`` promises that a posted copy is not served by another
    writer's group after it raises, unless one already had.  It cannot withdraw it (its
    store is closed), so the next group of any other writer applies it: a commit whose
    caller saw it fail lands later (twice, if the caller retried it elsewhere).
    """
    closed_while_queued(target)


def closed_while_queued(target: str) -> None:
    """A commit queued behind a held writers' lock, its ``Database`` closed by another thread: the
    commit raises, its request is withdrawn (the queue ends empty), and only a later commit lands."""
    import threading

    from tests.db.test_group_commit import commit_in_thread, queued, wait_for, writers_lock

    setup = Database(target)
    with setup.transaction() as tx:
        root = tx.insert_root("r")
    closing = Database(target)
    results: dict = {}
    with writers_lock(target):
        thread = commit_in_thread(closing, lambda tx: tx.insert_child(root, "closed"), results, "c")
        wait_for(lambda: queued(target) == 1)
        closer = threading.Thread(target=closing.close)
        closer.start()
        closer.join(10)
        assert not closer.is_alive()
    thread.join(10)  # woken once the lock is free (SQLite's wait blocks on it, not on the connection)
    assert not thread.is_alive()
    error = results["c"]
    assert isinstance(error, Exception) and "closed" in str(error)
    assert queued(target) == 0  # withdrawn
    with setup.transaction() as tx:  # another writer's group serves the queue
        tx.insert_child(root, "later")
    fresh = Database(target)
    assert [fresh.tree.data(n) for n in fresh.tree.children(root)] == ["later"]
    for db in (setup, fresh):
        db.close()
