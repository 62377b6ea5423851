"""Bulk build: an order index made bottom-up from a stream of bounds, in O(n).

Bounds arrive in document order as ``(data, is_open)``; node ids are handed out in
preorder (0, 1, 2, ...), exactly as inserting the same nodes one by one would.
Leaves are filled to about ``fill`` of the block size and sized evenly, so every
block ends between B/2 and B entries; inner levels are built the same way over the
blocks below.  All level deltas are 0, so a bound's ``aux`` is its true level.
"""

from __future__ import annotations

from itertools import chain, count, cycle, islice, repeat
from operator import sub
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

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
        return _build(events, block_size, fields, fill, progress, total, key)


def _build(
    events: Iterable[Tuple[Any, bool]],
    block_size: Any,
    fields: Iterable[str],
    fill: Any,
    progress: Optional[Progress],
    total: Optional[int],
    key: Any = None,
) -> OrderIndex:
    """``build_index`` with the garbage collector already paused."""
    B = check_block_size(block_size)
    fields = check_fields(fields)
    key = check_key_field(key)
    if type(fill) not in (int, float) or not 0.5 <= fill <= 1.0:
        raise InvalidArgument(f"fill must be between 0.5 and 1.0, not {fill!r}")
    owner = object()  # held by no batch: every block and row built here is frozen
    per = max(B // 2, int(B * fill))
    rows, items, levels = _read_bounds(events, per, owner, progress, total)
    nodes = NodeTable.from_rows(rows, fields, key)  # checks indexed values before anything else
    blocks: List[Block] = []
    links: List[Link] = []
    level_ids = _build_leaves(rows, items, levels, B, per, owner, blocks, links)
    height = 0
    while len(level_ids) > 1:
        level_ids = _build_level(level_ids, B, fill, owner, blocks, links)
        height += 1
    done = len(items)
    if progress is not None and (done & (PROGRESS_EVERY - 1) or not done):
        progress(done, total)  # the final count, unless it was just reported
    return OrderIndex.from_parts(
        ChunkedVector(blocks), ChunkedVector(links), nodes, level_ids[0], height, IdAllocator(len(blocks)), B
    )


def _read_bounds(
    events: Iterable[Tuple[Any, bool]], per: int, owner: object, progress: Optional[Progress], total: Optional[int]
) -> Tuple[List[Row], List[int], List[int]]:
    """One pass over ``events``: a row per node, bound items (node << 1 | is_close) and their levels.

    Bound ``b`` goes to leaf ``b // per`` at key ``even_keys(per)[b % per]`` (``_build_leaves``
    re-lays the last leaves), so every row gets its back-links here, as its bounds are read.
    """
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
    reported = 0
    # Leaf ids 0, 0, ... (per times), 1, 1, ... and the keys of a full leaf, over and over: one
    # int object per leaf id and per key, shared by every row and leaf that holds it.
    leaf_ids = chain.from_iterable(map(repeat, count(), repeat(per)))
    leaf_keys = cycle(even_keys(per))
    try:
        iterator = iter(events)
    except TypeError:
        raise InvalidArgument(
            f"events must be an iterable of (data, is_open) pairs, not {type(events).__name__}"
        ) from None
    try:
        while True:
            for (data, is_open), leaf, gap in zip(islice(iterator, PROGRESS_EVERY), leaf_ids, leaf_keys):
                if is_open:
                    append_level(depth)
                    depth += 1
                    # The row's parent is the parent's opening item itself (one int object, see nodetable.rows).
                    new_row(Row(leaf, gap, 0, 0, data, owner, parent))
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
            done = len(items)
            if done == reported + PROGRESS_EVERY:
                reported = done
                if progress is not None:
                    progress(done, total)
            else:
                break  # the stream ended within this chunk
    except (TypeError, ValueError) as exc:
        tb = exc.__traceback__
        if isinstance(exc, BotreeError) or tb is None or tb.tb_next is not None:
            raise  # raised by the events' source or a callback, not by a malformed event
        raise InvalidArgument(f"event {len(items)} is not a (data, is_open) pair: {exc}") from None
    if depth:
        raise InvalidOperation(f"{depth} node(s) never closed, the innermost is node {parent >> 1}")
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
        blocks.append(Block(keys, chunk, list(map(sub, lv, repeat(base))) if base else lv, None, owner))
        links.append((-1, 0, base))  # absolute for now; made relative to the parent below
        if size != per or start != bid * per:  # re-laid: not where ``_read_bounds`` put it
            _relink_leaf(rows, bid, keys, chunk)
        start = end
    return list(range(len(sizes)))


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
