"""The issue-16 target report (``benchmarks.targets``): its verdicts, its section in the document, and
a smoke run of one build's measurement, so the benchmark cannot rot unnoticed. Nothing here
asserts on timings: the verdicts are checked on made-up figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import pytest

pytest.importorskip("anytree")

from benchmarks import targets  # noqa: E402


def _random_part(n: int, ratios: Dict[str, float], memory: float = 150.0) -> Dict[str, Any]:
    """A random-tree part whose rows have the given botree / anytree ratios (anytree: 1.0)."""
    rows = {key: {"botree": r, "anytree": 1.0} for key, r in ratios.items()}
    return {"part": "random", "n": n, "rows": rows, "memory": memory, "load": [[0.1] * 3, [0.2] * 3]}


def _all_met() -> Dict[str, float]:
    """Figures meeting every target: ratio targets at half their limit, absolute ones likewise."""
    return {t.key: t.limit / 2 for t in targets.TARGETS if t.key != "memory"}


def _deep_part(n: int, slower: Dict[str, float]) -> Dict[str, Any]:
    rows = {key: {"deep": slower.get(key, 1.0), "random": 1.0} for key in ("parent", "wrap", "level")}
    return {"part": "deep", "n": n, "rows": rows, "load": [[0.1] * 3, [0.2] * 3]}


def _section(parts: Dict[str, List[Dict[str, Any]]]) -> List[str]:
    return targets.report(parts, 0.0, 60.0)


def _status_of(lines: List[str], label_start: str, nodes: str) -> List[str]:
    row = next(line for line in lines if line.startswith(f"| {label_start}") and f"| {nodes} |" in line)
    return [cell.strip() for cell in row.strip("|").split("|")][-2:]


def test_every_target_met_reads_met_on_both_builds() -> None:
    parts = [_random_part(1000, _all_met()), _random_part(2000, _all_met()), _deep_part(500, {})]
    lines = _section({"pure": parts, "compiled": parts})
    total = sum(1 for t in targets.TARGETS for _ in ((1,) if t.largest_only else (1, 2))) + 3
    assert f"Rows met: pure build {total} of {total}; compiled build {total} of {total}." in lines
    assert not any("missed" in line for line in lines)
    assert lines[0] == targets.START and lines[-1] == targets.END


def test_a_missed_target_is_flagged_per_build_and_explained_with_its_profile() -> None:
    slow = dict(_all_met(), delete=9.5)  # ratio 9.5 > 3
    pure = [_random_part(1000, slow), _random_part(2000, _all_met()), _deep_part(500, {"wrap": 2.5})]
    top = [[0.12, 5.4, "__setitem__ (botree/nodetable/vector.py:1)"]]
    pure[0]["profiles"] = {"delete": {"calls": 68.6, "top": top}}
    compiled = [_random_part(1000, _all_met(), memory=219.0), _random_part(2000, _all_met()), _deep_part(500, {})]
    lines = _section({"pure": pure, "compiled": compiled})
    assert _status_of(lines, "delete a small subtree", "1,000") == ["**missed**", "met"]
    assert _status_of(lines, "delete a small subtree", "2,000") == ["met", "met"]
    deep_wrap = next(line for line in lines if line.startswith("| wrap a node in a new parent |") and "/" in line)
    assert deep_wrap.rstrip(" |").endswith("**missed** | met")
    text = "\n".join(lines)
    assert "**delete a small subtree** (missed at 1,000 (pure))" in text
    assert "68.6 Python-level calls per operation" in text and "12% ×5.4 __setitem__" in text
    assert "**deep trees** (missed at wrap a node in a new parent (pure))" in text
    assert "**memory without user data** (missed at 1,000 (compiled))" in text  # a miss of one build only


def test_absolute_targets_are_judged_on_the_largest_tree_only() -> None:
    figures = dict(_all_met(), move_half=250.0, from_events=0.9)
    lines = _section({"pure": [_random_part(1000, _all_met()), _random_part(2000, figures), _deep_part(500, {})]})
    assert _status_of(lines, "move half the tree", "2,000")[-1] == "**missed**"
    assert not [line for line in lines if line.startswith("| move half the tree") and "| 1,000 |" in line]
    assert _status_of(lines, "Tree.from_events", "2,000")[-1] == "**missed**"
    over = _section({"pure": [_random_part(1000, _all_met(), memory=201.0), _random_part(2000, _all_met())]})
    assert _status_of(over, "memory without user data", "1,000")[-1] == "**missed**"
    assert any("(not measured)" in line for line in over)  # no deep part: said, not guessed


def test_the_section_replaces_its_old_self_and_nothing_else(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Title\n\nbefore\n{targets.START}\nold section\n{targets.END}\nafter\n", encoding="utf-8")
    targets.write_section(doc, [targets.START, "new section", targets.END])
    assert doc.read_text(encoding="utf-8") == f"# Title\n\nbefore\n{targets.START}\nnew section\n{targets.END}\nafter\n"
    fresh = tmp_path / "fresh.md"
    fresh.write_text("# Title\nbody\n", encoding="utf-8")
    targets.write_section(fresh, [targets.START, "s", targets.END])
    assert fresh.read_text(encoding="utf-8") == f"# Title\n\n{targets.START}\ns\n{targets.END}\nbody\n"


def test_one_build_measures_every_target_row() -> None:
    """A small real run of what the report's subprocesses run: every row measured, positive."""
    part = targets.measure_part("random", 2000, 1, 1, profiles=True)
    needed = {t.key for t in targets.TARGETS} - {"memory"}
    assert needed <= set(part["rows"])
    assert all(v > 0 for row in part["rows"].values() for v in row.values())
    assert 50 < part["memory"] < 1000
    delete = part["profiles"]["delete"]
    assert delete["calls"] > 0 and any("botree/" in fn for _, _, fn in delete["top"])
    assert not any("benchmarks/" in fn for prof in part["profiles"].values() for _, _, fn in prof["top"])
