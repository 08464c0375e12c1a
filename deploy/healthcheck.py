"""Container health probe: exit 0 when the server is healthy, 1 otherwise (Docker's HEALTHCHECK codes).

    python -m deploy.healthcheck --env-prefix TORCH_SERVICE --port 7070    # gRPC, port from env
    python -m deploy.healthcheck grpc://127.0.0.1:8600                      # gRPC, explicit address
    python -m deploy.healthcheck http://127.0.0.1:8089/                     # HTTP 2xx (Locust's UI)

gRPC targets are asked `grpc.health.v1.Health/Check` for the whole server (service ""), which both
services answer SERVING only once every model they were told to load is ready. With
`--env-prefix P`, the port is `$P_PORT` (the variable the service itself reads) when set, so the
probe follows a port moved through the environment. It uses grpcio and grpcio-health-checking only
and imports nothing of the project, so it starts fast at every interval. It speaks plaintext: a
service started with --tls-cert needs its own probe.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request

DEFAULT_TIMEOUT_S = 3.0


def check_grpc(address: str, service: str = "", timeout: float = DEFAULT_TIMEOUT_S) -> tuple[bool, str]:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError as e:
            return False, f"{address}: health check failed: {e.code().name}: {e.details()}"
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    return reply.status == health_pb2.HealthCheckResponse.SERVING, f"{address}: {status}"


def check_http(url: str, timeout: float = DEFAULT_TIMEOUT_S) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:  # noqa: S310 - a local URL we were given
            return 200 <= reply.status < 300, f"{url}: HTTP {reply.status}"
    except (urllib.error.URLError, OSError) as e:
        return False, f"{url}: {getattr(e, 'reason', e)}"


def target_of(args: argparse.Namespace) -> str:
    """The URL to probe: the positional target, else grpc://HOST:$PREFIX_PORT (or --port)."""
    if args.target:
        return args.target if "://" in args.target else f"grpc://{args.target}"
    port = os.environ.get(f"{args.env_prefix}_PORT") if args.env_prefix else None
    port = port or args.port
    if port is None:
        raise ValueError("give a target, or --port (and optionally --env-prefix)")
    return f"grpc://{args.host}:{int(port)}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m deploy.healthcheck", description=__doc__.split("\n\n")[0])
    parser.add_argument("target", nargs="?", help="grpc://HOST:PORT, HOST:PORT or http(s)://... (default: "
                                                  "grpc://--host:port from --env-prefix/--port)")
    parser.add_argument("--env-prefix", help="read the port from <PREFIX>_PORT when set (TORCH_SERVICE, TF_SERVICE)")
    parser.add_argument("--port", type=int, help="the port when <PREFIX>_PORT is not set")
    parser.add_argument("--host", default="127.0.0.1", help="host of the default target (127.0.0.1)")
    parser.add_argument("--service", default="", help="gRPC health service name to ask about (default: the server)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds (default 3)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """0 healthy, 1 anything else: a usage mistake too, since Docker reserves exit code 2."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 1
    try:
        target = target_of(args)
    except ValueError as e:
        print(f"healthcheck: {e}", file=sys.stderr)
        return 1
    scheme, _, rest = target.partition("://")
    if scheme == "grpc":
        healthy, message = check_grpc(rest, args.service, args.timeout)
    elif scheme in ("http", "https"):
        healthy, message = check_http(target, args.timeout)
    else:
        print(f"healthcheck: unsupported target {target!r}: expected grpc://, http:// or https://", file=sys.stderr)
        return 1
    print(message)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
