"""Record trees: nested dicts whose children sit in a list under one key <-> forests.

``{"name": "co", "children": [{"name": "eng"}, {"name": "ops", "children": []}]}`` is
three nodes; a node's data is its record without the children key (a new dict, sharing
the values).  A missing, None or empty children entry makes a leaf.  Going back, a
leaf's record gets **no** children key, so records without empty children lists
round-trip exactly.  Both directions are iterative: nesting depth is unlimited.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Dict, Hashable, Iterator, List, Optional, Tuple

from ..errors import DuplicateKey, InvalidArgument, InvalidKey, InvalidOperation


def _at(path: str, step: Any) -> str:
    return f"{path}[{step!r}]"


def records_events(
    obj: Any, children: str = "children", key: Optional[str] = None
) -> Iterator[Tuple[Dict[Any, Any], bool]]:
    """The bounds of the forest of records ``obj`` (one record or a list of them), lazily.

    ``key``: a field every record must have, an int or a str unique among all records
    (checked here: ``InvalidKey``, ``DuplicateKey`` naming both paths).  A record that is not a
    mapping, or children that are not a list or tuple, raise ``InvalidArgument``
    naming the path (``$[0]['children'][2]``).  O(n).
    """
    if not isinstance(children, str):
        raise InvalidArgument(f"children must be a str key, not {type(children).__name__}")
    if key is not None and not isinstance(key, str):
        raise InvalidArgument(f"key must be a str field name or None, not {type(key).__name__}")
    if isinstance(obj, Mapping):
        top: List[Tuple[Any, str]] = [(obj, "$")]
    elif isinstance(obj, (list, tuple)):
        top = [(record, f"$[{i}]") for i, record in enumerate(obj)]
    else:
        raise InvalidArgument(f"records must be a dict or a list of dicts, not {type(obj).__name__}")
    seen: Dict[Hashable, str] = {}
    close = (None, False)
    # Stack entries: (record, path) to open, or None to close the innermost open node.
    stack: List[Any] = top[::-1]
    pop = stack.pop
    push = stack.append
    while stack:
        entry = pop()
        if entry is None:
            yield close  # type: ignore[misc]
            continue
        record, path = entry
        if not isinstance(record, Mapping):
            raise InvalidArgument(f"record at {path} is a {type(record).__name__}, not a dict")
        kids = record.get(children)
        if kids is not None and not isinstance(kids, (list, tuple)):
            raise InvalidArgument(f"{_at(path, children)} must be a list of records, not {type(kids).__name__}")
        data = {k: v for k, v in record.items() if k != children}
        if key is not None:
            _check_key(data, key, path, seen)
        yield data, True
        push(None)
        if kids:
            sub = _at(path, children)
            for i in range(len(kids) - 1, -1, -1):
                push((kids[i], f"{sub}[{i}]"))


def _check_key(data: Dict[Any, Any], key: str, path: str, seen: Dict[Hashable, str]) -> None:
    """A record's key: present, an int or a str, unique (``InvalidKey``, ``DuplicateKey`` naming paths)."""
    if key not in data:
        raise InvalidKey(f"record at {path} has no {key!r} field (key={key!r} must be in every record)")
    value = data[key]
    if type(value) is not int and type(value) is not str:
        raise InvalidKey(f"record at {path}: the key {key}={value!r:.60} must be an int or a str")
    earlier = seen.setdefault((type(value), value), path)
    if earlier is not path:
        raise DuplicateKey(f"duplicate {key} {value!r:.60}: at {earlier} and at {path}")



def build_records(
    bounds: Iterator[Tuple[int, bool]], data_of: Callable[[int], Any], children: str = "children"
) -> List[Dict[Any, Any]]:
    """The records of the top-level nodes among ``bounds`` (a subtree or a forest). O(size).

    Every node's data must be a mapping without the ``children`` key
    (``InvalidOperation`` naming the node otherwise).  A leaf gets no children key.
    """
    if not isinstance(children, str):
        raise InvalidArgument(f"children must be a str key, not {type(children).__name__}")
    top: List[Dict[Any, Any]] = []
    stack: List[Dict[Any, Any]] = []
    for node, is_open in bounds:
        if not is_open:
            stack.pop()
            continue
        data = data_of(node)
        if not isinstance(data, Mapping):
            raise InvalidOperation(f"node {node} holds a {type(data).__name__}, not a dict: it has no record form")
        if children in data:
            raise InvalidOperation(f"node {node}'s data has a {children!r} field: choose another children key")
        record = dict(data)
        if stack:
            parent = stack[-1]
            kids: Optional[List[Dict[Any, Any]]] = parent.get(children)
            if kids is None:
                parent[children] = [record]
            else:
                kids.append(record)
        else:
            top.append(record)
        stack.append(record)
    return top
