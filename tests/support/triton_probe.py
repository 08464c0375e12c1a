"""Runs in its OWN process (Triton's stubs register the same `inference.*` protobuf symbols as ours,
so both cannot live in one descriptor pool). Two modes:

  python -m tests.support.triton_probe describe       -> JSON of Triton's GRPCInferenceService contract
  python -m tests.support.triton_probe call HOST:PORT -> drives our server with tritonclient.grpc;
                                                          exit 0 when every check passed
"""

from __future__ import annotations

import json
import sys


def describe() -> dict:
    from tritonclient.grpc import service_pb2

    def message(d):
        return {"fields": {f.name: [f.number, f.type, f.is_repeated] for f in d.fields},
                "nested": {n.name: message(n) for n in d.nested_types}}

    service = service_pb2.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    return {
        "package": service_pb2.DESCRIPTOR.package,
        "methods": {m.name: [m.input_type.full_name, m.output_type.full_name, m.client_streaming,
                             m.server_streaming] for m in service.methods},
        "messages": {name: message(d) for name, d in service_pb2.DESCRIPTOR.message_types_by_name.items()},
    }


def call(address: str) -> None:
    import numpy as np
    import tritonclient.grpc as tg

    c = tg.InferenceServerClient(address)
    assert c.is_server_live() and c.is_server_ready()
    assert c.is_model_ready("add_sub")
    meta = c.get_model_metadata("add_sub")
    assert [i.name for i in meta.inputs] == ["INPUT0", "INPUT1"], meta
    assert c.get_server_metadata().name == "tandem"
    a = np.arange(32, dtype=np.float32).reshape(2, 16)
    b = np.ones((2, 16), np.float32)
    inputs = [tg.InferInput("INPUT0", [2, 16], "FP32"), tg.InferInput("INPUT1", [2, 16], "FP32")]
    inputs[0].set_data_from_numpy(a)
    inputs[1].set_data_from_numpy(b)
    result = c.infer("add_sub", inputs, model_version="1", outputs=[tg.InferRequestedOutput("OUTPUT1")])
    np.testing.assert_allclose(result.as_numpy("OUTPUT1"), a - b)
    assert result.as_numpy("OUTPUT0") is None
    strings = np.array([[b"x", b"yz"]], dtype=object)
    s_in = tg.InferInput("INPUT0", [1, 2], "BYTES")
    s_in.set_data_from_numpy(strings)
    assert c.infer("identity_bytes", [s_in]).as_numpy("OUTPUT0").tolist() == [[b"x", b"yz"]]
    index = c.get_model_repository_index()
    assert any(m.name == "add_sub" and m.state == "READY" for m in index.models)
    assert c.get_inference_statistics("add_sub", "1").model_stats[0].inference_count >= 1
    c.unload_model("identity_fp32")
    assert not c.is_model_ready("identity_fp32")
    c.load_model("identity_fp32")
    assert c.is_model_ready("identity_fp32")
    try:
        c.get_model_metadata("missing")
    except tg.InferenceServerException as e:
        assert e.status() == "StatusCode.NOT_FOUND", e.status()
    else:
        raise AssertionError("metadata of a missing model did not fail")
    c.close()


def main(argv: list[str]) -> int:
    if argv[:1] == ["describe"]:
        print(json.dumps(describe()))
        return 0
    if argv[:1] == ["call"] and len(argv) == 2:
        call(argv[1])
        print("OK")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
