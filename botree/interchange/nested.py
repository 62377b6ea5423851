"""Lossless JSON-like values <-> forests.

Encoding (``docs/interchange.md``): every JSON value is one node whose data is a
``JsonNode``:

* an object is a node of kind ``"object"`` whose children are ``"key"`` nodes, in key
  order; each key node holds the key string and has exactly one child, the value;
* an array is a node of kind ``"array"`` whose children are its items, in order;
* a scalar (str, int, float, bool, None) is a leaf of kind ``"value"``.

So objects, arrays, keys and scalars are distinguishable, empty containers are nodes
without children, keys that look like numbers stay strings, and ``True`` stays
distinct from ``1``.  Both directions are iterative: nesting depth is unlimited.
"""

from __future__ import annotations

from typing import Any, Iterator, List, Optional, Tuple, Union

from ..errors import InvalidOperation

OBJECT = "object"
ARRAY = "array"
KEY = "key"
VALUE = "value"
_SCALARS = (str, int, float, bool, type(None))


class JsonNode:
    """The data of a node made by ``from_nested``: a kind and, for keys and scalars, a value."""

    __slots__ = ("kind", "value")

    def __init__(self, kind: str, value: Any = None) -> None:
        self.kind = kind
        self.value = value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JsonNode):
            return NotImplemented
        return self.kind == other.kind and type(self.value) is type(other.value) and self.value == other.value

    def __hash__(self) -> int:
        return hash((self.kind, type(self.value), self.value))

    def __repr__(self) -> str:
        return f"JsonNode({self.kind!r}, {self.value!r})" if self.kind in (KEY, VALUE) else f"JsonNode({self.kind!r})"

    def __str__(self) -> str:
        if self.kind == OBJECT:
            return "{}"
        if self.kind == ARRAY:
            return "[]"
        if self.kind == KEY:
            return f"{self.value!r}:"
        return repr(self.value)


def _path(path: str, step: Any) -> str:
    return f"{path}[{step}]" if isinstance(step, int) else f"{path}[{step!r}]"


def nested_events(obj: Any) -> Iterator[Tuple[Any, bool]]:
    """The bounds of ``obj``'s encoding as ``(JsonNode, is_open)`` pairs, lazily.

    Raises TypeError naming the path (``$['a'][3]``) of the first non-JSON value.
    """
    # Stack entries: ("v", value, path) to emit a value, ("k", key) to open a key,
    # ("c",) to close the innermost open node.
    close = ("c",)
    stack: List[Tuple[Any, ...]] = [("v", obj, "$")]
    pop = stack.pop
    push = stack.append
    while stack:
        entry = pop()
        tag = entry[0]
        if tag == "c":
            yield None, False
        elif tag == "k":
            yield JsonNode(KEY, entry[1]), True
        else:
            value = entry[1]
            kind = type(value)
            if kind is dict:
                yield JsonNode(OBJECT), True
                push(close)
                path = entry[2]
                for key in reversed(list(value)):
                    if type(key) is not str:
                        raise TypeError(f"object key {key!r} at {path} is not a str")
                    push(close)
                    push(("v", value[key], _path(path, key)))
                    push(("k", key))
            elif kind is list:
                yield JsonNode(ARRAY), True
                push(close)
                path = entry[2]
                for i in range(len(value) - 1, -1, -1):
                    push(("v", value[i], _path(path, i)))
            elif kind in _SCALARS:
                yield JsonNode(VALUE, value), True
                yield None, False
            else:
                raise TypeError(f"value at {entry[2]} of type {kind.__name__} is not JSON: {value!r:.60}")


