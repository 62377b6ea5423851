"""``IndexReader.min_level`` (the range-minimum query behind ``lca``) against a scan."""

from __future__ import annotations

from typing import List, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botree import Tree
from botree.errors import InvalidArgument


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 1000), min_size=1, max_size=120), st.data())
def test_min_level_equals_a_scan(choices: List[int], data: st.DataObject) -> None:
    ids: List[int] = []
    with Tree(block_size=4).transaction() as tx:
        for i, c in enumerate(choices):
            parent: Optional[int] = None if c % 7 == 0 or not ids else ids[c % len(ids)]
            ids.append(tx.insert_child(parent, i))
    t = tx.tree
    assert t is not None
    ix = t.order_index
    bounds = list(ix.leveled_bounds())
    for _ in range(10):
        i = data.draw(st.integers(0, len(bounds) - 1))
        j = data.draw(st.integers(i, len(bounds) - 1))
        low = min(b[2] for b in bounds[i : j + 1])
        first = next(b for b in bounds[i : j + 1] if b[2] == low)
        got = ix.min_level((bounds[i][0], bounds[i][1]), (bounds[j][0], bounds[j][1]))
        assert got == ((first[0], first[1]), low)
        if i < j:
            with pytest.raises(InvalidArgument):
                ix.min_level((bounds[j][0], bounds[j][1]), (bounds[i][0], bounds[i][1]))
        keys = [ix.position((b[0], b[1])) for b in bounds[i : j + 1]]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)
