"""A small text progress bar for long imports (``progress=`` callbacks)."""

from __future__ import annotations

import sys
from typing import Optional


class ProgressBar:
    """Call with (done, total); draws ``[#####.....] done/total`` on stderr."""

    def __init__(self, label: str, width: int = 30) -> None:
        self.label = label
        self.width = width

    def __call__(self, done: int, total: Optional[int]) -> None:
        if total:
            filled = min(self.width, self.width * done // total)
            bar = "#" * filled + "." * (self.width - filled)
            sys.stderr.write(f"\r{self.label} [{bar}] {done:,}/{total:,}")
        else:
            sys.stderr.write(f"\r{self.label} {done:,} bounds")
        if total is None or done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()
