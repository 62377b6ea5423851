"""networkx DiGraphs (edges parent -> child) <-> forests: the ``networkx`` extra, imported lazily.

Sibling order travels in a node attribute (``order``: the position among the
siblings); without it, siblings keep the order of ``g.nodes`` (insertion order).
Node data sits in one attribute (``data="data"``), or, with ``data=None``, is the
dict of the node's attributes (without ``order``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Hashable, Iterable, List, Optional, Tuple

from ..errors import InvalidArgument, InvalidOperation
from .extras import require
from .parenttable import parent_table_events


def to_graph(
    places: Iterable[Tuple[int, Optional[int], int]],
    data_of: Callable[[int], Any],
    data: Optional[str] = "data",
    order: Optional[str] = "order",
) -> Any:
    """A ``networkx.DiGraph`` with one node per tree node (added in preorder) and parent -> child edges. O(n)."""
    nx = require("networkx", "networkx", "to_networkx")
    g = nx.DiGraph()
    add_node = g.add_node
    add_edge = g.add_edge
    for n, p, i in places:
        value = data_of(n)
        if data is not None:
            attrs = {data: value}
        elif isinstance(value, Mapping):
            attrs = dict(value)
            if order is not None and order in attrs:
                raise InvalidOperation(f"node {n}'s data has a field {order!r}: pass another order= or data='data'")
        else:
            raise InvalidOperation(f"node {n} holds a {type(value).__name__}, not a dict: pass data='data'")
        if order is not None:
            attrs[order] = i
        add_node(n)
        g.nodes[n].update(attrs)
        if p is not None:
            add_edge(p, n)
    return g


def graph_events(
    g: Any, data: Optional[str] = "data", order: Optional[str] = "order", cycles: str = "error"
) -> Tuple[List[Tuple[Any, bool]], List[Hashable]]:
    """The bounds of the forest ``g`` describes, and its node keys in preorder. O(n + edges + n log n).

    Nodes without an incoming edge are top-level; a node with two parents raises
    ``InvalidOperation``, and so does a cycle (``cycles="break"``: see
    ``load_parent_table``).  Siblings are sorted by the ``order`` attribute when
    every node has it, else kept in ``g.nodes`` order; some nodes with it and some
    without raise ``InvalidArgument``.
    """
    nx = require("networkx", "networkx", "from_networkx")
    if not isinstance(g, nx.DiGraph):
        raise InvalidArgument(f"from_networkx needs a networkx DiGraph (edges parent -> child), not {type(g).__name__}")
    nodes = list(g.nodes(data=True))
    with_order = 0 if order is None else sum(1 for _, attrs in nodes if order in attrs)
    if 0 < with_order < len(nodes):
        bare = next(n for n, attrs in nodes if order not in attrs)
        raise InvalidArgument(f"node {bare!r} has no {order!r} attribute, but others have: give it to all or none")
    pred = g.pred
    rows: List[Tuple[Any, Any, Any, Any]] = []
    for n, attrs in nodes:
        parents = pred[n]
        if len(parents) > 1:
            raise InvalidOperation(f"node {n!r} has {len(parents)} parents: {list(parents)[:5]!r}")
        up = next(iter(parents)) if parents else None
        if data is None:
            value: Any = {k: v for k, v in attrs.items() if k != order}
        else:
            value = attrs.get(data)
        rows.append((n, up, attrs[order] if with_order else None, value))
    return parent_table_events(rows, 0, 1, 2 if with_order else None, 3, "error", cycles)
