"""The branch verbs of the command line: branch, branches, merge, --branch, log --graph, history."""

from __future__ import annotations

import os
from typing import Any, List

from botree import Database, cli


def run(capsys: Any, *args: str, code: int = 0) -> List[str]:
    assert cli.main(list(args)) == code
    captured = capsys.readouterr()
    return [line for line in (captured.out + captured.err).splitlines() if line]


def test_branch_verbs(tmp_path: Any, capsys: Any) -> None:
    path = os.path.join(str(tmp_path), "org.db")
    db = Database(path)
    with db.transaction() as tx:
        org = tx.insert_root("org")
        a = tx.insert_child(org, "a")
        b = tx.insert_child(org, "b")
    db.close()
    assert run(capsys, "branch", path, "plan") == ["created branch plan at version 1"]
    assert run(capsys, "branches", path) == ["main  1", "plan  1"]
    run(capsys, "mv", path, str(a), "--under", str(b), "--branch", "plan")
    run(capsys, "set", path, str(a), "--data", '"A"')
    assert run(capsys, "merge", path, "plan") == ["merged plan into main as version 4"]
    assert run(capsys, "merge", path, "plan")[0].startswith("nothing to merge")
    graph = run(capsys, "log", path, "--graph")
    assert graph[0].startswith("main plan")
    assert "fork of 1" in graph[3] and "merge of 2 (plan)" in graph[5]
    assert [line.split()[:2] for line in run(capsys, "history", path, str(a))] == [
        ["1", "inserted"], ["3", "data"], ["4", "moved"]
    ]
    # A conflict lists every update and commits nothing.
    run(capsys, "branch", path, "x")
    run(capsys, "set", path, str(a), "--data", '"x"', "--branch", "x")
    run(capsys, "set", path, str(a), "--data", '"main"')
    lines = run(capsys, "merge", path, "x", code=1)
    assert lines[0].startswith("conflict: version") and "data only" in lines[0] and "nothing was committed" in lines[-1]
    assert run(capsys, "merge", path, "x", "--resolve", "theirs")[0].startswith("merged x into main")
    assert run(capsys, "branch", path, "plan", code=1)[-1].endswith("branch 'plan' already exists")
    assert "does not exist" in run(capsys, "ls", path, "--branch", "nope", code=1)[-1]
    check = Database(path, create=False)
    assert check.tree.data(a) == "x" and check.tree.parent(a) == b
    check.close()
