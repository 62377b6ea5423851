"""The invariant checker: every structural promise of an order index, verified. O(n)."""

from __future__ import annotations

from typing import Dict, List, Set, Tuple

from ..errors import InvariantError, TableCorrupt
from .gapkeys import SPACE
from .reader import IndexReader


def _fail(message: str) -> None:
    raise InvariantError(message)


def check_index(idx: IndexReader, block_size: int) -> None:
    """Raise ``InvariantError`` naming the first broken invariant of ``idx`` (blocks of ``block_size``)."""
    blocks = idx.blocks
    links = idx.links
    B = block_size
    low = B // 2
    root = idx.root
    rblk = blocks[root]
    if len(links) != len(blocks):
        _fail(f"{len(links)} links for {len(blocks)} block slots")
    if rblk is None or links[root] is None or links[root][0] != -1:
        _fail(f"root {root} missing or has a parent")
    # Walk blocks top-down (no recursion), collecting leaves left to right.
    live: Set[int] = set()
    leaves: List[Tuple[int, int]] = []  # (leaf id, delta sum)
    level_rows: List[List[Tuple[int, int]]] = [[(root, links[root][2])]]
    for depth in range(idx.height + 1):
        nxt: List[Tuple[int, int]] = []
        for bid, total in level_rows[depth]:
            if bid in live:
                _fail(f"block {bid} reachable twice")
            live.add(bid)
            blk = blocks[bid]
            keys = blk.keys
            n = len(blk.items)
            if len(keys) != n or len(blk.aux) != n:
                _fail(f"block {bid}: parallel arrays differ in length")
            if any(not 0 < k < SPACE for k in keys) or any(a >= b for a, b in zip(keys, keys[1:])):
                _fail(f"block {bid}: gap keys not strictly increasing in (0, SPACE): {keys}")
            if n > B:
                _fail(f"block {bid}: {n} items exceed block size {B}")
            if bid != root and n < low:
                _fail(f"block {bid}: {n} items below minimum {low}")
            is_leaf = depth == idx.height
            if is_leaf != (blk.counts is None):
                _fail(f"block {bid}: leaf/inner kind does not match its depth {depth}")
            if is_leaf:
                leaves.append((bid, total))
                continue
            if bid == root and n < 2:
                _fail(f"inner root {bid} has {n} children")
            if len(blk.counts) != n:
                _fail(f"block {bid}: counts length differs")
            for j, child in enumerate(blk.items):
                cblk = blocks[child]
                link = links[child]
                if cblk is None or link is None:
                    _fail(f"block {bid}: child {child} is not in the block table")
                parent, pkey, delta = link
                if parent != bid or pkey != keys[j]:
                    _fail(f"block {child}: parent link ({parent}, {pkey}) should be ({bid}, {keys[j]})")
                if blk.counts[j] != cblk.entry_count():
                    _fail(f"block {bid}: count of child {child} is {blk.counts[j]}, true {cblk.entry_count()}")
                if blk.aux[j] != delta + cblk.min_aux():
                    _fail(f"block {bid}: min level of child {child} is {blk.aux[j]}, true {delta + cblk.min_aux()}")
                nxt.append((child, total + delta))
        if not is_leaf:
            level_rows.append(nxt)
    # Block ids: every id is live or free, never both; nothing else is stored.
    alloc = idx.block_ids
    free = list(alloc.free_ids())
    if len(set(free)) != len(free):
        _fail("a block id is on the free list twice")
    if set(free) & live:
        _fail(f"block ids both live and free: {sorted(set(free) & live)}")
    # Holes: free ids a stored version no longer lists (see IdAllocator); their slots are empty.
    if alloc.holes < 0 or len(blocks) != alloc.next_id or len(live) + len(free) + alloc.holes != alloc.next_id:
        _fail(
            f"block ids leak: {len(live)} live + {len(free)} free + {alloc.holes} holes != {alloc.next_id} allocated"
        )
    for bid in free:
        if blocks[bid] is not None or links[bid] is not None:
            _fail(f"free block id {bid} still holds a block or link")
    # Bounds: well nested, levels equal true depth, back-links resolve.
    nodes = idx.nodes
    stack: List[int] = []
    seen: Dict[int, int] = {}
    for leaf, total in leaves:
        blk = blocks[leaf]
        for j, item in enumerate(blk.items):
            node = item >> 1
            level = blk.aux[j] + total
            if node not in nodes:
                _fail(f"bound of node {node} in leaf {leaf} has no row")
            row = nodes.row(node)
            if item & 1:
                if not stack or stack[-1] != node:
                    _fail(f"closing bound of node {node} does not match the innermost open node")
                stack.pop()
                if level != seen[node]:
                    _fail(f"node {node}: closing level {level} differs from opening level {seen[node]}")
                if (row.close_leaf, row.close_key) != (leaf, blk.keys[j]):
                    _fail(f"node {node}: close back-link {(row.close_leaf, row.close_key)} != {(leaf, blk.keys[j])}")
            else:
                if node in seen:
                    _fail(f"node {node} opens twice")
                if level != len(stack):
                    _fail(f"node {node}: level {level} but true depth {len(stack)}")
                seen[node] = level
                stack.append(node)
                if (row.open_leaf, row.open_key) != (leaf, blk.keys[j]):
                    _fail(f"node {node}: open back-link {(row.open_leaf, row.open_key)} != {(leaf, blk.keys[j])}")
    if stack:
        _fail(f"nodes never closed: {stack[:10]}")
    if len(seen) != len(nodes):
        _fail(f"{len(nodes)} rows but {len(seen)} nodes in the index")
    if rblk.counts is not None and sum(rblk.counts) != 2 * len(seen):
        _fail("root counts disagree with the number of bounds")
    try:
        nodes.check()
    except TableCorrupt as exc:
        raise InvariantError(f"node table: {exc}") from exc
