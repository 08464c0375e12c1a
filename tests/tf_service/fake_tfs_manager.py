"""TEST FIXTURE (part of the TF Serving stand-in, see fake_tfserving.py): models, versions and their
states as TF Serving's ServerCore keeps them, loaded with real TensorFlow."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.config import model_server_config_pb2

from .fake_batching import parse_batching_file

State = get_model_status_pb2.ModelVersionStatus.State


@dataclass
class Servable:
    function_by_signature: dict
    signature_defs: dict
    batching: object = None  # BatchingParameters or None


@dataclass
class VersionState:
    state: int = State.START
    code: int = 0
    message: str = ""


@dataclass
class Model:
    base_path: str
    policy: model_server_config_pb2.ModelConfig
    versions: dict[int, VersionState] = field(default_factory=dict)


class Manager:
    """Models, versions and their states, as TF Serving's ServerCore keeps them."""

    def __init__(self, per_model_batching: bool = False, load_delay_s: float = 0.0):
        self.per_model_batching = per_model_batching
        self.load_delay_s = load_delay_s
        self.models: dict[str, Model] = {}
        self.servables: dict[tuple[str, int], Servable] = {}
        self.retired: dict[str, Model] = {}  # removed from the config: their versions stay END
        self.lock = threading.RLock()  # guards the maps; loads happen outside it
        self.reconciling = threading.Lock()  # one reconcile at a time (file system poll vs reload RPCs)

    def _wanted(self, model: Model) -> list[int]:
        try:
            found = sorted(int(p.name) for p in Path(model.base_path).iterdir() if p.is_dir() and p.name.isdigit())
        except OSError:
            return []
        policy = model.policy.model_version_policy
        which = policy.WhichOneof("policy_choice")
        if which == "all":
            return found
        if which == "specific":
            return [v for v in found if v in set(policy.specific.versions)]
        count = (policy.latest.num_versions or 1) if which == "latest" else 1
        return found[-count:]

    def _load(self, name: str, version: int, path: Path) -> VersionState:
        print(f"Loading servable: {{name: {name} version: {version}}}", file=sys.stderr, flush=True)
        if self.load_delay_s:
            time.sleep(self.load_delay_s)
        try:
            saved = saved_model_pb2.SavedModel()
            saved.ParseFromString((path / "saved_model.pb").read_bytes())
            defs = dict(saved.meta_graphs[0].signature_def)
            loaded = tf.saved_model.load(str(path))
            functions = {k: loaded.signatures[k] for k in loaded.signatures}
            batching = None
            if self.per_model_batching and (path / "batching_params.pbtxt").exists():
                batching = parse_batching_file(path / "batching_params.pbtxt")
        except tf.errors.OpError as e:
            return VersionState(State.END, e.error_code, e.message)
        except Exception as e:  # noqa: BLE001 - any load failure becomes the version's status
            return VersionState(State.END, grpc.StatusCode.DATA_LOSS.value[0], f"{type(e).__name__}: {e}")
        with self.lock:
            self.servables[(name, version)] = Servable(functions, defs, batching)
        return VersionState(State.AVAILABLE)

    def reconcile(self, name: str) -> list[str]:
        """Load wanted versions not loaded, unload the rest; returns load errors."""
        with self.reconciling:
            return self._reconcile(name)

    def _reconcile(self, name: str) -> list[str]:
        errors = []
        with self.lock:
            model = self.models.get(name)
        if model is None:
            return errors
        wanted = self._wanted(model)
        for version in wanted:
            if version in model.versions and model.versions[version].state != State.END:
                continue
            if version in model.versions and model.versions[version].code:
                continue  # failed before: TF Serving does not retry a version it could not load
            model.versions[version] = VersionState(State.LOADING)
            result = self._load(name, version, Path(model.base_path) / str(version))
            model.versions[version] = result
            if result.code:
                errors.append(f"{{name: {name} version: {version}}} due to error: {result.message}")
        for version, state in model.versions.items():
            if version not in wanted and state.state == State.AVAILABLE:
                state.state = State.UNLOADING
                with self.lock:
                    self.servables.pop((name, version), None)
                state.state = State.END
        return errors

    def apply(self, config: model_server_config_pb2.ModelServerConfig) -> list[str]:
        entries = {c.name: c for c in config.model_config_list.config}
        for c in entries.values():
            if c.model_platform not in ("", "tensorflow"):
                raise ValueError(f"Model {c.name} requests unsupported platform {c.model_platform}")
        with self.lock:
            removed = [n for n in self.models if n not in entries]
            new = [n for n in entries if n not in self.models]
            for name in removed:
                model = self.models.pop(name)
                for version, state in model.versions.items():
                    self.servables.pop((name, version), None)
                    state.state = State.END
                self.retired[name] = model
            for name in new:
                self.retired.pop(name, None)
                self.models[name] = Model(entries[name].base_path, entries[name])
        errors = []
        for name in new:
            errors += self.reconcile(name)
        return errors

    def poll_forever(self, interval: float, stop: threading.Event) -> None:
        while not stop.wait(interval):
            for name in list(self.models):
                self.reconcile(name)

    def status(self, name: str) -> Model | None:
        with self.lock:
            return self.models.get(name) or self.retired.get(name)

    def servable(self, name: str, version: int | None) -> tuple[int, Servable] | None:
        with self.lock:
            if version is None:
                model = self.models.get(name)
                ready = [v for v, s in (model.versions.items() if model else ()) if s.state == State.AVAILABLE]
                version = max(ready) if ready else None
            found = self.servables.get((name, version))
            return None if found is None else (version, found)
