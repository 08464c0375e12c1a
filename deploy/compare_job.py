"""The compose `compare` job: parity, then the comparison under load, for every zoo model, and one
merged report.

    python -m deploy.compare_job --torch torch_service:7070 --tf tf_service:8600 --zoo /models \
        --out /reports [--target tfserving=tfserving://tfserving:8500 ...] [--models all|NAME,NAME] \
        [-- ARGS FOR `python -m loadtests compare`]

For each model, in turn:
1. `python -m client parity --a TORCH --b TF --model M [--inputs ZOO/parity/M.npz] --json OUT/M/parity.json`
   (numeric parity: the same answers for good inputs);
2. `python -m client parity --behaviour --a TORCH --b TF --model M --json OUT/M/behaviour.json`
   (behaviour parity: the same statuses for a corpus of bad requests);
3. `python -m loadtests compare --torch TORCH --tf TF [--target NAME=URL ...] --model M
   --parity OUT/M/parity.json --behaviour OUT/M/behaviour.json --out OUT/M ...` (extra targets, e.g.
   the stock TF Serving behind tf_service, show what the tf_service hop costs; URL kinds as in
   `python -m loadtests compare`), showing both parity results beside the load figures;
then `python -m loadtests report --in OUT/M... --out OUT` merges the models into OUT/report.{html,md,json}.
Every step runs as its own process with the project's real command line; a failing model does not
stop the others. Exit code: 0 all agreed (numbers within tolerance, every bad request answered alike)
and every run completed; 1 a model disagreed or a run failed (the report says which); 2 a step could
not run at all (bad arguments, a service unreachable).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ZOO_JSON = "zoo.json"


@dataclass(frozen=True)
class Step:
    what: str  # "parity digits-mlp", ...
    module: str  # run as `python -m <module> <argv>`
    argv: tuple[str, ...]
    optional: tuple[Path, ...] = ()  # files passed as `--FLAG FILE` (parity JSONs): left out when no step wrote them
    merge: bool = False  # a report merge: only the --in folders a load step wrote a report into
    clears: tuple[Path, ...] = ()  # outputs of an earlier run, removed first so none is taken as this one's

    def runnable_argv(self) -> list[str] | None:
        """The arguments as they stand now that earlier steps ran; None when there is nothing to do."""
        argv = list(self.argv)
        for path in self.optional:
            if not path.is_file():
                i = argv.index(str(path))
                del argv[i - 1:i + 1]
        if self.merge:
            start, end = argv.index("--in") + 1, argv.index("--out")
            found = [a for a in argv[start:end] if (Path(a) / "report.json").is_file()]
            if not found:
                return None
            argv[start:end] = found
        return argv


def zoo_models(zoo: Path) -> list[str]:
    """The models the zoo build wrote, from its zoo.json."""
    path = zoo / ZOO_JSON
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read {path} (has the zoo service completed?): {e}") from None
    models = doc.get("models") if isinstance(doc, dict) else None
    if not isinstance(models, dict) or not models:
        raise ValueError(f"{path} lists no models")
    return list(models)


def zoo_tolerance(zoo: Path, model: str) -> dict | None:
    """The model's parity tolerance as the zoo build justified it (zoo.json), if it says one."""
    try:
        entry = json.loads((zoo / ZOO_JSON).read_text(encoding="utf-8"))["models"][model]
        return {"atol": float(entry["tolerance"]["atol"]), "rtol": float(entry["tolerance"]["rtol"])}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def select_models(spec: str, zoo: Path) -> list[str]:
    available = zoo_models(zoo)
    if spec.strip() == "all":
        return available
    wanted = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in available]
    if not wanted or unknown:
        raise ValueError(f"--models {spec!r}: {', '.join(unknown) or 'no model named'}; the zoo holds "
                         f"{', '.join(available)}")
    return wanted


