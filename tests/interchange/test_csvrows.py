"""Typed CSV cells (``botree.interchange.csvrows``) and keyed parent tables (``.keyedtable``).

The central property: any CSV text the writer could have written (minimal quoting,
``\\n`` line ends) reads into typed rows that write back to the very same bytes.
"""

from __future__ import annotations

import io
from typing import Any, List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botree import Tree
from botree.errors import InvalidArgument, InvalidOperation
from botree.interchange.csvrows import cell, number, parse_types, read_rows, sniff, write_rows
from botree.interchange.keyedtable import internal_rows, internal_table, is_internal, keyed_rows, keyed_table

CELLS = st.one_of(
    st.sampled_from(
        ["", "0", "7", "-3", "007", "+1", "-0", "-0.0", "1.5", "1.50", "-0.25", "1e3", "true", "false", "True", "nan"]
    ),
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.text(alphabet="ab,\"\n x1", max_size=6),
)


def csv_text(header: List[str], rows: List[List[str]], delimiter: str = ",") -> str:
    """What the writer writes for these cell texts (every cell a str, so written as it is)."""
    buffer = io.StringIO()
    write_rows(buffer, header, rows, delimiter)
    return buffer.getvalue()


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 4).flatmap(lambda w: st.lists(st.lists(CELLS, min_size=w, max_size=w), max_size=8)))
def test_sniffed_rows_write_back_the_same_bytes(cells: List[List[str]]) -> None:
    width = len(cells[0]) if cells else 2
    header = [f"c{i}" for i in range(width)]
    cells = [row for row in cells if any(row)]  # a row of empty cells is a blank line when width is 1
    if width == 1:
        cells = [row for row in cells if row[0] != ""]
    text = csv_text(header, cells)
    got_header, rows = read_rows(io.StringIO(text, newline=""), "t.csv")
    assert got_header == header
    again = io.StringIO()
    write_rows(again, header, [[row[c] for c in header] for row in rows])
    assert again.getvalue() == text


def test_sniffing_rules() -> None:
    assert sniff(["1", "", "-2"]) == "number"
    assert sniff(["1", "2.5"]) == "number"
    assert sniff(["1", "007"]) == "str"  # 007 would come back as 7
    assert sniff(["1.50"]) == "str" and sniff(["1e3"]) == "str" and sniff(["+1"]) == "str"
    assert sniff(["true", "false", ""]) == "bool"
    assert sniff(["True"]) == "str" and sniff([""]) == "str"
    assert number("-0") is None and number("nan") is None and number("12") == 12
    header, rows = read_rows(io.StringIO("a,b,c,d\n1,x,true,\n2.5,,false,\n"), "t.csv")
    assert rows == [{"a": 1, "b": "x", "c": True, "d": None}, {"a": 2.5, "b": None, "c": False, "d": None}]
    assert type(rows[0]["a"]) is int and type(rows[1]["a"]) is float
    assert [cell(v) for v in (None, "x", True, 3, 2.5, [1, "a"])] == ["", "x", "true", "3", "2.5", '[1, "a"]']


def test_explicit_types_and_same_type() -> None:
    text = "id,parent,zip,flag\n007,,01234,yes\n1,007,2,no\n"
    _, rows = read_rows(io.StringIO(text), "t.csv", types=["zip=int"], same_type={"parent": "id"})
    assert [r["id"] for r in rows] == ["007", "1"]
    assert [r["parent"] for r in rows] == [None, "007"]  # typed like id (text), though "007" alone is not a number
    assert [r["zip"] for r in rows] == [1234, 2]
    _, rows = read_rows(io.StringIO("id,parent\n1,\n2,1\n"), "t.csv", same_type={"parent": "id"})
    assert [r["parent"] for r in rows] == [None, 1]
    with pytest.raises(InvalidArgument, match="row 1: column 'zip' holds 'x', not a int"):
        read_rows(io.StringIO("zip\nx\n"), "t.csv", types=["zip=int"])
    with pytest.raises(InvalidArgument, match="no column 'nope'"):
        parse_types(["nope=int"], ["a"])
    with pytest.raises(InvalidArgument, match="the type is one of"):
        parse_types(["a=decimal"], ["a"])
    _, rows = read_rows(io.StringIO("a;b\n1;[1,2]\n"), "t.csv", delimiter=";", types=["b=json"])
    assert rows == [{"a": 1, "b": [1, 2]}]


