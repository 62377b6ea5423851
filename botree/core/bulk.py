"""Bulk build: an order index made bottom-up in O(n), from a stream of bounds or a preorder.

Bounds arrive in document order as ``(data, is_open)`` (``build_index``), or nodes in
preorder with their subtree sizes (``build_preorder``, for parent tables); node ids are
handed out in preorder (0, 1, 2, ...), exactly as inserting the same nodes one by one
would.  One pass reads the bounds: bound ``b`` goes to leaf ``b // per`` (``per``: about
``fill`` of the block size) at that leaf's ``b % per``-th gap key, so each row is created
with its back-links (or gets its closing one when its node closes); the last leaves are
then re-laid so every block ends between B/2 and B entries.  Inner levels are built
evenly over the blocks below.  A bound's ``aux`` is its level minus its leaf's lowest,
which becomes the leaf's delta.
"""

from __future__ import annotations

from itertools import chain, count, cycle, islice, repeat
from operator import sub
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from ..errors import BotreeError, InvalidArgument, InvalidOperation
from ..nodetable import TOP, ChunkedVector, IdAllocator, NodeTable, Row
from .blocks import Block, Link
from .gapkeys import even_keys
from .gcpause import gc_paused
from .index import OrderIndex, check_block_size, check_fields, check_key_field

Progress = Callable[[int, Optional[int]], None]
PROGRESS_EVERY = 1 << 16


