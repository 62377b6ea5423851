"""Red-team session 7: the shared-store commit path after the head read learned about branch tables.

Scenarios that hang are run in a child process with a deadline, so that a livelocked
commit cannot hold the test process (or the store's lock) hostage.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests import ROOT

_DEADLINE = 20.0


def _run_child(code: str, *args: str) -> "subprocess.CompletedProcess[str]":
    """Run ``code`` in a fresh interpreter (argv[1:] = ``args``); a hang fails the test, it does not stall it."""
    try:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code), *args],
            capture_output=True, text=True, cwd=ROOT, timeout=_DEADLINE,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"the child hung past {_DEADLINE} s: {exc.stdout!r} {exc.stderr!r}") from None


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
    print(b.version, head, sorted(fresh.branches().items()), fresh.history()[-1].branch)
"""


def test_a_commit_on_main_lands_when_another_handle_branches_during_its_transaction(target: str) -> None:
    """Another handle makes the branch tables after b's transaction read the head, before it commits.

    The commit must see them in its own write transaction (``Store._append`` refuses a commit
    made without lineage) and be built again moving main's branch row.  It livelocked: the
    rebuild asked ``Store.branched(as_of=head)``, which trusted the stale head read (same head
    version: creating a branch does not move the head), so every rebuild was refused again.
    """
    done = _run_child(_BRANCH_DURING_TRANSACTION, target)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2 1 [('main', 2), ('x', 1)] main"
