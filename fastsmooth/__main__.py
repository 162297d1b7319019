"""``python -m fastsmooth``: see :mod:`fastsmooth._cli`."""

import sys

from ._cli import main

if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # e.g. `python -m fastsmooth demo | head`: stop quietly
        sys.stderr.close()
        sys.exit(0)
