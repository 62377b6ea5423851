"""Progress of long imports on stderr, counted in rows (nodes), one line per phase.

``ProgressBar(label, total)`` is a ``rows(done, total)`` callback drawing
``label [#####.....] done/total rows`` (or ``label: done rows`` while the total is
unknown); ``bounds`` adapts the library's ``progress(done, total)`` callbacks, which
count bounds (two per node).  Storing counts rows through ``db.replace(progress=...)``.
"""

from __future__ import annotations

import sys
from typing import IO, Optional


class ProgressBar:
    """One phase's progress line on ``stream`` (default stderr), counted in rows."""

    def __init__(self, label: str, total: Optional[int] = None, width: int = 30, stream: Optional[IO[str]] = None):
        self.label = label
        self.total = total
        self.width = width
        self.stream = stream if stream is not None else sys.stderr
        self.drawn = False
        self.done = 0

    def rows(self, done: int, total: Optional[int] = None) -> None:
        """Redraw the line for ``done`` of ``total`` rows (``total``: as given, else the one known at start)."""
        total = total or self.total
        self.done = done
        if total:
            filled = min(self.width, self.width * done // total)
            bar = "#" * filled + "." * (self.width - filled)
            self.stream.write(f"\r{self.label} [{bar}] {min(done, total):,}/{total:,} rows")
        else:
            self.stream.write(f"\r{self.label}: {done:,} rows")
        self.drawn = True
        if total and done >= total:
            self.finish()  # the line ends when the count reaches the total, or on finish()
        self.stream.flush()

    def bounds(self, done: int, total: Optional[int]) -> None:
        """A library ``progress(done, total)`` callback: ``done`` bounds are ``done // 2`` rows."""
        self.rows(done // 2, total // 2 if total else None)

    __call__ = bounds  # a ProgressBar is itself a library ``progress=`` callback (the examples pass one)

    def finish(self) -> None:
        """End the line (if anything was drawn)."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False
