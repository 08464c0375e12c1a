"""The Open Inference Protocol v2 REST API (KServe "V2" HTTP/JSON, with Triton's binary-tensor,
model-configuration, statistics and repository extensions), served by aiohttp on the gRPC server's
event loop and calling the same `Backend`:

    GET  /v2                                   server metadata
    GET  /v2/health/live | /v2/health/ready    200 when live/ready, else 503
    GET  /v2/models/{m}[/versions/{v}]         model metadata
    GET  /v2/models/{m}[/versions/{v}]/ready   200 when ready, else 503
    GET  /v2/models/{m}[/versions/{v}]/config  Triton's ModelConfig as JSON
    GET  /v2/models[/{m}[/versions/{v}]]/stats statistics (Triton's JSON form)
    POST /v2/models/{m}[/versions/{v}]/infer   JSON tensors, or JSON + binary tensors
                                                (`Inference-Header-Content-Length`)
    POST /v2/repository/index                  {"ready": bool} -> [{name, version, state, reason}]
    POST /v2/repository/models/{m}/load|unload

Every error answers `{"error": "<message>"}` with the HTTP status of its gRPC code
(`server_core.rest.errors.HTTP_STATUS`, the one table). Access control (bearer token, management
switch) and draining are the gRPC interceptor's own rules, applied through `rest.access`.
"""

from .app import HttpEndpoint

__all__ = ["HttpEndpoint"]
