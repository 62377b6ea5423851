"""Quickstart: build a small hierarchy in the persistent order index, query it, update it.

Run: python examples/quickstart.py
"""

from botree import OrderIndex


def main() -> None:
    idx = OrderIndex(index=("name",))
    # insert_pair(data, before): a node whose bounds go just before `before` (None: the end).
    idx, root = idx.insert_pair({"name": "company"})
    idx, eng = idx.insert_pair({"name": "engineering"}, before=(root, False))
    idx, sales = idx.insert_pair({"name": "sales"}, before=(root, False))
    idx, alice = idx.insert_pair({"name": "alice"}, before=(eng, False))
    idx, bob = idx.insert_pair({"name": "bob"}, before=(sales, False))
    v1 = idx

    print("levels:", {idx.data(n)["name"]: idx.level(n) for n in (root, eng, sales, alice, bob)})
    print("alice inside engineering:", idx.before((eng, True), (alice, True)) and idx.before((alice, False), (eng, False)))
    print("parent of bob:", idx.data(idx.enclosing(bob))["name"])

    # Move the whole sales department under engineering: one relocation, O(B · h).
    idx = idx.relocate((sales, True), (sales, False), before=(eng, False))
    print("after the move, bob is at level", idx.level(bob), "under", idx.data(idx.enclosing(sales))["name"])
    print("old version untouched: bob at level", v1.level(bob))

    # A batch: many updates, one new index.
    batch = idx.edit()
    for i in range(5):
        batch.insert_pair({"name": f"intern{i}"}, before=(alice, False))
    idx = batch.persistent()
    print("interns under alice:", sorted(idx.data(n)["name"] for n in idx.find("name", "intern3")))

    # Walk the bounds in document order, with levels.
    for node, is_open, level in idx.leveled_bounds():
        if is_open:
            print("  " * level + idx.data(node)["name"])
    idx.check()
    v1.check()
    print(f"{len(idx)} nodes now, {len(v1)} in the first version; both pass check()")


if __name__ == "__main__":
    main()
