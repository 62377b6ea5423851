"""How the command line names nodes: by key when the tree has a key field, ``#N`` for internal node ids.

Reading a NODE argument (``resolve``):

* ``#12`` is internal node id 12, in every database (quote it in a shell: ``'#12'``);
  with ``--node-id`` a bare ``12`` is one too.
* In a database with a key field, anything else is a key, never a node id:
  ``3`` (canonical int text) is the int key 3 when there is one, else the string
  key ``"3"``; ``'"3"'`` (JSON string syntax) is always the string key ``"3"``; any
  other text is a string key.  An unknown key is ``UnknownKey``: nothing falls back
  to internal ids.
* Without a key field, NODE is an internal node id (``12`` or ``#12``).

Printing (``label``): a keyed tree's nodes print as their key (ints as digits,
strings as they are), other trees' as their node id.  Each lookup is O(log n).
"""

from __future__ import annotations

import json
from typing import Any, Optional

from ..errors import InvalidArgument, NodeNotFound
from ..interchange.csvrows import number


def key_field(tree: Any) -> Optional[str]:
    """The key field of ``tree`` (a ``Tree`` or ``Transaction``), None when it has none."""
    return getattr(tree, "key", None)


def show_key(key: Any) -> str:
    """A key as the command line prints it: an int's digits, a string itself."""
    return key if isinstance(key, str) else str(key)


def label(tree: Any, node: int) -> str:
    """How listings name ``node``: its key in a keyed tree, else its node id."""
    if key_field(tree) is None:
        return str(node)
    return show_key(tree.key_of(node))


def internal_id(text: str) -> Optional[int]:
    """The node id written ``#12`` (None when ``text`` is not of that form)."""
    if text.startswith("#") and text[1:].isdigit():
        return int(text[1:])
    return None


def key_value(tree: Any, text: str) -> Any:
    """The key a NODE argument names in a keyed tree (see the module). O(log n)."""
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, str):
            return value
    value = number(text)
    if isinstance(value, int) and tree.has_key(value):
        return value
    return text


def resolve(tree: Any, text: str, node_ids: bool = False, version: Optional[int] = None) -> int:
    """The node ``text`` names in ``tree`` (a ``Tree`` or ``Transaction``). O(log n).

    ``NodeNotFound`` (``UnknownKey`` for keys) naming it, and the version read, when
    there is no such node; ``InvalidArgument`` for text that names no node at all.
    """
    where = f" in version {version}" if version is not None else ""
    node = internal_id(text)
    if node is None and (node_ids or key_field(tree) is None):
        if not text.isdigit():
            kind = "--node-id takes node ids" if node_ids else "this database has no key field: nodes are named"
            raise InvalidArgument(f"{kind} by internal id (12 or #12), not {text!r}")
        node = int(text)
    if node is not None:
        if node not in tree:
            raise NodeNotFound(node, f"node {text} does not exist{where}")
        return node
    key = key_value(tree, text)
    if not tree.has_key(key):
        field = key_field(tree)
        raise NodeNotFound(key, f"no node has {field} {show_key(key)!r}{where}")
    return int(tree.node_of(key))
