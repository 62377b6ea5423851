"""Text for the branch verbs: ``log --graph`` lanes, ``history`` events, merge conflicts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List, Sequence

from .where import show_value


def when(timestamp: float) -> str:
    """A commit time as local ISO 8601, to the second."""
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


def graph_lines(commits: Sequence[Any], heads: Dict[str, int]) -> List[str]:
    """``log --graph``: every commit oldest first, one lane per branch.

    A lane shows ``*`` on its branch's commits and ``|`` while the branch lives (from
    the version it forked at to its head); a fork and a merge are named at the end of
    the line (``fork of V``, ``merge of V (branch)``).  O(commits · lanes).
    """
    by_version = {c.version: c for c in commits}
    lanes: List[str] = []
    span: Dict[str, List[int]] = {}
    for commit in commits:
        if commit.branch not in span:
            lanes.append(commit.branch)
            start = commit.parent if commit.parent >= 0 else commit.version
            span[commit.branch] = [start, commit.version]
        span[commit.branch][1] = commit.version
    for name, head in heads.items():
        if name not in span:
            lanes.append(name)
            span[name] = [head, head]
        span[name][1] = max(span[name][1], head)
    width = max((len(str(c.version)) for c in commits), default=1)
    lines = [" ".join(name for name in lanes) + "   (branches, by first commit)"]
    for commit in commits:
        marks = []
        for name in lanes:
            start, end = span[name]
            if commit.branch == name:
                marks.append("*")
            elif start <= commit.version <= end:
                marks.append("|")
            else:
                marks.append(" ")
        notes = []
        parent = by_version.get(commit.parent)
        if parent is not None and parent.branch != commit.branch:
            notes.append(f"fork of {commit.parent}")
        if commit.merged is not None:
            source = by_version.get(commit.merged)
            notes.append(f"merge of {commit.merged}" + (f" ({source.branch})" if source is not None else ""))
        labels = [name for name, head in heads.items() if head == commit.version]
        if labels:
            notes.append("<- " + ", ".join(labels))
        tail = f"  [{'; '.join(notes)}]" if notes else ""
        lines.append(f"{' '.join(marks)}  {commit.version:>{width}}  {when(commit.time)}  "
                     f"{commit.message or ''}{tail}".rstrip())
    return lines


def event_line(event: Any) -> str:
    """One ``history DB NODE`` line: version, what happened, from where to where."""
    if event.kind == "data":
        what = f"data {show_value(event.old)} -> {show_value(event.new)}"
    elif event.kind == "inserted":
        what = f"inserted under {_parent(event.new[0])} at index {event.new[1]}"
    elif event.kind == "deleted":
        what = f"deleted from under {_parent(event.old[0])} (index {event.old[1]})"
    else:
        what = (f"moved from under {_parent(event.old[0])} (index {event.old[1]}) "
                f"to under {_parent(event.new[0])} (index {event.new[1]})")
    return f"{event.version}  {what}"


def _parent(node: Any) -> str:
    return "root" if node is None else str(node)


def conflict_lines(conflicts: Sequence[Any]) -> List[str]:
    """One line per merge conflict: source version, node, reason, and whether --resolve settles it."""
    out = []
    for c in conflicts:
        hint = "  (data only: --resolve ours|theirs)" if c.data_only else ""
        out.append(f"conflict: version {c.version}, node {c.node}: {c.reason}{hint}")
    return out
