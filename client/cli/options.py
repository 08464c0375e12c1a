"""Connection options shared by every subcommand: deadline, bearer token, TLS."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..channel import DEFAULT_TIMEOUT_S
from .io import CliInputError

TOKEN_ENV = "TANDEM_TOKEN"
URL_ENV = "TANDEM_URL"


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def add_connection_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Add --token/--tls/--ca/--cert/--key/--server-name/--timeout. With `suppress` they default
    to "not given", so they may follow the subcommand without undoing values given before it."""
    def default(value):
        return argparse.SUPPRESS if suppress else value

    g = parser.add_argument_group("connection (for every server contacted)")
    g.add_argument("--timeout", type=positive_float, metavar="SECONDS", default=default(DEFAULT_TIMEOUT_S),
                   help=f"deadline of each call (default {DEFAULT_TIMEOUT_S:g} s)")
    g.add_argument("--token", default=default(os.environ.get(TOKEN_ENV)),
                   help=f"bearer token sent as 'authorization: Bearer TOKEN' (default ${TOKEN_ENV})")
    g.add_argument("--tls", action="store_true", default=default(False),
                   help="use TLS with the system's root certificates (implied by --ca/--cert)")
    g.add_argument("--ca", type=Path, metavar="PEM", default=default(None),
                   help="CA bundle that signed the server's certificate")
    g.add_argument("--cert", type=Path, metavar="PEM", default=default(None),
                   help="client certificate, for servers requiring mTLS (with --key)")
    g.add_argument("--key", type=Path, metavar="PEM", default=default(None), help="client private key (with --cert)")
    g.add_argument("--server-name", metavar="NAME", default=default(None),
                   help="name to check the server's certificate against (when the URL is an IP address)")


def _read(path: Path | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as e:
        raise CliInputError(f"cannot read the {what} {path}: {e.strerror or e}") from None


def client_options(args: argparse.Namespace) -> dict:
    """InferenceClient keyword arguments from the parsed connection options."""
    if bool(args.cert) != bool(args.key):
        raise CliInputError("--cert and --key go together (the client certificate and its private key)")
    ca = _read(args.ca, "CA bundle (--ca)")
    cert = _read(args.cert, "client certificate (--cert)")
    key = _read(args.key, "client key (--key)")
    return {
        "timeout": args.timeout,
        "token": args.token or None,
        "tls": bool(args.tls or ca or cert),
        "root_certificates": ca,
        "client_certificate": cert,
        "client_key": key,
        "server_name_override": args.server_name,
    }
