"""Index a directory tree and answer "largest subtrees" and "deepest paths" with size/level.

Run: python examples/filesystem.py [DIRECTORY]   (default: this Python's standard library)
"""

from __future__ import annotations

import heapq
import os
import sys
import sysconfig
import time
from typing import Iterator, Tuple

sys.path.insert(0, os.path.dirname(__file__))

from progress import ProgressBar  # noqa: E402

from botree import Tree  # noqa: E402


def walk(root: str) -> Iterator[Tuple[str, bool]]:
    """(name, is_open) bounds of the directory tree, without recursion and without following links."""
    yield root, True
    stack = [iter(sorted(os.scandir(root), key=lambda e: e.name))]
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            yield "", False
            continue
        yield entry.name, True
        if entry.is_dir(follow_symlinks=False):
            try:
                stack.append(iter(sorted(os.scandir(entry.path), key=lambda e: e.name)))
                continue
            except OSError:
                pass
        yield "", False


def path_of(t: Tree, node: int) -> str:
    parts = [t.data(node)] + [t.data(a) for a in t.ancestors(node)]
    return os.path.join(*reversed(parts))


def main(root: str) -> None:
    start = time.perf_counter()
    t = Tree.from_events(walk(root), progress=ProgressBar("scanning"))
    print(f"{len(t):,} entries under {root} indexed in {time.perf_counter() - start:.2f} s")
    dirs = [n for n in t.preorder() if not t.is_leaf(n)]
    print("\nlargest subtrees (entries):")
    for size, n in heapq.nlargest(5, ((t.size(n), n) for n in dirs)):
        print(f"  {size:8,}  {path_of(t, n)}")
    print("\ndeepest paths:")
    for level, n in heapq.nlargest(3, ((t.level(n), n) for n in t.preorder())):
        print(f"  level {level:3}  {path_of(t, n)}")
    t.check()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else sysconfig.get_paths()["stdlib"])
