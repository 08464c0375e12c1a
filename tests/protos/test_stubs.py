"""The committed stubs match the .proto, and the contract matches Triton's published one on the wire."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from protos import grpc_predict_v2_pb2 as pb

ROOT = Path(__file__).resolve().parents[2]


def test_committed_stubs_match_the_proto():
    result = subprocess.run([sys.executable, "-m", "protos", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_detects_drift(tmp_path):
    """protoc runs in a subprocess: loading grpc_tools' protoc into this process after the
    frameworks crashed it."""
    (tmp_path / "protos").mkdir()
    proto = (ROOT / "protos" / "grpc_predict_v2.proto").read_text()
    (tmp_path / "protos" / "grpc_predict_v2.proto").write_text(proto.replace("bool live = 1;", "bool live = 7;"))
    for f in (ROOT / "protos").glob("*_pb2*.py*"):
        (tmp_path / "protos" / f.name).write_bytes(f.read_bytes())
    result = subprocess.run([sys.executable, "-m", "protos", "--check", "--root", str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "stubs differ from the .proto: grpc_predict_v2_pb2.py" in result.stdout


def _message(d):
    return {"fields": {f.name: [f.number, f.type, f.is_repeated] for f in d.fields},
            "nested": {n.name: _message(n) for n in d.nested_types}}


def _compare(path, ours, theirs):
    their_numbers = {spec[0] for spec in theirs["fields"].values()}
    for name, spec in ours["fields"].items():
        if name in theirs["fields"]:
            assert theirs["fields"][name] == spec, f"{path}.{name}: ours {spec}, Triton's {theirs['fields'][name]}"
        else:  # ours only (e.g. KServe's ModelMetadataResponse.properties): must not reuse a Triton number
            assert spec[0] not in their_numbers, f"{path}.{name} reuses Triton's field number {spec[0]}"
    for name, nested in ours["nested"].items():
        if name in theirs["nested"]:
            _compare(f"{path}.{name}", nested, theirs["nested"][name])


def test_wire_compatible_with_tritons_published_stubs():
    """Triton's stubs (tritonclient, from requirements/compat.txt) are read in a subprocess: both
    register `inference.*` symbols, which one descriptor pool cannot hold twice."""
    result = subprocess.run([sys.executable, "-m", "tests.support.triton_probe", "describe"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    theirs = json.loads(result.stdout)
    assert pb.DESCRIPTOR.package == theirs["package"] == "inference"
    service = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    for m in service.methods:
        assert theirs["methods"][m.name] == [m.input_type.full_name, m.output_type.full_name,
                                             m.client_streaming, m.server_streaming], m.name
    for name, message in pb.DESCRIPTOR.message_types_by_name.items():
        _compare(name, _message(message), theirs["messages"][name])
