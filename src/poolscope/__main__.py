"""``python -m poolscope``: the same as the ``poolscope`` command."""

import sys

from poolscope.cli import main

if __name__ == "__main__":
    sys.exit(main())
