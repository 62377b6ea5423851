"""Text drawings of a tree: box-drawing lines (``draw``, ``render``) and a one-line ``summary``."""

from __future__ import annotations

import reprlib
from typing import TYPE_CHECKING, Any, Callable, Iterator, List, Optional

from ..core.reader import Bound
from ..errors import InvalidArgument

if TYPE_CHECKING:
    from .queries import TreeQueries


def label(data: Any, node: int) -> str:
    """How a node shows in a drawing: its data, or its id when it has none."""
    return f"#{node}" if data is None else text(data, str)


class _HugeInts(reprlib.Repr):
    """``repr`` that writes integers beyond Python's int-to-str digit limit in hex, and cuts nothing else."""

    def __init__(self) -> None:
        super().__init__()
        for name in ("maxdict", "maxlist", "maxtuple", "maxset", "maxfrozenset", "maxdeque", "maxarray",
                     "maxlong", "maxstring", "maxother", "maxlevel"):
            setattr(self, name, 1 << 30)

    def repr_int(self, x: int, level: int) -> str:
        try:
            return repr(x)
        except ValueError:  # more digits than sys.get_int_max_str_digits() allows in decimal
            return hex(x)

    def repr_dict(self, x: Any, level: int) -> str:  # in insertion order, as repr does
        items = (f"{self.repr1(k, level - 1)}: {self.repr1(v, level - 1)}" for k, v in x.items())
        return "{" + ", ".join(items) + "}"

    def repr_JsonNode(self, x: Any, level: int) -> str:
        return f"JsonNode({x.kind!r}, {self.repr1(x.value, level - 1)})"


def text(data: Any, convert: Callable[[Any], str] = repr) -> str:
    """``convert(data)`` (``str`` or ``repr``) for display. O(size).

    Stored values may hold integers with more digits than Python turns into decimal
    text (``sys.get_int_max_str_digits()``, a ``ValueError``): those show in hex.
    """
    try:
        return convert(data)
    except ValueError:
        huge = _HugeInts()
        if convert is str and type(data).__name__ == "JsonNode":  # str(JsonNode): its value, keys with ':'
            return huge.repr(data.value) + (":" if str(data.kind) == "key" else "")
        return huge.repr(data)


def draw(
    tree: "TreeQueries",
    node: Optional[int] = None,
    show: Callable[[Any, int], str] = label,
    depth: Optional[int] = None,
    indent_limit: Optional[int] = None,
) -> Iterator[str]:
    """Box-drawing lines of ``node``'s subtree (None: the forest), one per node, made lazily.

    ``show(data, node)`` gives a node's text.  With ``depth``, nodes more than ``depth``
    levels below the top are left out and a node whose children are cut off shows
    how many nodes lie below it.  With ``indent_limit``, lines deeper than that many
    levels show their level and only the last ``indent_limit`` levels of indentation,
    so deep chains stay linear in size.  No recursion: one scan of the bounds keeps
    a 'has later siblings' flag per open ancestor, and a cut-off subtree is jumped over.
    """
    ix = tree.order_index
    data = ix.data
    next_bound = ix.next_bound
    more: List[bool] = []  # per open node: does it have a later sibling?
    one = node is not None
    bounds: Optional[Iterator[Bound]] = ix.bounds() if node is None else ix.bounds((node, True))
    while bounds is not None:
        jump = None
        for n, is_open in bounds:
            if not is_open:
                more.pop()
                if one and not more:
                    return
                continue
            nxt = next_bound((n, False))
            has_next = nxt is not None and nxt[1]
            line = _prefix(more, has_next, indent_limit) + show(data(n), n)
            if depth is not None and len(more) >= depth and next_bound((n, True)) != (n, False):
                yield f"{line}  (+{tree.size(n) - 1} below)"
                jump = n
                more.append(has_next)
                break
            yield line
            more.append(has_next)
        bounds = None if jump is None else ix.bounds((jump, False))


def _prefix(more: List[bool], has_next: bool, indent_limit: Optional[int]) -> str:
    """The indentation and branch of a line below open nodes with later-sibling flags ``more``."""
    level = len(more)
    if not level:
        return ""
    start = 1 if indent_limit is None else max(1, level - indent_limit)
    bars = "".join("│   " if m else "    " for m in more[start:])
    return (f"[level {level}] " if start > 1 else "") + bars + ("├── " if has_next else "└── ")


def render(tree: "TreeQueries", node: Optional[int] = None, max_lines: Optional[int] = 50) -> str:
    """Box-drawing rendering of ``node``'s subtree (None: the forest), one line per node.

    Output stops after ``max_lines`` lines (an int >= 0, or None: no limit) with a
    count of the rest.  O(lines shown).
    """
    if max_lines is not None and (type(max_lines) is not int or max_lines < 0):
        raise InvalidArgument(f"max_lines must be a non-negative int or None, not {max_lines!r}")
    shown: List[str] = []
    lines = draw(tree, node)
    while max_lines is None or len(shown) < max_lines:
        line = next(lines, None)
        if line is None:
            break
        shown.append(line)
    if max_lines is not None and len(shown) >= max_lines:
        total = len(tree) if node is None else tree.size(node)
        if total > len(shown):
            shown.append(f"… ({total - len(shown)} more nodes)")
    return "\n".join(shown)


def summary(tree: "TreeQueries", width: int = 60) -> str:
    """A one-line nested rendering like ``a(b, c(d))``, cut at about ``width`` characters."""
    ix = tree.order_index
    out: List[str] = []
    length = 0
    need_comma = False
    for n, is_open in tree.events():
        if is_open:
            piece = (", " if need_comma else "") + label(ix.data(n), n)
            nxt = ix.next_bound((n, True))
            if nxt != (n, False):
                piece += "("
                need_comma = False
            else:
                need_comma = True
        else:
            prev = ix.prev_bound((n, False))
            if prev == (n, True):
                continue
            piece = ")"
            need_comma = True
        out.append(piece)
        length += len(piece)
        if length > width:
            out.append("…")
            break
    return "".join(out)
