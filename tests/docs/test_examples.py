"""Every example runs as a script and does what it says."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests import ROOT


def run(name: str, *args: str) -> str:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", name), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_quickstart() -> None:
    out = run("quickstart.py")
    assert "bob's level now 3 - in the old snapshot still 2" in out
    assert "both pass check()" in out


def test_json_document_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "in.json"
    dst = tmp_path / "out.json"
    src.write_text(json.dumps({"name": "x", "tags": [1], "authors": [], "stats": {"a": [True, None]}}))
    run("json_document.py", str(src), str(dst))
    out = json.loads(dst.read_text())
    assert out == {"stats": {"a": [True, None]}, "project": "x", "authors": [{}], "version": "0.1.0"}


def test_org_chart() -> None:
    out = run("org_chart.py")
    assert "Olga's chain of command: Operations < Platform < Chief Executive" in out
    assert "before, Olga reported via: Operations < Technology < Chief Executive" in out


@pytest.mark.parametrize("depth", [3, 40])
def test_filesystem_finds_largest_and_deepest(tmp_path, depth: int) -> None:  # type: ignore[no-untyped-def]
    big = tmp_path / "big"
    big.mkdir()
    for i in range(30):
        (big / f"f{i}.txt").write_text("x")
    deep = tmp_path / "deep"
    path = deep
    for i in range(depth):
        path = path / f"d{i}"
    path.mkdir(parents=True)
    (path / "leaf.txt").write_text("x")
    out = run("filesystem.py", str(tmp_path))
    entries = 1 + 1 + 30 + 1 + depth + 1
    assert f"{entries:,} entries under {tmp_path}" in out
    largest = out.split("largest subtrees (entries):")[1].splitlines()[1].split()
    assert largest == [f"{entries:,}", str(tmp_path)]
    if depth > 31:
        second = out.split("largest subtrees (entries):")[1].splitlines()[2].split()
        assert second == [f"{depth + 2:,}", str(deep)]
    deepest = out.split("deepest paths:")[1].splitlines()[1].split()
    assert deepest == ["level", str(depth + 2), str(path / "leaf.txt")]


def test_cli_session_is_the_main_job(tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = os.path.join(os.path.dirname(sys.executable), "botree")
    botree = script if os.path.exists(script) else f"{sys.executable} -m botree"
    db = str(tmp_path / "org.db")
    env = dict(os.environ, BOTREE=botree, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(
        ["bash", os.path.join(ROOT, "examples", "cli_session.sh"), db],
        capture_output=True, text=True, timeout=120, env=env, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "imported 7 nodes as version 1" in out
    assert "moved node sales under node eng at index 0 as version 2" in out
    assert '\neva  {"id": "eva", "name": "Eva", "role": "engineer"}\n' in out  # found by find, under Engineering
    assert "reverted to version 3 as version 6" in out
    synced = next(line for line in out.splitlines() if line.startswith("synced "))
    assert "1 inserted, 1 deleted" in synced and "1 data changed" in synced and synced.endswith("as version 7")
    assert "\nno changes\n" in out and "ok: version 7, 6 nodes" in out
    assert '+ eve  {"id": "eve", "name": "Eve", "role": "account manager"}' in out
    assert '- dee  {"id": "dee", "name": "Dee", "role": "account manager"}' in out
    assert "~ sales  moved: under eng at 0 -> under acme at 1" in out
    csv_out = out.split("$ botree export")[1].split("\n", 1)[1]
    assert csv_out == (
        "id,parent,name,role\nacme,,ACME Corp,company\neng,acme,Engineering,department\n"
        "ann,eng,Ann,lead engineer\nsales,acme,Sales,department\ncyd,sales,Cyd,account manager\n"
        "eve,sales,Eve,account manager\n\n"
    )
    exported = json.loads(out.split("$ botree export")[2].split("\n", 1)[1])
    assert exported["botree"] == "table" and exported["key"] == "id"
    assert [row["id"] for row in exported["rows"]] == ["acme", "eng", "ann", "sales", "cyd", "eve"]
    sales = next(row for row in exported["rows"] if row["id"] == "sales")
    assert sales["parent"] == "acme" and sales["order"] == 1
