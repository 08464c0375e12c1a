"""Server settings shared by both services, from command-line flags or environment variables."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # a batch of 64 224x224x3 FP32 images is ~38 MiB
# Set by the parent of `--processes N` in each worker's environment (server_core.workers).
WORKER_ENV = "TANDEM_WORKER"


@dataclass(frozen=True)
class WorkerInfo:
    """A worker of `--processes N`: its index, how many there are, where the workers' statistics are
    kept, and its parent's pid (the worker exits when the parent goes)."""

    index: int
    count: int
    stats_dir: Path
    parent_pid: int

    def encode(self) -> str:
        return f"{self.index}:{self.count}:{self.parent_pid}:{self.stats_dir}"

    @classmethod
    def decode(cls, text: str) -> WorkerInfo:
        index, count, parent, folder = text.split(":", 3)
        return cls(int(index), int(count), Path(folder), int(parent))


@dataclass
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 0  # 0 = a free port (tests); services give their own default
    metrics_port: int | None = None
    http_port: int | None = None  # OIP v2 REST (server_core.rest); None = off, 0 = a free port
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    grace_s: float = 10.0  # how long in-flight requests may finish after SIGTERM/SIGINT
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None  # set to require client certificates (mTLS)
    token: str | None = None
    management: bool = True
    reflection: bool = True
    log_level: str = "INFO"
    access_log: bool = False  # one line per request on the tandem.access logger (server_core.access_log)
    tracing: bool = False  # OpenTelemetry spans, exporter from the OTEL_* variables (server_core.tracing)
    # (folder, name) pairs never shown to callers: messages say `name/...` relative paths instead
    private_folders: tuple[tuple[Path, str], ...] = ()
    processes: int = 1  # server processes sharing the ports (server_core.workers); 1 = this one
    reuse_port: bool = False  # bind the gRPC and REST ports with SO_REUSEPORT (workers of --processes)
    worker: WorkerInfo | None = None  # set in a worker of --processes N
    management_off: str = "started with --no-management"  # why, when management is False

    def __post_init__(self):
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("--tls-cert and --tls-key go together")
        if self.tls_client_ca and not self.tls_cert:
            raise ValueError("--tls-client-ca needs --tls-cert and --tls-key")
        if self.max_message_bytes <= 0:
            raise ValueError("--max-message-bytes must be positive")
        if self.processes < 1:
            raise ValueError("--processes must be at least 1")


def _env(prefix: str, name: str, default=None):
    return os.environ.get(f"{prefix}_{name}", default)


def _flag(value: str | None) -> bool:
    return (value or "") not in ("", "0", "false")


def add_server_arguments(parser: argparse.ArgumentParser, *, env_prefix: str, default_port: int,
                         default_metrics_port: int) -> None:
    """Add the shared flags; each defaults to the environment variable <env_prefix>_<FLAG>."""
    def env(name, default=None):
        return _env(env_prefix, name, default)

    g = parser.add_argument_group("server", f"every flag can also be set as {env_prefix}_<FLAG>, "
                                            f"e.g. {env_prefix}_PORT")
    g.add_argument("--host", default=env("HOST", "127.0.0.1"),
                   help="address to bind (default 127.0.0.1; use 0.0.0.0 in containers)")
    g.add_argument("--port", type=int, default=int(env("PORT", default_port)),
                   help=f"gRPC port (default {default_port}; 0 picks a free port)")
    g.add_argument("--metrics-port", type=int, default=int(env("METRICS_PORT", default_metrics_port)),
                   help=f"Prometheus /metrics port (default {default_metrics_port}; -1 disables)")
    g.add_argument("--http-port", type=int, default=int(env("HTTP_PORT", -1)),
                   help="OIP v2 REST port (default -1 = off; 0 picks a free port)")
    g.add_argument("--max-message-bytes", type=int,
                   default=int(env("MAX_MESSAGE_BYTES", DEFAULT_MAX_MESSAGE_BYTES)),
                   help="largest request/response message (default 64 MiB)")
    g.add_argument("--grace", type=float, default=float(env("GRACE", 10.0)),
                   help="seconds in-flight requests may finish on SIGTERM/SIGINT (default 10)")
    g.add_argument("--tls-cert", type=Path, default=env("TLS_CERT"), help="PEM server certificate")
    g.add_argument("--tls-key", type=Path, default=env("TLS_KEY"), help="PEM server private key")
    g.add_argument("--tls-client-ca", type=Path, default=env("TLS_CLIENT_CA"),
                   help="PEM CA bundle; when set, clients must present a certificate it signed (mTLS)")
    g.add_argument("--token", default=env("TOKEN"),
                   help="require 'authorization: Bearer TOKEN' on every RPC except health checks")
    g.add_argument("--no-management", action="store_true",
                   default=env("NO_MANAGEMENT", "") not in ("", "0", "false"),
                   help="refuse RepositoryModelLoad/Unload (PERMISSION_DENIED)")
    g.add_argument("--no-reflection", action="store_true", help="do not serve gRPC server reflection")
    g.add_argument("--access-log", action="store_true", default=_flag(env("ACCESS_LOG")),
                   help="log one line per request (method, model, version, status, duration, peer)")
    g.add_argument("--trace", action="store_true", default=_flag(env("TRACE")),
                   help="OpenTelemetry spans for gRPC and REST calls, exported as the OTEL_* variables say")
    g.add_argument("--log-level", default=env("LOG_LEVEL", "INFO"),
                   choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    g.add_argument("--processes", type=int, default=int(env("PROCESSES", 1)),
                   help="server processes sharing the gRPC and REST ports (SO_REUSEPORT), each with its own "
                        "models, under one parent that serves /metrics for all and restarts a worker that "
                        "dies (default 1: this process serves); model management is off with more than one")


def settings_from_args(args: argparse.Namespace, environ=os.environ) -> ServerSettings:
    settings = ServerSettings(
        host=args.host, port=args.port,
        metrics_port=None if args.metrics_port is None or args.metrics_port < 0 else args.metrics_port,
        http_port=None if args.http_port is None or args.http_port < 0 else args.http_port,
        access_log=args.access_log, tracing=args.trace,
        max_message_bytes=args.max_message_bytes, grace_s=args.grace,
        tls_cert=args.tls_cert, tls_key=args.tls_key, tls_client_ca=args.tls_client_ca,
        token=args.token, management=not args.no_management, reflection=not args.no_reflection,
        log_level=args.log_level, processes=getattr(args, "processes", 1),
    )
    worker = environ.get(WORKER_ENV)
    if worker and settings.processes == 1:
        settings.worker = WorkerInfo.decode(worker)
        settings.reuse_port = True
        if settings.management:  # each process has its own models: a load would reach one of them
            settings.management = False
            settings.management_off = (f"serving with --processes {settings.worker.count}, each process has its "
                                       "own models")
    return settings
