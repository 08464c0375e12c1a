"""Regenerate the Python stubs from the .proto files: `python -m protos [--check]`."""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def generate(out_dir: Path, root: Path = ROOT) -> list[Path]:
    """Run protoc (grpcio-tools) over every .proto under root/protos; return the generated files."""
    import grpc_tools
    from grpc_tools import protoc  # development dependency, imported only when generating

    include = Path(grpc_tools.__file__).parent / "_proto"
    protos = sorted(str(p.relative_to(root)) for p in (root / "protos").glob("*.proto"))
    args = ["protoc", f"-I{root}", f"-I{include}", f"--python_out={out_dir}", f"--pyi_out={out_dir}",
            f"--grpc_python_out={out_dir}", *protos]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    return sorted((out_dir / "protos").glob("*_pb2*.py*"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m protos", description=__doc__)
    parser.add_argument("--check", action="store_true",
                        help="compare freshly generated stubs with the committed ones; exit 1 on drift")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the checkout whose protos/ to generate or check (default: this one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp), args.root)
        drift = []
        for f in fresh:
            committed = args.root / "protos" / f.name
            if args.check:
                if not committed.exists() or not filecmp.cmp(f, committed, shallow=False):
                    drift.append(f.name)
            else:
                committed.write_bytes(f.read_bytes())
        if args.check and drift:
            print("stubs differ from the .proto: " + ", ".join(drift) + " (run `make protos`)")
            return 1
    print("stubs up to date" if args.check else f"wrote {len(fresh)} files to protos/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
