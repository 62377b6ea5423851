"""Path strings ("a/b/c") <-> forests of named nodes.

Each path names a chain of nodes from the top level down, one segment per level; paths
sharing a prefix share those nodes; siblings come in order of first appearance.  A
node's data is ``{field: segment}``.  One leading and one trailing separator are
ignored ("/a/b/" is "a/b"); an empty segment ("a//b") or an empty path is an error.
Going back, the paths of the leaves in preorder describe the same forest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Dict, Iterable, Iterator, List, Tuple

from ..errors import InvalidArgument, InvalidOperation


def check_separator(sep: Any, field: Any) -> None:
    """``sep`` a non-empty str, ``field`` a str: ``InvalidArgument`` otherwise. O(1)."""
    if not isinstance(sep, str) or not sep:
        raise InvalidArgument(f"sep must be a non-empty str, not {sep!r}")
    if not isinstance(field, str):
        raise InvalidArgument(f"field must be a str, not {type(field).__name__}")


def split_path(path: Any, sep: str) -> List[str]:
    """The segments of ``path``; ``InvalidArgument`` for a non-str, empty path or empty segment. O(len)."""
    if not isinstance(path, str):
        raise InvalidArgument(f"a path must be a str, not {type(path).__name__}: {path!r:.60}")
    body = path[len(sep) :] if path.startswith(sep) else path
    if body.endswith(sep):
        body = body[: -len(sep)]
    segments = body.split(sep)
    if not body or "" in segments:
        raise InvalidArgument(f"path {path!r} has an empty segment")
    return segments


def path_events(paths: Iterable[str], sep: str = "/", field: str = "name") -> List[Tuple[Any, bool]]:
    """The bounds of the forest the paths describe. O(total length of the paths)."""
    check_separator(sep, field)
    if isinstance(paths, str):
        raise InvalidArgument("paths is an iterable of path strings, not one str")
    try:
        source = iter(paths)
    except TypeError:
        raise InvalidArgument(f"paths must be an iterable of str, not {type(paths).__name__}") from None
    trie: Dict[str, Any] = {}  # segment -> the child trie; dicts keep first appearance
    for path in source:
        level = trie
        for segment in split_path(path, sep):
            child = level.get(segment)
            if child is None:
                child = level[segment] = {}
            level = child
    events: List[Tuple[Any, bool]] = []
    close = (None, False)
    stack: List[Iterator[Tuple[str, Any]]] = [iter(trie.items())]
    while stack:
        step = next(stack[-1], None)
        if step is None:
            stack.pop()
            if stack:
                events.append(close)
            continue
        events.append(({field: step[0]}, True))
        stack.append(iter(step[1].items()))
    return events


def segment_of(node: int, data: Any, field: str, sep: str) -> str:
    """``data[field]`` as a path segment: ``InvalidOperation`` if missing, not a str, empty or holding ``sep``."""
    value = data.get(field) if isinstance(data, Mapping) else None
    if not isinstance(value, str) or not value or sep in value:
        raise InvalidOperation(
            f"node {node} has no path segment: its {field!r} is {value!r:.60} (need a str without {sep!r})"
        )
    return value


def leaf_paths(
    bounds: Iterator[Tuple[int, bool]], data_of: Callable[[int], Any], sep: str = "/", field: str = "name"
) -> List[str]:
    """The path of every leaf among ``bounds``, in preorder. O(size + output length)."""
    check_separator(sep, field)
    names: List[str] = []
    paths: List[str] = []
    last_open = False
    for node, is_open in bounds:
        if is_open:
            names.append(segment_of(node, data_of(node), field, sep))
        else:
            if last_open:  # closing right after opening: a leaf
                paths.append(sep.join(names))
            names.pop()
        last_open = is_open
    return paths
