"""Load a JSON file, edit it structurally, write it back.

Run: python examples/json_document.py [input.json] [output.json]
Without arguments it makes a sample document in a temporary directory.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))

from progress import ProgressBar  # noqa: E402

from botree import JsonNode, Tree  # noqa: E402


def sample(path: str) -> None:
    doc = {
        "name": "botree",
        "tags": ["tree", "persistent", "index"],
        "authors": [{"name": "ada", "langs": ["py"]}, {"name": "bob", "langs": []}],
        "stats": {"stars": 10, "forks": 2, "ratio": 0.2, "archived": False, "license": None},
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)


def key_node(t: Tree, obj: int, key: str) -> int:
    """The key node ``key`` of object node ``obj``."""
    for k in t.children(obj):
        if t.data(k).value == key:
            return k
    raise KeyError(key)


def main(src: str, dst: str) -> None:
    t = Tree.from_json(src, progress=ProgressBar("loading"))
    before = t.to_nested()
    root = next(t.roots())
    print(f"loaded {len(t)} nodes; top-level keys:", [t.data(k).value for k in t.children(root)])

    # Structural edits: move "stats" to the front, drop "tags", add a key, rename one.
    stats = key_node(t, root, "stats")
    t = t.move(stats, root, 0)
    t = t.delete(key_node(t, root, "tags"))
    t, version = t.insert_child(root, JsonNode("key", "version"))
    t, _ = t.insert_child(version, JsonNode("value", "0.1.0"))
    authors_value = t.child(key_node(t, root, "authors"), 0)
    t, _ = t.insert_child(authors_value, JsonNode("object"), 0)  # an empty author first
    t = t.set_data(key_node(t, root, "name"), JsonNode("key", "project"))
    t.check()

    with open(dst, "w", encoding="utf-8") as f:
        f.write(t.to_json(indent=2))
    after = json.load(open(dst, encoding="utf-8"))
    print("keys now:", list(after))
    print("authors now:", after["authors"])
    assert list(after) == ["stats", "project", "authors", "version"]
    assert before["tags"] and "tags" not in after
    print(f"wrote {dst}")


if __name__ == "__main__":
    if len(sys.argv) >= 3:
        main(sys.argv[1], sys.argv[2])
    else:
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "in.json")
            sample(src)
            main(src, os.path.join(tmp, "out.json"))
