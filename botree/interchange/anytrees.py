"""anytree node objects <-> forests: the ``anytree`` extra, imported lazily.

With ``data=None`` a node's data is the dict of its public attributes
(``vars(node)`` without ``_`` names: ``Node("a", x=1)`` is ``{"name": "a", "x": 1}``)
and going back the dict's items become the attributes of an ``AnyNode``; keys that
anytree itself uses (``parent``, ``children``, ``depth``, ``path``, ...) cannot be
attributes, so such data needs ``data="data"``: the whole value in one attribute.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Iterator, List, Optional, Tuple

from ..errors import InvalidArgument, InvalidOperation
from .extras import require


def _reserved(anytree: Any) -> frozenset:
    return frozenset(name for name in dir(anytree.AnyNode) if not name.startswith("_")) | {"parent", "children"}


def to_anytree_nodes(
    bounds: Iterator[Tuple[int, bool]], data_of: Callable[[int], Any], data: Optional[str] = None
) -> List[Any]:
    """One ``anytree.AnyNode`` per node among ``bounds``; the top-level ones in order. O(size).

    Children are attached when their parent closes, before it has a parent itself,
    so anytree's loop check costs O(1); its own attach is O(siblings) per child.
    """
    anytree = require("anytree", "anytree", "to_anytree")
    AnyNode = anytree.AnyNode
    reserved = _reserved(anytree)
    top: List[Any] = []
    stack: List[Tuple[Any, List[Any]]] = []
    for node, is_open in bounds:
        if not is_open:
            obj, kids = stack.pop()
            if kids:
                obj.children = kids
            (stack[-1][1] if stack else top).append(obj)
            continue
        value = data_of(node)
        if data is not None:
            attrs = {data: value}
        elif isinstance(value, Mapping):
            attrs = dict(value)
        else:
            raise InvalidOperation(f"node {node} holds a {type(value).__name__}, not a dict: pass data='data'")
        for key in attrs:
            if not isinstance(key, str) or not key.isidentifier() or key in reserved or key.startswith("_"):
                raise InvalidOperation(f"node {node}: {key!r} cannot be an anytree attribute: pass data='data'")
        stack.append((AnyNode(**attrs), []))
    return top


def anytree_events(obj: Any, data: Optional[str] = None) -> Iterator[Tuple[Any, bool]]:
    """The bounds of the subtrees of ``obj`` (an anytree node or a sequence of them), lazily. O(size)."""
    anytree = require("anytree", "anytree", "from_anytree")
    mixin = anytree.NodeMixin
    tops = [obj] if isinstance(obj, mixin) else list(obj) if isinstance(obj, (list, tuple)) else None
    if tops is None or not all(isinstance(t, mixin) for t in tops):
        raise InvalidArgument(f"from_anytree needs an anytree node or a list of them, not {type(obj).__name__}")
    close = (None, False)
    stack: List[Any] = tops[::-1]
    while stack:
        item = stack.pop()
        if item is None:
            yield close
            continue
        if data is None:
            value: Any = {k: v for k, v in vars(item).items() if not k.startswith("_")}
        else:
            value = getattr(item, data, None)
        yield value, True
        stack.append(None)
        stack.extend(reversed(item.children))
