"""The version graph of a database with branches: first-parent chains, common ancestors, merge plans.

Versions are numbered globally and append-only, and every commit's parents are
older than it (a commit's number is larger than its ``parent``'s and its
``merged`` parent's).  Walking the graph newest first therefore visits a version
only after every version built on it, which is what makes the searches here
simple: no recursion, no revisits.

A commit's ``ops`` take its first ``parent`` to it (a merge commit logs the source
updates it replayed), so a branch's *first-parent chain* alone describes how its
tree evolved; ``merged`` (a merge commit's second parent) tells which versions a
merge brought in, for finding common ancestors.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Protocol, Set, Tuple

from ..errors import InvalidArgument


class Node(Protocol):
    """What the graph searches read from a commit."""

    version: int
    parent: int
    time: float
    ops: Optional[Tuple[Any, ...]]

    @property
    def merged(self) -> Optional[int]: ...


CommitAt = Callable[[int], Any]  # version -> its Commit (VersionNotFound if unknown or compacted)
DEFAULT = "main"


def check_name(name: Any) -> str:
    """``name`` if it is a usable branch name; ``InvalidArgument`` otherwise. O(len)."""
    if type(name) is not str or not name or len(name) > 200 or name != name.strip() or "\x00" in name:
        raise InvalidArgument(f"a branch name is a non-empty string without surrounding spaces, not {name!r}")
    try:
        name.encode("utf-8")  # stored as text: a lone surrogate has no encoding (as in ``check_message``)
    except UnicodeEncodeError as exc:
        raise InvalidArgument(f"a branch name must be valid Unicode text, not {name!r}: {exc}") from None
    return name


def chain(commit_at: CommitAt, head: int, stop: int = 0) -> List[Any]:
    """The commits on ``head``'s first-parent chain with version >= ``stop``, newest first. O(length)."""
    out = []
    version = head
    while version >= stop and version >= 0:
        commit = commit_at(version)
        out.append(commit)
        version = commit.parent
    return out


def path(commit_at: CommitAt, old: int, new: int) -> Optional[List[Any]]:
    """The commits taking ``old`` to ``new`` along ``new``'s first parents, oldest first.

    None if ``old`` is not on that chain.  O(length of the path).
    """
    out = []
    version = new
    while version > old:
        commit = commit_at(version)
        out.append(commit)
        version = commit.parent
    if version != old:
        return None
    out.reverse()
    return out


def fork_point(commit_at: CommitAt, a: int, b: int) -> int:
    """The newest version on both first-parent chains of ``a`` and ``b``. O(versions walked)."""
    while a != b:
        if a > b:
            a = commit_at(a).parent
        else:
            b = commit_at(b).parent
        if a < 0 or b < 0:
            raise InvalidArgument("the two versions share no first-parent ancestor that is still kept")
    return a


@dataclass(frozen=True)
class MergePlan:
    """What a merge of ``source`` into ``target`` replays and checks against.

    * ``base``: the newest common ancestor (None: none is kept);
    * ``noop``: ``source`` is already an ancestor of (or equal to) ``target``;
    * ``theirs``: the source commits whose updates are replayed, oldest first;
    * ``ours``: the target commits since the common history, oldest first, whose
      updates the replay is checked against.

    A merge commit whose ``merged`` parent is common history contributes no updates
    to either side: what it brought in is already on both.
    """

    base: Optional[int]
    noop: bool
    theirs: List[Any]
    ours: List[Any]


def merge_plan(commit_at: CommitAt, target: int, source: int) -> MergePlan:
    """Split the history of ``target`` and ``source`` into common, theirs only and ours only.

    Visits versions newest first from both heads (parents are always older), marking
    each with the sides it is an ancestor of, and stops once every version still
    queued is common.  O(v log v) for the v versions newer than the common history's
    frontier (independent of the tree size).
    """
    sides: Dict[int, int] = {target: 1}
    sides[source] = sides.get(source, 0) | 2
    heap = [-target] if target == source else [-target, -source]
    heapq.heapify(heap)
    pending = sum(1 for v in sides if sides[v] != 3)
    common: Set[int] = set()
    base: Optional[int] = None
    while heap and pending:
        version = -heapq.heappop(heap)
        side = sides[version]
        if side == 3:
            common.add(version)
            if base is None:
                base = version
        else:
            pending -= 1
        commit = commit_at(version)
        for parent in (commit.parent, commit.merged):
            if parent is None or parent < 0:
                continue
            was = sides.get(parent)
            now = (was or 0) | side
            sides[parent] = now
            if was is None:
                heapq.heappush(heap, -parent)
                if now != 3:
                    pending += 1
            elif was != 3 and now == 3:
                pending -= 1

    def only(head: int, side: int) -> List[Any]:
        out = []
        version = head
        while version >= 0 and sides.get(version) == side:
            commit = commit_at(version)
            merged = commit.merged
            if merged is None or sides.get(merged) != 3:
                out.append(commit)
            version = commit.parent
        out.reverse()
        return out

    noop = sides.get(source) == 3
    return MergePlan(base, noop, [] if noop else only(source, 2), [] if noop else only(target, 1))
