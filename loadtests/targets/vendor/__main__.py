"""`python -m loadtests.targets.vendor [--check]`: regenerate the vendored stubs (grpcio-tools)."""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROTOS = ("torchserve_inference.proto", "tfserving_subset.proto")


def generate(out_dir: Path) -> list[Path]:
    import grpc_tools
    from grpc_tools import protoc  # development dependency, imported only when generating

    include = Path(grpc_tools.__file__).parent / "_proto"
    args = ["protoc", f"-I{HERE}", f"-I{include}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}",
            *(str(HERE / p) for p in PROTOS)]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for path in out_dir.glob("*_pb2_grpc.py"):  # generated code imports its sibling as a top-level module
        text = path.read_text()
        for p in PROTOS:
            stem = p.removesuffix(".proto")
            text = text.replace(f"import {stem}_pb2 as", f"from . import {stem}_pb2 as")
        path.write_text(text)
    return sorted(out_dir.glob("*_pb2*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.targets.vendor", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed stubs differ")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        drift = [f.name for f in fresh if not (HERE / f.name).is_file()
                 or not filecmp.cmp(f, HERE / f.name, shallow=False)]
        if args.check:
            print("stubs differ: " + ", ".join(drift) if drift else "stubs up to date")
            return 1 if drift else 0
        for f in fresh:
            (HERE / f.name).write_bytes(f.read_bytes())
    print(f"wrote {len(fresh)} files to {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
