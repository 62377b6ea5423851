"""Tree.render: styles, labels, multi-line labels, max_depth, and O(lines) work."""

from __future__ import annotations

import random
from typing import Any, Iterator, List, Optional, Tuple

import pytest

from botree import Tree
from botree.core.reader import IndexReader
from botree.errors import InvalidArgument, NodeNotFound
from botree.tree.render import draw


def small() -> Tuple[Tree, List[int]]:
    """a(b(c), d), e: b's data has two lines, d's is a dict."""
    t = Tree()
    t, a = t.insert_child(None, "a")
    t, b = t.insert_child(a, "b\nB2")
    t, c = t.insert_child(b, "c")
    t, d = t.insert_child(a, {"name": "d", "x": 1})
    t, e = t.insert_child(None, "e")
    return t, [a, b, c, d, e]


EXPECTED = {
    "unicode": "a\n├── b\n│   B2\n│   └── c\n└── {'name': 'd', 'x': 1}\ne",
    "ascii": "a\n|-- b\n|   B2\n|   `-- c\n`-- {'name': 'd', 'x': 1}\ne",
    "rounded": "a\n├── b\n│   B2\n│   ╰── c\n╰── {'name': 'd', 'x': 1}\ne",
    "compact": "a\n├ b\n│ B2\n│ └ c\n└ {'name': 'd', 'x': 1}\ne",
}


@pytest.mark.parametrize("style", sorted(EXPECTED))
def test_each_style_draws_the_small_tree_exactly(style: str) -> None:
    t, _ = small()
    assert t.render(style=style) == EXPECTED[style]


def test_unicode_is_the_default_and_matches_todays_drawing() -> None:
    t, (a, b, c, d, e) = small()
    assert t.render() == EXPECTED["unicode"]
    assert t.render(b) == "b\nB2\n└── c"
    assert Tree().render() == ""


def test_multi_line_labels_carry_the_bars_of_the_tree() -> None:
    t = Tree()
    t, r = t.insert_child(None, "root")
    t, x = t.insert_child(r, "x1\nx2\nx3")
    t, y = t.insert_child(x, "y1\ny2")
    t, z = t.insert_child(r, "z1\nz2")
    assert t.render().splitlines() == [
        "root",
        "├── x1",
        "│   x2",
        "│   x3",
        "│   └── y1",
        "│       y2",
        "└── z1",
        "    z2",
    ]
    assert t.render(style="ascii").splitlines()[1:4] == ["|-- x1", "|   x2", "|   x3"]
    t2, _ = t.insert_child(None, "top1\ntop2")
    assert t2.render().splitlines()[-2:] == ["top1", "top2"]


def test_label_field_name_and_callable() -> None:
    t = Tree()
    t, a = t.insert_child(None, {"name": "co", "n": 3})
    t, b = t.insert_child(a, {"name": "eng"})
    t, c = t.insert_child(a, {"other": 1})  # no such field: the default label
    t, d = t.insert_child(a, None)
    assert t.render(label="name") == f"co\n├── eng\n├── {{'other': 1}}\n└── #{d}"
    assert t.render(label=lambda data: "?" if data is None else len(data)) == "2\n├── 1\n├── 1\n└── ?"
    multi = t.render(label=lambda data: f"{data}\n--" if data else "none")
    assert multi.splitlines()[:4] == ["{'name': 'co', 'n': 3}", "--", "├── {'name': 'eng'}", "│   --"]
    with pytest.raises(InvalidArgument):
        t.render(label=3)  # type: ignore[arg-type]


