"""``TransientIndex.persistent_last``: the freeze of a one-update batch never lets that batch change
the frozen index afterwards, and a batch that writes no link shares the base's link table."""

from __future__ import annotations

import pytest

from botree.core.index import OrderIndex


def _index(n: int) -> OrderIndex:
    ix = OrderIndex(block_size=4)
    for i in range(n):
        ix, _ = ix.insert_pair(i)
    return ix


def test_a_batch_frozen_last_cannot_change_the_frozen_index() -> None:
    base = _index(40)
    batch = base.transient()
    first = next(iter(batch.bounds()))
    batch.insert_pair("x", first)
    frozen = batch.persistent_last()
    frozen.check()
    events = list(frozen.bounds())
    for write in (
        lambda: batch.insert_pair("y", first),
        lambda: batch.delete_pair(first[0]),
        lambda: batch.relocate(first, (first[0], False), None),
    ):
        with pytest.raises((TypeError, AttributeError)):
            write()
        assert list(frozen.bounds()) == events  # nothing reached the frozen index
        frozen.check()
    base.check()
    assert len(base) == 40 and len(frozen) == 41


def test_a_batch_without_link_writes_shares_the_link_table() -> None:
    base = _index(40)
    batch = base.transient()
    batch.set_data(next(iter(batch.bounds()))[0], "new")
    assert batch.links is base.links  # never made transient
    assert batch.persistent_last().links is base.links
    grown = base.transient()
    for i in range(40):  # enough inserts to split blocks: links are written
        grown.insert_pair(i, None)
    assert grown.links is not base.links
    frozen = grown.persistent_last()
    frozen.check()
    base.check()
    assert len(frozen) == 80 and len(base) == 40
