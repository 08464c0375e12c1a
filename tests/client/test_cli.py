"""`python -m client` health / metadata / infer, called in-process against a real echo server."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from client.cli import main
from server_core.repository import RepositoryBackend
from server_core.runner import BackgroundServer
from server_core.settings import ServerSettings
from tests.support.echo import EchoLoader
from tests.support.ports import free_port

TOKEN = "cli-token"
MODELS = ["add_sub", "identity_bytes", "identity_int64", "identity_bool"]
RNG = np.random.default_rng(42)


@pytest.fixture(scope="module")
def url():
    with BackgroundServer(RepositoryBackend(EchoLoader(), MODELS), ServerSettings(token=TOKEN)) as server:
        yield server.address


def run(capsys, *argv, token=True):
    code = main([*argv, "--token", TOKEN] if token else list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def pair(rows=3):
    return (RNG.standard_normal((rows, 16)).astype(np.float32), RNG.standard_normal((rows, 16)).astype(np.float32))


# ------------------------------------------------------------------ health

def test_health_ready(url, capsys):
    code, out, _ = run(capsys, "health", "--url", url)
    assert code == 0
    assert "live:  yes" in out and "ready: yes" in out and "tandem 0.1.0" in out and "model_repository" in out


def test_health_of_a_model(url, capsys):
    code, out, _ = run(capsys, "health", "--url", url, "--model", "add_sub", "--version", "2", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["ok"] and doc["model"] == {"name": "add_sub", "version": "2", "ready": True}
    code, out, _ = run(capsys, "health", "--url", url, "--model", "slow")  # in the store, not loaded
    assert code == 1 and "model 'slow' ready: no" in out


def test_health_of_a_server_that_is_down(capsys):
    down = f"127.0.0.1:{free_port()}"
    code, _, err = run(capsys, "health", "--url", down, "--timeout", "5")
    assert code == 2
    assert err.startswith(f"error: {down} answered UNAVAILABLE") and "is a server listening there" in err


def test_missing_token_is_reported_with_a_hint(url, capsys, monkeypatch):
    monkeypatch.delenv("TANDEM_TOKEN", raising=False)
    code, _, err = run(capsys, "metadata", "--url", url, token=False)
    assert code == 2 and "UNAUTHENTICATED" in err and "pass --token" in err
    monkeypatch.setenv("TANDEM_TOKEN", TOKEN)  # the token may come from the environment
    code, out, _ = run(capsys, "metadata", "--url", url, token=False)
    assert code == 0 and "add_sub v2  READY" in out


def test_connection_options_before_the_subcommand(url, capsys):
    code = main(["--token", TOKEN, "--timeout", "9", "health", "--url", url])
    assert code == 0 and "ready: yes" in capsys.readouterr().out


# ------------------------------------------------------------------ metadata

def test_metadata_lists_models(url, capsys):
    code, out, _ = run(capsys, "metadata", "--url", url)
    assert code == 0
    assert "server: tandem 0.1.0" in out and "identity_bytes v1  READY" in out
    assert "broken  UNAVAILABLE  (not loaded)" in out


def test_metadata_of_a_model(url, capsys):
    code, out, _ = run(capsys, "metadata", "--url", url, "--model", "add_sub")
    assert code == 0 and "versions: 1, 2" in out and "INPUT0  FP32   [-1, 16]" in out
    code, out, _ = run(capsys, "metadata", "--url", url, "--model", "add_sub", "--version", "1", "--json")
    doc = json.loads(out)
    assert doc["name"] == "add_sub" and doc["platform"] == "tandem_echo"
    assert doc["outputs"][1] == {"name": "OUTPUT1", "datatype": "FP32", "shape": [-1, 16]}


def test_metadata_of_an_unknown_model(url, capsys):
    code, out, err = run(capsys, "metadata", "--url", url, "--model", "nope")
    assert code == 2 and out == ""
    assert f"error: {url} answered NOT_FOUND: model 'nope' is not in the repository" in err


# ------------------------------------------------------------------ infer

def test_infer_from_npy_files_saved_to_npz(url, capsys, tmp_path):
    a, b = pair()
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    out_file = tmp_path / "out.npz"
    code, out, _ = run(capsys, "infer", "--url", url, "--model", "add_sub", "--version", "2",
                       "--input", f"INPUT0={tmp_path / 'a.npy'}", "--input", f"INPUT1={tmp_path / 'b.npy'}",
                       "--out", str(out_file))
    assert code == 0 and "saved 2 output(s)" in out
    with np.load(out_file) as saved:
        np.testing.assert_array_equal(saved["OUTPUT0"], a + b + 1)
        np.testing.assert_array_equal(saved["OUTPUT1"], a - b)


def test_infer_from_npz_prints_a_summary_of_the_requested_output(url, capsys, tmp_path):
    a, b = pair(rows=8)
    np.savez(tmp_path / "in.npz", INPUT0=a, INPUT1=b)
    code, out, _ = run(capsys, "infer", "--url", url, "--model", "add_sub", "--inputs", str(tmp_path / "in.npz"),
                       "--output", "OUTPUT1")
    assert code == 0
    assert "OUTPUT1: FP32 [8, 16]" in out and "OUTPUT0" not in out
    diff = (a - b).astype(np.float64)
    assert f"min {diff.min():.6g}" in out and f"max {diff.max():.6g}" in out
    assert "..." in out  # 128 values are summarized
    code, out, _ = run(capsys, "infer", "--url", url, "--model", "add_sub", "--inputs", str(tmp_path / "in.npz"),
                       "--output", "OUTPUT1", "--full")
    assert code == 0 and "..." not in out


def test_infer_from_json_rest_body_and_plain_mapping(url, capsys, tmp_path):
    a, b = pair(rows=2)
    rest = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [2, 16], "data": a.reshape(-1).tolist()},
                       {"name": "INPUT1", "datatype": "FP32", "shape": [2, 16], "data": b.tolist()}],
            "outputs": [{"name": "OUTPUT0"}]}
    (tmp_path / "rest.json").write_text(json.dumps(rest))
    code, out, _ = run(capsys, "infer", "--url", url, "--model", "add_sub", "--version", "1",
                       "--json", str(tmp_path / "rest.json"), "--out", str(tmp_path / "r.npz"))
    assert code == 0
    with np.load(tmp_path / "r.npz") as saved:
        assert list(saved.files) == ["OUTPUT0"]
        np.testing.assert_allclose(saved["OUTPUT0"], a + b, rtol=1e-6)
    (tmp_path / "plain.json").write_text(json.dumps({"INPUT0": [[1] * 16], "INPUT1": [[2] * 16]}))
    code, out, _ = run(capsys, "infer", "--url", url, "--model", "add_sub", "--version", "1",
                       "--json", str(tmp_path / "plain.json"))
    assert code == 0 and "OUTPUT0: FP32 [1, 16]" in out and "OUTPUT1: FP32 [1, 16]" in out
    assert "min 3  max 3" in out and "min -1  max -1" in out  # ints cast to the declared FP32


def test_infer_bytes_and_bool(url, capsys, tmp_path):
    np.save(tmp_path / "w.npy", np.array([["héllo", "x"]]))
    code, out, _ = run(capsys, "infer", "--url", url, "--model", "identity_bytes",
                       "--input", f"INPUT0={tmp_path / 'w.npy'}", "--out", str(tmp_path / "w.npz"))
    assert code == 0
    with np.load(tmp_path / "w.npz") as saved:  # loadable without pickle
        assert saved["OUTPUT0"].tolist() == [["héllo".encode(), b"x"]]
    (tmp_path / "b.json").write_text(json.dumps({"INPUT0": [[True, False]]}))
    code, out, _ = run(capsys, "infer", "--url", url, "--model", "identity_bool", "--json", str(tmp_path / "b.json"))
    assert code == 0 and "OUTPUT0: BOOL [1, 2]" in out and "[[ True False]]" in out


def test_infer_errors(url, capsys, tmp_path):
    np.save(tmp_path / "bad.npy", np.zeros((2, 8), np.float32))
    np.save(tmp_path / "ok.npy", np.zeros((2, 16), np.float32))
    code, _, err = run(capsys, "infer", "--url", url, "--model", "add_sub", "--input", f"INPUT0={tmp_path / 'bad.npy'}",
                       "--input", f"INPUT1={tmp_path / 'ok.npy'}")
    assert code == 2 and "INVALID_ARGUMENT: input 'INPUT0': expected FP32 [-1, 16], got FP32 [2, 8]" in err
    code, _, err = run(capsys, "infer", "--url", url, "--model", "add_sub", "--input", f"INPUT0={tmp_path / 'no.npy'}")
    assert code == 2 and "no.npy: no such file" in err
    code, _, err = run(capsys, "infer", "--url", url, "--model", "add_sub", "--input", "INPUT0")
    assert code == 2 and "expected NAME=FILE.npy" in err
    code, _, err = run(capsys, "infer", "--url", url, "--model", "add_sub", "--inputs", str(tmp_path / "ok.npy"))
    assert code == 2 and "expected an .npz archive" in err
    (tmp_path / "frac.json").write_text(json.dumps({"INPUT0": [[1.5, 2]]}))
    code, _, err = run(capsys, "infer", "--url", url, "--model", "identity_int64",
                       "--json", str(tmp_path / "frac.json"))
    assert code == 2 and "input 'INPUT0': expected integers for INT64" in err
    (tmp_path / "unknown.json").write_text(json.dumps({"X": [1]}))
    code, _, err = run(capsys, "infer", "--url", url, "--model", "add_sub", "--json", str(tmp_path / "unknown.json"))
    assert code == 2 and "the model has no input 'X'; expected inputs: INPUT0: FP32 [-1, 16], INPUT1" in err
    np.save(tmp_path / "c.npy", np.zeros(2, np.complex64))
    code, _, err = run(capsys, "infer", "--url", url, "--model", "add_sub", "--input", f"INPUT0={tmp_path / 'c.npy'}")
    assert code == 2 and "cannot send the inputs: numpy dtype complex64 has no OIP v2 datatype" in err


def test_usage_errors_exit_2(capsys, monkeypatch):
    monkeypatch.delenv("TANDEM_URL", raising=False)
    assert main(["health"]) == 2 and "--url" in capsys.readouterr().err
    assert main(["metadata", "--url", "127.0.0.1:1", "--version", "1"]) == 2
    assert "--version needs --model" in capsys.readouterr().err
    assert main(["infer", "--url", "127.0.0.1:1", "--model", "m"]) == 2  # no inputs given
    assert main(["health", "--url", "127.0.0.1:1", "--cert", "c.pem"]) == 2
    assert "--cert and --key go together" in capsys.readouterr().err
    assert main(["health", "--url", "127.0.0.1:1", "--ca", "/nonexistent/ca.pem"]) == 2
    assert "cannot read the CA bundle (--ca) /nonexistent/ca.pem" in capsys.readouterr().err
    assert main(["--help"]) == 0 and "parity" in capsys.readouterr().out


# ------------------------------------------------------------------ TLS

@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed: cannot make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return d / "cert.pem", d / "key.pem"


def test_tls_with_a_private_ca(tls_files, capsys):
    cert, key = tls_files
    settings = ServerSettings(tls_cert=cert, tls_key=key, token=TOKEN)
    with BackgroundServer(RepositoryBackend(EchoLoader(), ["add_sub"]), settings) as server:
        code, out, _ = run(capsys, "health", "--url", server.address, "--ca", str(cert))
        assert code == 0 and "ready: yes" in out
        code, out, _ = run(capsys, "--tls", "health", "--url", f"localhost:{server.server.port}", "--ca", str(cert),
                           "--server-name", "localhost")
        assert code == 0
        code, _, err = run(capsys, "health", "--url", server.address, "--timeout", "5")  # plaintext to a TLS port
        assert code == 2 and "UNAVAILABLE" in err
