"""Optional OpenTelemetry tracing (`--trace`, off unless enabled): a server span per gRPC call
(opentelemetry-instrumentation-grpc's aio server interceptor) and per REST request (`rest_middleware`,
W3C `traceparent` honoured), on a TracerProvider of the server's own (the global one is left alone).

The exporter follows the standard variables: `OTEL_TRACES_EXPORTER` = `otlp` (default; OTLP/gRPC to
`OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, default localhost:4317),
`console` or `none`; `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` name the service. Imported
only when tracing is on.
"""

from __future__ import annotations

import os


class Tracing:
    def __init__(self, service_name: str, exporter=None):
        """`exporter`: a SpanExporter to use instead of the one OTEL_TRACES_EXPORTER names (tests)."""
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)})
        self.provider = TracerProvider(resource=resource)
        if exporter is not None:
            self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        else:
            configured = _exporter_from_environment()
            if configured is not None:
                self.provider.add_span_processor(BatchSpanProcessor(configured))
        self.tracer = self.provider.get_tracer("tandem")

    def grpc_interceptor(self):
        from opentelemetry.instrumentation.grpc import aio_server_interceptor

        return aio_server_interceptor(tracer_provider=self.provider)

    def rest_middleware(self):
        from aiohttp import web
        from opentelemetry import propagate
        from opentelemetry.trace import SpanKind, Status, StatusCode

        tracer = self.tracer

        @web.middleware
        async def trace(request, handler):
            context = propagate.extract(dict(request.headers))
            with tracer.start_as_current_span(f"{request.method} {request.path}", context=context,
                                              kind=SpanKind.SERVER) as span:
                span.set_attribute("http.request.method", request.method)
                span.set_attribute("url.path", request.path)
                response = await handler(request)
                span.set_attribute("http.response.status_code", response.status)
                if response.status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                return response
        return trace

    def shutdown(self) -> None:
        self.provider.shutdown()


def _exporter_from_environment():
    kind = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")[0].strip().lower()
    if kind == "none":
        return None
    if kind == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if kind != "otlp":
        raise ValueError(f"OTEL_TRACES_EXPORTER={kind!r} is not supported here; use otlp, console or none")
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()
