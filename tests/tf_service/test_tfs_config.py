"""The managed backend's files parse as TF Serving's config protos (ModelServerConfig from
tensorflow_serving.config, BatchingParameters compiled by protoc from TF Serving's .proto), hold what
model.yaml says, and its command line is one tensorflow_model_server's flag syntax accepts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from tf_service.config import Batching
from tf_service.managed import ManagedBackend, sync_mirror, write_tfserving_config
from tf_service.store import ModelStore
from tf_service.tfs_config import PER_MODEL_BATCHING_FILE, batching_parameters, model_server_config, to_text

from .fake_batching import parse_batching_file, parse_batching_text
from .fake_cli import parser as tfs_parser


def make_store(root: Path) -> ModelStore:
    for name, versions in (("alpha", (1, 3)), ("beta", (7,))):
        for v in versions:
            (root / name / str(v) / "variables").mkdir(parents=True)
            (root / name / str(v) / "saved_model.pb").write_bytes(b"pb")
            (root / name / str(v) / "variables" / "variables.index").write_bytes(b"index")
    (root / "alpha" / "model.yaml").write_text(yaml.safe_dump({"batching": {
        "max_batch_size": 16, "batch_timeout_micros": 1500, "num_batch_threads": 3, "allowed_batch_sizes": [8, 16]}}))
    return ModelStore(root)


def test_model_config_parses_as_model_server_config():
    text = to_text(model_server_config({"beta": "/models/beta", "alpha": "/models/alpha"}))
    config = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    entries = [(c.name, c.base_path, c.model_platform, c.model_version_policy.WhichOneof("policy_choice"))
               for c in config.model_config_list.config]
    assert entries == [("alpha", "/models/alpha", "tensorflow", "all"), ("beta", "/models/beta", "tensorflow", "all")]
    empty = text_format.Parse(to_text(model_server_config({})), model_server_config_pb2.ModelServerConfig())
    assert empty.WhichOneof("config") == "model_config_list" and not empty.model_config_list.config


def test_batching_parameters_parse_as_tf_servings_message():
    params = batching_parameters(Batching(32, 2000, 64, 2, (8, 16, 32)))
    assert params.DESCRIPTOR.full_name == "tensorflow.serving.BatchingParameters"
    parsed = parse_batching_text(to_text(params))
    assert (parsed.max_batch_size.value, parsed.batch_timeout_micros.value, parsed.max_enqueued_batches.value,
            parsed.num_batch_threads.value, list(parsed.allowed_batch_sizes)) == (32, 2000, 64, 2, [8, 16, 32])
    only_size = parse_batching_text(to_text(batching_parameters(Batching(max_batch_size=4))))
    assert only_size.HasField("max_batch_size") and not only_size.HasField("batch_timeout_micros")
    assert parse_batching_text(to_text(params)).SerializeToString() == params.SerializeToString()


def test_written_files_and_mirror(tmp_path):
    store = make_store(tmp_path / "store")
    files = write_tfserving_config(store, tmp_path / "work", ["alpha", "beta"], "/srv/tf/")
    config = text_format.Parse(Path(files["model_config_file"]).read_text(),
                               model_server_config_pb2.ModelServerConfig())
    assert {c.name: c.base_path for c in config.model_config_list.config} == {"alpha": "/srv/tf/alpha",
                                                                               "beta": "/srv/tf/beta"}
    assert parse_batching_file(files["batching_parameters_file"]).num_batch_threads.value == 3

    mirror = tmp_path / "mirror"
    sync_mirror(store, mirror, store.names())
    shadow = mirror / "alpha" / "3"
    assert (shadow / "saved_model.pb").is_symlink() and (shadow / "saved_model.pb").read_bytes() == b"pb"
    assert (shadow / "variables" / "variables.index").read_bytes() == b"index"
    per_model = parse_batching_file(shadow / PER_MODEL_BATCHING_FILE)
    assert (per_model.max_batch_size.value, list(per_model.allowed_batch_sizes)) == (16, [8, 16])
    assert not (mirror / "beta" / "7" / PER_MODEL_BATCHING_FILE).exists()  # beta does not batch
    assert not list((tmp_path / "store").rglob(PER_MODEL_BATCHING_FILE))  # the store is never written

    import shutil
    shutil.rmtree(tmp_path / "store" / "alpha" / "1")
    (tmp_path / "store" / "alpha" / "model.yaml").unlink()
    sync_mirror(store, mirror, ["alpha"])
    assert sorted(p.name for p in (mirror / "alpha").iterdir()) == ["3"]
    assert not (mirror / "beta").exists()
    assert not (mirror / "alpha" / "3" / PER_MODEL_BATCHING_FILE).exists()


def test_the_command_line_is_tensorflow_model_servers(tmp_path):
    backend = ManagedBackend("/usr/bin/tensorflow_model_server", tmp_path, work_dir=tmp_path / "work", port=8512)
    backend.files = write_tfserving_config(ModelStore(tmp_path), tmp_path / "work", [], str(backend.mirror))
    argv = backend.argv(backend.files["model_config_file"])
    assert argv[0] == "/usr/bin/tensorflow_model_server"
    assert all(a.startswith("--") and "=" in a for a in argv[1:]), argv
    args = tfs_parser().parse_args(argv[1:])
    assert (args.port, args.rest_api_port, args.enable_batching, args.enable_per_model_batching_parameters) == \
        (8512, 0, True, True)
    assert Path(args.model_config_file).exists() and Path(args.batching_parameters_file).exists()
    with pytest.raises(SystemExit):
        tfs_parser().parse_args(["--no_such_flag=1"])
