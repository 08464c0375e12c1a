"""The `parity` subcommand: the command line of `client.parity.run_parity` (numbers for good inputs)
and, with `--behaviour`, of `client.parity.behaviour.run_behaviour` (statuses for bad requests)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..parity import Limits, ParityError, behaviour, run_parity
from ..parity.report import error_document
from .io import CliInputError
from .options import client_options


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def add_parser(subparsers, parents) -> None:
    p = subparsers.add_parser(
        "parity", parents=parents, help="compare one model on two servers",
        description="Send identical inputs to two OIP v2 servers and compare the answers. Exit code 0: "
                    "every output within tolerance; 1: outside it; 2: parity could not be measured. With "
                    "--behaviour: send a corpus of bad requests generated from the metadata to both and "
                    "compare the statuses (exit 1 when a status differs, is INTERNAL, or a bad request "
                    "answers OK).")
    p.add_argument("--behaviour", "--behavior", action="store_true",
                   help="compare how the servers refuse bad requests instead of their numbers")
    p.add_argument("--a", required=True, metavar="HOST:PORT", help="the first server (side A)")
    p.add_argument("--b", required=True, metavar="HOST:PORT", help="the second server (side B)")
    p.add_argument("--model", required=True, help="model name (on both sides unless --model-b)")
    p.add_argument("--model-b", help="the model's name on side B, when it differs")
    p.add_argument("--version", help="model version on both sides (default: each server's default)")
    p.add_argument("--version-a", help="model version on side A (overrides --version)")
    p.add_argument("--version-b", help="model version on side B (overrides --version)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--inputs", type=Path, metavar="FILE.npz",
                     help="samples to send, one array per input (samples along axis 0), plus labels")
    src.add_argument("--samples", type=positive_int, default=64,
                     help="without --inputs: how many samples to generate from the signature (default 64)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated inputs (default 0)")
    p.add_argument("--batch-size", type=positive_int, default=16, help="samples per request (default 16)")
    p.add_argument("--atol", type=non_negative_float, default=1e-4, help="absolute tolerance (default 1e-4)")
    p.add_argument("--rtol", type=non_negative_float, default=1e-3, help="relative tolerance (default 1e-3)")
    p.add_argument("--labels-key", default="labels",
                   help="array of the inputs file holding class labels (default 'labels')")
    p.add_argument("--classification-output", metavar="OUTPUT",
                   help="output holding class scores, when the model does not declare one")
    p.add_argument("--min-top1-agreement", type=non_negative_float, metavar="FRACTION",
                   help="also fail when top-1 agreement is below this fraction (e.g. 0.99)")
    p.add_argument("--range", action="append", default=[], metavar="NAME=LO,HI",
                   help="generate input NAME in [LO, HI) (overrides the model's '<input>.range' property)")
    p.add_argument("--min-dim", type=int, default=1, help="smallest generated variable dimension (default 1)")
    p.add_argument("--max-dim", type=int, default=16, help="largest generated variable dimension (default 16)")
    p.add_argument("--json", metavar="OUT", help="write the JSON report to OUT ('-' for stdout, no table)")
    p.set_defaults(handler=parity)


def _ranges(items: list[str]) -> dict[str, str]:
    ranges = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name or not text:
            raise CliInputError(f"--range {item!r}: expected NAME=LO,HI")
        ranges[name] = text
    return ranges


def _write_json(target: str, doc: dict) -> None:
    text = json.dumps(doc, indent=2)
    if target == "-":
        print(text)
        return
    try:
        Path(target).write_text(text + "\n")
    except OSError as e:
        raise CliInputError(f"cannot write the JSON report to {target}: {e.strerror or e}") from None


def _report(args: argparse.Namespace, what: str, run, error_doc) -> int:
    """Run one parity check and report it: exit 0 agree, 1 differ, 2 could not run."""
    try:
        report = run()
    except ParityError as e:
        if args.json:
            _write_json(args.json, error_doc(e, args.model))
        print(f"{what} error: {e}", file=sys.stderr)
        return 2
    if args.json:
        _write_json(args.json, report.to_dict())
    if args.json != "-":
        print(report.render())
    return report.exit_code


def _behaviour(args: argparse.Namespace) -> int:
    return _report(args, "behaviour parity", lambda: behaviour.run_behaviour(
        args.a, args.b, args.model, model_b=args.model_b, version=args.version, seed=args.seed,
        client_options=client_options(args)), behaviour.error_document)


def parity(args: argparse.Namespace) -> int:
    if args.behaviour:
        return _behaviour(args)
    try:
        limits = Limits(min_dim=args.min_dim, max_dim=args.max_dim)
    except ValueError as e:
        raise CliInputError(f"--min-dim/--max-dim: {e}") from None
    return _report(args, "parity", lambda: run_parity(
        args.a, args.b, args.model, model_b=args.model_b, version=args.version, version_a=args.version_a,
        version_b=args.version_b, inputs=args.inputs, labels_key=args.labels_key, samples=args.samples,
        seed=args.seed, batch_size=args.batch_size, atol=args.atol, rtol=args.rtol,
        ranges=_ranges(args.range), limits=limits, classification_output=args.classification_output,
        min_top1_agreement=args.min_top1_agreement, client_options=client_options(args)), error_document)
