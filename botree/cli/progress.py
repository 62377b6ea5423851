"""A text progress bar for long imports: a ``progress(done, total)`` callback."""

from __future__ import annotations

import sys
from typing import Optional


class ProgressBar:
    """A ``progress(done, total)`` callback drawing ``label [#####.....] done/total`` on stderr.

    The line ends when ``done`` reaches ``total``, or on ``finish()``.

    ``done`` counts bounds (two per node).  ``expected`` stands in for ``total`` when
    the caller knows it and the library does not.
    """

    def __init__(self, label: str, expected: Optional[int] = None, width: int = 30) -> None:
        self.label = label
        self.expected = expected
        self.width = width
        self.drawn = False

    def __call__(self, done: int, total: Optional[int]) -> None:
        """Redraw the bar for ``done`` of ``total`` bounds."""
        total = total or self.expected
        if total:
            filled = min(self.width, self.width * done // total)
            bar = "#" * filled + "." * (self.width - filled)
            sys.stderr.write(f"\r{self.label} [{bar}] {min(done, total):,}/{total:,} bounds")
        else:
            sys.stderr.write(f"\r{self.label}: {done:,} bounds")
        self.drawn = True
        if total and done >= total:
            self.finish()
        sys.stderr.flush()

    def finish(self) -> None:
        """End the bar's line (if anything was drawn)."""
        if self.drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.drawn = False