def test_max_depth_cuts_and_counts_below() -> None:
    t, (a, b, c, d, e) = small()
    assert t.render(max_depth=0) == "a  (+3 below)\ne"
    assert t.render(max_depth=1) == "a\n├── b  (+1 below)\n│   B2\n└── {'name': 'd', 'x': 1}\ne"
    assert t.render(max_depth=1) != t.render(max_depth=2)
    assert t.render(max_depth=2) == t.render() == t.render(max_depth=5)
    assert t.render(b, max_depth=0) == "b  (+1 below)\nB2"
    assert t.render(depth=0) == t.render(max_depth=0)  # the alias
    for bad in (-1, "1", 1.0):
        with pytest.raises(InvalidArgument):
            t.render(max_depth=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        t.render(max_depth=1, depth=1)


def test_max_lines_counts_the_nodes_not_shown() -> None:
    t, (a, b, c, d, e) = small()
    assert t.render(max_lines=2) == "a\n├── b\n… (3 more nodes)"
    assert t.render(max_lines=3) == "a\n├── b\n│   B2\n… (3 more nodes)"
    assert t.render(max_lines=6) == EXPECTED["unicode"]
    assert t.render(max_lines=0) == "… (5 more nodes)"
    assert t.render(max_depth=0, max_lines=1) == "a  (+3 below)\n… (1 more nodes)"
    t2 = t.set_data(e, "e\nE2")
    assert t2.render(max_lines=6).splitlines()[-2:] == ["e", "…"]  # every node shown, its label cut


def test_bad_arguments_change_nothing_and_are_typed() -> None:
    t, _ = small()
    with pytest.raises(InvalidArgument, match="style"):
        t.render(style="fancy")
    with pytest.raises(NodeNotFound):
        t.render(99)
    with pytest.raises(InvalidArgument):
        list(draw(t, None, style="fancy"))


def test_random_trees_draw_one_line_per_node_in_preorder() -> None:
    rnd = random.Random(3)
    for _ in range(30):
        t = Tree(block_size=4)
        for k in range(rnd.randint(0, 40)):
            nodes = list(t.preorder())
            t, _ = t.insert_child(rnd.choice(nodes) if nodes and rnd.random() < 0.8 else None, k)
        for style in EXPECTED:
            lines = t.render(style=style, max_lines=None).splitlines()
            assert len(lines) == len(t)
            for line, node in zip(lines, t.preorder()):
                assert line.endswith(str(t.data(node)))
                assert len(line) - len(str(t.data(node))) == t.level(node) * len(STYLE_WIDTH[style])


STYLE_WIDTH = {"unicode": "├── ", "ascii": "|-- ", "rounded": "╰── ", "compact": "├ "}


# -- work: O(lines shown + log n), counted ------------------------------------------------------


class Counting:
    """A tree wrapper counting the reads ``draw`` makes: bounds scanned, next_bound and size calls."""

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self.scanned = 0
        self.steps = 0
        self.sizes = 0
        outer = self

        class Reader:
            data = staticmethod(tree.order_index.data)
            require = staticmethod(tree.order_index.require)

            @staticmethod
            def next_bound(bound: Tuple[int, bool]) -> Optional[Tuple[int, bool]]:
                outer.steps += 1
                return tree.order_index.next_bound(bound)

            @staticmethod
            def bounds(start: Optional[Tuple[int, bool]] = None) -> Iterator[Tuple[int, bool]]:
                for bound in tree.order_index.bounds(start):
                    outer.scanned += 1
                    yield bound

        self.order_index = Reader()

    def size(self, node: int) -> int:
        self.sizes += 1
        return self.tree.size(node)

    def __len__(self) -> int:
        return len(self.tree)


@pytest.fixture
def leaves_crossed(monkeypatch: pytest.MonkeyPatch) -> List[int]:
    """Counts the leaves every scan of every order index steps into."""
    count = [0]
    step = IndexReader._next_leaf

    def counted(self: IndexReader, bid: int) -> Optional[int]:
        count[0] += 1
        return step(self, bid)

    monkeypatch.setattr(IndexReader, "_next_leaf", counted)
    return count


def events_flat(n: int) -> Iterator[Tuple[Any, bool]]:
    yield "root", True
    for i in range(n - 1):
        yield i, True
        yield None, False
    yield None, False


def events_chain(n: int) -> Iterator[Tuple[Any, bool]]:
    for i in range(n):
        yield i, True
    for _ in range(n):
        yield None, False


@pytest.mark.parametrize("shape", [events_flat, events_chain])
def test_render_max_lines_5_on_100k_nodes_touches_o_lines(shape: Any, leaves_crossed: List[int]) -> None:
    from botree.tree.render import render

    t = Tree.from_events(shape(100_000))
    counting = Counting(t)
    out = render(counting, max_lines=5)  # type: ignore[arg-type]
    assert out.splitlines()[-1] == "… (99995 more nodes)"
    assert counting.scanned <= 12 and counting.steps <= 12 and counting.sizes == 0
    leaves_crossed[0] = 0
    assert t.render(max_lines=5) == out
    assert leaves_crossed[0] <= 2  # the first leaf holds the lines; at most one step past it


def test_a_depth_cut_jumps_over_huge_subtrees(leaves_crossed: List[int]) -> None:
    from botree.tree.render import render

    def events() -> Iterator[Tuple[Any, bool]]:
        yield "root", True
        for k in range(3):
            yield f"big{k}", True
            yield from events_flat(30_000)
            yield None, False
        yield None, False

    t = Tree.from_events(events())
    counting = Counting(t)
    out = render(counting, max_depth=1, max_lines=None)  # type: ignore[arg-type]
    assert out.splitlines() == ["root"] + [
        f"{'└' if k == 2 else '├'}── big{k}  (+30000 below)" for k in range(3)
    ]
    assert counting.sizes == 3 and counting.scanned <= 12 and counting.steps <= 12
    leaves_crossed[0] = 0
    assert t.render(max_depth=1) == out
    assert leaves_crossed[0] <= 6  # a few per jump, not the ~1,400 leaves of the cut subtrees
