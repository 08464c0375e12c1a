"""`python -m loadtests compare|report|diff|run ...`.

Exit codes: 0 done; 1 a target died or a run failed (the report is written and says what
happened), or `diff` found a significant regression; 2 bad input or a target not fit for load
(nothing was loaded); 130 Ctrl-C (the report holds what was measured until then).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .generator.options import parse_duration
from .render import report as report_mod
from .render.summary import summary_table
from .run.compare import run_compare
from .run.plan import SCENARIOS, CompareConfig
from .run.preflight import PreflightError, make_target
from .run.progress import Progress
from .targets import schemes_help


def _duration(what: str):
    def parse(text: str) -> float:
        try:
            return parse_duration(text, what)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return parse


def _add_compare(sub) -> None:
    p = sub.add_parser("compare", help="load two or more targets with the same scenario, in rounds; write the report",
                       description="Run one scenario against every target in turn, in rounds (rotated order), with "
                                   "identical settings; sample their CPU/GPU; verdicts with 95 % intervals; write "
                                   "report.json, report.md and report.html.")
    p.add_argument("--target", action="append", default=[], metavar="NAME=URL",
                   help=f"a target (repeat: two or more). URL schemes: {schemes_help()}")
    p.add_argument("--torch", metavar="URL", help="shorthand for --target torch=URL")
    p.add_argument("--tf", metavar="URL", help="shorthand for --target tf=URL")
    p.add_argument("--pid", action="append", default=[], metavar="NAME=PID",
                   help="a target's process id, for CPU/memory sampling (default: the local process "
                        "listening on its port)")
    p.add_argument("--model", required=True, help="the model to load")
    p.add_argument("--rounds", type=int, default=3, help="rounds: every target loaded once per round, in a "
                                                         "rotated order (default 3)")
    p.add_argument("--scenario", default="throughput", choices=SCENARIOS,
                   help="latency (one user), throughput (--users users), ramp (steps up to --users) or sweep "
                        "(1, 2, 4, ... --users, a latency-throughput curve)")
    p.add_argument("--slo-p99-ms", type=float, help="sweep: report the highest throughput whose p99 stays "
                                                     "under this (default: the highest throughput)")
    p.add_argument("--users", type=int, help="users (throughput, default 8) or most users (ramp, default 64)")
    p.add_argument("--spawn-rate", type=float, help="users started per second (default: all at once)")
    p.add_argument("--duration", type=_duration("--duration"), default=30.0,
                   help="measured time per service, e.g. 30s, 2m (ramp: its time limit); default 30s")
    p.add_argument("--warmup", type=_duration("--warmup"), default=5.0,
                   help="load before measuring, left out of the figures (default 5s)")
    p.add_argument("--out", type=Path, default=Path("reports/compare"), help="output folder (reports/compare)")
    p.add_argument("--torch-pid", type=int, help="shorthand for --pid torch=PID")
    p.add_argument("--tf-pid", type=int, help="shorthand for --pid tf=PID")
    p.add_argument("--parity", type=Path, help="a parity JSON (python -m client parity ... --json) to show")
    p.add_argument("--behaviour", "--behavior", type=Path,
                   help="a behaviour parity JSON (python -m client parity --behaviour ... --json) to show")
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
    p.add_argument("--ramp-step-time", "--step-time", dest="ramp_step_time", type=_duration("--step-time"),
                   default=10.0, help="ramp and sweep: time per step (10s)")
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


def _add_diff(sub) -> None:
    p = sub.add_parser("diff", help="compare a run with a baseline: exit 1 on a significant regression",
                       description="Per model and target, the change from BASELINE to CURRENT with its 95 % "
                                   "interval; exit 1 when a target got significantly slower by more than "
                                   "--tolerance (throughput down or p99 up).")
    p.add_argument("baseline", type=Path, help="report.json or a folder holding one")
    p.add_argument("current", type=Path, help="report.json or a folder holding one")
    p.add_argument("--tolerance", type=float, default=0.05, help="slowdown allowed, a fraction (default 0.05)")
    p.add_argument("--json", type=Path, help="also write the comparison as JSON here")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m loadtests",
                                description="Tandem load tests: compare inference servers under load.")
    sub = p.add_subparsers(dest="command", required=True)
    _add_compare(sub)
    _add_report(sub)
    _add_diff(sub)
    _add_run(sub)
    return p


def _add_run(sub) -> None:
    from .run.job_settings import JobSettings

    d = JobSettings()
    p = sub.add_parser("run", help="the main job: build the zoo, serve it from both services, parity and "
                                   "load for every model, one report (what `make run` runs)")
    p.add_argument("--models", default=d.models, help="'all' (default) or NAME,NAME of the zoo's models")
    p.add_argument("--scenario", default=d.scenario, choices=["latency", "throughput", "ramp"])
    p.add_argument("--rounds", type=int, default=d.rounds, help=f"rounds per model (default {d.rounds})")
    p.add_argument("--sweep-model", default=d.sweep_model,
                   help=f"the model also measured with the sweep scenario ('' for none; default {d.sweep_model})")
    p.add_argument("--slo-p99-ms", type=float, default=d.slo_p99_ms,
                   help=f"the sweep's p99 limit (default {d.slo_p99_ms:g} ms)")
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


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise PreflightError(f"{what} {item!r}: expected NAME=VALUE")
        out[name.strip()] = value
    return out


def config_from_args(args) -> CompareConfig:
    specs = list(args.target)
    if args.torch:
        specs.insert(0, f"torch={args.torch}")
    if args.tf:
        specs.insert(1 if args.torch else 0, f"tf={args.tf}")
    pids = _pairs(args.pid, "--pid")
    if args.torch_pid is not None:
        pids["torch"] = str(args.torch_pid)
    if args.tf_pid is not None:
        pids["tf"] = str(args.tf_pid)
    targets = []
    for spec in specs:
        name, sep, url = spec.partition("=")
        if not sep:
            raise PreflightError(f"--target {spec!r}: expected NAME=URL, e.g. torch=grpc://127.0.0.1:8001")
        pid = pids.get(name.strip())
        if pid is not None and not pid.strip().isdigit():
            raise PreflightError(f"--pid {name}={pid}: expected a process id")
        targets.append(make_target(name.strip(), url, int(pid) if pid is not None else None))
    unknown = sorted(set(pids) - {t.name for t in targets})
    if unknown:
        raise PreflightError(f"--pid for {', '.join(unknown)}: no such target")
    return CompareConfig(
        targets=targets, model=args.model, scenario=args.scenario, users=args.users, rounds=args.rounds,
        spawn_rate=args.spawn_rate, duration_s=args.duration, warmup_s=args.warmup, out_dir=args.out,
        model_version=args.model_version, batch_size=args.batch_size, inputs=args.inputs, seed=args.seed,
        deadline_s=args.deadline, check_rate=args.check_rate, check_atol=args.check_atol,
        check_rtol=args.check_rtol, parity=args.parity, behaviour=args.behaviour, interval_s=args.interval,
        ramp_start_users=args.ramp_start_users, ramp_step_users=args.ramp_step_users,
        ramp_step_s=args.ramp_step_time, ramp_p99_ms=args.ramp_p99_ms,
        ramp_max_error_rate=args.ramp_max_error_rate, slo_p99_ms=args.slo_p99_ms)


def _finish(report: dict, paths: dict) -> None:
    print(summary_table(report))
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


def diff_main(args) -> int:
    from .stats import diff

    try:
        result = diff.compare_reports(report_mod.load(args.baseline), report_mod.load(args.current),
                                      tolerance=args.tolerance)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(diff.render(result))
    if args.json:
        import json

        args.json.write_text(json.dumps(result, indent=1))
    return 1 if result["regressions"] else 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "compare":
        return compare_main(args)
    if args.command == "diff":
        return diff_main(args)
    if args.command == "run":
        from .run.job_settings import JobSettings
        from .run.mainjob import run

        return run(JobSettings(models=args.models, scenario=args.scenario, users=args.users,
                               duration_s=args.duration, warmup_s=args.warmup, out=args.out, zoo=args.zoo,
                               seed=args.seed, tf_backend=args.tf_backend, rounds=args.rounds,
                               sweep_model=args.sweep_model, slo_p99_ms=args.slo_p99_ms))
    return report_main(args)
