"""`python -m tf_service --model-base-path DIR`: serve TF Serving's model layout on the OIP v2 contract,
through a TF Serving at an address (tfserving), a TF Serving child process (managed), or in-process
(embedded). `--backend auto` picks tfserving when given an address, else managed when the
`tensorflow_model_server` binary is found, else embedded, and logs which.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sys
from pathlib import Path

from server_core.settings import add_server_arguments, settings_from_args

from . import __version__

ENV_PREFIX = "TF_SERVICE"
DEFAULT_PORT = 8600
DEFAULT_METRICS_PORT = 8602
DEFAULT_TFSERVING_ADDRESS = "127.0.0.1:8500"
BINARY = "tensorflow_model_server"
BACKENDS = ("auto", "tfserving", "managed", "embedded")
log = logging.getLogger("tandem.tf")


def _env(name: str, default=None):
    return os.environ.get(f"{ENV_PREFIX}_{name}", default)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tf_service", description=__doc__,
        epilog="Layout: DIR/<model>/<integer version>/saved_model.pb + variables/, and an optional "
               "DIR/<model>/model.yaml (signature, tensor names, batching, properties).")
    g = parser.add_argument_group("models")
    g.add_argument("--model-base-path", type=Path, default=_env("MODEL_BASE_PATH"),
                   required=_env("MODEL_BASE_PATH") is None,
                   help="TF Serving model base path (env TF_SERVICE_MODEL_BASE_PATH)")
    g.add_argument("--backend", choices=BACKENDS, default=_env("BACKEND", "auto"),
                   help="where models run (default auto)")
    g.add_argument("--models", default=_env("MODELS", "all"),
                   help="models to load at start: 'all' (default), 'none' or NAME,NAME,...")
    g.add_argument("--poll-interval", type=float, default=float(_env("POLL_INTERVAL", 2.0)),
                   help="seconds between looks at the base path (embedded) or TF Serving's model "
                        "status (tfserving, managed); 0 disables (default 2)")
    g.add_argument("--drain-timeout", type=float, default=float(_env("DRAIN_TIMEOUT", 30.0)),
                   help="seconds an unloading model version waits for its in-flight requests (default 30)")
    g.add_argument("--intra-op-threads", type=int, default=int(_env("INTRA_OP_THREADS", 0)),
                   help="embedded: TensorFlow threads within one op; 0 (default) = TensorFlow's choice "
                        "(all cores). 1 suits tiny models on few cores")
    g.add_argument("--inter-op-threads", type=int, default=int(_env("INTER_OP_THREADS", 0)),
                   help="embedded: TensorFlow ops run at once; 0 (default) = TensorFlow's choice")
    t = parser.add_argument_group("TensorFlow Serving (tfserving and managed backends)")
    t.add_argument("--tfserving-address", default=_env("TFSERVING_ADDRESS"),
                   help="gRPC address of a running TF Serving (tfserving backend; "
                        f"default {DEFAULT_TFSERVING_ADDRESS})")
    t.add_argument("--tfserving-binary", default=_env("TFSERVING_BINARY"),
                   help=f"the {BINARY} to start (managed backend; default: found on PATH)")
    t.add_argument("--tfserving-model-base-path", default=_env("TFSERVING_MODEL_BASE_PATH"),
                   help="the base path as TF Serving sees it, for the model config sent on load/unload "
                        "(tfserving backend; default --model-base-path)")
    t.add_argument("--tfserving-load-timeout", type=float, default=float(_env("TFSERVING_LOAD_TIMEOUT", 300.0)),
                   help="seconds to wait for models to become AVAILABLE in TF Serving (default 300)")
    t.add_argument("--tfserving-inflight", type=int, default=int(_env("TFSERVING_INFLIGHT", 8)),
                   help="Predict calls in flight per model version for unbatched models; requests beyond "
                        "it queue and are coalesced (default 8)")
    t.add_argument("--work-dir", type=Path, default=_env("WORK_DIR"),
                   help="where the managed backend writes TF Serving's config files (default: a temporary folder)")
    g.add_argument("--strict", action="store_true", default=_env("STRICT", "") not in ("", "0", "false"),
                   help="refuse to start (exit 2) when the base path is empty or in another layout, instead of "
                        "warning")
    parser.add_argument("--version", action="version", version=f"tf_service {__version__}")
    add_server_arguments(parser, env_prefix=ENV_PREFIX, default_port=DEFAULT_PORT,
                         default_metrics_port=DEFAULT_METRICS_PORT)
    return parser


def find_binary(given: str | None) -> str | None:
    """The tensorflow_model_server to run: the given path (or name on PATH), else PATH's."""
    if given:
        found = shutil.which(given)
        return str(Path(found).resolve()) if found else None
    return shutil.which(BINARY)


