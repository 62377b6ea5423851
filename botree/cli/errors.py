"""The command line's own errors: printed as one ``botree: error: ...`` line."""

from __future__ import annotations


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 1."""


class UsageError(CliError):
    """Options that do not go together: reported like argparse's usage errors, exit status 2."""