def build_nested(bounds: Iterator[Tuple[int, bool]], data_of: Any) -> Any:
    """The JSON value encoded by one node's bounds (see the module docstring)."""
    stack: List[Any] = []  # open containers; a key frame is a [key] or [key, value] list
    kinds: List[str] = []
    result: Any = None
    have_result = False
    for node, is_open in bounds:
        if not is_open:
            kind = kinds.pop()
            if kind == KEY:
                frame = stack.pop()
                if len(frame) != 2:
                    raise InvalidOperation(f"key node {node} ({frame[0]!r}) has no value")
                if frame[0] in stack[-1]:
                    raise InvalidOperation(f"key node {node}: the object already has a member {frame[0]!r}")
                stack[-1][frame[0]] = frame[1]
            elif kind != VALUE:
                stack.pop()
            continue
        data = data_of(node)
        if not isinstance(data, JsonNode):
            raise InvalidOperation(f"node {node} does not hold JSON data: {data!r:.60}")
        kind = data.kind
        if kind not in (OBJECT, ARRAY, KEY, VALUE):
            raise InvalidOperation(f"node {node} has an unknown JSON kind {kind!r}")
        if kind == KEY and type(data.value) is not str:
            raise InvalidOperation(f"key node {node} holds a non-str key {data.value!r}")
        if kind == VALUE and type(data.value) not in _SCALARS:
            raise InvalidOperation(f"value node {node} holds a non-scalar {type(data.value).__name__}")
        parent_kind = kinds[-1] if kinds else None
        if parent_kind == OBJECT and kind != KEY:
            raise InvalidOperation(f"node {node} is a child of an object but not a key")
        if parent_kind != OBJECT and kind == KEY:
            raise InvalidOperation(f"key node {node} is not the child of an object")
        if parent_kind == KEY and len(stack[-1]) == 2:
            raise InvalidOperation(f"key node holding {stack[-1][0]!r} has more than one value")
        if parent_kind == VALUE:
            raise InvalidOperation(f"node {node} is below a scalar")
        kinds.append(kind)
        if kind == KEY:
            stack.append([data.value])
            continue
        value: Any = {} if kind == OBJECT else [] if kind == ARRAY else data.value
        if not stack:
            if have_result:
                raise InvalidOperation("more than one top-level JSON value")
            result = value
            have_result = True
        elif parent_kind == ARRAY:
            stack[-1].append(value)
        else:  # parent is a key frame
            stack[-1].append(value)
        if kind in (OBJECT, ARRAY):
            stack.append(value)
    return result


def single_root(roots: Iterator[int]) -> Optional[int]:
    """The only element of ``roots``, None if there is none; InvalidOperation if several."""
    first = next(roots, None)
    if first is not None and next(roots, None) is not None:
        raise InvalidOperation("the forest has several top-level nodes: name the one to convert")
    return first


def json_text(bounds: Iterator[Tuple[int, bool]], data_of: Any, indent: Union[int, str, None] = None) -> str:
    """The JSON text of one node's encoding, written iteratively (no depth limit).

    Scalars and keys go through ``json.dumps``; structure is written here, with
    ``indent`` spaces per level, byte for byte what ``json.dumps(value, indent=indent)``
    writes.  The caller validates the encoding first (``build_nested``).
    """
    import json

    out: List[str] = []
    write = out.append
    kinds: List[str] = []
    counts: List[int] = []  # members written so far, per open container
    sep = (",", ": ") if indent is not None else (", ", ": ")  # json.dumps' defaults
    unit = indent if isinstance(indent, str) else " " * (indent or 0)  # as json.dumps reads indent

    def newline(depth: int) -> None:
        if indent is not None:
            write("\n" + unit * depth)

    for node, is_open in bounds:
        if not is_open:
            kind = kinds.pop()
            if kind in (OBJECT, ARRAY):
                had = counts.pop()
                if had:
                    newline(len(counts))
                write("}" if kind == OBJECT else "]")
            continue
        data = data_of(node)
        kind = data.kind
        parent = kinds[-1] if kinds else None
        if parent in (OBJECT, ARRAY):
            if counts[-1]:
                write(sep[0])
            counts[-1] += 1
            newline(len(counts))
        if kind == KEY:
            write(json.dumps(data.value) + sep[1])
        elif kind == OBJECT or kind == ARRAY:
            write("{" if kind == OBJECT else "[")
            counts.append(0)
        else:
            write(json.dumps(data.value))
        kinds.append(kind)
    return "".join(out)
