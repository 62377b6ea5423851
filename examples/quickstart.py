"""Quickstart: build a hierarchy, query it, update it, keep snapshots, batch, walk with a cursor.

Run: python examples/quickstart.py
"""

from botree import Tree


def main() -> None:
    # An empty forest whose node data is indexed on the "name" field.
    t = Tree(fields=("name",))
    t, company = t.insert_child(None, {"name": "company"})
    t, eng = t.insert_child(company, {"name": "engineering"})
    t, sales = t.insert_child(company, {"name": "sales"})
    t, alice = t.insert_child(eng, {"name": "alice"})
    t, bob = t.insert_child(sales, {"name": "bob"})
    v1 = t  # a snapshot costs nothing: a Tree never changes

    print(t.render())
    print("level of bob:", t.level(bob), "| parent:", t.data(t.parent(bob))["name"])
    print("alice under engineering?", t.is_descendant(alice, eng), "| size of company:", t.size(company))
    print("preorder:", [t.data(n)["name"] for n in t.preorder()])

    # Move all of sales under engineering: O(log n), however big sales is.
    t = t.move(sales, eng)
    print("\nafter the move:\n" + t.render())
    print("bob's level now", t.level(bob), "- in the old snapshot still", v1.level(bob))

    # A transaction: many updates, one new tree; an exception would discard them all.
    with t.transaction() as tx:
        interns = tx.insert_child(alice, {"name": "interns"})
        for i in range(3):
            tx.insert_child(interns, {"name": f"intern{i}"})
    t = tx.tree
    print("\nfind(name='intern1'):", t.find(name="intern1"))

    # A cursor: an immutable position; walking it visits every bound in document order.
    opened = [c.data["name"] for c in t.cursor(company) if c.is_open]
    print("cursor walk:", " > ".join(opened))

    t.check()
    v1.check()
    print(f"\n{len(t)} nodes now, {len(v1)} in the first snapshot; both pass check()")


if __name__ == "__main__":
    main()
