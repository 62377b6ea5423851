"""The ``botree`` command-line tool: argument parsing, commands, output."""

from .main import main

__all__ = ["main"]
