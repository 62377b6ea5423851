"""The test suite, one folder per layer of ``botree`` (run ``python -m pytest`` from the repository root)."""

import os

# The repository root: examples/, docs/ and README.md are read from here, subprocesses run here.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
