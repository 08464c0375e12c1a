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
            "nested": {n.name: _message(n) for n in d.nested_types},
            "enums": {e.name: {v.name: v.number for v in e.values} for e in d.enum_types}}


def _compare_enum(path, ours, theirs):
    for name, number in ours.items():
        assert theirs.get(name) == number, f"{path}.{name}: ours {number}, Triton's {theirs.get(name)}"


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
    for name, values in ours["enums"].items():
        assert name in theirs["enums"], f"{path}.{name}: Triton has no such enum"
        _compare_enum(f"{path}.{name}", values, theirs["enums"][name])


def _triton() -> dict:
    """Triton's stubs (tritonclient, from requirements/compat.txt: its grpc_service.proto and
    model_config.proto) are read in a subprocess: both register `inference.*` symbols, which one
    descriptor pool cannot hold twice."""
    result = subprocess.run([sys.executable, "-m", "tests.protos.triton_contract"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def test_wire_compatible_with_tritons_published_stubs():
    theirs = _triton()
    assert pb.DESCRIPTOR.package == theirs["package"] == "inference"
    their_methods = {m[0]: m[1:] for m in theirs["methods"]}
    service = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    for m in service.methods:
        assert their_methods[m.name] == [m.input_type.full_name, m.output_type.full_name,
                                         m.client_streaming, m.server_streaming], m.name
    ours_in_order = [m.name for m in service.methods]
    assert ours_in_order == [m[0] for m in theirs["methods"] if m[0] in ours_in_order]  # Triton's order
    for name, message in pb.DESCRIPTOR.message_types_by_name.items():
        assert name in theirs["messages"], f"{name} is not one of Triton's messages"
        _compare(name, _message(message), theirs["messages"][name])
    for name, enum in pb.DESCRIPTOR.enum_types_by_name.items():
        assert name in theirs["enums"], f"enum {name} is not one of Triton's"
        _compare_enum(name, {v.name: v.number for v in enum.values}, theirs["enums"][name])


def test_model_config_carries_the_fields_perf_analyzer_reads():
    """The fields the issue names exist with Triton's numbers (a renamed field would slip past the
    name-keyed comparison above)."""
    theirs = _triton()["messages"]
    wanted = {"ModelConfig": ["name", "platform", "backend", "max_batch_size", "input", "output",
                              "dynamic_batching", "instance_group"],
              "ModelInput": ["name", "data_type", "dims"], "ModelOutput": ["name", "data_type", "dims"],
              "ModelDynamicBatching": ["preferred_batch_size", "max_queue_delay_microseconds"],
              "ModelInstanceGroup": ["name", "kind", "count"],
              "ModelConfigResponse": ["config"], "ModelConfigRequest": ["name", "version"]}
    for message, fields in wanted.items():
        ours = _message(pb.DESCRIPTOR.message_types_by_name[message])["fields"]
        for f in fields:
            assert ours[f] == theirs[message]["fields"][f], f"{message}.{f}"