def _sizes(total: int, block_size: int, fill: float) -> List[int]:
    """Split ``total`` items into blocks of even size between B/2 and B, near ``fill``·B."""
    if total == 0:
        return []
    per = max(block_size // 2, int(block_size * fill))
    count = -(-total // per)
    if count > 1 and total // count < block_size // 2:
        count = max(1, total // (block_size // 2))
    base, extra = divmod(total, count)
    return [base + 1 if i < extra else base for i in range(count)]


def build_index(
    events: Iterable[Tuple[Any, bool]],
    block_size: Any = 64,  # Any, not int/float/str: checked below (see nodetable.rows.NodeArg)
    fields: Iterable[str] = (),
    fill: Any = 0.75,
    progress: Optional[Progress] = None,
    total: Optional[int] = None,
    key: Any = None,
) -> OrderIndex:
    """An ``OrderIndex`` holding the forest described by ``events``. O(n).

    ``events`` yields ``(data, True)`` to open a node (its data) and ``(_, False)`` to
    close the innermost open node.  ``key``: the key field (every node's data must
    hold a unique int or str key: ``InvalidKey``, ``DuplicateKey`` otherwise).
    ``progress(done, total)`` is called every 65,536
    bounds and with the final count (``total`` as given, else None); counts strictly
    increase.  Raises
    ``InvalidOperation`` for an unbalanced stream; nothing is returned half-built.
    The cyclic garbage collector is paused meanwhile (see ``gcpause``).
    """
    with gc_paused():
        B, fields, key, per = _checked(block_size, fields, fill, key)
        layout = _Layout(per, progress, total)
        rows, items, levels = _read_bounds(events, layout)
        return _finish(rows, items, levels, B, fields, fill, key, layout)


def build_preorder(
    datas: List[Any],
    sizes: List[int],
    block_size: Any = 64,
    fields: Iterable[str] = (),
    fill: Any = 0.75,
    progress: Optional[Progress] = None,
    key: Any = None,
) -> OrderIndex:
    """An ``OrderIndex`` of the forest whose nodes, in preorder, hold ``datas`` and have subtrees of
    ``sizes`` nodes (themselves included: 1 for a node without children). O(n).

    The caller vouches for the sizes (each subtree lies within its parent's).  Options and
    errors as in ``build_index`` (progress counts bounds).  One loop, no recursion.
    """
    with gc_paused():
        B, fields, key, per = _checked(block_size, fields, fill, key)
        layout = _Layout(per, progress, None)
        rows, items, levels = _read_preorder(datas, sizes, layout)
        return _finish(rows, items, levels, B, fields, fill, key, layout)


def _checked(block_size: Any, fields: Iterable[str], fill: Any, key: Any) -> Tuple[int, Tuple[str, ...], Any, int]:
    """The checked options: block size B, fields, key field, and bounds per leaf while reading."""
    B = check_block_size(block_size)
    names = check_fields(fields)
    key = check_key_field(key)
    if type(fill) not in (int, float) or not 0.5 <= fill <= 1.0:
        raise InvalidArgument(f"fill must be between 0.5 and 1.0, not {fill!r}")
    return B, names, key, max(B // 2, int(B * fill))


class _Layout:
    """Where each bound goes while reading: ``leaf_ids`` yields 0 (``per`` times), 1, ...;
    ``leaf_keys`` the keys of a full leaf, over and over (one int object per leaf id and key,
    shared by every row and leaf holding it).  Progress is reported as the 65,537th, 131,073rd ...
    leaf id is taken, that is once that many bounds were read.
    """

    def __init__(self, per: int, progress: Optional[Progress], total: Optional[int]) -> None:
        self.per = per
        self.owner = object()  # held by no batch: every block and row built here is frozen
        self.progress = progress
        self.total = total
        self.reported = -1  # the last count reported
        ids: Iterator[int] = chain.from_iterable(map(repeat, count(), repeat(per)))
        self.leaf_ids = ids if progress is None else chain.from_iterable(self._reporting(ids))
        self.leaf_keys = cycle(even_keys(per))

    def _reporting(self, ids: Iterator[int]) -> Iterator[Iterator[int]]:
        done = 0
        while True:
            yield islice(ids, PROGRESS_EVERY)
            done += PROGRESS_EVERY
            self.reported = done
            self.progress(done, self.total)  # type: ignore[misc]

    def final(self, done: int) -> None:
        """Report the final count, unless it was just reported."""
        if self.progress is not None and self.reported != done:
            self.progress(done, self.total)


def _finish(
    rows: List[Row],
    items: List[int],
    levels: List[int],
    B: int,
    fields: Tuple[str, ...],
    fill: float,
    key: Any,
    layout: _Layout,
) -> OrderIndex:
    """The index over the bounds read: node table (checking indexed values first), leaves, inner levels."""
    nodes = NodeTable.from_rows(rows, fields, key)  # checks indexed values before anything else
    blocks: List[Block] = []
    links: List[Link] = []
    level_ids = _build_leaves(rows, items, levels, B, layout.per, layout.owner, blocks, links)
    height = 0
    while len(level_ids) > 1:
        level_ids = _build_level(level_ids, B, fill, layout.owner, blocks, links)
        height += 1
    layout.final(len(items))
    return OrderIndex.from_parts(
        ChunkedVector(blocks), ChunkedVector(links), nodes, level_ids[0], height, IdAllocator(len(blocks)), B
    )


def _read_bounds(events: Iterable[Tuple[Any, bool]], layout: _Layout) -> Tuple[List[Row], List[int], List[int]]:
    """One pass over ``events``: a row per node, bound items (node << 1 | is_close) and their levels."""
    rows: List[Row] = []
    items: List[int] = []
    levels: List[int] = []
    stack: List[int] = []
    append_item = items.append
    append_level = levels.append
    new_row = rows.append
    push = stack.append
    pop = stack.pop
    parent = TOP  # the innermost open node's opening item; ``stack`` holds the ones around it
    depth = 0
    node = 0
    try:
        iterator = iter(events)
    except TypeError:
        raise InvalidArgument(
            f"events must be an iterable of (data, is_open) pairs, not {type(events).__name__}"
        ) from None
    try:
        for (data, is_open), leaf, gap in zip(iterator, layout.leaf_ids, layout.leaf_keys):
            if is_open:
                append_level(depth)
                depth += 1
                # The row's parent is the parent's opening item itself (one int object, see nodetable.rows).
                new_row(Row(leaf, gap, 0, 0, data, None, parent))
                push(parent)
                parent = node << 1
                append_item(parent)
                node += 1
            else:
                if not depth:
                    raise InvalidOperation(f"bound {len(items)} closes a node, but no node is open")
                depth -= 1
                append_level(depth)
                row = rows[parent >> 1]
                row.close_leaf = leaf
                row.close_key = gap
                append_item(parent | 1)
                parent = pop()
    except (TypeError, ValueError) as exc:
        tb = exc.__traceback__
        if isinstance(exc, BotreeError) or tb is None or tb.tb_next is not None:
            raise  # raised by the events' source or a callback, not by a malformed event
        raise InvalidArgument(f"event {len(items)} is not a (data, is_open) pair: {exc}") from None
    if depth:
        raise InvalidOperation(f"{depth} node(s) never closed, the innermost is node {parent >> 1}")
    return rows, items, levels


def _read_preorder(
    datas: List[Any], sizes: List[int], layout: _Layout
) -> Tuple[List[Row], List[int], List[int]]:
    """``_read_bounds`` over nodes in preorder with their subtree sizes (see ``build_preorder``).

    A node without children gets both back-links at once; the others get the closing
    one when the walk passes their subtree's end.  Memory is read in order only.
    """
    rows: List[Row] = []
    items: List[int] = []
    levels: List[int] = []
    stack: List[int] = []
    ends: List[int] = []
    append_item = items.append
    append_level = levels.append
    new_row = rows.append
    push = stack.append
    pop = stack.pop
    push_end = ends.append
    pop_end = ends.pop
    slot = zip(layout.leaf_ids, layout.leaf_keys).__next__
    parent = TOP  # as in ``_read_bounds``
    end = len(datas) + 1  # preorder number where the innermost open node's subtree ends
    depth = 0
    node = 0
    # A last pseudo-node of size 0 closes the nodes still open.
    for data, size in chain(zip(datas, sizes), ((None, 0),)):
        while end <= node:  # the innermost open node's subtree ended: close it
            leaf, gap = slot()
            row = rows[parent >> 1]
            row.close_leaf = leaf
            row.close_key = gap
            depth -= 1
            append_item(parent | 1)
            append_level(depth)
            parent = pop()
            end = pop_end()
        if not size:
            break
        leaf, gap = slot()
        item = node << 1
        append_item(item)
        append_level(depth)
        if size == 1:
            close_leaf, close_gap = slot()
            new_row(Row(leaf, gap, close_leaf, close_gap, data, None, parent))
            append_item(item | 1)
            append_level(depth)
        else:
            new_row(Row(leaf, gap, 0, 0, data, None, parent))
            push(parent)
            push_end(end)
            parent = item
            end = node + size
            depth += 1
        node += 1
    return rows, items, levels


def _leaf_sizes(total: int, per: int, B: int) -> List[int]:
    """Leaf sizes for ``total`` bounds laid ``per`` to a leaf: the last leaves evened out to B/2..B."""
    full, rest = divmod(total, per)
    sizes = [per] * full
    if rest and (not full or rest >= B // 2):
        sizes.append(rest)
    elif rest:  # too few for a leaf of its own: share with the last full leaf
        both = per + rest
        sizes[-1:] = [both] if both <= B else [(both + 1) // 2, both // 2]
    return sizes


def _build_leaves(
    rows: List[Row],
    items: List[int],
    levels: List[int],
    B: int,
    per: int,
    owner: object,
    blocks: List[Block],
    links: List[Link],
) -> List[int]:
    """Cut the bounds into leaf blocks appended to ``blocks``/``links``; the leaf ids.

    Rows were back-linked as if every leaf held ``per`` bounds; the bounds of the
    last leaves, which may hold another number, are linked again here (O(B)).
    """
    sizes = _leaf_sizes(len(items), per, B) or [0]
    # Leaves of one size share one key list: no block built here is ever changed in place
    # (a batch copies a block before changing it, see ``Block.copy``).
    shared: Dict[int, List[int]] = {}
    leaf_ids: List[int] = []
    start = 0
    for bid, size in enumerate(sizes):
        end = start + size
        keys = shared.get(size)
        if keys is None:
            keys = shared[size] = even_keys(size)
        chunk = items[start:end]
        # Each block's delta absorbs its lowest level, so stored levels stay small
        # (CPython shares small ints: deep trees then cost no more per node).
        lv = levels[start:end]
        base = min(lv) if lv else 0
        if base:
            lv[:] = map(sub, lv, repeat(base))  # in place: the list keeps its exact size
        blocks.append(Block(keys, chunk, lv, None, owner))
        links.append((-1, 0, base))  # absolute for now; made relative to the parent below
        if size != per or start != bid * per:  # re-laid: not where ``_read_bounds`` put it
            _relink_leaf(rows, bid, keys, chunk)
        elif chunk:  # the id object the rows hold already: one int per leaf, not two
            row = rows[chunk[0] >> 1]
            bid = row.close_leaf if chunk[0] & 1 else row.open_leaf
        leaf_ids.append(bid)
        start = end
    return leaf_ids


def _relink_leaf(rows: List[Row], bid: int, keys: List[int], chunk: List[int]) -> None:
    """Point the back-links of the bounds ``chunk`` at leaf ``bid``, keys ``keys``. O(len(chunk))."""
    for gap, item in zip(keys, chunk):
        row = rows[item >> 1]
        if item & 1:
            row.close_leaf = bid
            row.close_key = gap
        else:
            row.open_leaf = bid
            row.open_key = gap


def _build_level(
    level_ids: List[int], B: int, fill: float, owner: object, blocks: List[Block], links: List[Link]
) -> List[int]:
    """One inner level over the blocks ``level_ids``, appended to ``blocks``/``links``; its block ids."""
    above: List[int] = []
    start = 0
    for size in _sizes(len(level_ids), B, fill):
        bid = len(blocks)
        kids = level_ids[start : start + size]
        keys = even_keys(size)
        counts = []
        mins = []
        base = min(links[kid][2] for kid in kids)
        for key, kid in zip(keys, kids):
            child = blocks[kid]
            delta = links[kid][2] - base
            links[kid] = (bid, key, delta)
            counts.append(child.entry_count())
            mins.append(delta + child.min_aux())
        blocks.append(Block(keys, kids, mins, counts, owner))
        links.append((-1, 0, base))
        above.append(bid)
        start += size
    return above
