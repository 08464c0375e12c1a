"""`python -m client`: the argument parser, dispatch, and errors turned into messages and exit codes.

Exit codes: 0 success; 1 a negative answer (health: not ready; parity: outside tolerance);
2 an error (bad arguments or files, a server error or a server that cannot be reached: the
message names the server, the gRPC status and the server's own text).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import grpc

from ..errors import InferenceError
from . import commands, parity_cmd
from .io import CliInputError
from .options import URL_ENV, add_connection_options

_HINTS = {
    grpc.StatusCode.UNAVAILABLE: "is a server listening there, and do both ends agree on TLS?",
    grpc.StatusCode.UNAUTHENTICATED: "pass --token (or set TANDEM_TOKEN)",
    grpc.StatusCode.DEADLINE_EXCEEDED: "raise --timeout if the server is just slow",
}


def _add_url(parser: argparse.ArgumentParser) -> None:
    url = os.environ.get(URL_ENV)
    parser.add_argument("--url", default=url, required=url is None, metavar="HOST:PORT",
                        help=f"the server (default ${URL_ENV})")


def _add_model(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument("--model", required=required, help="model name")
    parser.add_argument("--version", help="model version (default: the server's default version)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m client", description="Call an Open Inference Protocol v2 gRPC server.",
        epilog="Exit codes: 0 success; 1 not ready (health) or outside tolerance (parity); 2 error.")
    add_connection_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    add_connection_options(common, suppress=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("health", parents=[common], help="is the server live and ready? (exit 0 only when ready)")
    _add_url(p)
    _add_model(p, required=False)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=commands.health)

    p = sub.add_parser("metadata", parents=[common], help="server metadata and models, or a model's signature")
    _add_url(p)
    _add_model(p, required=False)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=commands.metadata)

    p = sub.add_parser("infer", parents=[common], help="run one inference request")
    _add_url(p)
    _add_model(p, required=True)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", action="append", metavar="NAME=FILE.npy", help="one input (repeat per input)")
    src.add_argument("--inputs", metavar="FILE.npz", help="every input, one array per input name")
    src.add_argument("--json", dest="json_inputs", metavar="FILE.json",
                     help="inputs as JSON: an OIP v2 REST request body or {name: nested list}")
    p.add_argument("--output", action="append", metavar="NAME", help="output to return (repeat; default all)")
    p.add_argument("--out", metavar="FILE.npz", help="save the outputs to an .npz file instead of printing")
    p.add_argument("--full", action="store_true", help="print every value instead of a summary")
    p.set_defaults(handler=commands.infer)

    parity_cmd.add_parser(sub, [common])
    return parser


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv` (default sys.argv[1:]) and return its exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (2, message already printed)
        return int(e.code or 0)
    if getattr(args, "version", None) and not getattr(args, "model", None):
        return _error("--version needs --model")
    try:
        return args.handler(args)
    except InferenceError as e:
        hint = _HINTS.get(e.code)
        where = getattr(args, "url", None) or "server"
        return _error(f"{where} answered {e.code.name}: {e.message}" + (f" ({hint})" if hint else ""))
    except CliInputError as e:
        return _error(str(e))
    except KeyboardInterrupt:
        return 130
