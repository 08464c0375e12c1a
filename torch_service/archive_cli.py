"""`python -m torch_service archive`: torch-model-archiver's command line, writing the same archives."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .archive import build_archive

FORMATS = {"default": ".mar", "zip-store": ".mar", "no-archive": ""}


def archive_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m torch_service archive",
        description="Write a TorchServe-style model archive (.mar zip or folder). Takes the flags of "
                    "torch-model-archiver; its archives and ours load the same way.")
    p.add_argument("--model-name", required=True, help="model name ([A-Za-z0-9][A-Za-z0-9_.-]*)")
    p.add_argument("-v", "--version", default="1", help="model version (default 1)")
    p.add_argument("--serialized-file", type=Path,
                   help="the model: a torch.export .pt2, a TorchScript .pt, or a state_dict (with --model-file)")
    p.add_argument("--model-file", type=Path, help="eager mode: the .py defining the torch.nn.Module")
    p.add_argument("--handler", default="base_handler",
                   help="'base_handler' (tensors in, tensors out, the default) or a custom handler .py[:entry]")
    p.add_argument("-c", "--config-file", type=Path,
                   help="model-config.yaml (batchSize, maxBatchDelay, minWorkers, deviceType, tensors, ...)")
    p.add_argument("--extra-files", default="", help="comma-separated extra files or folders to include")
    p.add_argument("-r", "--requirements-file", type=Path, help="requirements.txt to ship (not installed)")
    p.add_argument("--runtime", default="python", choices=["python", "python3"], help="accepted for compatibility")
    p.add_argument("--export-path", type=Path, default=Path.cwd(),
                   help="folder to write <model-name>.mar (or <model-name>/) into (default: current folder)")
    p.add_argument("--output", type=Path,
                   help="exact output path instead of --export-path, e.g. STORE/add_sub/2.mar for a versioned store")
    p.add_argument("--archive-format", choices=sorted(FORMATS), default="default",
                   help="default: deflated .mar zip; zip-store: uncompressed .mar; no-archive: a folder")
    p.add_argument("-f", "--force", action="store_true", help="overwrite an existing archive")
    return p


def archive_main(argv: list[str]) -> int:
    parser = archive_parser()
    args = parser.parse_args(argv)
    out = args.output or args.export_path / f"{args.model_name}{FORMATS[args.archive_format]}"
    extra = [Path(x.strip()) for x in args.extra_files.split(",") if x.strip()]
    try:
        path = build_archive(out, model_name=args.model_name, version=args.version,
                             serialized_file=args.serialized_file, handler=args.handler, model_file=args.model_file,
                             config=args.config_file, extra_files=extra,
                             as_folder=args.archive_format == "no-archive", requirements_file=args.requirements_file,
                             compress=args.archive_format == "default", overwrite=args.force)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(path)
    return 0
