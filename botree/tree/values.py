"""The value policy of a ``Database``: what node data, commit messages and meta may hold.

A database stores a value exactly (type and value come back equal, in memory and
after reopening, in every backend) or refuses it with ``InvalidArgument`` naming the
path inside the value, before anything is written.  The accepted types, matched
exactly (``type(x) is T``: no subclasses, whose extra behaviour storage would drop):

* scalars: ``None``, ``bool``, ``int`` (any size), ``float``, ``str``, ``bytes``;
* containers of accepted values: ``tuple``, ``list``, ``dict`` (keys: accepted
  hashable values), ``set``, ``frozenset``;
* ``botree.interchange.nested.JsonNode`` (what ``Tree.from_nested`` builds), whose
  ``value`` is itself accepted.

Everything else is refused: numpy scalars (convert with ``.item()``: a documented
rule of the caller's, since a silent conversion would change the type read back),
``bytearray``, ``memoryview``, ``array.array`` (which an encoder would turn into
``bytes``), enum members, subclasses of ``str`` or ``int``, arbitrary objects, and
values that contain themselves.  Plain ``Tree`` values, outside a database, hold
anything.  The storage codec calls the same checks, so memory and storage refuse
exactly the same values.

A database also *owns* what it holds: ``owned`` copies a value on the way in (fused
with the check) and ``copy_out`` copies it on the way out, so a caller that keeps
or mutates a value it gave or read never changes any version.  Only mutable parts
are copied: ``dict``, ``list``, ``set`` and ``JsonNode`` (whose attributes can be
set), and the tuples, frozensets and dict keys that hold one; scalars and tuples or
frozensets of immutable values are shared, never copied.  Plain ``Tree`` values
hand out what they hold (their node tables have no ``copy_out``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ..errors import InvalidArgument
from ..interchange.nested import JsonNode

SCALARS = frozenset({type(None), bool, int, float, str, bytes})
# Containers may nest this deep (a list of scalars is depth 1).  The storage codec
# encodes tuples, sets, frozensets and JsonNodes as MessagePack extension types, one
# nested encoder (and decoder) call per level: deeper values would overflow the C
# stack of a reader (a segmentation fault at about 190 levels of tuples).
MAX_DEPTH = 100
CONTAINERS = frozenset({tuple, list, dict, set, frozenset, JsonNode})

# A path is built only when a value is refused: (parent path, step) chains, not strings.
_Path = Tuple[Any, str]


def check_values(values: Iterable[Any], what: str) -> None:
    """``check_value`` on each of ``values``, with a fast path for scalars and flat containers of them.

    For bulk writers (the storage codec encodes 64 rows at a time): a scalar, or a
    list, tuple or str-keyed dict of scalars, is accepted without the full walk.
    O(total size).
    """
    scalars = SCALARS
    for value in values:
        kind = type(value)
        if kind in scalars:
            continue
        if kind is dict:
            if all(type(k) is str for k in value) and all(type(v) in scalars for v in value.values()):
                continue
        elif kind is list or kind is tuple:
            if all(type(v) in scalars for v in value):
                continue
        check_value(value, what)


def owned(value: Any, what: str) -> Any:
    """``value`` checked as ``check_value`` does, and a copy of its mutable parts the caller cannot reach.

    What a database stores: the caller may go on changing ``value`` without changing
    the database.  A scalar, or a tuple of scalars, is returned itself; a dict or
    list of scalars is checked and copied in one loop; anything else is walked twice
    (``check_value``, then ``copy_out``).  No recursion.  O(size of the value).
    """
    kind = type(value)
    if kind in SCALARS:
        return value
    scalars = SCALARS
    if kind is dict:
        for k, v in value.items():
            if type(v) not in scalars or type(k) not in scalars:
                break
        else:
            return value.copy()
    elif kind is list:
        for v in value:
            if type(v) not in scalars:
                break
        else:
            return value.copy()
    elif kind is tuple and scalars.issuperset(map(type, value)):
        return value
    check_value(value, what)
    return copy_out(value)


def copy_out(value: Any) -> Any:
    """A copy of a stored value that shares no mutable part with it (immutable parts are shared).

    How a database hands out a value it holds (see ``owned``): mutating the copy
    changes no version.  A scalar, or a tuple or frozenset of scalars, is returned
    itself; a dict or list of scalars, or of scalars and such flat containers (two
    levels), is copied in one loop; deeper values by ``_deep_copy``.  ``value`` must
    pass the value policy (only its types are expected).  No recursion (values are
    at most ``MAX_DEPTH`` deep, and a part shared by several paths is copied once).
    O(size of the value).
    """
    kind = type(value)
    if kind in SCALARS:
        return value
    containers = CONTAINERS
    if kind is dict or kind is list:
        out = None
        # (key, value) of a dict, (index, element) of a list: an index is never a container.
        for slot, part in value.items() if kind is dict else enumerate(value):
            if type(part) in containers or type(slot) in containers:
                if type(slot) in containers or not _flat(part):
                    return _deep_copy(value)
                if out is None:
                    out = value.copy()
                if type(part) is not tuple and type(part) is not frozenset:
                    out[slot] = part.copy()
        return value.copy() if out is None else out
    if (kind is tuple or kind is frozenset) and containers.isdisjoint(map(type, value)):
        return value
    return _deep_copy(value)


def _flat(value: Any) -> bool:
    """True for a list, dict, set, tuple or frozenset of scalars only (a ``.copy()`` copies it; a tuple or
    frozenset needs none). O(len)."""
    kind = type(value)
    containers = CONTAINERS
    if kind is dict:
        return containers.isdisjoint(map(type, value.values())) and containers.isdisjoint(map(type, value))
    return kind is not JsonNode and containers.isdisjoint(map(type, value))


def _deep_copy(value: Any) -> Any:
    """``copy_out`` of a nested value: each dict and list copied shallowly, its container parts
    patched in from an explicit stack; a part met twice is copied once.

    Tuples, frozensets and sets of scalars, and JsonNodes holding a scalar, are handled
    here; an immutable container or a key holding a container (rare) sends the whole
    value to ``_deep_copy_parts_first``.  O(size).
    """
    containers = CONTAINERS
    memo: Dict[int, Any] = {}  # id of a part -> its copy (the parts stay alive: ``value`` holds them)
    top = [value]
    work: List[Tuple[Any, Any, Any]] = [(top, 0, value)]  # (the copy holding a part, where, the part)
    while work:
        holder, slot, item = work.pop()
        new = memo.get(id(item))
        if new is None:
            kind = type(item)
            if kind is dict:
                new = item.copy()
                for k, v in new.items():
                    if type(v) in containers:
                        work.append((new, k, v))
                    if type(k) in containers:
                        return _deep_copy_parts_first(value)
            elif kind is list:
                new = item.copy()
                for i, v in enumerate(new):
                    if type(v) in containers:
                        work.append((new, i, v))
            elif kind is JsonNode and type(item.value) not in containers:
                new = JsonNode(item.kind, item.value)
            elif kind is not JsonNode and containers.isdisjoint(map(type, item)):
                new = item.copy() if kind is set else item  # a tuple or frozenset of scalars: immutable
            else:
                return _deep_copy_parts_first(value)
            memo[id(item)] = new
        holder[slot] = new
    return top[0]


def _deep_copy_parts_first(value: Any) -> Any:
    """``copy_out`` of any nested value: children first, from an explicit stack; a part met twice is copied once.

    A tuple or frozenset whose parts all come back themselves is itself; a JsonNode
    is always copied (its attributes can be set).  O(size).
    """
    scalars = SCALARS
    memo: Dict[int, Any] = {}  # id of a part -> its copy (the parts stay alive: ``value`` holds them)
    stack: List[Tuple[Any, bool]] = [(value, False)]
    while stack:
        item, ready = stack.pop()
        key = id(item)
        if key in memo:
            continue
        kind = type(item)
        if not ready:
            stack.append((item, True))
            if kind is dict:
                parts: Iterable[Any] = [*item, *item.values()]
            elif kind is JsonNode:
                parts = (item.value,)
            else:
                parts = item
            stack.extend((part, False) for part in parts if type(part) not in scalars and id(part) not in memo)
            continue
        if kind is JsonNode:
            inner = item.value
            memo[key] = JsonNode(item.kind, inner if type(inner) in scalars else memo[id(inner)])
            continue
        if kind is dict:
            memo[key] = {
                (k if type(k) in scalars else memo[id(k)]): (v if type(v) in scalars else memo[id(v)])
                for k, v in item.items()
            }
            continue
        copied = [part if type(part) in scalars else memo[id(part)] for part in item]
        if kind is list:
            memo[key] = copied
        elif kind is set:
            memo[key] = set(copied)
        elif all(new is old for new, old in zip(copied, item)):  # tuple, frozenset: immutable all through
            memo[key] = item
        else:
            memo[key] = kind(copied)
    return memo[id(value)]


def check_value(value: Any, what: str) -> None:
    """Refuse ``value`` unless a database can store it exactly; ``what`` names it (e.g. ``"data"``).

    Raises ``InvalidArgument`` naming the path of a refused part (e.g.
    ``data['tags'][2]``) and its type.  Walks the value without recursion;
    containers nested deeper than ``MAX_DEPTH`` are refused, so is a container met
    twice on one path (a reference cycle); one shared by several paths is checked
    once.  O(size of the value).
    """
    kind = type(value)
    if kind in SCALARS:
        return
    stack: List[Tuple[Any, Any, bool, int]] = [(value, what, False, 1)]
    on_path: set[int] = set()
    done: Dict[int, int] = {}  # id -> the deepest place it passed at (met deeper: checked again)
    while stack:
        item, path, leaving, depth = stack.pop()
        if leaving:
            on_path.discard(id(item))
            done[id(item)] = max(depth, done.get(id(item), 0))
            continue
        kind = type(item)
        if kind in SCALARS:
            continue
        if kind not in CONTAINERS:
            raise InvalidArgument(_refusal(item, path))
        key = id(item)
        if done.get(key, 0) >= depth:
            continue
        if key in on_path:
            raise InvalidArgument(f"{_spell(path)} contains itself (a reference cycle), which cannot be stored")
        if depth > MAX_DEPTH:
            raise InvalidArgument(
                f"{_spell(path)} is nested {depth} containers deep, which cannot be stored (at most {MAX_DEPTH})"
            )
        on_path.add(key)
        stack.append((item, path, True, depth))
        inner = depth + 1
        if kind is list or kind is tuple:
            stack.extend((element, (path, i), False, inner) for i, element in enumerate(item))
        elif kind is dict:
            for i, (k, v) in enumerate(item.items()):
                stack.append((k, (path, ("key", i)), False, inner))
                stack.append((v, (path, _Key(k)), False, inner))
        elif kind is JsonNode:
            if type(item.kind) is not str:
                raise InvalidArgument(f"{_spell(path)}.kind must be a str, not {type(item.kind).__name__}")
            stack.append((item.value, (path, ".value"), False, inner))
        else:  # set, frozenset
            stack.extend((element, (path, ("element", i)), False, inner) for i, element in enumerate(item))


class _Key:
    """A dict key as a path step, spelled only if the value is refused."""

    __slots__ = ("key",)

    def __init__(self, key: Any) -> None:
        self.key = key


def _step(step: Any) -> str:
    """One path step as text: ``[2]``, ``['tags']``, ``<key 0>``, ``.value``."""
    if type(step) is int:
        return f"[{step}]"
    if type(step) is _Key:
        return f"[{step.key!r:.60}]"
    if type(step) is tuple:
        return f"<{step[0]} {step[1]}>"
    return str(step)


def _spell(path: Any) -> str:
    """The text of a path chain: the name, then each step. O(depth)."""
    steps: List[str] = []
    while type(path) is tuple:  # (parent path, step); the root is the name, a str
        path, step = path
        steps.append(_step(step))
    return str(path) + "".join(reversed(steps))


def _refusal(item: Any, path: Any) -> str:
    """Why ``item`` (at ``path``) is refused, with a hint where one helps. O(depth)."""
    kind = type(item)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    message = f"{_spell(path)} is a {name}, which cannot be stored exactly"
    if callable(getattr(item, "item", None)):
        message += "; convert it with .item() first (numpy scalars)"
    elif isinstance(item, (bytearray, memoryview)):
        message += "; convert it with bytes() first"
    elif any(isinstance(item, base) for base in SCALARS | CONTAINERS):
        message += " (subclasses of the accepted types are refused: convert to the plain type)"
    return message + "; accepted: None, bool, int, float, str, bytes, tuple, list, dict, set, frozenset, JsonNode"


def check_message(message: Optional[str]) -> None:
    """Refuse a commit message unless it is None or a str that storage keeps exactly. O(len).

    A str must encode as UTF-8 (no lone surrogates) and hold no NUL character.
    """
    if message is None:
        return
    if type(message) is not str:
        raise InvalidArgument(f"a commit message must be a str or None, not {type(message).__name__}")
    try:
        message.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidArgument(f"a commit message must be valid Unicode text: {exc}") from None
    if "\x00" in message:
        raise InvalidArgument("a commit message cannot contain NUL characters")


def check_meta(meta: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """Refuse commit meta unless it is None or a mapping of str keys to accepted values.

    Returns it as a new dict (None: empty) of ``owned`` copies.  O(size of the values).
    """
    if meta is None:
        return {}
    if not isinstance(meta, Mapping):
        raise InvalidArgument(f"meta must be a mapping of str keys to values, not {type(meta).__name__}")
    copy = dict(meta)
    for key, value in copy.items():
        if type(key) is not str:
            raise InvalidArgument(f"meta keys must be str, not {type(key).__name__} ({key!r:.60})")
        copy[key] = owned(value, f"meta[{key!r}]")
    return copy


__all__ = ["check_value", "check_message", "check_meta", "copy_out", "owned", "MAX_DEPTH"]
