"""Random forests for the conversion tests: preorder level sequences with data, built by ``from_events``.

A forest is drawn as its preorder list of levels (the first 0, each next at most one
deeper than the one before) and one data value per node, so node ids are 0..n-1 in
preorder, the form every importer builds.
"""

from __future__ import annotations

from typing import Any, Iterator, List, Optional, Tuple

from hypothesis import strategies as st

from botree import Tree

NAMES = st.text(alphabet="abcxyz", min_size=1, max_size=3)
PLAIN = st.one_of(
    st.integers(-(2**40), 2**40), st.booleans(), st.floats(allow_nan=False, width=64), st.text(max_size=4)
)
# dict data over a few keys, each present or not, values of one plain kind or a list
FIELDS = st.fixed_dictionaries(
    {"name": NAMES}, optional={"x": PLAIN, "y": st.one_of(PLAIN, st.lists(st.integers(), max_size=2))}
)


def events(levels: List[int], datas: List[Any]) -> Iterator[Tuple[Any, bool]]:
    """The bounds of the forest given by preorder ``levels`` and ``datas``."""
    depth = -1
    for level, data in zip(levels, datas):
        while depth >= level:
            yield None, False
            depth -= 1
        yield data, True
        depth = level
    for _ in range(depth + 1):
        yield None, False


@st.composite
def forests(
    draw: Any, data: Any = FIELDS, max_size: int = 30, block_size: Optional[int] = None, one_root: bool = False
) -> Tree:
    """A random forest (ids in preorder) with data drawn from ``data``; ``one_root``: one non-empty tree."""
    n = draw(st.integers(1 if one_root else 0, max_size))
    levels: List[int] = []
    for i in range(n):
        levels.append(0 if i == 0 else draw(st.integers(1 if one_root else 0, levels[-1] + 1)))
    datas = [draw(data) for _ in range(n)]
    size = block_size or draw(st.sampled_from((4, 64)))
    return Tree.from_events(events(levels, datas), block_size=size)


def chain(depth: int, data: Any = lambda i: {"name": f"s{i}"}) -> Tree:
    """One path of ``depth`` nodes, node i holding ``data(i)``."""
    return Tree.from_events(events(list(range(depth)), [data(i) for i in range(depth)]))
