"""ChunkedVector / TransientVector against a plain list, with every frozen version kept."""

from __future__ import annotations

from typing import List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botree.nodetable import ChunkedVector
from botree.nodetable.vector import LEAF, MID

ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers()),
        st.tuples(st.just("set"), st.integers(0, 10**6), st.integers()),
        st.tuples(st.just("freeze")),
        st.tuples(st.just("bulk"), st.integers(1, 2 * MID)),
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(start=st.sampled_from([0, 1, LEAF - 1, LEAF, LEAF + 1, MID - 1, MID, MID + 1, 3 * MID + 5]), script=ops)
def test_transient_vector_matches_a_list_and_frozen_versions_never_change(start: int, script: list) -> None:
    base_list = list(range(start))
    base = ChunkedVector(base_list)
    model: List[int] = list(base_list)
    vec = base.transient()
    frozen = [(base, list(base_list))]
    for op in script:
        if op[0] == "append":
            vec.append(op[1])
            model.append(op[1])
        elif op[0] == "set" and model:
            i = op[1] % len(model)
            vec[i] = op[2]
            model[i] = op[2]
        elif op[0] == "bulk":
            for k in range(op[1]):
                vec.append(k)
                model.append(k)
        elif op[0] == "freeze":
            frozen.append((vec.persistent(), list(model)))
        assert len(vec) == len(model)
    frozen.append((vec.persistent(), list(model)))
    for version, expect in frozen:
        assert list(version) == expect
        assert len(version) == len(expect)
        for i in range(0, len(expect), 37):
            assert version[i] == expect[i]


def test_out_of_range_indices_raise() -> None:
    vec = ChunkedVector(range(100))
    batch = vec.transient()
    for bad in (-1, 100, 10**9):
        with pytest.raises(IndexError):
            vec[bad]
        with pytest.raises(IndexError):
            batch[bad]
        with pytest.raises(IndexError):
            batch[bad] = 0
    assert list(vec) == list(range(100))


def test_an_update_copies_one_path_only() -> None:
    """Persistence by path copying: untouched leaves are shared, not copied."""
    vec = ChunkedVector(range(5 * MID))
    batch = vec.transient()
    batch[MID + 3] = "x"
    new = batch.persistent()
    old_leaves = [leaf for mid in vec.chunks for leaf in mid]
    new_leaves = [leaf for mid in new.chunks for leaf in mid]
    shared = sum(a is b for a, b in zip(old_leaves, new_leaves))
    assert shared == len(old_leaves) - 1
    assert sum(a is b for a, b in zip(vec.chunks, new.chunks)) == len(vec.chunks) - 1
    assert vec[MID + 3] == MID + 3 and new[MID + 3] == "x"


@settings(max_examples=60, deadline=None)
@given(
    start=st.sampled_from([0, 1, LEAF - 1, LEAF, LEAF + 1, MID - 1, MID, MID + 1, 2 * MID + 5]),
    script=st.lists(
        st.one_of(
            st.tuples(st.just("append"), st.integers()),
            st.tuples(st.just("write"), st.lists(st.tuples(st.integers(0, 10**6), st.integers()), max_size=6)),
        ),
        max_size=40,
    ),
)
def test_written_and_appended_match_a_list_and_never_change_their_source(start: int, script: list) -> None:
    """The one-update forms (``written``, ``appended``): each returns a new vector; every earlier one keeps
    its items (the path copies share nothing they change)."""
    vec = ChunkedVector(range(start))
    model: List[int] = list(range(start))
    versions = [(vec, list(model))]
    for op in script:
        if op[0] == "append":
            vec = vec.appended(op[1])
            model.append(op[1])
        elif model:
            ids = [i % len(model) for i, _ in op[1]]
            values = [v for _, v in op[1]]
            vec = vec.written(ids, values)
            for i, v in zip(ids, values):  # a repeated id: the last write wins
                model[i] = v
        assert len(vec) == len(model) and list(vec) == model
        versions.append((vec, list(model)))
    for frozen, items in versions:
        assert len(frozen) == len(items) and list(frozen) == items
        assert [frozen[i] for i in range(len(items))] == items
