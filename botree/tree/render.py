"""Text drawings of a tree: box-drawing lines (``draw``, ``render``) and a one-line ``summary``."""

from __future__ import annotations

import reprlib
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Tuple

from ..core.reader import Bound
from ..errors import InvalidArgument
from ..interchange.diagram import Label

if TYPE_CHECKING:
    from .queries import TreeQueries

# style -> (bar: an ancestor with later siblings, blank: one without,
#           tee: a branch with later siblings, elbow: the last branch)
STYLES: Dict[str, Tuple[str, str, str, str]] = {
    "unicode": ("│   ", "    ", "├── ", "└── "),
    "ascii": ("|   ", "    ", "|-- ", "`-- "),
    "rounded": ("│   ", "    ", "├── ", "╰── "),
    "compact": ("│ ", "  ", "├ ", "└ "),
}



def label(data: Any, node: int) -> str:
    """How a node shows in a drawing: its data, or its id when it has none. O(size of the text)."""
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


def labeller(how: Label) -> Callable[[Any, int], str]:
    """``show(data, node)`` for ``render``'s ``label``: None (``label``), a field name or ``data -> text``.

    A field name shows ``data[field]`` when the data is a dict holding that key, and
    the default label otherwise.  A callable's result is passed through ``str``.  O(1).
    """
    if how is None:
        return label
    if isinstance(how, str):
        name = how

        def field(data: Any, node: int) -> str:
            if type(data) is dict and name in data:
                return label(data[name], node)
            return label(data, node)

        return field
    if callable(how):
        call = how
        return lambda data, node: str(call(data))
    raise InvalidArgument(f"label must be None, a field name or a callable, not {type(how).__name__}")


def draw(
    tree: "TreeQueries",
    node: Optional[int] = None,
    show: Callable[[Any, int], str] = label,
    depth: Optional[int] = None,
    indent_limit: Optional[int] = None,
    style: str = "unicode",
) -> Iterator[str]:
    """Box-drawing lines of ``node``'s subtree (None: the forest), made lazily.

    ``show(data, node)`` gives a node's text; text with line breaks ("\\n") takes
    several lines, the later ones indented under the first and carrying the tree's
    vertical bars, not a branch.  With ``depth``, nodes more than ``depth`` levels
    below the top are left out and a node whose children are cut off shows how many
    nodes lie below it (from ``size``, O(log n)), its subtree jumped over in
    O(log n), never scanned.  With ``indent_limit``, lines deeper than that many
    levels show their level and only the last ``indent_limit`` levels of
    indentation, so deep chains stay linear in size.  ``style`` names the line
    characters (``STYLES``: "unicode", "ascii", "rounded", "compact").  No
    recursion: one scan of the bounds keeps a 'has later siblings' flag per open
    ancestor.  O(log n) to start, then amortised O(1) per line plus O(log n) per
    cut subtree and per leaf boundary crossed.
    """
    chars = _chars(style)
    return (line for line, _ in _lines(tree, node, show, depth, indent_limit, chars))


def _chars(style: str) -> Tuple[str, str, str, str]:
    """The line characters of ``style``; ``InvalidArgument`` for an unknown one."""
    chars = STYLES.get(style) if isinstance(style, str) else None
    if chars is None:
        raise InvalidArgument(f"style must be one of {', '.join(STYLES)}, not {style!r}")
    return chars


def _lines(
    tree: "TreeQueries",
    node: Optional[int],
    show: Callable[[Any, int], str],
    depth: Optional[int],
    indent_limit: Optional[int],
    chars: Tuple[str, str, str, str],
) -> Iterator[Tuple[str, int]]:
    """``draw``'s lines, each with the number of nodes it accounts for (cut ones included)."""
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
            text = show(data(n), n)
            rest: List[str] = []
            if "\n" in text:
                text, *rest = text.split("\n")
            line = _prefix(more, has_next, indent_limit, chars) + text
            cut = depth is not None and len(more) >= depth and next_bound((n, True)) != (n, False)
            count = 1
            if cut:
                below = tree.size(n) - 1
                line = f"{line}  (+{below} below)"
                count += below
            yield line, count
            if rest:
                pad = _prefix(more, has_next, indent_limit, chars, True)
                for piece in rest:
                    yield pad + piece, 0
            more.append(has_next)
            if cut:
                jump = n
                break
        bounds = None if jump is None else ix.bounds((jump, False))


def _prefix(
    more: List[bool],
    has_next: bool,
    indent_limit: Optional[int],
    chars: Tuple[str, str, str, str],
    continued: bool = False,
) -> str:
    """The indentation and branch of a line below open nodes with later-sibling flags ``more``.

    ``continued``: a label's later line, which carries a bar (or blank) where the branch was.
    """
    level = len(more)
    if not level:
        return ""
    bar, blank, tee, elbow = chars
    start = 1 if indent_limit is None else max(1, level - indent_limit)
    bars = "".join(bar if m else blank for m in more[start:])
    if continued:
        branch = bar if has_next else blank
    else:
        branch = tee if has_next else elbow
    return (f"[level {level}] " if start > 1 else "") + bars + branch


def render(
    tree: "TreeQueries",
    node: Optional[int] = None,
    max_depth: Optional[int] = None,
    label: Label = None,
    style: str = "unicode",
    max_lines: Optional[int] = 50,
) -> str:
    """A text drawing of ``node``'s subtree (None: the forest); see ``draw`` for the layout.

    ``max_depth`` (an int >= 0 or None) leaves out nodes deeper than that below the
    top; ``label`` is None (the data, or ``#id``), a field name or ``data -> text``;
    ``style`` one of ``STYLES``.  Output stops after ``max_lines`` lines (an int >= 0,
    or None: no limit) with a count of the nodes not shown, from ``size``.
    O(lines shown + log n): cut subtrees and the rest of the tree are never scanned.
    """
    if max_lines is not None and (type(max_lines) is not int or max_lines < 0):
        raise InvalidArgument(f"max_lines must be a non-negative int or None, not {max_lines!r}")
    if max_depth is not None and (type(max_depth) is not int or max_depth < 0):
        raise InvalidArgument(f"max_depth must be a non-negative int or None, not {max_depth!r}")
    if node is not None:
        tree.order_index.require(node)
    lines = _lines(tree, node, labeller(label), max_depth, None, _chars(style))
    shown: List[str] = []
    accounted = 0  # nodes drawn or counted below a cut
    for line, count in lines:
        if max_lines is not None and len(shown) >= max_lines:
            left = (len(tree) if node is None else tree.size(node)) - accounted
            shown.append(f"… ({left} more nodes)" if left else "…")
            break
        shown.append(line)
        accounted += count
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
