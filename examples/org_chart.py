"""An org chart from (id, parent) rows: reorganise with move/move_range; old versions stay intact.

Run: python examples/org_chart.py
"""

from __future__ import annotations

from botree import load_parent_table

ROWS = [
    # (id, parent id, name)
    ("ceo", None, "Chief Executive"),
    ("cto", "ceo", "Technology"),
    ("cfo", "ceo", "Finance"),
    ("web", "cto", "Web team"),
    ("db", "cto", "Database team"),
    ("ml", "cto", "ML team"),
    ("ops", "cto", "Operations"),
    ("acct", "cfo", "Accounting"),
    ("pay", "cfo", "Payroll"),
    ("w1", "web", "Wen"), ("w2", "web", "Will"),
    ("d1", "db", "Dana"), ("m1", "ml", "Mo"), ("o1", "ops", "Olga"),
    ("a1", "acct", "Ann"), ("p1", "pay", "Pat"),
]


def names(t, nodes):  # type: ignore[no-untyped-def]
    return [t.data(n) for n in nodes]


def main() -> None:
    t, node = load_parent_table(ROWS, id=0, parent=1, data=2)
    v1 = t
    print(t.render())

    # A new "Platform" division takes the database, ML and operations teams (a run of siblings).
    t, platform = t.insert_child(node["ceo"], "Platform", 1)
    t = t.move_range(node["db"], node["ops"], platform)
    # Payroll moves under Operations; the Finance division is dissolved, its teams stay.
    t = t.move(node["pay"], node["ops"], 0)
    t = t.unwrap(node["cfo"])
    t.check()
    print("\nafter the reorganisation:\n" + t.render())

    print("\nOlga's chain of command:", " < ".join(names(t, t.ancestors(node["o1"]))))
    people = [n for n in t.descendants(platform) if t.is_leaf(n)]
    print("people under Platform:", ", ".join(names(t, people)))
    print("before, Olga reported via:", " < ".join(names(v1, v1.ancestors(node["o1"]))))
    assert v1.parent(node["db"]) == node["cto"] and t.parent(node["db"]) == platform
    assert names(v1, v1.children(node["ceo"])) == ["Technology", "Finance"]
    v1.check()

    rows = t.to_parent_table()
    print(f"\n{len(rows)} rows back out, e.g.", rows[:2])


if __name__ == "__main__":
    main()
