"""`python -m client ...`: the shell tool (see `python -m client --help`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