def model_steps(args: argparse.Namespace, model: str) -> list[Step]:
    out = args.out / model
    compare = ["compare", "--torch", args.torch, "--tf", args.tf, *extra_targets(args.target), "--model", model,
               "--out", str(out)]
    if args.skip_parity:
        return [Step(f"load {model}", "loadtests", (*compare, *args.compare_args), clears=(out / "report.json",))]
    parity_json, behaviour_json = out / "parity.json", out / "behaviour.json"
    sides = ["--a", args.torch, "--b", args.tf, "--model", model]
    parity = ["parity", *sides, "--json", str(parity_json)]
    inputs = args.zoo / "parity" / f"{model}.npz"
    if inputs.is_file():
        parity += ["--inputs", str(inputs)]
    tolerance = zoo_tolerance(args.zoo, model)
    if tolerance:
        parity += ["--atol", str(tolerance["atol"]), "--rtol", str(tolerance["rtol"])]
    behaviour = ["parity", "--behaviour", *sides, "--json", str(behaviour_json)]
    load = (*compare, "--parity", str(parity_json), "--behaviour", str(behaviour_json), *args.compare_args)
    return [Step(f"parity {model}", "client", tuple(parity), clears=(parity_json,)),
            Step(f"behaviour parity {model}", "client", tuple(behaviour), clears=(behaviour_json,)),
            Step(f"load {model}", "loadtests", load, optional=(parity_json, behaviour_json),
                 clears=(out / "report.json",))]


def extra_targets(specs: list[str]) -> list[str]:
    """`--target NAME=URL` for each extra target (checked by `loadtests compare` itself)."""
    return [a for spec in specs for a in ("--target", spec)]


def report_step(args: argparse.Namespace, models: list[str]) -> Step:
    return Step("merged report", "loadtests",
                ("report", "--in", *(str(args.out / m) for m in models), "--out", str(args.out)), merge=True)


def plan(args: argparse.Namespace, models: list[str]) -> list[Step]:
    """Every step the job runs, in order."""
    return [s for m in models for s in model_steps(args, m)] + [report_step(args, models)]


def check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise ValueError(
            f"cannot write the report to {folder} ({e.strerror or e}). It is ./reports on the Docker host: "
            "create it (mkdir -p reports) and run as its owner (TANDEM_UID=$(id -u) TANDEM_GID=$(id -g) "
            "docker compose run --rm compare)") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m deploy.compare_job", description=__doc__.split("\n\n")[0],
                                     epilog="Arguments after `--` go to every `python -m loadtests compare`, "
                                            "e.g. -- --scenario latency --duration 1m")
    parser.add_argument("--torch", default=os.environ.get("TANDEM_TORCH", "torch_service:7070"),
                        metavar="HOST:PORT", help="torch_service (default torch_service:7070)")
    parser.add_argument("--tf", default=os.environ.get("TANDEM_TF", "tf_service:8600"),
                        metavar="HOST:PORT", help="tf_service (default tf_service:8600)")
    parser.add_argument("--target", action="append", default=[], metavar="NAME=URL",
                        help="another target for every comparison (repeatable), e.g. "
                             "tfserving=tfserving://tfserving:8500; see `python -m loadtests compare --help`")
    parser.add_argument("--zoo", type=Path, default=Path("/models"), help="the zoo build folder (/models)")
    parser.add_argument("--out", type=Path, default=Path("/reports"), help="report folder (/reports)")
    parser.add_argument("--models", default=os.environ.get("TANDEM_MODELS", "all"),
                        help="'all' (default: every model of zoo.json) or NAME,NAME,... (env TANDEM_MODELS)")
    parser.add_argument("--skip-parity", action="store_true", help="only the load comparison")
    parser.add_argument("compare_args", nargs=argparse.REMAINDER,
                        help="after --: arguments for `python -m loadtests compare`")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    if args.compare_args[:1] == ["--"]:
        args.compare_args = args.compare_args[1:]
    return args


def run(steps: list[Step]) -> int:
    worst, results = 0, []
    for step in steps:
        for stale in step.clears:
            stale.unlink(missing_ok=True)
        argv = step.runnable_argv()
        if argv is None:
            print(f"== {step.what}: skipped, no earlier step produced its input", flush=True)
            results.append((step.what, "skipped"))
            worst = max(worst, 1)
            continue
        print(f"== {step.what}: python -m {step.module} {' '.join(argv)}", flush=True)
        code = subprocess.call([sys.executable, "-m", step.module, *argv])
        results.append((step.what, f"exit {code}"))
        worst = max(worst, code if 0 <= code <= 2 else 2)
    print("== summary", flush=True)
    for what, outcome in results:
        print(f"   {what:<32} {outcome}", flush=True)
    return worst


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        check_writable(args.out)
        models = select_models(args.models, args.zoo)
        for model in models:
            (args.out / model).mkdir(parents=True, exist_ok=True)
    except ValueError as e:
        print(f"compare job: {e}", file=sys.stderr)
        return 2
    return run(plan(args, models))


if __name__ == "__main__":
    sys.exit(main())
