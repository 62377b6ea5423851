"""A deliberately naive model of an order index: a plain list of (node, is_open) bounds."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

Bound = Tuple[int, bool]


def levels(model: List[Bound]) -> Dict[int, int]:
    """Depth of every node, by counting open bounds."""
    depth = 0
    out: Dict[int, int] = {}
    for node, is_open in model:
        if is_open:
            out[node] = depth
            depth += 1
        else:
            depth -= 1
    return out


def parents(model: List[Bound]) -> Dict[int, Optional[int]]:
    """Parent of every node (None at top level), with an explicit stack."""
    stack: List[int] = []
    out: Dict[int, Optional[int]] = {}
    for node, is_open in model:
        if is_open:
            out[node] = stack[-1] if stack else None
            stack.append(node)
        else:
            stack.pop()
    return out


def span(model: List[Bound], node: int) -> Tuple[int, int]:
    """Positions of a node's open and close bounds."""
    return model.index((node, True)), model.index((node, False))


def siblings_after(model: List[Bound], node: int) -> List[int]:
    """``node`` and its later siblings, in order."""
    par = parents(model)
    return [n for n, o in model if o and par[n] == par[node] and model.index((n, True)) >= model.index((node, True))]


def relocate(model: List[Bound], first: Bound, last: Bound, before: Optional[Bound]) -> List[Bound]:
    i = model.index(first)
    j = model.index(last)
    run = model[i : j + 1]
    rest = model[:i] + model[j + 1 :]
    k = rest.index(before) if before is not None else len(rest)
    return rest[:k] + run + rest[k:]


def delete_pair(model: List[Bound], node: int) -> List[Bound]:
    return [b for b in model if b[0] != node]


def delete_range(model: List[Bound], first: Bound, last: Bound) -> List[Bound]:
    i = model.index(first)
    j = model.index(last)
    return model[:i] + model[j + 1 :]
