"""Diagram text of a forest: Graphviz dot and mermaid flowcharts.

Node ``n`` is drawn as ``n<id>`` with a label; edges go parent -> child, written in
child order.  A label is ``label(data)`` for a callable, ``data[label]`` for a field
name (nodes without the field get an empty label), or ``str(data)`` for None.  Labels
are escaped for each language: any text, quotes, backslashes, newlines and brackets
included, draws as itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Callable, Iterator, List, Optional, Tuple, Union

from ..errors import InvalidArgument

Label = Union[None, str, Callable[[Any], Any]]
# Every line boundary of ``str.splitlines`` (not only CR and LF): a label holding one raw
# would split the diagram's one-statement-per-line text for any line-based reader.
LINE_BREAK = re.compile("\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def labeller(label: Label) -> Callable[[Any], str]:
    """The function data -> label text for ``label`` (see the module docstring). O(1)."""
    if label is None:
        return str
    if isinstance(label, str):
        field = label

        def by_field(data: Any) -> str:
            if isinstance(data, Mapping):
                value = data.get(field)
            else:
                value = getattr(data, field, None)
            return "" if value is None else str(value)

        return by_field
    if callable(label):
        return lambda data: str(label(data))
    raise InvalidArgument(f"label must be a field name, a callable or None, not {type(label).__name__}")


def dot_escape(text: str) -> str:
    """``text`` inside a double-quoted dot string: backslash, quote and line breaks escaped. O(len)."""
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    return LINE_BREAK.sub(r"\\n", text)


def mermaid_escape(text: str) -> str:
    """``text`` inside a double-quoted mermaid label: entity codes for ``# & " < > ` ``, ``<br>`` for line breaks.

    O(len).
    """
    text = text.replace("#", "#35;")  # first: the codes below start with '#'
    for char, code in (("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("`", "#96;")):
        text = text.replace(char, code)
    return LINE_BREAK.sub("<br>", text)


def _edges(bounds: Iterator[Tuple[int, bool]]) -> Iterator[Tuple[Optional[int], int]]:
    """(parent or None, node) for every node among ``bounds``, in preorder."""
    stack: List[int] = []
    for node, is_open in bounds:
        if is_open:
            yield (stack[-1] if stack else None), node
            stack.append(node)
        else:
            stack.pop()


def dot_text(
    bounds: Iterator[Tuple[int, bool]], data_of: Callable[[int], Any], label: Label = None, name: str = "tree"
) -> str:
    """A Graphviz ``digraph`` of the nodes among ``bounds``, children kept in order (``ordering=out``). O(size)."""
    text = labeller(label)
    lines = [f'digraph "{dot_escape(name)}" {{', "    graph [ordering=out];"]
    for parent, node in _edges(bounds):
        lines.append(f'    n{node} [label="{dot_escape(text(data_of(node)))}"];')
        if parent is not None:
            lines.append(f"    n{parent} -> n{node};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def mermaid_text(
    bounds: Iterator[Tuple[int, bool]], data_of: Callable[[int], Any], label: Label = None, direction: str = "TD"
) -> str:
    """A mermaid ``flowchart`` of the nodes among ``bounds``. O(size)."""
    if direction not in ("TD", "TB", "BT", "LR", "RL"):
        raise InvalidArgument(f"direction must be one of TD, TB, BT, LR, RL, not {direction!r}")
    text = labeller(label)
    lines = [f"flowchart {direction}"]
    for parent, node in _edges(bounds):
        lines.append(f'    n{node}["{mermaid_escape(text(data_of(node)))}"]')
        if parent is not None:
            lines.append(f"    n{parent} --> n{node}")
    return "\n".join(lines) + "\n"
