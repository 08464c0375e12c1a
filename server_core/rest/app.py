"""The REST endpoint: an aiohttp application on the server's event loop. `HttpEndpoint(...)` binds its
port at once (so a port in use fails before any model loads); `await start()` serves; `await stop()`
closes it. Paths that are not routes answer 404, other methods 405, bodies over the limit 413, all
as JSON `{"error": ...}`."""

from __future__ import annotations

import socket
import ssl

from aiohttp import web

from ..backend import Backend
from ..errors import PathRedactor
from ..interceptors import ServerInterceptor
from .access import Access
from .errors import error_response
from .routes import Routes, too_large

MAX_BODY = web.AppKey("max_body", int)


@web.middleware
async def _json_errors(request: web.Request, handler):
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return error_response(404, f"no such path: {request.method} {request.path} (see /v2, /v2/models/NAME, "
                                   "/v2/models/NAME/infer)")
    except web.HTTPMethodNotAllowed as e:
        return error_response(405, f"{request.method} is not allowed on {request.path}; use "
                                   f"{', '.join(sorted(e.allowed_methods))}")
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[MAX_BODY]
        return error_response(413, too_large(request.content_length, limit))


def build_app(backend: Backend, interceptor: ServerInterceptor, *, max_body: int,
              redact: PathRedactor | None = None, access_log=None, middlewares=()) -> web.Application:
    app = web.Application(middlewares=[*middlewares, _json_errors], client_max_size=max_body)
    app[MAX_BODY] = max_body
    routes = Routes(backend, Access(interceptor), redact=redact, max_body=max_body, access_log=access_log)
    for method, path, rpc, handler in routes.table():
        app.router.add_route(method, path, routes.wrap(rpc, handler))
    return app


def _listen(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:  # the workers of --processes share the port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class HttpEndpoint:
    def __init__(self, app: web.Application, host: str, port: int, ssl_context: ssl.SSLContext | None = None,
                 reuse_port: bool = False):
        self._app = app
        self._sock = _listen(host, port, reuse_port)
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        self._ssl = ssl_context
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self._app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock, ssl_context=self._ssl).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._sock.close()

    def close(self) -> None:
        """Release the port of an endpoint never started (a start-up that failed)."""
        if self._runner is None:
            self._sock.close()


def endpoint(backend: Backend, interceptor: ServerInterceptor, settings, *, access_log=None,
             tracing=None) -> HttpEndpoint:
    """The REST endpoint of a server's settings (port bound; OSError when it cannot be)."""
    s = settings
    app = build_app(backend, interceptor, max_body=s.max_message_bytes, redact=PathRedactor(s.private_folders),
                    access_log=access_log, middlewares=[tracing.rest_middleware()] if tracing else [])
    context = ssl_context(s.tls_cert, s.tls_key, s.tls_client_ca) if s.tls_cert else None
    return HttpEndpoint(app, s.host, s.http_port, context, reuse_port=s.reuse_port)


def ssl_context(cert, key, client_ca=None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    if client_ca:
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context
