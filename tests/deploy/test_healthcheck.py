"""The container health probe against a real gRPC health service and a real HTTP server: exit 0 only
when healthy, 1 otherwise (never Docker's reserved 2)."""

from __future__ import annotations

import http.server
import threading
from concurrent import futures

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from deploy import healthcheck

from ..support.ports import free_port


@pytest.fixture()
def health_server():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield port, servicer
    server.stop(None)


def test_grpc_serving_not_serving_and_unknown_service(health_server, capsys):
    port, servicer = health_server
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    assert healthcheck.main([f"127.0.0.1:{port}"]) == 0
    assert "SERVING" in capsys.readouterr().out
    servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    assert healthcheck.main([f"grpc://127.0.0.1:{port}"]) == 1
    assert healthcheck.main([f"127.0.0.1:{port}", "--service", "inference.GRPCInferenceService"]) == 1
    assert "NOT_FOUND" in capsys.readouterr().out


def test_port_from_the_services_environment(health_server, monkeypatch):
    port, servicer = health_server
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    monkeypatch.setenv("TORCH_SERVICE_PORT", str(port))
    assert healthcheck.main(["--env-prefix", "TORCH_SERVICE", "--port", "1"]) == 0
    monkeypatch.delenv("TORCH_SERVICE_PORT")
    assert healthcheck.main(["--env-prefix", "TORCH_SERVICE", "--port", str(port)]) == 0


def test_nothing_listening_and_usage_mistakes_are_unhealthy_not_2(capsys):
    assert healthcheck.main([f"127.0.0.1:{free_port()}", "--timeout", "1"]) == 1
    assert "UNAVAILABLE" in capsys.readouterr().out
    assert healthcheck.main([]) == 1  # no target and no port
    assert healthcheck.main(["--no-such-flag"]) == 1
    assert healthcheck.main(["ftp://127.0.0.1:21"]) == 1


class _Handler(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_http_target():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        assert healthcheck.main([url]) == 0
        _Handler.status = 503
        assert healthcheck.main([url]) == 1
    finally:
        _Handler.status = 200
        server.shutdown()
        server.server_close()
