"""TEST FIXTURE: a TensorFlow Serving stand-in, for machines without `tensorflow_model_server`.

It serves TF Serving's own gRPC API (tensorflow_serving.apis: PredictionService.Predict /
GetModelMetadata, ModelService.GetModelStatus / HandleReloadConfigRequest) over real SavedModels run
by real TensorFlow, and converts tensors with TensorFlow's own `make_ndarray` / `make_tensor_proto`.
It shares no code with tf_service: it is the other side of the wire that tf_service's translation is
tested against. Behaviours it copies from TF Serving: models load before the port opens and a
failing model at start-up stops the server; versions follow the base path (a file system poll);
a config reload loads new models and waits for them; per-model batching_params.pbtxt is parsed
(and max_batch_size enforced) with --enable_per_model_batching_parameters.

`python -m tests.tf_service.fake_tfserving --port=0 --model_config_file=F ...` (or the
`fake_tensorflow_model_server` script beside it) mimics the binary's command line; see fake_cli.py.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import sys
import threading
from pathlib import Path

import grpc
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)
from tensorflow_serving.config import model_server_config_pb2

from .fake_tfs_manager import Manager

HERE = Path(__file__).resolve().parent
BINARY = HERE / "fake_tensorflow_model_server"


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, manager: Manager):
        self.manager = manager
        self.deadlines: list[float | None] = []  # time remaining of each Predict, for tests
        self.requests: list[predict_pb2.PredictRequest] = []

    def _servable(self, spec, context):
        version = spec.version.value if spec.HasField("version") else None
        found = self.manager.servable(spec.name, version)
        if found is None:
            what = f"Specific({spec.name}, {version})" if version is not None else f"Latest({spec.name})"
            context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: {what}")
        return found

    def Predict(self, request, context):
        self.deadlines.append(context.time_remaining())
        self.requests.append(request)
        version, servable = self._servable(request.model_spec, context)
        signature = request.model_spec.signature_name or "serving_default"
        if signature not in servable.signature_defs:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f'Serving signature key "{signature}" not found.')
        sig = servable.signature_defs[signature]
        if set(request.inputs) != set(sig.inputs):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          "input tensor alias not found in signature: "
                          f"{sorted(set(request.inputs) - set(sig.inputs))}. "
                          f"Inputs expected to be in the set {{{','.join(sorted(sig.inputs))}}}.")
        for key in request.output_filter:
            if key not in sig.outputs:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"output tensor alias not found in signature: {key}")
        try:
            feeds = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
        except Exception as e:  # noqa: BLE001 - a malformed TensorProto
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"Could not parse an input tensor: {e}")
        limit = servable.batching.max_batch_size.value if servable.batching is not None else 0
        rows = max((t.shape[0] for t in feeds.values() if t.shape.rank), default=0)
        if limit and rows > limit:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"Task size {rows} is larger than maximum input batch size {limit}")
        try:
            results = servable.function_by_signature[signature](**feeds)
        except tf.errors.OpError as e:
            context.abort(_status(e.error_code), e.message)
        response = predict_pb2.PredictResponse()
        response.model_spec.CopyFrom(request.model_spec)
        response.model_spec.version.value = version
        for key, value in results.items():
            if not request.output_filter or key in request.output_filter:
                response.outputs[key].CopyFrom(tf.make_tensor_proto(value.numpy()))
        return response

    def GetModelMetadata(self, request, context):
        for f in request.metadata_field:
            if f != "signature_def":
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"Metadata field {f} is not supported")
        version, servable = self._servable(request.model_spec, context)
        defs = get_model_metadata_pb2.SignatureDefMap()
        for k, v in servable.signature_defs.items():
            defs.signature_def[k].CopyFrom(v)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name, response.model_spec.version.value = request.model_spec.name, version
        response.metadata["signature_def"].Pack(defs)
        return response


def _status(value: int) -> grpc.StatusCode:
    return next((c for c in grpc.StatusCode if c.value[0] == value), grpc.StatusCode.UNKNOWN)


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, manager: Manager):
        self.manager = manager

    def GetModelStatus(self, request, context):
        name = request.model_spec.name
        model = self.manager.status(name)
        if model is None or not model.versions:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Could not find any versions of model {name}")
        response = get_model_status_pb2.GetModelStatusResponse()
        wanted = request.model_spec.version.value if request.model_spec.HasField("version") else None
        for version, state in sorted(model.versions.items()):
            if wanted is None or version == wanted:
                status = response.model_version_status.add(version=version, state=state.state)
                status.status.error_code, status.status.error_message = state.code, state.message
        return response

    def HandleReloadConfigRequest(self, request, context):
        response = model_management_pb2.ReloadConfigResponse()
        try:
            errors = self.manager.apply(request.config)
        except ValueError as e:
            response.status.error_code, response.status.error_message = 3, str(e)
            return response
        if errors:
            response.status.error_code = 2  # UNKNOWN, as ServerCore reports models that did not load
            response.status.error_message = f"{len(errors)} model(s) did not become available: {{{', '.join(errors)}}}"
        return response


class FakeTFServing:
    """The stand-in server, in-process: `with FakeTFServing(config) as tfs: tfs.address`."""

    def __init__(self, config=None, *, port: int = 0, per_model_batching: bool = False, load_delay_s: float = 0.0,
                 poll_s: float = 1.0):
        self.manager = Manager(per_model_batching, load_delay_s)
        self.config = config or model_server_config_pb2.ModelServerConfig()
        self.port = port
        self.poll_s = poll_s
        self.prediction = PredictionService(self.manager)
        self._server = None
        self._stop = threading.Event()
        self.address = ""

    def start(self) -> FakeTFServing:
        errors = self.manager.apply(self.config)
        if errors:  # TF Serving refuses to start when a configured model fails to load
            raise RuntimeError(f"Some models did not become available: {errors}")
        self._server = grpc.server(concurrent.futures.ThreadPoolExecutor(16),
                                   options=[("grpc.max_receive_message_length", -1),
                                            ("grpc.max_send_message_length", -1)])
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(self.prediction, self._server)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(self.manager), self._server)
        self.port = self._server.add_insecure_port(f"127.0.0.1:{self.port}")
        self._server.start()
        self.address = f"127.0.0.1:{self.port}"
        if self.poll_s > 0:
            threading.Thread(target=self.manager.poll_forever, args=(self.poll_s, self._stop), daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.stop(0).wait(10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def read_model_config(path: Path) -> model_server_config_pb2.ModelServerConfig:
    return text_format.Parse(Path(path).read_text(), model_server_config_pb2.ModelServerConfig())


def write_model_config(path: Path, base: Path, names) -> Path:
    config = model_server_config_pb2.ModelServerConfig()
    for name in names:
        entry = config.model_config_list.config.add(name=name, base_path=str(base / name), model_platform="tensorflow")
        entry.model_version_policy.all.SetInParent()
    Path(path).write_text(text_format.MessageToString(config))
    return Path(path)


def binary_process(*flags: str, env: dict | None = None):
    """The stand-in's command line (the fake tensorflow_model_server) as a test Process (not started)."""
    from .process import process

    return process([str(BINARY), *flags], env={"FAKE_TFS_PYTHON": sys.executable, **(env or {})},
                   name="fake-tfserving", ready_timeout=120)


@contextlib.contextmanager
def binary(*flags: str, env: dict | None = None):
    """Run the stand-in's command line as a subprocess until the block ends."""
    with binary_process(*flags, env=env) as proc:
        yield proc

