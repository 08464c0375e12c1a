"""`python -m bench [--quick] [--only torch,tf]`: every suite's ratios in one table."""

from __future__ import annotations

import argparse
import importlib
import sys

SUITES = {"torch": "bench.torch_bench", "tf": "bench.tf_bench"}


def render(rows) -> str:
    header = ("suite", "measure", "subject", "baseline", "ratio", "target", "met")
    lines = [header]
    for r in rows:
        lines.append((r.suite, r.what, f"{r.subject}: {r.subject_value:,.1f} {r.unit}",
                      f"{r.baseline}: {r.baseline_value:,.1f} {r.unit}", f"{r.ratio:.2f}x", r.target,
                      "yes" if r.met else "NO"))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    out = []
    for k, line in enumerate(lines):
        out.append("  ".join(str(c).ljust(w) for c, w in zip(line, widths)))
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter rounds (noisier)")
    parser.add_argument("--only", default=",".join(SUITES), help="comma-separated suites: " + ", ".join(SUITES))
    args = parser.parse_args(argv)
    rows = []
    for name in args.only.split(","):
        if name not in SUITES:
            parser.error(f"unknown suite {name!r}; choose from {', '.join(SUITES)}")
        print(f"running {name} benchmarks...", file=sys.stderr, flush=True)
        rows += importlib.import_module(SUITES[name]).run(args.quick)
    print(render(rows))
    print("\nratios are medians of interleaved rounds measured in this one run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
