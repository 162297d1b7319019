"""``python -m fastsmooth``: see :mod:`fastsmooth._cli`."""

import sys

from ._cli import run

if __name__ == "__main__":
    sys.exit(run())
