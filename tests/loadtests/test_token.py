"""`?token_env=VAR` on grpc:// and http:// targets: a server that wants a bearer token is compared
like any other (signature, calls, liveness, server statistics), the token never appears in a URL or
report, and a missing or wrong token stops the comparison before any load."""

from __future__ import annotations

import json

import numpy as np
import pytest

from loadtests.targets import TargetError, kind_of, parse_target
from server_core.repository import RepositoryBackend
from server_core.runner import BackgroundServer
from server_core.settings import ServerSettings
from tests.support.echo import EchoLoader

from .conftest import run_module

TOKEN = "s3cret-load-token"


@pytest.fixture(scope="module")
def guarded():
    """An echo server on gRPC and REST that refuses calls without TOKEN: (grpc address, http address)."""
    server = BackgroundServer(RepositoryBackend(EchoLoader()), ServerSettings(grace_s=0.2, token=TOKEN, http_port=0))
    server.start()
    try:
        yield server.address, f"127.0.0.1:{server.server.http_port}"
    finally:
        server.stop(grace=0.2)


def _urls(guarded, var: str) -> list[str]:
    grpc_address, http_address = guarded
    return [f"oip=grpc://{grpc_address}?token_env={var}", f"rest=http://{http_address}?token_env={var}"]


def test_an_unset_token_variable_is_refused_when_the_target_is_named(monkeypatch):
    monkeypatch.delenv("TANDEM_NO_SUCH_TOKEN", raising=False)
    for url in ("grpc://127.0.0.1:1?token_env=TANDEM_NO_SUCH_TOKEN", "http://127.0.0.1:1?token_env=TANDEM_NO_SUCH_TOKEN"):
        with pytest.raises(ValueError, match="environment variable TANDEM_NO_SUCH_TOKEN is not set"):
            parse_target(f"t={url}")


def test_the_token_reaches_every_call_and_a_wrong_one_is_refused_before_load(guarded, monkeypatch):
    monkeypatch.setenv("TANDEM_LOAD_TOKEN", TOKEN)
    monkeypatch.setenv("TANDEM_WRONG_TOKEN", "not-it")
    for url in _urls(guarded, "TANDEM_LOAD_TOKEN"):
        target = parse_target(url)
        kind = kind_of(target)
        meta = kind.metadata(target, "add_sub", "1", 10)
        caller = kind.open(target, "add_sub", "1", meta, 10)
        try:
            x = {"INPUT0": np.ones((1, 16), np.float32), "INPUT1": np.ones((1, 16), np.float32)}
            out = caller.decode(caller.call(caller.encode(x), 10)[0])
            np.testing.assert_array_equal(out["OUTPUT1"], np.zeros((1, 16), np.float32))
            assert caller.live(5) is True
        finally:
            caller.close()
        assert kind.statistics(target, "add_sub", "1", 10).model_stats[0].inference_count >= 1
        assert TOKEN not in target.url
    for url in _urls(guarded, "TANDEM_WRONG_TOKEN"):
        target = parse_target(url)
        with pytest.raises(TargetError, match="UNAUTHENTICATED|401"):
            kind_of(target).metadata(target, "add_sub", "1", 10)


def test_a_comparison_of_guarded_targets_runs_and_keeps_the_token_out_of_the_report(guarded, monkeypatch,
                                                                                    tmp_path):
    monkeypatch.setenv("TANDEM_LOAD_TOKEN", TOKEN)
    proc = run_module("compare", *[a for url in _urls(guarded, "TANDEM_LOAD_TOKEN") for a in ("--target", url)],
                      "--model", "add_sub", "--model-version", "1", "--rounds", "1", "--users", "2", "--duration",
                      "1s", "--warmup", "0.5s", "--check-rate", "1", "--quiet", "--out", str(tmp_path / "out"),
                      timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = (tmp_path / "out" / "report.json").read_text()
    (model,) = json.loads(text)["models"]
    for target in model["targets"]:
        assert target["status"] == "ok" and target["requests"]["ok"] > 0 and target["requests"]["failed"] == 0
        assert target["server_time"]["requests"] > 0  # ModelStatistics, asked with the token too
    assert TOKEN not in text and TOKEN not in proc.stdout + proc.stderr
