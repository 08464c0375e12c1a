"""The `python -m client` shell tool: health, metadata, infer and parity. `main(argv)` returns the
exit code; see `client.cli.app` for the exit codes."""

from .app import build_parser, main

__all__ = ["build_parser", "main"]