@pytest.mark.parametrize(
    "text, says",
    [
        ("", "empty CSV file"),
        ("a,a\n1,2\n", "repeats the column 'a'"),
        ("a,\n1,2\n", "empty column name"),
        ("a,b\n1,2,3\n", "line 2: more fields"),
        ("a,b\n1\n", "line 2: fewer fields"),
        ('a,b\n"1,2\n', "malformed CSV"),
    ],
)
def test_bad_csv(text: str, says: str) -> None:
    with pytest.raises(InvalidArgument, match=says):
        read_rows(io.StringIO(text), "t.csv")


def test_keyed_rows_keep_every_column_but_the_parent() -> None:
    header, rows = read_rows(io.StringIO("id,parent,order,name\n1,,2,a\n2,1,1,b\n"), "t.csv")
    table, ordered = keyed_rows(header, rows, "t.csv", "id", "parent", "order")
    assert ordered
    assert table == [(1, None, 2, {"id": 1, "order": 2, "name": "a"}), (2, 1, 1, {"id": 2, "order": 1, "name": "b"})]
    _, blank = keyed_rows(*read_rows(io.StringIO("id,parent,order\n1,,\n2,1,\n"), "t"), "t", "id", "parent", "order")
    assert not blank


@pytest.mark.parametrize(
    "text, says",
    [
        ("id,parent,order\n1,,1\n2,1,\n", "blank in row 2 but filled in row 1"),
        ("id,parent\n,\n", "row 1: empty key"),
        ("key,parent\n1,\n", "no key column 'id'"),
        ("id,up\n1,\n", "no parent column 'parent'"),
    ],
)
def test_keyed_rows_errors(text: str, says: str) -> None:
    header, rows = read_rows(io.StringIO(text), "t.csv")
    with pytest.raises(InvalidArgument, match=says):
        keyed_rows(header, rows, "t.csv", "id", "parent", "order" if "order" in header else None)


def keyed(rows: List[Any]) -> Tree:
    """A tree of ``(key, parent key, data)`` rows in file order (data are dicts holding ``id``)."""
    return Tree.from_parent_table([(k, p, d) for k, p, d in rows], id=0, parent=1, data=2)


def test_keyed_table_writes_parents_from_the_shape_and_keeps_or_rewrites_order() -> None:
    tree = keyed(
        [
            ("a", None, {"id": "a", "order": 1, "x": 1}),
            ("b", "a", {"id": "b", "order": 5}),
            ("c", "a", {"id": "c", "order": 7, "x": None}),
        ]
    )
    header, rows, rewrote = keyed_table(tree.places(), tree.data, "id", "parent", "order")
    assert header == ["id", "parent", "order", "x"]
    assert rows == [["a", None, 1, 1], ["b", "a", 5, None], ["c", "a", 7, None]] and not rewrote
    tree = tree.move(2, 0, 0)  # c before b: 7 then 5 no longer sorts them
    header, rows, rewrote = keyed_table(tree.places(), tree.data, "id", "parent", "order")
    assert rewrote and [r[2] for r in rows] == [0, 0, 1]
    with pytest.raises(InvalidOperation, match="like the parent column"):
        keyed_table(tree.places(), tree.data, "id", "x")
    tree, _ = tree.insert_child(None, [1])
    with pytest.raises(InvalidOperation, match="not a dict of fields"):
        keyed_table(tree.places(), tree.data, "id")


def test_internal_table_round_trip() -> None:
    tree = keyed([("a", None, {"n": 1}), ("b", "a", {"m": "x"}), ("c", None, {})])
    header, rows = internal_table(tree.places(), tree.data)
    assert is_internal(header) and header == ["#id", "#parent", "#order", "n", "m"]
    text = csv_text(header, rows)
    assert text == "#id,#parent,#order,n,m\n0,,0,1,\n1,0,0,,x\n2,,1,,\n"
    again = internal_rows(*read_rows(io.StringIO(text), "t"), "t")
    rebuilt = Tree.from_parent_table(again, id=0, parent=1, order=2, data=3)
    assert rebuilt == tree
