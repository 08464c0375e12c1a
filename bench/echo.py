"""The bare baseline: a grpc.aio unary echo server on the OIP v2 ModelInfer method name, no
(de)serialisation, no interceptors, no model. A service's ratio against it is its own overhead."""

from __future__ import annotations

import asyncio
import threading

import grpc

METHOD = "/inference.GRPCInferenceService/ModelInfer"


def _identity(data: bytes) -> bytes:
    return data


async def _echo(request: bytes, context) -> bytes:
    return request


class EchoServer:
    """`with EchoServer() as address:` — serves on 127.0.0.1, on a thread with its own loop."""

    def __init__(self, max_message_bytes: int = 64 * 1024 * 1024):
        self._max = max_message_bytes
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="echo", daemon=True)
        self._server = None
        self.address = ""

    async def _start(self) -> None:
        handler = grpc.method_handlers_generic_handler("inference.GRPCInferenceService", {
            "ModelInfer": grpc.unary_unary_rpc_method_handler(
                _echo, request_deserializer=_identity, response_serializer=_identity),
        })
        self._server = grpc.aio.server(options=[("grpc.max_receive_message_length", self._max),
                                                ("grpc.max_send_message_length", self._max)])
        self._server.add_generic_rpc_handlers((handler,))
        port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()
        self.address = f"127.0.0.1:{port}"

    def __enter__(self) -> str:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self.address

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._server.stop(0), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def main(argv=None) -> int:
    """`python -m bench.echo [--port N]`: run the echo server in its own process until killed."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(prog="python -m bench.echo", description=main.__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)

    async def serve():
        handler = grpc.method_handlers_generic_handler("inference.GRPCInferenceService", {
            "ModelInfer": grpc.unary_unary_rpc_method_handler(
                _echo, request_deserializer=_identity, response_serializer=_identity)})
        server = grpc.aio.server(options=[("grpc.max_receive_message_length", 64 << 20),
                                          ("grpc.max_send_message_length", 64 << 20)])
        server.add_generic_rpc_handlers((handler,))
        port = server.add_insecure_port(f"127.0.0.1:{args.port}")
        await server.start()
        print(f"READY 127.0.0.1:{port}", flush=True)
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await stop.wait()
        await server.stop(0)

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
