"""`tandem`, the installed command for the client side: `tandem health|metadata|infer|parity ...` is
`python -m client ...`, and `tandem loadtests ...` is `python -m loadtests ...` (Locust is imported
only for that subcommand). The services install as `tandem-torch` and `tandem-tf`."""

from __future__ import annotations

import sys

LOADTESTS = "loadtests"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == [LOADTESTS]:
        from loadtests.cli import main as loadtests_main

        return loadtests_main(argv[1:])
    from . import main as client_main

    return client_main(argv)
