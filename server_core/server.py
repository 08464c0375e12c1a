"""grpc.aio server bootstrap shared by both services: servicer, interceptors, health, reflection,
TLS, metrics endpoint, graceful shutdown.

Start-up order: (1) bind every port (gRPC, metrics, any other listener) — a port in use fails here,
before any model loads, as a StartupError naming the port and the flag that changes it; (2) start the
backend (load models); (3) serve. `run()` turns a StartupError into one line on stderr and exit 2.
Shutdown: new calls answer UNAVAILABLE from the moment draining starts (never CANCELLED), in-flight
calls finish within the grace period, then the transport stops and the backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

from protos import grpc_predict_v2_pb2 as pb
from protos import grpc_predict_v2_pb2_grpc as pb_grpc

from .backend import Backend
from .errors import PathRedactor
from .interceptors import GuardedServices, ServerInterceptor
from .metrics import MetricsEndpoint
from .servicer import InferenceServicer
from .settings import ServerSettings

log = logging.getLogger("tandem.server")
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name
HEALTH_POLL_S = 1.0
DRAIN_QUIET_S = 0.1  # the transport stops once no call arrived for this long (or the grace ran out)
T = TypeVar("T")


class StartupError(Exception):
    """The server cannot start for a reason the operator fixes (a port in use); one line, no traceback."""


def _port_in_use(host: str, port: int, reuse_port: bool = False) -> bool:
    """Whether binding host:port fails with EADDRINUSE (probed as grpc binds: SO_REUSEADDR set, and
    SO_REUSEPORT for a port shared by the workers of --processes)."""
    if port == 0:
        return False
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError:
        return False  # the bind itself reports an unusable host
    for family, kind, proto, _name, address in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            try:
                probe.bind(address)
            except OSError as e:
                if e.errno == errno.EADDRINUSE:
                    return True
    return False


def bind_port(what: str, host: str, port: int, flag: str, bind: Callable[[], T], reuse_port: bool = False) -> T:
    """Bind one listener; a port in use (or any bind failure) becomes a StartupError naming `flag`."""
    in_use = f"{what} port {port} on {host} is already in use (another instance?); choose another with {flag}"
    if _port_in_use(host, port, reuse_port):
        raise StartupError(in_use)
    try:
        return bind()
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise StartupError(in_use) from None
        raise StartupError(f"cannot bind the {what} port {host}:{port} ({e.strerror or e}); see {flag}") from None
    except RuntimeError as e:  # grpc's add_*_port: "Failed to bind to address ..."
        raise StartupError(f"cannot bind the {what} port {host}:{port} ({e}); see {flag}") from None


def _server_credentials(s: ServerSettings) -> grpc.ServerCredentials:
    assert s.tls_cert is not None and s.tls_key is not None  # checked by ServerSettings
    ca = s.tls_client_ca.read_bytes() if s.tls_client_ca else None
    return grpc.ssl_server_credentials([(s.tls_key.read_bytes(), s.tls_cert.read_bytes())],
                                       root_certificates=ca, require_client_auth=ca is not None)


class InferenceServer:
    """One backend served on the OIP v2 contract. `await start()`, then `await stop()`."""

    def __init__(self, backend: Backend, settings: ServerSettings, metrics=None):
        self.backend = backend
        self.settings = settings
        self.metrics = metrics
        self.port: int | None = None
        self._server: grpc.aio.Server | None = None
        self._health = health_aio.HealthServicer()
        self._health_task: asyncio.Task | None = None
        self._metrics_http: MetricsEndpoint | None = None
        self._interceptor = ServerInterceptor()
        self._http: Any = None  # server_core.rest.HttpEndpoint when --http-port is set
        self._tracing: Any = None  # server_core.tracing.Tracing when --trace is set

    async def start(self) -> int:
        s = self.settings
        options = [
            ("grpc.max_receive_message_length", s.max_message_bytes),
            ("grpc.max_send_message_length", s.max_message_bytes),
            ("grpc.so_reuseport", 1 if s.reuse_port else 0),
        ]
        self._interceptor = ServerInterceptor(s.token, s.management, redact=PathRedactor(s.private_folders),
                                              management_off=s.management_off)
        # The checks and error mapping are wrapped around each handler at registration (no per-call
        # interceptor); tracing and the access log, when on, are interceptors outside them.
        server = grpc.aio.server(interceptors=self._outer_interceptors(), options=options)
        services = GuardedServices(server, self._interceptor)
        pb_grpc.add_GRPCInferenceServiceServicer_to_server(InferenceServicer(self.backend), services)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, services)
        if s.reflection:
            from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc

            names = (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME)
            reflection_pb2_grpc.add_ServerReflectionServicer_to_server(reflection.aio.ReflectionServicer(names),
                                                                       services)
        try:
            # 1. every port, before any model loads
            address = f"{s.host}:{s.port}"
            if s.tls_cert:
                creds = _server_credentials(s)
                self.port = bind_port("gRPC", s.host, s.port, "--port", lambda: server.add_secure_port(address, creds),
                                      s.reuse_port)
            else:
                self.port = bind_port("gRPC", s.host, s.port, "--port", lambda: server.add_insecure_port(address),
                                      s.reuse_port)
            if not self.port:
                raise StartupError(f"cannot bind the gRPC port {address}; see --port")
            if self.metrics is not None and s.metrics_port is not None:
                metrics, port = self.metrics, s.metrics_port
                self._metrics_http = bind_port("metrics", s.host, port, "--metrics-port",
                                               lambda: metrics.bind(s.host, port))
            if s.http_port is not None:
                self._http = bind_port("HTTP", s.host, s.http_port, "--http-port", self._rest_endpoint, s.reuse_port)
            # 2. the models
            await self.backend.start()
        except BaseException:
            await server.stop(None)
            self._close_metrics()
            if self._http is not None:
                self._http.close()
                self._http = None
            raise
        # 3. serve
        await server.start()
        self._server = server
        if self._metrics_http is not None:
            self._metrics_http.start()
        if self._http is not None:
            await self._http.start()
        await self._update_health()
        self._health_task = asyncio.ensure_future(self._watch_health())
        metrics_at = (f"http://{s.host}:{self._metrics_http.port}/metrics" if self._metrics_http is not None
                      else "off")
        http_at = f"{s.host}:{self._http.port}" if self._http is not None else "off"
        served = getattr(self.backend, "inner", self.backend)  # a worker's SharedStatistics wraps it
        log.info("serving %s: gRPC on %s:%d, REST %s, metrics %s (tls=%s, auth=%s, management=%s)",
                 type(served).__name__, s.host, self.port, http_at, metrics_at, bool(s.tls_cert),
                 bool(s.token), s.management)
        return self.port

    def _outer_interceptors(self) -> list:
        """Tracing and the access log, outside the error interceptor (they see the final status)."""
        s, outer = self.settings, []
        if s.tracing:
            from .tracing import Tracing

            self._tracing = Tracing(type(self.backend).__name__)
            outer.append(self._tracing.grpc_interceptor())
        if s.access_log:
            from .access_log import AccessLog, AccessLogInterceptor

            outer.append(AccessLogInterceptor(AccessLog()))
        if self.metrics is not None:
            from .process_metrics import ensure_registered

            ensure_registered(self.metrics.registry)
        return outer

    def _rest_endpoint(self):
        from .access_log import AccessLog
        from .rest.app import endpoint

        return endpoint(self.backend, self._interceptor, self.settings, tracing=self._tracing,
                        access_log=AccessLog() if self.settings.access_log else None)

    @property
    def http_port(self) -> int | None:
        """The bound REST port (None when off)."""
        return self._http.port if self._http is not None else None

    @property
    def metrics_port(self) -> int | None:
        """The bound /metrics port (None when off)."""
        return self._metrics_http.port if self._metrics_http is not None else None

    @property
    def draining(self) -> bool:
        return self._interceptor.draining

    @property
    def in_flight(self) -> int:
        return self._interceptor.in_flight

    def _close_metrics(self) -> None:
        if self._metrics_http is not None:
            self._metrics_http.stop()
            self._metrics_http = None

    async def _update_health(self) -> None:
        try:
            ready = await self.backend.ready()
        except Exception:  # noqa: BLE001 - a failing readiness check means not serving
            log.exception("readiness check failed")
            ready = False
        status = health_pb2.HealthCheckResponse.SERVING if ready else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", SERVICE_NAME):
            await self._health.set(name, status)

    async def _watch_health(self) -> None:
        while True:
            await asyncio.sleep(HEALTH_POLL_S)
            await self._update_health()

    async def stop(self, grace: float | None = None) -> None:
        """Refuse new calls (UNAVAILABLE), let in-flight ones finish within `grace` seconds, then stop
        the transport and the backend."""
        if self._server is None:
            return
        grace = self.settings.grace_s if grace is None else grace
        deadline = time.monotonic() + grace
        self._interceptor.start_draining()
        if self._health_task:
            self._health_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._health_task
        await self._health.enter_graceful_shutdown()
        if not await self._interceptor.wait_idle(grace, DRAIN_QUIET_S):
            log.warning("grace period (%.1fs) over with %d call(s) in flight and clients still calling; "
                        "stopping anyway", grace, self._interceptor.in_flight)
        await self._server.stop(max(0.0, deadline - time.monotonic()))
        self._server = None
        if self._http is not None:
            await self._http.stop()
            self._http = None
        self._close_metrics()
        if self._tracing is not None:
            self._tracing.shutdown()
        await self.backend.stop()
        log.info("stopped")


async def serve(backend: Backend, settings: ServerSettings, metrics=None) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully."""
    server = InferenceServer(backend, settings, metrics)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    rest = f" http={settings.host}:{server.http_port}" if server.http_port is not None else ""
    print(f"READY {settings.host}:{server.port}{rest}", flush=True)
    await stop.wait()
    log.info("signal received: finishing in-flight requests (grace %.1fs)", settings.grace_s)
    await server.stop()


def run(backend: Backend, settings: ServerSettings, metrics=None, *, prog: str) -> int:
    """`serve()` until a signal, for a service's main(): 0 after a clean shutdown, 2 (one line on
    stderr) when it cannot start, e.g. a port in use. In a worker of `--processes N`
    (server_core.workers) the statistics are shared with the other workers."""
    if settings.worker is not None:
        from .shared_stats import SharedStatistics
        from .workers import attach_to_parent

        attach_to_parent(settings.worker)
        backend = SharedStatistics(backend, settings.worker.stats_dir)
    try:
        asyncio.run(serve(backend, settings, metrics))
    except StartupError as e:
        print(f"{prog}: error: {e}", file=sys.stderr, flush=True)
        return 2
    finally:
        if settings.worker is not None:
            from .workers import leave_parent

            leave_parent(settings.worker)
    return 0


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
