"""The invariant checker: every structural promise of an order index, verified. O(n)."""

from __future__ import annotations

from typing import Dict, List, Set, Tuple

from ..errors import InvariantError, TableCorrupt
from ..nodetable import TOP, UNKNOWN
from .gapkeys import SPACE
from .reader import IndexReader


def _fail(message: str) -> None:
    raise InvariantError(message)


def check_index(idx: IndexReader, block_size: int) -> None:
    """Raise ``InvariantError`` naming the first broken invariant of ``idx`` (blocks of ``block_size``)."""
    _check_root(idx)
    live, leaves = _walk_blocks(idx, block_size)
    _check_block_ids(idx, live)
    opened = _check_bounds(idx, leaves)
    nodes = idx.nodes
    if opened != len(nodes):
        _fail(f"{len(nodes)} rows but {opened} nodes in the index")
    rblk = idx.blocks[idx.root]
    if rblk.counts is not None and sum(rblk.counts) != 2 * opened:
        _fail("root counts disagree with the number of bounds")
    try:
        nodes.check()
    except TableCorrupt as exc:
        raise InvariantError(f"node table: {exc}") from exc


def _check_root(idx: IndexReader) -> None:
    """One link per block slot, and a root block without a parent."""
    blocks = idx.blocks
    links = idx.links
    root = idx.root
    if len(links) != len(blocks):
        _fail(f"{len(links)} links for {len(blocks)} block slots")
    if blocks[root] is None or links[root] is None or links[root][0] != -1:
        _fail(f"root {root} missing or has a parent")


def _walk_blocks(idx: IndexReader, block_size: int) -> Tuple[Set[int], List[Tuple[int, int]]]:
    """Check every reachable block top-down (no recursion): the live block ids, and (leaf, delta sum) left to right."""
    root = idx.root
    live: Set[int] = set()
    leaves: List[Tuple[int, int]] = []  # (leaf id, delta sum)
    row: List[Tuple[int, int]] = [(root, idx.links[root][2])]
    for depth in range(idx.height + 1):
        is_leaf = depth == idx.height
        below: List[Tuple[int, int]] = []
        for bid, total in row:
            if bid in live:
                _fail(f"block {bid} reachable twice")
            live.add(bid)
            _check_block(idx, bid, block_size, depth)
            if is_leaf:
                leaves.append((bid, total))
            else:
                _check_children(idx, bid, total, below)
        row = below
    return live, leaves


def _check_block(idx: IndexReader, bid: int, block_size: int, depth: int) -> None:
    """Block ``bid`` alone: parallel arrays, gap keys, fill, and a kind matching its ``depth``."""
    blk = idx.blocks[bid]
    keys = blk.keys
    n = len(blk.items)
    if len(keys) != n or len(blk.aux) != n:
        _fail(f"block {bid}: parallel arrays differ in length")
    if any(not 0 < k < SPACE for k in keys) or any(a >= b for a, b in zip(keys, keys[1:])):
        _fail(f"block {bid}: gap keys not strictly increasing in (0, SPACE): {keys}")
    if n > block_size:
        _fail(f"block {bid}: {n} items exceed block size {block_size}")
    if bid != idx.root and n < block_size // 2:
        _fail(f"block {bid}: {n} items below minimum {block_size // 2}")
    if (depth == idx.height) != (blk.counts is None):
        _fail(f"block {bid}: leaf/inner kind does not match its depth {depth}")


def _check_children(idx: IndexReader, bid: int, total: int, below: List[Tuple[int, int]]) -> None:
    """Inner block ``bid``: child links, counts and minimum levels; appends (child, delta sum) to ``below``."""
    blocks = idx.blocks
    links = idx.links
    blk = blocks[bid]
    keys = blk.keys
    n = len(blk.items)
    if bid == idx.root and n < 2:
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
        below.append((child, total + delta))


def _check_block_ids(idx: IndexReader, live: Set[int]) -> None:
    """Every block id is live, free or a hole, never two of these; free slots are empty."""
    blocks = idx.blocks
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
        if blocks[bid] is not None or idx.links[bid] is not None:
            _fail(f"free block id {bid} still holds a block or link")


def _check_bounds(idx: IndexReader, leaves: List[Tuple[int, int]]) -> int:
    """Bounds well nested, levels equal true depth, back-links and row parents right; the number of nodes opened."""
    blocks = idx.blocks
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
                parent = stack[-1] << 1 if stack else TOP
                if row.parent != parent and row.parent != UNKNOWN:
                    _fail(f"node {node}: row parent {row.parent_id} but true parent {parent >> 1}")
                seen[node] = level
                stack.append(node)
                if (row.open_leaf, row.open_key) != (leaf, blk.keys[j]):
                    _fail(f"node {node}: open back-link {(row.open_leaf, row.open_key)} != {(leaf, blk.keys[j])}")
    if stack:
        _fail(f"nodes never closed: {stack[:10]}")
    return len(seen)