def choose_backend(args) -> tuple[str, str]:
    """(backend, why) for the parsed arguments; raises ValueError when the choice cannot work."""
    binary = find_binary(args.tfserving_binary)
    if args.backend == "managed" and binary is None:
        wanted = args.tfserving_binary or f"{BINARY} on PATH"
        raise ValueError(f"--backend managed needs the TF Serving binary, but {wanted} was not found "
                         "(or is not executable); pass --tfserving-binary PATH")
    if args.backend != "auto":
        return args.backend, "chosen with --backend"
    if args.tfserving_address:
        return "tfserving", f"--tfserving-address {args.tfserving_address} given"
    if binary:
        return "managed", f"{binary} found"
    return "embedded", f"no --tfserving-address and no {BINARY} found"


def _models(spec: str, names: list[str], parser) -> list[str] | None:
    spec = spec.strip()
    if spec == "all":
        return None
    if spec in ("none", ""):
        return []
    wanted = [n.strip() for n in spec.split(",") if n.strip()]
    missing = [n for n in wanted if n not in names]
    if missing:
        parser.error(f"--models: {', '.join(missing)} not in the base path (it holds: {', '.join(names) or 'nothing'})")
    return wanted


def make_backend(kind: str, args, models, metrics):
    """The backend object; imports TensorFlow (and TF Serving's protos) only here."""
    if kind == "embedded":
        from . import numerics

        numerics.prepare_environment()
        import tensorflow as tf

        from .embedded import EmbeddedBackend

        numerics.apply(tf)

        if args.intra_op_threads > 0:  # before TensorFlow runs anything
            tf.config.threading.set_intra_op_parallelism_threads(args.intra_op_threads)
        if args.inter_op_threads > 0:
            tf.config.threading.set_inter_op_parallelism_threads(args.inter_op_threads)

        return EmbeddedBackend(args.model_base_path, metrics=metrics, poll_s=args.poll_interval, models=models,
                               drain_timeout=args.drain_timeout)
    from .tfserving import TFServingBackend, TFServingOptions

    options = TFServingOptions(poll_s=args.poll_interval, load_timeout_s=args.tfserving_load_timeout,
                               inflight=args.tfserving_inflight, drain_timeout_s=args.drain_timeout)
    if kind == "tfserving":
        return TFServingBackend(args.tfserving_address or DEFAULT_TFSERVING_ADDRESS, args.model_base_path,
                                tfserving_base_path=args.tfserving_model_base_path, models=models,
                                metrics=metrics, options=options)
    from .managed import ManagedBackend

    binary = find_binary(args.tfserving_binary)
    assert binary is not None  # choose_backend picked managed only with a binary
    return ManagedBackend(binary, args.model_base_path, work_dir=args.work_dir,
                          models=models, metrics=metrics, options=options)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
        kind, why = choose_backend(args)
    except ValueError as e:
        parser.error(str(e))
    if settings.processes > 1 and kind == "managed":
        parser.error("--processes needs the embedded or tfserving backend: each managed process would start "
                     "a TF Serving of its own (TF Serving uses every core itself)")
    if not args.model_base_path.is_dir():
        parser.error(f"--model-base-path {args.model_base_path} is not a directory")
    args.model_base_path = args.model_base_path.resolve()

    from server_core.metrics import Metrics
    from server_core.server import configure_logging, run

    from .store import ModelStore

    configure_logging(settings.log_level)
    store = ModelStore(args.model_base_path)
    problems = store.survey()
    for problem in problems:
        log.warning("--model-base-path %s: %s", args.model_base_path, problem)
    if problems and args.strict:
        print(f"tf_service: error: --model-base-path {args.model_base_path}: {problems[0]} (--strict)",
              file=sys.stderr)
        return 2
    models = _models(args.models, store.names(), parser)
    if settings.processes > 1:  # the parent of N workers: it loads no model (server_core.workers)
        from server_core.workers import supervise

        return supervise(settings, module="tf_service", argv=list(sys.argv[1:] if argv is None else argv),
                         prog="tf_service")
    if settings.worker is not None and args.intra_op_threads <= 0:  # N processes share the cores
        from server_core.workers import threads_per_process

        args.intra_op_threads = threads_per_process(settings)
    log.info("backend: %s (%s)", kind, why)
    metrics = Metrics()
    backend = make_backend(kind, args, models, metrics)
    backend.server_name = "tandem-tf_service"
    backend.server_version = __version__
    private = [(args.model_base_path, "model-base-path")]
    if args.tfserving_model_base_path:
        private.append((Path(args.tfserving_model_base_path), "tfserving-model-base-path"))
    if getattr(backend, "work_dir", None) is not None:
        private.append((backend.work_dir, "work-dir"))
    settings.private_folders = tuple(private)
    try:
        return run(backend, settings, metrics, prog="tf_service")
    except OSError as e:
        log.error("cannot serve: %s", e)
        return 1
    except (asyncio.CancelledError, KeyboardInterrupt):
        log.warning("stopped during start-up")
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
