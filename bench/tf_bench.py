"""tf_service speed (issues 4 and 14): ratios measured side by side in one run.

- MLP 64-256-256-10 (Keras layers, FP32, one row per request), embedded backend: requests/s with 16
  concurrent requests vs a bare grpc.aio echo server carrying the same request bytes (target >= 0.6x).
- ResNet-18-shaped CNN (Keras layers, random weights, NHWC 224x224), embedded backend, one image per
  request, 8 concurrent requests: images/s vs the in-process batched forward (batch 8) of the same
  SavedModel signature (target >= 0.9x).
- What the tfserving path adds: p50 latency at 1 concurrent request of the MLP through tf_service's
  tfserving backend vs the same Predict sent straight to the TF Serving it fronts (target: adds
  <= 0.5 ms). No real TF Serving installs here (it ships as a container image and a Debian/apt
  repository this machine cannot reach): the stand-in is the test fixture
  tests/tf_service/fake_tensorflow_model_server, a Python gRPC server with TF Serving's Predict API
  and command line that runs the SavedModel with TensorFlow. It is slower than the real one; the hop
  tf_service adds in front of it (one more gRPC call, OIP <-> TensorProto translation) is the same.
  Beside it, with no target, what a bare grpc.aio forwarder (`python -m bench.echo --forward`) adds in
  front of the same stand-in: the floor of any one Python gRPC hop on this machine.

Servers run as their real command lines (`python -m tf_service`, `python -m bench.echo`, the
stand-in), each in its own process. The OIP rows are driven by perf_analyzer, the tfserving pair by
one load generator on both sides, h2load where installed, else one Python client process
(bench/loadgen.RawLoad: perf_analyzer cannot send TF Serving's Predict and OIP in one mode). Rounds
alternate subject and baseline; ratios are medians.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import yaml

from . import harness
from .harness import Row, Settings, server_process
from .loadgen import OIP_INFER, Model, OipLoad, RawLoad
from .torch_bench import echo

REPO_ROOT = Path(__file__).resolve().parents[1]
SUITE = "tf"
STAND_IN = REPO_ROOT / "tests" / "tf_service" / "fake_tensorflow_model_server"
QUIET = {"TF_CPP_MIN_LOG_LEVEL": "2"}
MLP = Model("mlp", "x", (1, 64))
PREDICT = "/tensorflow.serving.PredictionService/Predict"
RESNET = Model("resnet18", "images", (1, 224, 224, 3))


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

def _tf_service(settings: Settings, store: Path, name: str, *extra: str):
    cmd = [sys.executable, "-m", "tf_service", "--model-base-path", str(store), "--port", "0",
           "--metrics-port", "-1", "--log-level", "WARNING", *extra]
    return server_process(settings.wrap(cmd, name), settings.workdir / f"{name}.log", 180.0, QUIET, "tf_service")


# ------------------------------------------------------------------ measurements

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


def _mlp_rows(settings: Settings, store: Path) -> list[Row]:
    load, secs = OipLoad(settings.workdir), settings.mlp_s
    with _tf_service(settings, store, "tf-mlp", "--backend", "embedded", "--models", "mlp") as svc, \
            echo(settings, svc, "mlp", "tf-echo") as bare:
        load.warm(svc, MLP, 16)
        load.warm(bare, MLP, 16)
        many = harness.compare(settings, svc, "tf-mlp-16", lambda: load.run(svc, MLP, 16, secs),
                               lambda: load.run(bare, MLP, 16, secs), MLP.name)
    return [Row(SUITE, "MLP 64-256-256-10, 16 concurrent", "tf_service (embedded)", "grpc.aio echo", "req/s",
                ">= 0.6", many[0].rps, many[1].rps, load.name, *many, profile="tf-mlp-16")]


def _tfserving_rows(settings: Settings, store: Path) -> list[Row]:
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    tmp, secs, load = settings.workdir, settings.mlp_s, RawLoad(settings.workdir)
    config = model_server_config_pb2.ModelServerConfig()
    config.model_config_list.config.add(name="mlp", base_path=str(store / "mlp"), model_platform="tensorflow")
    (tmp / "tfs.config").write_text(text_format.MessageToString(config))
    x = np.zeros((1, 64), np.float32)
    oip, predict = MLP.request_bytes(), _predict_bytes(x)
    with server_process([str(STAND_IN), "--port=0", f"--model_config_file={tmp / 'tfs.config'}"], tmp / "tfs.log",
                        180.0, {**QUIET, "FAKE_TFS_PYTHON": sys.executable}, "TF Serving stand-in") as tfs, \
            _tf_service(settings, store, "tf-front", "--backend", "tfserving", "--tfserving-address",
                        tfs.address) as svc:
        def front():
            return load.run(svc, OIP_INFER, oip, 1, secs)

        def straight():
            return load.run(tfs, PREDICT, predict, 1, secs)

        front(), straight()  # warm both
        p50 = harness.compare(settings, svc, "tf-front-1", front, straight, MLP.name)
        with server_process([sys.executable, "-m", "bench.echo", "--forward", tfs.address], tmp / "forward.log",
                            60.0, name="grpc.aio forwarder") as forwarder:
            def forwarded():
                return load.run(forwarder, PREDICT, predict, 1, secs)

            forwarded()
            floor = harness.compare(settings, forwarder, "forwarder-1", forwarded, straight)
    straight_to = "Predict straight to the TF Serving stand-in"
    return [Row(SUITE, "MLP via tfserving backend, p50 at 1 concurrent", "tf_service -> stand-in", straight_to,
                "ms", "adds <= 0.5", p50[0].p50_ms, p50[1].p50_ms, load.name(1), *p50,
                profile="tf-front-1",
                per_request="OIP decode, translation to a PredictRequest, the second gRPC call, translation back; "
                            "the next row is what a bare Python gRPC forwarder adds, the floor of any hop"),
            Row(SUITE, "floor of one Python gRPC hop, p50 at 1 concurrent", "bare grpc.aio forwarder -> stand-in",
                straight_to, "ms", "adds shown", floor[0].p50_ms, floor[1].p50_ms, load.name(1),
                *floor)]


def _resnet_rows(settings: Settings, store: Path) -> list[Row]:
    import tensorflow as tf

    load, secs = OipLoad(settings.workdir), settings.cnn_s
    signature = tf.saved_model.load(str(store / "resnet18" / "1")).signatures["serving_default"]
    batch = tf.zeros((8, 224, 224, 3))

    def forward():
        signature(images=batch)["logits"].numpy()

    with _tf_service(settings, store, "tf-resnet", "--backend", "embedded", "--models", "resnet18") as svc:
        load.warm(svc, RESNET, 8, secs, requests_per_window=8)  # the first batches of each size are slow
        ips = harness.compare(settings, svc, "tf-resnet",
                              lambda: load.run(svc, RESNET, 8, secs, requests_per_window=settings.cnn_requests),
                              lambda: harness.in_process(forward, secs, items_per_call=8), RESNET.name)
    return [Row(SUITE, "ResNet-18 224x224, 8 concurrent", "tf_service (embedded)", "in-process forward (batch 8)",
                "images/s", ">= 0.9", ips[0].items_per_s, ips[1].items_per_s, load.name, *ips, profile="tf-resnet")]


def run(settings: Settings) -> list[Row]:
    store = build_store(settings.workdir / "tf")
    return _mlp_rows(settings, store) + _resnet_rows(settings, store) + _tfserving_rows(settings, store)
