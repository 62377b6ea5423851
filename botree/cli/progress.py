"""Progress of long imports on stderr, counted in rows (nodes), one line per phase.

``ProgressBar(label, total)`` is a ``rows(done, total)`` callback drawing
``label [#####.....] done/total rows`` (or ``label: done rows`` while the total is
unknown); ``bounds`` adapts the library's ``progress(done, total)`` callbacks, which
count bounds (two per node).  ``Ticker`` covers a phase that reports no counts (storing
a tree: ``db.replace`` has no progress callback): it shows the rows it is working on
and the seconds elapsed, redrawn from a background thread.
"""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import IO, Optional, Type


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


class Ticker:
    """``with Ticker(label, rows):`` shows ``label: N rows, 1.2 s`` until the block ends."""

    def __init__(self, label: str, rows: int, every: float = 0.25, stream: Optional[IO[str]] = None):
        self.label = label
        self.count = rows
        self.every = every
        self.stream = stream if stream is not None else sys.stderr
        self.stop = threading.Event()
        self.start = time.perf_counter()
        self.thread = threading.Thread(target=self.run, name="botree-progress", daemon=True)

    def draw(self, end: str = "") -> None:
        elapsed = time.perf_counter() - self.start
        self.stream.write(f"\r{self.label}: {self.count:,} rows, {elapsed:.1f} s{end}")
        self.stream.flush()

    def run(self) -> None:
        while not self.stop.wait(self.every):
            self.draw()

    def __enter__(self) -> "Ticker":
        self.start = time.perf_counter()
        self.draw()
        self.thread.start()
        return self

    def __exit__(
        self, kind: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self.stop.set()
        self.thread.join()
        self.draw("\n")
