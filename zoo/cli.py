"""`python -m zoo build --out DIR [--models a,b] [--seed S]`, `python -m zoo list`, `python -m zoo probe`."""

from __future__ import annotations

import argparse
import logging
import sys

from .specs import MODELS, select


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m zoo", description="The reference model zoo: the same "
                                     "networks exported for torch_service and TensorFlow Serving.")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build models into a folder (torch/, tf/, parity/, zoo.json)")
    build.add_argument("--out", required=True, help="output folder (created; other models in it are kept)")
    build.add_argument("--models", default=None,
                       help=f"comma-separated models to build (default: all of {','.join(MODELS)})")
    build.add_argument("--seed", type=int, default=0, help="seed for weights, training and samples (default 0)")
    build.add_argument("-q", "--quiet", action="store_true", help="print only the summary")
    commands.add_parser("list", help="list the models and their contracts")
    probe = commands.add_parser("probe", help="measure port differences, batch-size and TF32 effects and the "
                                              "smallest caught weight error (the numbers in docs/numerics.md)")
    probe.add_argument("--models", default=None, help="comma-separated models (default: all)")
    probe.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    return parser


def _summary(doc: dict) -> str:
    lines = [f"{'model':<14} {'output':<18} {'max |diff| served':>18} {'of tolerance':>13}  notes"]
    for name, entry in doc["models"].items():
        for output, diff in entry["measured"]["saved_model"].items():
            notes = ", ".join(f"{k} {v:.4g}" for k, v in entry["metrics"].items())
            lines.append(f"{name:<14} {output:<18} {diff['max_abs_diff']:>18.2e} "
                         f"{diff['tolerance_used']:>12.1%}  {notes}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "list":
        for model in MODELS.values():
            contract = ", ".join(str(s) for s in model.inputs) + " -> " + ", ".join(str(s) for s in model.outputs)
            print(f"{model.name}: {contract}\n    {model.description}")
        return 0
    try:
        select(args.models)  # fail on a bad name before loading any framework
    except ValueError as e:
        parser.error(str(e))
    quiet = args.command == "probe" or args.quiet
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(asctime)s %(message)s",
                        datefmt="%H:%M:%S")
    logging.getLogger("tensorflow").setLevel(logging.WARNING)  # "Assets written to ..." per SavedModel
    if args.command == "probe":
        from .probe import probe, table

        print(table(probe(args.models, args.seed)))
        return 0
    from .build import BuildError, build

    try:
        doc = build(args.out, args.models, args.seed)
    except BuildError as e:
        print(f"zoo build failed: {e}", file=sys.stderr)
        return 1
    print(_summary(doc))
    print(f"built {', '.join(doc['models'])} into {args.out} in {doc['built_seconds']:.1f}s")
    return 0
