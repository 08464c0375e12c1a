"""The bare baseline: a grpc.aio unary echo server on the OIP v2 ModelInfer method name, no
(de)serialisation, no interceptors, no model. A service's ratio against it is its own overhead.

ModelInfer answers the request's bytes as they came (an InferInputTensor parses as an
InferOutputTensor: the same field numbers). So that perf_analyzer can drive it like the service it
stands beside, `--mirror ADDRESS` copies that service's ServerMetadata, ModelMetadata, ModelConfig
and ModelStatistics answers once at start (the raw bytes) and serves them for every model name;
ServerLive/ServerReady/ModelReady answer true.

`--forward ADDRESS` makes it the bare floor of one Python gRPC hop instead: every unary call, any
method, is forwarded as raw bytes to ADDRESS over one grpc.aio channel and its answer returned as it
came (no parsing, no model). What tf_service's tfserving path adds is set against what this adds."""

from __future__ import annotations

import asyncio

import grpc

SERVICE = "inference.GRPCInferenceService"
METHOD = f"/{SERVICE}/ModelInfer"
MAX_MESSAGE = 64 << 20
_TRUE = b"\x08\x01"  # ServerLive/ServerReady/ModelReady response: field 1 (bool) = true


def _identity(data: bytes) -> bytes:
    return data


async def _echo(request: bytes, context) -> bytes:
    return request


def _constant(answer: bytes):
    async def handler(request: bytes, context) -> bytes:
        return answer
    return grpc.unary_unary_rpc_method_handler(handler, request_deserializer=_identity,
                                               response_serializer=_identity)


async def mirror(address: str, model: str) -> dict[str, bytes]:
    """The raw ServerMetadata, ModelMetadata, ModelConfig and ModelStatistics answers (of `model`) at
    `address`: the statistics stay as they were at start, so perf_analyzer's server-side columns read
    zero for the echo."""
    from protos import grpc_predict_v2_pb2 as pb

    answers = {}
    async with grpc.aio.insecure_channel(address) as channel:
        for method, request in (("ServerMetadata", pb.ServerMetadataRequest()),
                                ("ModelMetadata", pb.ModelMetadataRequest(name=model)),
                                ("ModelConfig", pb.ModelConfigRequest(name=model)),
                                ("ModelStatistics", pb.ModelStatisticsRequest(name=model))):
            call = channel.unary_unary(f"/{SERVICE}/{method}", request_serializer=None, response_deserializer=None)
            answers[method] = await call(request.SerializeToString(), timeout=30)
    return answers


class _Forward(grpc.GenericRpcHandler):
    def __init__(self, address: str):
        self._channel = grpc.aio.insecure_channel(address, options=[("grpc.max_receive_message_length", MAX_MESSAGE),
                                                                    ("grpc.max_send_message_length", MAX_MESSAGE)])
        self._calls: dict[str, grpc.aio.UnaryUnaryMultiCallable] = {}

    def service(self, handler_call_details):
        method = handler_call_details.method
        call = self._calls.get(method)
        if call is None:
            call = self._calls[method] = self._channel.unary_unary(method, request_serializer=None,
                                                                   response_deserializer=None)

        async def forward(request: bytes, context) -> bytes:
            return await call(request, timeout=context.time_remaining())

        return grpc.unary_unary_rpc_method_handler(forward, request_deserializer=_identity,
                                                   response_serializer=_identity)


def handlers(mirrored: dict[str, bytes] | None = None) -> grpc.GenericRpcHandler:
    methods = {"ModelInfer": grpc.unary_unary_rpc_method_handler(
        _echo, request_deserializer=_identity, response_serializer=_identity)}
    if mirrored:
        methods.update({name: _constant(answer) for name, answer in mirrored.items()})
        methods.update({name: _constant(_TRUE) for name in ("ServerLive", "ServerReady", "ModelReady")})
    return grpc.method_handlers_generic_handler(SERVICE, methods)


async def start(port: int = 0, mirrored: dict[str, bytes] | None = None,
                forward: str = "") -> tuple[grpc.aio.Server, str]:
    """A started echo (or, with `forward`, forwarding) server on 127.0.0.1 and its address."""
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", MAX_MESSAGE),
                                      ("grpc.max_send_message_length", MAX_MESSAGE)])
    server.add_generic_rpc_handlers((_Forward(forward) if forward else handlers(mirrored),))
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    return server, f"127.0.0.1:{bound}"


async def serve(port: int = 0, mirrored: dict[str, bytes] | None = None, started=None, forward: str = "") -> None:
    """Serve until SIGTERM or SIGINT; `started(address)` is called once listening."""
    import signal

    server, address = await start(port, mirrored, forward)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    if started:
        started(address)
    await stop.wait()
    await server.stop(0)


def main(argv=None) -> int:
    """`python -m bench.echo [--port N] [--mirror ADDRESS --model NAME | --forward ADDRESS]`: the echo
    (or forwarding) server in its own process until SIGTERM; prints `READY host:port` once listening."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.echo", description=main.__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mirror", default="", help="copy ModelMetadata/ModelConfig from this OIP server")
    parser.add_argument("--model", default="", help="the model whose answers --mirror copies")
    parser.add_argument("--forward", default="", help="forward every unary call to this server instead")
    args = parser.parse_args(argv)
    if args.forward and args.mirror:
        parser.error("--forward and --mirror exclude each other")

    async def run():
        mirrored = await mirror(args.mirror, args.model) if args.mirror else None
        await serve(args.port, mirrored, lambda address: print(f"READY {address}", flush=True), args.forward)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
