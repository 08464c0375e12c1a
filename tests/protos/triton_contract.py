"""Runs in its OWN process (Triton's stubs register the same `inference.*` protobuf symbols as ours):
`python -m tests.protos.triton_contract` prints JSON of Triton's published contract as tritonclient's
stubs hold it: the GRPCInferenceService methods in order, every message of grpc_service.proto and
model_config.proto (fields: number, type, repeated; nested messages) and their enums (name -> number)."""

from __future__ import annotations

import json
import sys


def _message(d) -> dict:
    return {"fields": {f.name: [f.number, f.type, f.is_repeated] for f in d.fields},
            "nested": {n.name: _message(n) for n in d.nested_types},
            "enums": {e.name: {v.name: v.number for v in e.values} for e in d.enum_types}}


def describe() -> dict:
    from tritonclient.grpc import model_config_pb2, service_pb2

    service = service_pb2.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    messages, enums = {}, {}
    for module in (service_pb2, model_config_pb2):
        messages.update({name: _message(d) for name, d in module.DESCRIPTOR.message_types_by_name.items()})
        enums.update({name: {v.name: v.number for v in e.values}
                      for name, e in module.DESCRIPTOR.enum_types_by_name.items()})
    return {
        "package": service_pb2.DESCRIPTOR.package,
        "methods": [[m.name, m.input_type.full_name, m.output_type.full_name, m.client_streaming,
                     m.server_streaming] for m in service.methods],
        "messages": messages,
        "enums": enums,
    }


if __name__ == "__main__":
    json.dump(describe(), sys.stdout)
    sys.exit(0)
