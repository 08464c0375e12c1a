"""The REST routes (see the package docstring): each one decodes, calls the Backend, encodes; the
wrapper around each applies access rules, maps errors and writes the access log."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from .. import convert, model_config
from ..backend import Backend
from ..errors import InvalidArgument, PathRedactor
from . import codec
from .access import Access
from .errors import error_response, exception_response

Handler = Callable[[web.Request], Awaitable[web.Response]]
JSON = "application/json"


def _proto_json(message, zeros: bool = False) -> dict:
    """A message as Triton's REST JSON: proto field names, 64-bit integers as numbers; `zeros` also
    writes fields at their default (statistics: `"fail": {"count": 0, "ns": 0}`, not `{}`)."""
    from google.protobuf import json_format
    from google.protobuf.descriptor import FieldDescriptor as F

    wide = {F.TYPE_INT64, F.TYPE_UINT64, F.TYPE_SINT64, F.TYPE_FIXED64, F.TYPE_SFIXED64}

    def fix(value, descriptor):
        for field in descriptor.fields:
            if field.name not in value:
                continue
            if field.message_type is not None and not field.message_type.GetOptions().map_entry:
                items = value[field.name] if field.is_repeated else [value[field.name]]
                for item in items:
                    fix(item, field.message_type)
            elif field.type in wide:
                v = value[field.name]
                value[field.name] = [int(x) for x in v] if isinstance(v, list) else int(v)
        return value

    doc = json_format.MessageToDict(message, preserving_proto_field_name=True,
                                    always_print_fields_with_no_presence=zeros)
    return fix(doc, message.DESCRIPTOR)


def _model(request: web.Request) -> tuple[str, str]:
    return request.match_info["model"], request.match_info.get("version", "")


def _meta_json(meta) -> dict:
    doc = {"name": meta.name, "versions": list(meta.versions), "platform": meta.platform,
           "inputs": [{"name": t.name, "datatype": t.datatype, "shape": list(t.shape)} for t in meta.inputs],
           "outputs": [{"name": t.name, "datatype": t.datatype, "shape": list(t.shape)} for t in meta.outputs]}
    if meta.properties:
        doc["properties"] = dict(meta.properties)
    return doc


class Routes:
    def __init__(self, backend: Backend, access: Access, *, redact: PathRedactor | None, max_body: int,
                 access_log=None):
        self.backend = backend
        self.access = access
        self.redact = redact
        self.max_body = max_body
        self.access_log = access_log

    # -- the wrapper ---------------------------------------------------------------------------------

    def wrap(self, rpc: str, handler: Handler) -> Handler:
        async def run(request: web.Request) -> web.Response:
            t0 = time.perf_counter()
            self.access.enter()
            try:
                self.access.check(rpc, request.headers.get("Authorization"))
                response = await handler(request)
                status = "OK"
            except web.HTTPRequestEntityTooLarge:  # aiohttp's own limit, on a body without Content-Length
                response = error_response(413, too_large(request.content_length, self.max_body))
                status = "RESOURCE_EXHAUSTED"
            except Exception as exc:  # noqa: BLE001 - the one place REST errors become statuses
                code, response = exception_response(exc, f"REST {rpc}", self.redact)
                status = code.name
            finally:
                self.access.leave()
            if self.access_log is not None:
                self.access_log.record("http", rpc, request.match_info.get("model", ""),
                                       request.match_info.get("version", ""), f"{response.status} {status}",
                                       time.perf_counter() - t0, request.remote or "")
            return response
        return run

    async def body(self, request: web.Request) -> bytes:
        if request.content_length is not None and request.content_length > self.max_body:
            raise web.HTTPRequestEntityTooLarge(max_size=self.max_body, actual_size=request.content_length)
        return await request.read()

    async def json_body(self, request: web.Request) -> dict:
        body = await self.body(request)
        return codec.parse_json(body) if body.strip() else {}

    # -- health and metadata -------------------------------------------------------------------------

    async def server_metadata(self, request):
        b = self.backend
        return web.json_response({"name": b.server_name, "version": b.server_version,
                                  "extensions": list(b.extensions)})

    async def live(self, request):
        live = await self.backend.live()
        return web.json_response({"live": live}, status=200 if live else 503)

    async def ready(self, request):
        ready = await self.backend.ready()
        return web.json_response({"ready": ready}, status=200 if ready else 503)

    async def model_ready(self, request):
        name, version = _model(request)
        ready = await self.backend.model_ready(name, version)
        return web.json_response({"name": name, "ready": ready}, status=200 if ready else 503)

    async def model_metadata(self, request):
        return web.json_response(_meta_json(await self.backend.model_metadata(*_model(request))))

    async def model_config(self, request):
        config = await self.backend.model_config(*_model(request))
        return web.json_response(_proto_json(model_config.to_proto(config)))

    # -- inference -----------------------------------------------------------------------------------

    async def infer(self, request):
        name, version = _model(request)
        body = await self.body(request)
        infer_request, binary, all_binary = codec.infer_request(name, version, body,
                                                                request.headers.get(codec.HEADER_LENGTH))
        data, header_length = codec.infer_response(await self.backend.infer(infer_request), binary, all_binary)
        if header_length is None:
            return web.Response(body=data, content_type=JSON)
        return web.Response(body=data, content_type="application/octet-stream",
                            headers={codec.HEADER_LENGTH: str(header_length)})

    # -- statistics and repository -------------------------------------------------------------------

    async def statistics(self, request):
        name, version = request.match_info.get("model", ""), request.match_info.get("version", "")
        stats = convert.statistics(await self.backend.statistics(name, version))
        return web.json_response(_proto_json(stats, zeros=True))

    async def repository_index(self, request):
        doc = await self.json_body(request)
        ready = doc.get("ready", False)
        if not isinstance(ready, bool):
            raise InvalidArgument("'ready' must be true or false")
        rows = await self.backend.repository_index(ready)
        redact = self.redact or (lambda s: s)
        return web.json_response([{"name": e.name, "version": e.version, "state": e.state,
                                   "reason": redact(e.reason)} for e in rows])

    async def _parameters(self, request) -> dict:
        params = (await self.json_body(request)).get("parameters") or {}
        if not isinstance(params, dict):
            raise InvalidArgument("'parameters' must be a JSON object")
        return params

    async def load(self, request):
        await self.backend.load_model(request.match_info["model"], await self._parameters(request))
        return web.json_response({})

    async def unload(self, request):
        await self.backend.unload_model(request.match_info["model"], await self._parameters(request))
        return web.json_response({})

    # -- the table -----------------------------------------------------------------------------------

    def table(self) -> list[tuple[str, str, str, Handler]]:
        """(HTTP method, path, the RPC it stands for, handler)."""
        m, mv = "/v2/models/{model}", "/v2/models/{model}/versions/{version}"
        rows: list[tuple[str, str, str, Handler]] = [
            ("GET", "/v2", "ServerMetadata", self.server_metadata),
            ("GET", "/v2/health/live", "ServerLive", self.live),
            ("GET", "/v2/health/ready", "ServerReady", self.ready),
            ("GET", "/v2/models/stats", "ModelStatistics", self.statistics),
            ("POST", "/v2/repository/index", "RepositoryIndex", self.repository_index),
            ("POST", "/v2/repository/models/{model}/load", "RepositoryModelLoad", self.load),
            ("POST", "/v2/repository/models/{model}/unload", "RepositoryModelUnload", self.unload),
        ]
        for base in (m, mv):
            rows += [
                ("GET", base, "ModelMetadata", self.model_metadata),
                ("GET", base + "/ready", "ModelReady", self.model_ready),
                ("GET", base + "/config", "ModelConfig", self.model_config),
                ("GET", base + "/stats", "ModelStatistics", self.statistics),
                ("POST", base + "/infer", "ModelInfer", self.infer),
            ]
        return rows


def too_large(size: int | None, limit: int) -> str:
    got = f"of {size} bytes " if size is not None else ""
    return f"request body {got}is over the limit of {limit} bytes (--max-message-bytes)"

