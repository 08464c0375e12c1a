"""`python -m bench [--quick] [--only torch,tf,peers,scale] [--profile]`: every suite's ratios in one
table, each with the issue's target and whether this run met it, then notes: why a row has no
number, and what limits each missed target (the CPU figures, and with --profile the server's profile
under that row's load)."""

from __future__ import annotations

import argparse
import importlib
import math
import os
import sys
import tempfile
from pathlib import Path

from .harness import Row, Settings

SUITES = {"torch": "bench.torch_bench", "tf": "bench.tf_bench", "peers": "bench.peers", "scale": "bench.scale"}
HEADER = ("suite", "measure", "subject", "baseline", "ratio", "target", "met", "load generator, CPU", "server CPU",
          "note")


def _cores(row: Row, field: str) -> str:
    pair = [getattr(load, field) if load else math.nan for load in (row.subject_load, row.baseline_load)]
    return "/".join("-" if math.isnan(v) else f"{v:.2f}" for v in pair)


def _number(value: float) -> str:
    return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"


def _value(row: Row, digits: int, of: float | None = None) -> str:
    value = row.value if of is None else of
    return f"{value:+.{digits}f} {row.unit}" if row.additive else f"{value:.{digits}f}x"


def _cells(row: Row, note: str) -> tuple[str, ...]:
    if row.skipped:
        return (row.suite, row.what, row.subject, row.baseline, "-", row.target, "-", "-", "-", note)
    value = _value(row, 2)
    if row.met is False and value == _value(row, 2, of=row.threshold):
        value = _value(row, 3)  # a miss must not read as the target itself ("0.60x" against ">= 0.6")
    met = {True: "yes", False: "NO", None: "-"}[row.met]
    return (row.suite, row.what, f"{row.subject}: {_number(row.subject_value)} {row.unit}",
            f"{row.baseline}: {_number(row.baseline_value)} {row.unit}", value, row.target, met,
            f"{row.generator} {_cores(row, 'client_cores')}", _cores(row, "server_cores"), note)


def _notes(rows: list[Row], profiler) -> tuple[list[str], list[str]]:
    """(the note reference of each row, the numbered notes)."""
    refs: list[str] = []
    notes: list[str] = []
    for row in rows:
        text = ""
        if row.skipped:
            text = row.skipped
        elif row.met is False:
            text = "limits: " + row.limits()
            profile = profiler.summary(row.profile) if profiler and row.profile else ""
            text += f"; profile {profile}" if profile else "; run with --profile for the server's profile"
        if text:
            notes.append(f"[{len(notes) + 1}] {row.suite}, {row.what}: {text}")
            refs.append(f"[{len(notes)}]")
        else:
            refs.append("")
    return refs, notes


def render(rows: list[Row], profiler=None) -> str:
    refs, notes = _notes(rows, profiler)
    lines = [HEADER] + [_cells(row, ref) for row, ref in zip(rows, refs)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    out = []
    for k, line in enumerate(lines):
        out.append("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out + [""] + notes)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter rounds, fewer of them (noisier)")
    parser.add_argument("--only", default=",".join(SUITES), help="comma-separated suites: " + ", ".join(SUITES))
    parser.add_argument("--profile", action="store_true",
                        help="record each subject server's profile under one more measurement after its rounds "
                             "into reports/bench/ and summarise it in the notes (py-spy; cProfile where py-spy "
                             "cannot be had, which slows the servers through every round)")
    args = parser.parse_args(argv)
    names = args.only.split(",")
    for name in names:
        if name not in SUITES:
            parser.error(f"unknown suite {name!r}; choose from {', '.join(SUITES)}")
    profiler = None
    if args.profile:
        from .profiling import Profiler

        profiler = Profiler()
        if profiler.why_not:
            print(f"py-spy: {profiler.why_not}; profiling with cProfile, which slows the servers through every "
                  "round: this run's numbers are for reading the profiles beside", file=sys.stderr)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="tandem-bench-") as d:
        settings = Settings(args.quick, Path(d), profiler)
        for name in names:
            print(f"running {name} benchmarks...", file=sys.stderr, flush=True)
            rows += importlib.import_module(SUITES[name]).run(settings)
        rounds = settings.rounds
    print(render(rows, profiler))
    print(f"\nvalues are medians of {rounds} interleaved rounds (subject, baseline, subject, ...) measured in this "
          f"one run; CPU in cores (subject run / baseline run) on a {os.cpu_count()}-core machine, over each "
          "measurement" + ("; profiles in reports/bench/" if profiler else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
