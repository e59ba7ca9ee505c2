"""``python -m ganviz.sweep``: see :mod:`ganviz.sweep.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
