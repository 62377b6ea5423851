"""``python -m botree``: the command-line interface (see ``botree.cli``)."""

import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main())
