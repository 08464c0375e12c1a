"""tf_service's warm-up: TF Serving's own file, `<version>/assets.extra/tf_serving_warmup_requests`,
a TFRecord file of `tensorflow.serving.PredictionLog` records (the format TF Serving reads; write it
with `tf.io.TFRecordWriter` and `prediction_log_pb2`). Each record's `predict_log.request` is one
request (inputs keyed by SignatureDef key, as TF Serving expects); the embedded backend runs them
through the model (server_core.warmup) before the version is READY. Classify/regress/multi-inference
logs are refused (the contract serves Predict signatures). With the tfserving and managed backends,
TF Serving itself reads the same file when it loads the model.

The TFRecord framing is read here (length, CRC, data, CRC; CRCs not checked: the protobuf parse
catches corruption); the protobuf classes come from tensorflow-serving-api.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from pathlib import Path

from server_core.warmup import WarmupError, WarmupRequest, warm_up

from .tensors import TensorProtoError, from_tensor_proto

FILE = "assets.extra/tf_serving_warmup_requests"
MAX_RECORDS = 1000  # TF Serving's own limit on warm-up records
_HEADER = struct.Struct("<QI")


def tfrecords(data: bytes) -> list[bytes]:
    """The records of a TFRecord file's bytes; WarmupError when the framing is broken."""
    records, offset = [], 0
    while offset < len(data):
        if offset + _HEADER.size > len(data):
            raise WarmupError(f"{FILE}: truncated record header at byte {offset}")
        (length, _crc) = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        if start + length + 4 > len(data):
            raise WarmupError(f"{FILE}: record at byte {offset} claims {length} bytes; the file ends first")
        records.append(data[start:start + length])
        offset = start + length + 4
    return records


def read_requests(path: Path, input_keys: Mapping[str, str]) -> list[WarmupRequest]:
    """The Predict requests of a warm-up file, keyed by the contract's input names."""
    from tensorflow_serving.apis import prediction_log_pb2  # tensorflow-serving-api, with TF loaded

    by_key = {key: name for name, key in input_keys.items()}
    records = tfrecords(path.read_bytes())
    if not records:
        raise WarmupError(f"{FILE} holds no records")
    if len(records) > MAX_RECORDS:
        raise WarmupError(f"{FILE} holds {len(records)} records; at most {MAX_RECORDS} are allowed")
    requests: list[WarmupRequest] = []
    for i, record in enumerate(records, 1):
        log = prediction_log_pb2.PredictionLog()
        try:
            log.ParseFromString(record)
        except Exception as e:  # noqa: BLE001 - protobuf's DecodeError: the record's bytes
            raise WarmupError(f"{FILE}: record {i} is not a PredictionLog ({e})") from None
        kind = log.WhichOneof("log_type")
        if kind != "predict_log":
            raise WarmupError(f"{FILE}: record {i} is a {kind or 'empty log'}; only predict_log is supported")
        request: dict = {}
        for key, proto in log.predict_log.request.inputs.items():
            if key not in by_key:
                raise WarmupError(f"{FILE}: record {i} feeds '{key}', which is not an input of the signature "
                                  f"(inputs: {', '.join(sorted(by_key))})")
            try:
                request[by_key[key]] = from_tensor_proto(proto, f"{FILE}: record {i} input '{key}'")
            except TensorProtoError as e:
                raise WarmupError(str(e)) from None
        requests.append(request)
    return requests


def apply(model, version_dir: Path, input_keys: Mapping[str, str], run) -> int:
    """Warm `model` up from its version folder's warm-up file when there is one; returns the count."""
    path = Path(version_dir) / FILE
    if not path.is_file():
        return 0
    return warm_up(model, read_requests(path, input_keys), run, FILE)
