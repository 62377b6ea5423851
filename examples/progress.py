"""The progress bar the examples pass as ``progress=``: botree's own (also used by the CLI)."""

from botree.cli.progress import ProgressBar

__all__ = ["ProgressBar"]
