"""The progress bar the examples pass as ``progress=``: botree's own (also used by the CLI)."""

from botree.progressbar import ProgressBar

__all__ = ["ProgressBar"]
