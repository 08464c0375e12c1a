"""grpc.aio server bootstrap shared by both services: servicer, interceptors, health, reflection,
TLS, metrics endpoint, graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

from protos import grpc_predict_v2_pb2 as pb
from protos import grpc_predict_v2_pb2_grpc as pb_grpc

from .backend import Backend
from .interceptors import ServerInterceptor
from .servicer import InferenceServicer
from .settings import ServerSettings

log = logging.getLogger("tandem.server")
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name
HEALTH_POLL_S = 1.0


def _server_credentials(s: ServerSettings) -> grpc.ServerCredentials:
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
        self._metrics_http = None

    async def start(self) -> int:
        s = self.settings
        await self.backend.start()
        options = [
            ("grpc.max_receive_message_length", s.max_message_bytes),
            ("grpc.max_send_message_length", s.max_message_bytes),
            ("grpc.so_reuseport", 0),
        ]
        interceptors = [ServerInterceptor(s.token, s.management)]
        server = grpc.aio.server(interceptors=interceptors, options=options)
        pb_grpc.add_GRPCInferenceServiceServicer_to_server(InferenceServicer(self.backend), server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        if s.reflection:
            from grpc_reflection.v1alpha import reflection

            reflection.enable_server_reflection(
                (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                 reflection.SERVICE_NAME), server)
        address = f"{s.host}:{s.port}"
        if s.tls_cert:
            self.port = server.add_secure_port(address, _server_credentials(s))
        else:
            self.port = server.add_insecure_port(address)
        if not self.port:
            raise OSError(f"cannot bind {address}")
        await server.start()
        self._server = server
        await self._update_health()
        self._health_task = asyncio.ensure_future(self._watch_health())
        if self.metrics is not None and s.metrics_port is not None:
            self._metrics_http = self.metrics.serve(s.host, s.metrics_port)
        log.info("serving %s on %s:%d (tls=%s, auth=%s, management=%s)", type(self.backend).__name__,
                 s.host, self.port, bool(s.tls_cert), bool(s.token), s.management)
        return self.port

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
        """Refuse new calls, let in-flight ones finish within `grace` seconds, then stop the backend."""
        if self._server is None:
            return
        grace = self.settings.grace_s if grace is None else grace
        if self._health_task:
            self._health_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._health_task
        await self._health.enter_graceful_shutdown()
        await self._server.stop(grace)
        self._server = None
        if self._metrics_http is not None:
            server, _thread = self._metrics_http
            server.shutdown()
            self._metrics_http = None
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
    print(f"READY {settings.host}:{server.port}", flush=True)
    await stop.wait()
    log.info("signal received: finishing in-flight requests (grace %.1fs)", settings.grace_s)
    await server.stop()


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
