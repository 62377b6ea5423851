"""Gap keys: integer labels that order the items of one block.

Keys in a block strictly increase inside the open interval (0, SPACE).  New items
take evenly spaced keys inside the gap they land in (one item: the midpoint); when
the gap has no room, the whole block is relabelled evenly and its back-links are
rewritten by the caller.  SPACE is 2**30 so keys stay one-digit CPython ints.
"""

from __future__ import annotations

from bisect import bisect_left
from functools import lru_cache
from typing import List, Optional, Tuple

SPACE = 1 << 30


def gap_keys(keys: List[int], lo: int, hi: int) -> Optional[List[int]]:
    """Keys for positions lo..hi-1 between keys[lo-1] and keys[hi], or None if no room.

    The neighbours are read from ``keys`` itself (positions outside lo..hi); the
    values currently at lo..hi-1 are ignored. O(hi - lo).
    """
    left = keys[lo - 1] if lo > 0 else 0
    right = keys[hi] if hi < len(keys) else SPACE
    count = hi - lo
    span = right - left
    if span <= count:
        return None
    parts = count + 1
    return [left + span * j // parts for j in range(1, parts)]


@lru_cache(maxsize=1024)
def _even(count: int) -> Tuple[int, ...]:
    parts = count + 1
    return tuple(SPACE * j // parts for j in range(1, parts))


def even_keys(count: int) -> List[int]:
    """``count`` keys spread evenly over (0, SPACE), as a new list. O(count)."""
    return list(_even(count))


def interpolation_search(keys: List[int], key: int) -> int:
    """Index of ``key`` in the sorted ``keys`` (or its insertion point).

    Guesses the position from the key's value (keys are near-uniform after a
    relabel) and falls back to binary search when the guess misses.  O(1) expected
    on uniform keys, O(log B) worst case.
    """
    n = len(keys)
    if n:
        first = keys[0]
        last = keys[-1]
        if first < key < last:
            guess = (key - first) * (n - 1) // (last - first)
            if keys[guess] == key:
                return guess
        elif key == first:
            return 0
        elif key == last:
            return n - 1
    return bisect_left(keys, key)

