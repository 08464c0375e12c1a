"""tf_service speed (issue 4): ratios measured side by side in one run.

- MLP 64-256-256-10 (Keras layers, FP32, one row per request), embedded backend: requests/s with 16
  concurrent asyncio clients vs a bare grpc.aio echo server carrying the same request bytes
  (target >= 0.6x).
- ResNet-18-shaped CNN (Keras layers, random weights, NHWC 224x224), embedded backend, one image per
  request, 8 concurrent clients: images/s vs the in-process batched forward (batch 8) of the same
  SavedModel signature (target >= 0.9x).
- What the tfserving path adds: p50 latency at 1 client of the MLP through tf_service's tfserving
  backend vs the same Predict sent straight to the TF Serving stand-in it fronts. The row names the
  milliseconds added per request (the stand-in is the test fixture: real TF Serving is faster, the
  added hop is the same).

Servers run as their real command lines (`python -m tf_service`, `python -m bench.echo`, the
stand-in), each in its own process. Rounds alternate subject and baseline; ratios are medians.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from client.messages import infer_request

from . import harness
from .harness import Row, server_process

REPO_ROOT = Path(__file__).resolve().parents[1]
SUITE = "tf"
STAND_IN = REPO_ROOT / "tests" / "tf_service" / "fake_tensorflow_model_server"
QUIET = {"TF_CPP_MIN_LOG_LEVEL": "2"}


# ------------------------------------------------------------------ models

def _mlp():
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((64,)), keras.layers.Dense(256, activation="relu"),
                             keras.layers.Dense(256, activation="relu"), keras.layers.Dense(10)])


def _resnet18(num_classes: int = 1000):
    """torchvision's resnet18 layer structure (BasicBlock x [2, 2, 2, 2]) in Keras layers, NHWC."""
    import keras
    from keras import layers

    def conv_bn(x, filters, kernel, stride):
        x = layers.ZeroPadding2D(kernel // 2)(x) if kernel > 1 else x
        return layers.BatchNormalization(epsilon=1e-5)(layers.Conv2D(filters, kernel, stride, use_bias=False)(x))

    def block(x, filters, stride):
        shortcut = x
        if stride != 1 or x.shape[-1] != filters:
            shortcut = conv_bn(x, filters, 1, stride)
        y = layers.ReLU()(conv_bn(x, filters, 3, stride))
        return layers.ReLU()(layers.Add()([conv_bn(y, filters, 3, 1), shortcut]))

    keras.utils.set_random_seed(0)
    images = keras.Input((224, 224, 3))
    x = layers.ReLU()(conv_bn(images, 64, 7, 2))
    x = layers.MaxPooling2D(3, 2)(layers.ZeroPadding2D(1)(x))
    for filters, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        x = block(block(x, filters, stride), filters, 1)
    logits = layers.Dense(num_classes)(layers.GlobalAveragePooling2D()(x))
    return keras.Model(images, logits)


def _save(model, path: Path, input_name: str, input_shape, output_name: str) -> None:
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None, *input_shape], tf.float32, name=input_name)])
    def serve(inputs):
        return {output_name: model(inputs, training=False)}

    module = tf.Module()
    module.model, module.serve = model, serve
    tf.saved_model.save(module, str(path), signatures={"serving_default": serve})


def build_store(root: Path) -> Path:
    """A TF Serving base path with `mlp` and `resnet18` and their batching in model.yaml."""
    store = root / "models"
    _save(_mlp(), store / "mlp" / "1", "x", (64,), "y")
    (store / "mlp" / "model.yaml").write_text(yaml.safe_dump({"batching": {
        "max_batch_size": 16, "batch_timeout_micros": 2000, "max_enqueued_batches": 64, "num_batch_threads": 1}}))
    _save(_resnet18(), store / "resnet18" / "1", "images", (224, 224, 3), "logits")
    (store / "resnet18" / "model.yaml").write_text(yaml.safe_dump({"batching": {
        "max_batch_size": 8, "batch_timeout_micros": 20000, "max_enqueued_batches": 16, "num_batch_threads": 1}}))
    return store


# ------------------------------------------------------------------ processes

def _process(cmd: list[str], log: Path, timeout: float = 180.0, env: dict | None = None):
    return server_process(cmd, log, timeout, {**QUIET, **(env or {})})


def _tf_service(store: Path, log: Path, *extra: str):
    return _process([sys.executable, "-m", "tf_service", "--model-base-path", str(store), "--port", "0",
                     "--metrics-port", "-1", "--log-level", "WARNING", *extra], log)


# ------------------------------------------------------------------ measurements

