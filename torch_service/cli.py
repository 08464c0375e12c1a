"""`python -m torch_service`: serve a model store on the OIP v2 contract; `... archive` writes archives."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

from server_core.settings import add_server_arguments, settings_from_args

from . import __version__
from .archive import NAME_RE
from .extract import DEFAULT_MAX_ARCHIVE_BYTES
from .store import ModelStore

ENV_PREFIX = "TORCH_SERVICE"
DEFAULT_PORT = 7070
DEFAULT_METRICS_PORT = 8082
log = logging.getLogger("tandem.torch")


def _env(name: str, default=None):
    return os.environ.get(f"{ENV_PREFIX}_{name}", default)


def serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m torch_service",
        description="Serve the PyTorch model archives of a model store on the Open Inference Protocol v2 "
                    "(gRPC, KServe/Triton compatible). Write archives with `python -m torch_service archive`.",
        epilog="Store layout: STORE/<name>.mar or STORE/<name>/ (one version), STORE/<name>/<version>.mar or "
               "STORE/<name>/<version>/ (several versions; the highest serves by default).")
    g = parser.add_argument_group("models")
    g.add_argument("--model-store", type=Path, default=_env("MODEL_STORE"), required=_env("MODEL_STORE") is None,
                   help="folder of model archives (env TORCH_SERVICE_MODEL_STORE)")
    g.add_argument("--models", default=_env("MODELS", "all"),
                   help="models to load at start: 'all' (default), 'none', or NAME,NAME,... (others can be "
                        "loaded later with RepositoryModelLoad)")
    g.add_argument("--work-dir", type=Path, default=_env("WORK_DIR"),
                   help="where .mar archives are extracted, one folder per loaded version (default: a "
                        "temporary folder removed on exit)")
    g.add_argument("--torch-threads", type=int, default=int(_env("TORCH_THREADS", 0)),
                   help="torch intra-op threads per worker; 0 (default) = the cores (less one left to the gRPC "
                        "frontend past 4 cores) divided by the most workers of any loaded model; use 1 for tiny models")
    g.add_argument("--default-device", choices=["cpu", "gpu"], default=_env("DEFAULT_DEVICE", "cpu"),
                   help="device of models whose config sets no deviceType (default cpu)")
    g.add_argument("--max-archive-bytes", type=int, default=int(_env("MAX_ARCHIVE_BYTES", DEFAULT_MAX_ARCHIVE_BYTES)),
                   help="refuse .mar archives that unpack to more than this many bytes (default 8 GiB)")
    g.add_argument("--drain-timeout", type=float, default=float(_env("DRAIN_TIMEOUT", 30.0)),
                   help="seconds an unloading model waits for its in-flight requests (default 30)")
    g.add_argument("--strict", action="store_true", default=_env("STRICT", "") not in ("", "0", "false"),
                   help="refuse to start (exit 2) when the store is empty or in another layout, instead of "
                        "warning")
    g.add_argument("--version", action="version", version=f"torch_service {__version__}")
    add_server_arguments(parser, env_prefix=ENV_PREFIX, default_port=DEFAULT_PORT,
                         default_metrics_port=DEFAULT_METRICS_PORT)
    return parser


def _models(spec: str, store: ModelStore, parser: argparse.ArgumentParser) -> list[str] | None:
    spec = spec.strip()
    if spec == "all":
        return None
    if spec in ("none", ""):
        return []
    names = [n.strip() for n in spec.split(",") if n.strip()]
    available = store.names()
    missing = [n for n in names if n not in available or not NAME_RE.match(n)]
    if missing:
        parser.error(f"--models: {', '.join(missing)} not in the model store {store.root} "
                     f"(it holds: {', '.join(available) or 'nothing'})")
    return names


def serve_main(argv: list[str]) -> int:
    parser = serve_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
    except ValueError as e:
        parser.error(str(e))
    store = ModelStore(args.model_store)
    if not store.root.is_dir():
        parser.error(f"--model-store {args.model_store} is not a directory")
    models = _models(args.models, store, parser)

    from server_core.metrics import Metrics
    from server_core.repository import RepositoryBackend
    from server_core.server import configure_logging, run

    configure_logging(settings.log_level)
    problems = store.survey()
    for problem in problems:
        log.warning("--model-store %s: %s", store.root, problem)
    if problems and args.strict:
        print(f"torch_service: error: --model-store {store.root}: {problems[0]} (--strict)", file=sys.stderr)
        return 2
    if settings.processes > 1:  # the parent of N workers: it loads no model (server_core.workers)
        from server_core.workers import supervise

        return supervise(settings, module="torch_service", argv=argv, prog="torch_service")

    from server_core.workers import threads_per_process

    from .devices import ThreadBudget, passive_openmp, usable_cores

    passive_openmp()  # before torch loads (see its docstring)
    from .loader import TorchLoader  # imports torch: only now, in main()

    threads = ThreadBudget(args.torch_threads, cores=threads_per_process(settings, usable_cores()))
    threads.apply_startup()
    temporary = args.work_dir is None
    work_dir = Path(tempfile.mkdtemp(prefix="torch_service-")) if temporary else args.work_dir
    if settings.worker is not None and not temporary:  # workers of --processes N extract apart
        work_dir = work_dir / f"worker-{settings.worker.index}"
    work_dir.mkdir(parents=True, exist_ok=True)
    metrics = Metrics()
    loader = TorchLoader(store, work_dir, metrics=metrics, threads=threads, default_device=args.default_device,
                         max_archive_bytes=args.max_archive_bytes)
    backend = RepositoryBackend(loader, models, drain_timeout=args.drain_timeout)
    settings.private_folders = ((store.root, "model-store"), (work_dir, "work-dir"))
    try:
        return run(backend, settings, metrics, prog="torch_service")
    except OSError as e:
        log.error("cannot serve: %s", e)
        return 1
    finally:
        if temporary:
            shutil.rmtree(work_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["archive"]:
        from .archive_cli import archive_main

        return archive_main(argv[1:])
    return serve_main(argv)
