"""The embedded backend: SavedModels loaded in-process with `tf.saved_model.load`, run through the
shared batcher with the model's TF Serving batching settings, hot-(un)loaded as version folders
appear and vanish (a poll on the base path, like TF Serving's file system source).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import tensorflow as tf

from server_core.batcher import BatchingConfig
from server_core.errors import ServingError
from server_core.model import ServedModel, Signature
from server_core.repository import Loader, RepositoryBackend

from . import warmup
from .config import ModelConfig, load_model_config
from .contract import Contract, build_contract
from .errors import from_op_error
from .served import PLATFORM, TFModel
from .store import SAVED_MODEL_PB, ModelStore, StoreError

log = logging.getLogger("tandem.tf.embedded")
# Without a batching section: one request per execution, a few executions at once.
UNBATCHED = BatchingConfig(max_batch_size=1, max_queue=256, workers=max(1, min(4, os.cpu_count() or 1)))


def _pad(inputs: dict[str, np.ndarray], rows: int, allowed: tuple[int, ...]) -> int:
    """Pad every input along dim 0 to the smallest allowed batch size >= rows (repeating the last
    row, as TF Serving does); returns the padded size (== rows when no padding applies)."""
    if not allowed or rows == 0 or rows > allowed[-1] or rows in allowed:
        return rows
    target = next(size for size in allowed if size >= rows)
    for name, array in inputs.items():
        inputs[name] = np.concatenate([array, np.repeat(array[-1:], target - rows, axis=0)])
    return target


class SignatureRunner:
    """Calls one SignatureDef of a loaded SavedModel with contract-named numpy inputs."""

    def __init__(self, model: str, function, contract: Contract, allowed_batch_sizes: tuple[int, ...] = ()):
        self.model = model
        self._fn = function
        self._contract = contract
        self._allowed = allowed_batch_sizes

    def __call__(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        inputs = dict(inputs)
        first = next(iter(inputs.values()))
        rows = first.shape[0] if first.ndim else 0
        padded = _pad(inputs, rows, self._allowed) if self._allowed else rows
        keys = self._contract.input_keys
        feeds = {keys[name]: tf.convert_to_tensor(array) for name, array in inputs.items()}
        try:
            results = self._fn(**feeds)
        except tf.errors.OpError as e:
            raise from_op_error(e, model=self.model) from None
        out = {}
        for name, key in self._contract.output_keys.items():
            value = results[key].numpy()
            if padded != rows and value.ndim and value.shape[0] == padded:
                value = value[:rows]
            out[name] = value
        return out


class EmbeddedLoader(Loader):
    """Loads every version folder of a model; loaded SavedModels are kept while their
    saved_model.pb is unchanged, so a hot reload only loads what is new."""

    platform = PLATFORM

    def __init__(self, store: ModelStore, metrics=None):
        self.store = store
        self.metrics = metrics
        self._loaded: dict[tuple[str, int], tuple[int, object]] = {}  # (name, version) -> (mtime, SavedModel)
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return self.store.names()

    def forget(self, name: str) -> None:
        with self._lock:
            for key in [k for k in self._loaded if k[0] == name]:
                del self._loaded[key]

    def _saved_model(self, name: str, version: int):
        path = self.store.base_path / name / str(version)
        stamp = (path / SAVED_MODEL_PB).stat().st_mtime_ns
        with self._lock:
            cached = self._loaded.get((name, version))
        if cached and cached[0] == stamp:
            return cached[1]
        loaded = tf.saved_model.load(str(path), tags=["serve"])
        with self._lock:
            self._loaded[(name, version)] = (stamp, loaded)
        return loaded

    def _version(self, name: str, version: int, config: ModelConfig) -> ServedModel:
        contract = build_contract(self.store.signature_defs(name, version), config)
        loaded = self._saved_model(name, version)
        function = loaded.signatures[contract.signature]
        batching = config.batching
        runner = SignatureRunner(name, function, contract, batching.allowed_batch_sizes if batching else ())
        # The batch-size limit (TF Serving's max_batch_size) is the shared contract's, from the batching.
        model = TFModel(name, str(version), Signature(contract.inputs, contract.outputs), runner,
                        batching.batcher_config() if batching else UNBATCHED, properties=config.properties,
                        metrics=self.metrics)
        # READY only after TF Serving's warm-up requests ran (tf_service.warmup)
        warmup.apply(model, self.store.base_path / name / str(version), contract.input_keys, runner)
        return model

    def load(self, name: str) -> list[ServedModel]:
        config = load_model_config(self.store.base_path / name)
        versions = self.store.versions(name)
        if not versions:
            raise StoreError(f"no version folders in {name}/ (expected {name}/<integer version>/{SAVED_MODEL_PB})")
        with self._lock:
            for key in [k for k in self._loaded if k[0] == name and k[1] not in versions]:
                del self._loaded[key]
        models, failures = [], []
        for version in versions:
            try:
                models.append(self._version(name, version, config))
            except StoreError as e:  # the store's messages name the version already
                failures.append(str(e))
            except Exception as e:  # noqa: BLE001 - one bad version must not hide the good ones
                text = str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"
                failures.append(f"version {version}: {text}")
        if not models:
            raise StoreError("; ".join(failures))
        for failure in failures:
            log.warning("model %s: skipping a version that does not load: %s", name, failure)
        return models


class EmbeddedBackend(RepositoryBackend):
    """RepositoryBackend over the embedded loader, plus the base-path poll for hot (un)loading."""

    loader: EmbeddedLoader

    def __init__(self, base_path: Path, *, metrics=None, poll_s: float = 2.0, models=None,
                 drain_timeout: float = 30.0):
        self.store = ModelStore(base_path)
        super().__init__(EmbeddedLoader(self.store, metrics), models, drain_timeout=drain_timeout)
        self.poll_s = poll_s
        self._watched: dict[str, tuple] = {}  # models to keep in sync -> fingerprint at the last load
        self._watcher: asyncio.Task | None = None

    async def start(self) -> None:
        names = self.store.names() if self._initial is None else self._initial
        self._watched = {name: self.store.fingerprint(name) for name in names}
        await super().start()
        if self.poll_s > 0:
            self._watcher = asyncio.ensure_future(self._watch())

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
        await super().stop()

    async def load_model(self, name: str, parameters) -> None:
        if name in self.store.names():
            self._watched[name] = self.store.fingerprint(name)
        await super().load_model(name, parameters)

    async def unload_model(self, name: str, parameters) -> None:
        await super().unload_model(name, parameters)
        self._watched.pop(name, None)
        self.loader.forget(name)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                await self.rescan()
            except Exception:  # noqa: BLE001 - the poll must survive anything the disk does
                log.exception("rescanning %s failed", self.store.base_path)

    async def rescan(self) -> None:
        """Reload watched models whose version folders or model.yaml changed; unload vanished ones."""
        for name, seen in list(self._watched.items()):
            now = self.store.fingerprint(name)
            if now == seen:
                continue
            self._watched[name] = now
            if not now[0]:
                log.info("model %s: no version folders left; unloading", name)
                try:
                    await RepositoryBackend.unload_model(self, name, {})
                except ServingError:
                    pass  # never loaded and gone from the store: nothing to unload
                self.loader.forget(name)
                continue
            log.info("model %s changed on disk (versions %s); reloading", name, ", ".join(map(str, now[0])))
            try:
                await RepositoryBackend.load_model(self, name, {})
            except ServingError as e:
                log.warning("hot reload of %s failed: %s", name, e.message)