async def _predict_p50(address: str, payload: bytes, duration_s: float) -> float:
    """p50 ms of back-to-back Predict calls (one caller) straight to TF Serving."""
    import grpc

    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.unary_unary("/tensorflow.serving.PredictionService/Predict")
        for _ in range(20):
            await call(payload, timeout=30)
        latencies, stop = [], time.perf_counter() + duration_s
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            await call(payload, timeout=30)
            latencies.append(time.perf_counter() - t0)
    return float(np.median(latencies) * 1e3)


def _predict_bytes(x: np.ndarray) -> bytes:
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name, request.model_spec.signature_name = "mlp", "serving_default"
    tensor = request.inputs["x"]
    tensor.dtype = 1  # DT_FLOAT
    tensor.tensor_shape.dim.add(size=x.shape[0])
    tensor.tensor_shape.dim.add(size=x.shape[1])
    tensor.tensor_content = x.astype("<f4").tobytes()
    return request.SerializeToString()


def _mlp_rows(store: Path, tmp: Path, rounds: int, duration: float) -> list[Row]:
    x = np.random.default_rng(0).standard_normal((1, 64)).astype(np.float32)
    request = infer_request("mlp", {"x": x})
    with _tf_service(store, tmp / "mlp.log", "--backend", "embedded", "--models", "mlp") as svc, \
            _process([sys.executable, "-m", "bench.echo"], tmp / "echo.log") as echo:
        rps = harness.median_of(rounds, lambda: (harness.measure(svc, request, 16, duration).rps,
                                                 harness.measure(echo, request, 16, duration).rps))
    return [Row(SUITE, "MLP 64-256-256-10, 16 clients", "tf_service (embedded)", rps[0], "grpc.aio echo", rps[1],
                "req/s", ">= 0.6")]


def _tfserving_rows(store: Path, tmp: Path, rounds: int, duration: float) -> list[Row]:
    from tensorflow_serving.config import model_server_config_pb2
    from google.protobuf import text_format

    config = model_server_config_pb2.ModelServerConfig()
    config.model_config_list.config.add(name="mlp", base_path=str(store / "mlp"), model_platform="tensorflow")
    (tmp / "tfs.config").write_text(text_format.MessageToString(config))
    x = np.random.default_rng(0).standard_normal((1, 64)).astype(np.float32)
    request, predict = infer_request("mlp", {"x": x}), _predict_bytes(x)
    with _process([str(STAND_IN), "--port=0", f"--model_config_file={tmp / 'tfs.config'}"], tmp / "tfs.log",
                  env={"FAKE_TFS_PYTHON": sys.executable}) as tfs, \
            _tf_service(store, tmp / "front.log", "--backend", "tfserving", "--tfserving-address", tfs) as svc:
        p50 = harness.median_of(rounds, lambda: (harness.measure(svc, request, 1, duration).p50_ms,
                                                 asyncio.run(_predict_p50(tfs, predict, duration))))
    added = p50[0] - p50[1]
    return [Row(SUITE, f"MLP via tfserving backend, p50 at 1 client (adds {added:.2f} ms/request)",
                "tf_service -> stand-in", p50[0], "Predict straight to the stand-in", p50[1], "ms", "<= 2.0",
                higher_is_better=False)]


def _resnet_rows(store: Path, tmp: Path, rounds: int, duration: float) -> list[Row]:
    import tensorflow as tf

    image = np.random.default_rng(0).standard_normal((1, 224, 224, 3)).astype(np.float32)
    request = infer_request("resnet18", {"images": image})
    signature = tf.saved_model.load(str(store / "resnet18" / "1")).signatures["serving_default"]
    batch = tf.constant(np.repeat(image, 8, axis=0))

    def forward():
        signature(images=batch)["logits"].numpy()

    with _tf_service(store, tmp / "resnet.log", "--backend", "embedded", "--models", "resnet18") as svc:
        harness.measure(svc, request, 8, duration, warmup_s=1.0)  # first batches of each size are slow
        ips = harness.median_of(rounds, lambda: (
            harness.measure(svc, request, 8, duration, warmup_s=1.0).items_per_s,
            harness.in_process(forward, duration, items_per_call=8).items_per_s))
    return [Row(SUITE, "ResNet-18 224x224, 8 clients", "tf_service (embedded)", ips[0],
                "in-process forward (batch 8)", ips[1], "images/s", ">= 0.9")]


def run(quick: bool) -> list[Row]:
    rounds, mlp_s, cnn_s = (3, 1.0, 4.0) if quick else (5, 3.0, 8.0)
    with tempfile.TemporaryDirectory(prefix="tf-bench-") as d:
        tmp = Path(d)
        store = build_store(tmp)
        return (_mlp_rows(store, tmp, rounds, mlp_s) + _resnet_rows(store, tmp, rounds, cnn_s)
                + _tfserving_rows(store, tmp, rounds, mlp_s))


if __name__ == "__main__":
    from .__main__ import render

    print(render(run("--quick" in sys.argv)))
