"""Text drawings of a tree: a multi-line ``render`` and a one-line ``summary``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional

from ..errors import InvalidArgument

if TYPE_CHECKING:
    from .queries import TreeQueries


def label(data: Any, node: int) -> str:
    """How a node shows in a drawing: its data, or its id when it has none."""
    return f"#{node}" if data is None else str(data)


def render(tree: "TreeQueries", node: Optional[int] = None, max_lines: Optional[int] = 50) -> str:
    """Box-drawing rendering of ``node``'s subtree (None: the forest), one line per node.

    No recursion: a single scan of the bounds keeps one 'has later siblings' flag
    per open ancestor.  Output stops after ``max_lines`` lines (an int >= 0, or None:
    no limit) with a count of the rest.
    """
    if max_lines is not None and (type(max_lines) is not int or max_lines < 0):
        raise InvalidArgument(f"max_lines must be a non-negative int or None, not {max_lines!r}")
    ix = tree.order_index
    lines: List[str] = []
    more: List[bool] = []  # per open node: does it have a later sibling?
    total = 0
    for n, is_open in tree.events(node):
        if not is_open:
            more.pop()
            continue
        nxt = ix.next_bound((n, False))
        has_next = nxt is not None and nxt[1]
        total += 1
        if max_lines is None or len(lines) < max_lines:
            if more:
                bars = "".join("│   " if m else "    " for m in more[1:])
                prefix = bars + ("├── " if has_next else "└── ")
            else:
                prefix = ""
            lines.append(prefix + label(ix.data(n), n))
        more.append(has_next)
    if max_lines is not None and total > len(lines):
        lines.append(f"… ({total - len(lines)} more nodes)")
    return "\n".join(lines)


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
