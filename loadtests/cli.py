"""`python -m loadtests compare ...` and `python -m loadtests report ...`.

Exit codes: 0 done; 1 a service died or a run failed (the report is written and says what
happened); 2 bad input or a service not fit for load (nothing was loaded); 130 Ctrl-C (the
report holds what was measured until then).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import report as report_mod
from .compare import run_compare
from .options import parse_duration
from .plan import SCENARIOS, CompareConfig
from .progress import Progress
from .targets import PreflightError, Service


def _duration(what: str):
    def parse(text: str) -> float:
        try:
            return parse_duration(text, what)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return parse


def _add_compare(sub) -> None:
    p = sub.add_parser("compare", help="load both services with the same scenario, write the report",
                       description="Run one scenario against each service in turn with identical settings, "
                                   "sample their CPU/GPU, and write report.json, report.md and report.html.")
    p.add_argument("--torch", required=True, metavar="HOST:PORT", help="torch_service's gRPC address")
    p.add_argument("--tf", required=True, metavar="HOST:PORT", help="tf_service's gRPC address")
    p.add_argument("--model", required=True, help="the model to load")
    p.add_argument("--scenario", default="throughput", choices=SCENARIOS,
                   help="latency (one user), throughput (--users users) or ramp (steps up to --users)")
    p.add_argument("--users", type=int, help="users (throughput, default 8) or most users (ramp, default 64)")
    p.add_argument("--spawn-rate", type=float, help="users started per second (default: all at once)")
    p.add_argument("--duration", type=_duration("--duration"), default=30.0,
                   help="measured time per service, e.g. 30s, 2m (ramp: its time limit); default 30s")
    p.add_argument("--warmup", type=_duration("--warmup"), default=5.0,
                   help="load before measuring, left out of the figures (default 5s)")
    p.add_argument("--out", type=Path, default=Path("reports/compare"), help="output folder (reports/compare)")
    p.add_argument("--torch-pid", type=int, help="torch_service's process id, for CPU/memory sampling "
                                                 "(default: the local process listening on its port)")
    p.add_argument("--tf-pid", type=int, help="tf_service's (or TF Serving's) process id")
    p.add_argument("--parity", type=Path, help="a parity JSON (python -m client parity ... --json) to show")
    p.add_argument("--model-version", default="", help="model version (default: latest)")
    p.add_argument("--batch-size", type=int, default=1, help="samples per request (default 1)")
    p.add_argument("--inputs", default="", help=".npz of inputs (and reference outputs) keyed by tensor name; "
                                                "default: generated from ModelMetadata")
    p.add_argument("--seed", type=int, default=0, help="seed of generated inputs (default 0)")
    p.add_argument("--deadline", type=_duration("--deadline"), default=10.0, help="per-request deadline (10s)")
    p.add_argument("--check-rate", type=float, default=0.05, help="fraction of answers checked (0.05)")
    p.add_argument("--check-atol", type=float, default=1e-4, help="absolute tolerance of checks (1e-4)")
    p.add_argument("--check-rtol", type=float, default=1e-3, help="relative tolerance of checks (1e-3)")
    p.add_argument("--interval", type=_duration("--interval"), default=0.5,
                   help="resource sampling interval (0.5s)")
    p.add_argument("--ramp-start-users", type=int, default=1, help="ramp: users of the first step (1)")
    p.add_argument("--ramp-step-users", type=int, default=1, help="ramp: users added per step (1)")
    p.add_argument("--ramp-step-time", type=_duration("--ramp-step-time"), default=10.0,
                   help="ramp: time per step (10s)")
    p.add_argument("--ramp-p99-ms", type=float, default=500.0, help="ramp: p99 limit of a step, ms (500)")
    p.add_argument("--ramp-max-error-rate", type=float, default=0.01, help="ramp: error-rate limit (0.01)")
    p.add_argument("--quiet", action="store_true", help="no progress line")


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="merge comparison reports into one",
                       description="Merge the report.json of several comparisons (e.g. one per model) into "
                                   "one report.json / report.md / report.html with a summary table.")
    p.add_argument("--in", dest="inputs", nargs="+", required=True, type=Path, metavar="DIR_OR_JSON",
                   help="folders holding report.json, or report.json files")
    p.add_argument("--out", type=Path, required=True, help="output folder")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m loadtests",
                                description="Tandem load tests: compare torch_service and tf_service.")
    sub = p.add_subparsers(dest="command", required=True)
    _add_compare(sub)
    _add_report(sub)
    _add_run(sub)
    return p


def _add_run(sub) -> None:
    from .mainjob import JobSettings

    d = JobSettings()
    p = sub.add_parser("run", help="the main job: build the zoo, serve it from both services, parity and "
                                   "load for every model, one report (what `make run` runs)")
    p.add_argument("--models", default=d.models, help="'all' (default) or NAME,NAME of the zoo's models")
    p.add_argument("--scenario", default=d.scenario, choices=["latency", "throughput", "ramp"])
    p.add_argument("--users", type=int, default=d.users, help=f"concurrent users (default {d.users})")
    p.add_argument("--duration", type=_duration("--duration"), default=d.duration_s,
                   help=f"measured time per service and model, e.g. 20s, 1m (default {d.duration_s:g}s)")
    p.add_argument("--warmup", type=_duration("--warmup"), default=d.warmup_s,
                   help=f"warm-up before measuring (default {d.warmup_s:g}s)")
    p.add_argument("--out", type=Path, default=d.out, help="reports folder; a timestamped run folder goes in it")
    p.add_argument("--zoo", type=Path, default=None, help="reuse a zoo built by `python -m zoo build`")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--tf-backend", default=d.tf_backend, choices=["auto", "managed", "embedded"],
                   help="tf_service backend (auto: TF Serving when its binary is on PATH, else embedded)")


def config_from_args(args) -> CompareConfig:
    services = [Service.parse("torch", args.torch, args.torch_pid), Service.parse("tf", args.tf, args.tf_pid)]
    return CompareConfig(
        services=services, model=args.model, scenario=args.scenario, users=args.users,
        spawn_rate=args.spawn_rate, duration_s=args.duration, warmup_s=args.warmup, out_dir=args.out,
        model_version=args.model_version, batch_size=args.batch_size, inputs=args.inputs, seed=args.seed,
        deadline_s=args.deadline, check_rate=args.check_rate, check_atol=args.check_atol,
        check_rtol=args.check_rtol, parity=args.parity, interval_s=args.interval,
        ramp_start_users=args.ramp_start_users, ramp_step_users=args.ramp_step_users,
        ramp_step_s=args.ramp_step_time, ramp_p99_ms=args.ramp_p99_ms,
        ramp_max_error_rate=args.ramp_max_error_rate)


def _finish(report: dict, paths: dict) -> None:
    print(report_mod.summary_table(report))
    print(f"\nreport: {paths['html']}\n        {paths['md']}\n        {paths['json']}")


def compare_main(args) -> int:
    try:
        config = config_from_args(args)
        outcome = run_compare(config, Progress(enabled=not args.quiet))
    except PreflightError as e:
        print(f"error: {e}\nno load was sent.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    _finish(outcome.report, outcome.paths)
    return outcome.exit_code


def report_main(args) -> int:
    try:
        merged, paths = report_mod.combine(args.inputs, args.out)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    _finish(merged, paths)
    return 0 if all(m.get("complete", True) for m in merged["models"]) else 1


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "compare":
        return compare_main(args)
    if args.command == "run":
        from .mainjob import JobSettings, run

        return run(JobSettings(models=args.models, scenario=args.scenario, users=args.users,
                               duration_s=args.duration, warmup_s=args.warmup, out=args.out, zoo=args.zoo,
                               seed=args.seed, tf_backend=args.tf_backend))
    return report_main(args)
