"""Tiny SavedModels for the tf_service tests: the conformance model set in TF Serving's layout, built
once per test session (see `shared_store`) and never downloaded."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np
import yaml

from client.datatypes import DATATYPES
from tests.support.echo import identity_name

ADD_SUB_BATCHING = {"max_batch_size": 8, "batch_timeout_micros": 5000, "max_enqueued_batches": 8,
                    "num_batch_threads": 1}
SLOW_BATCHING = {"max_batch_size": 1, "max_enqueued_batches": 2, "num_batch_threads": 1}
SLOW_SLEEP_US = 300_000  # the tf.data sleep runs twice per call (element, then end of sequence): ~0.6 s
CORRUPT_PB = b"\xff\xff\xff\xff\x0fthis is not a SavedModel protobuf"

_lock = threading.Lock()
_store: Path | None = None


def _tf():
    import tensorflow as tf  # noqa: PLC0415 - only the builders need TF

    return tf


def write_yaml(model_dir: Path, config: dict) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "model.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def save(module, fn, path: Path, signatures: dict | None = None) -> None:
    tf = _tf()
    module.fn = fn
    tf.saved_model.save(module, str(path), signatures=signatures or {"serving_default": fn})


def build_add_sub(root: Path, versions=(1, 2)) -> None:
    tf = _tf()
    spec = tf.TensorSpec([None, 16], tf.float32)
    for version in versions:
        offset = float(version - 1)

        @tf.function(input_signature=[spec, spec])
        def add_sub(INPUT0, INPUT1, offset=offset):  # noqa: N803 - the SignatureDef keys are the argument names
            total = INPUT0 + INPUT1  # a full-shape offset keeps grappler from reordering the adds
            return {"OUTPUT0": total + tf.fill(tf.shape(total), offset), "OUTPUT1": INPUT0 - INPUT1}

        save(tf.Module(), add_sub, root / "add_sub" / str(version))
    write_yaml(root / "add_sub", {"batching": ADD_SUB_BATCHING})


def build_identity(root: Path, datatype: str) -> str:
    tf = _tf()
    dtype = tf.string if datatype == "BYTES" else tf.as_dtype(DATATYPES[datatype].dtype.newbyteorder("="))

    @tf.function(input_signature=[tf.TensorSpec([None, None], dtype)])
    def identity(INPUT0):  # noqa: N803
        return {"OUTPUT0": tf.identity(INPUT0)}

    name = identity_name(datatype)
    save(tf.Module(), identity, root / name / "1")
    return name


def build_slow(root: Path, sleep_us: int = SLOW_SLEEP_US) -> None:
    """Sleeps inside the graph (tf.data's SleepDataset): slow without burning a core."""
    tf = _tf()
    from tensorflow.python.data.ops import dataset_ops  # noqa: PLC0415

    @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32)])
    def slow(INPUT0):  # noqa: N803
        ds = tf.data.Dataset.from_tensors(INPUT0)
        variant = tf.raw_ops.SleepDataset(input_dataset=ds._variant_tensor,
                                          sleep_microseconds=tf.constant(sleep_us, tf.int64),
                                          output_types=[tf.float32], output_shapes=[tf.TensorShape([None, 1])])
        return {"OUTPUT0": dataset_ops._VariantDataset(variant, ds.element_spec).get_single_element()}

    save(tf.Module(), slow, root / "slow" / "1")
    write_yaml(root / "slow", {"batching": SLOW_BATCHING})


def build_faulty(root: Path) -> None:
    """Fails inside the graph on every call with a server-side fault (DATA_LOSS: a corrupt stream)."""
    tf = _tf()

    @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32)])
    def faulty(INPUT0):  # noqa: N803
        secret = tf.strings.as_string(tf.reduce_sum(INPUT0)) + "secret internal detail"
        inflated = tf.io.decode_compressed(secret, compression_type="ZLIB")
        return {"OUTPUT0": INPUT0 + tf.cast(tf.strings.length(inflated), tf.float32)}

    save(tf.Module(), faulty, root / "faulty" / "1")


def build_broken(root: Path) -> None:
    version = root / "broken" / "1"
    (version / "variables").mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(CORRUPT_PB)


def build_renamed(root: Path, name: str = "renamed") -> None:
    """Generated SignatureDef names (args_0 / output_0, as Keras exports) renamed in model.yaml."""
    tf = _tf()
    w = tf.constant(np.arange(12, dtype=np.float32).reshape(4, 3))

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
    def dense(args_0):
        return {"output_0": tf.matmul(args_0, w)}

    save(tf.Module(), dense, root / name / "1")
    write_yaml(root / name, {
        "tensors": {"inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4], "key": "args_0"}],
                    "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 3], "key": "output_0"}]},
        "batching": {"max_batch_size": 8, "batch_timeout_micros": 1000, "allowed_batch_sizes": [4, 8]},
        "properties": {"classification_output": "y", "input.range": "0,1"},
    })


def identities() -> dict[str, str]:
    return {dt: identity_name(dt) for dt in DATATYPES}


def build_conformance_store(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    build_add_sub(root)
    for datatype in DATATYPES:
        build_identity(root, datatype)
    build_slow(root)
    build_faulty(root)
    build_broken(root)
    return root


def shared_store() -> Path:
    """The conformance store, built once per process and removed at exit. Read-only for users:
    tests that change a store copy it (`copy_store`)."""
    global _store
    with _lock:
        if _store is None:
            tmp = Path(tempfile.mkdtemp(prefix="tf_service-models-"))
            atexit.register(shutil.rmtree, tmp, True)
            _store = build_conformance_store(tmp / "models")
        return _store


def copy_store(dest: Path, names=None) -> Path:
    """A private copy of (some models of) the shared store."""
    src = shared_store()
    dest.mkdir(parents=True, exist_ok=True)
    for name in names or [p.name for p in src.iterdir()]:
        shutil.copytree(src / name, dest / name)
    return dest


def build_checked(root: Path) -> None:
    """Refuses negative inputs with a graph assertion (TF's INVALID_ARGUMENT, passed through)."""
    tf = _tf()

    @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32)])
    def checked(INPUT0):  # noqa: N803
        with tf.control_dependencies([tf.debugging.assert_non_negative(INPUT0, message="INPUT0 must be >= 0")]):
            return {"OUTPUT0": tf.sqrt(INPUT0)}

    save(tf.Module(), checked, root / "checked" / "1")


def build_unloadable(root: Path, name: str = "unloadable") -> None:
    """A saved_model.pb that parses (so it passes tf_service's checks) but cannot be loaded: its
    functions are gone. TF Serving (and the stand-in) fail on it while loading."""
    from tensorflow.core.protobuf import saved_model_pb2  # noqa: PLC0415

    shutil.copytree(shared_store() / identity_name("FP32"), root / name)
    pb = root / name / "1" / "saved_model.pb"
    saved = saved_model_pb2.SavedModel.FromString(pb.read_bytes())
    del saved.meta_graphs[0].graph_def.library.function[:]
    pb.write_bytes(saved.SerializeToString())
