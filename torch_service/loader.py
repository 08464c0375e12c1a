"""The torch_service Loader: archives in the model store -> ServedModels on the shared core.

For each version: open the archive safely (zips are extracted into a folder of their own under the
work directory, removed on unload), read model-config.yaml, resolve the handler, place the
workers on their devices, initialize one handler per worker, and wrap it all in a ServedModel
(signature checks, dynamic batching, statistics, draining come from server_core).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch

from client.parity.properties import PropertyError
from server_core.backend import InferRequest, InferResult
from server_core.errors import Unavailable
from server_core.model import ServedModel, Signature
from server_core.repository import Loader
from server_core.warmup import WarmupError

from . import warmup
from .archive import ArchiveError
from .config import ConfigError, ModelConfig, parse_config, read_config
from .devices import DevicePlanner, ThreadBudget
from .extract import DEFAULT_MAX_ARCHIVE_BYTES, OpenedArchive, open_archive
from .formats import ModelCache, ModelLoadError
from .handler import Context, HandlerError, handler_factory
from .pyload import forget
from .store import ModelStore, Source
from .worker import WorkerPool

log = logging.getLogger("tandem.torch.loader")
PLATFORM = "pytorch"
_EXPECTED = (ArchiveError, ConfigError, ModelLoadError, HandlerError, PropertyError, WarmupError)


class TorchServedModel(ServedModel):
    """A ServedModel whose requests also obey the model's responseTimeout; `release()` frees the
    workers and the extraction folder (called on unload, or directly if never started)."""

    def __init__(self, *args, pool: WorkerPool, response_timeout_s: float, release, **kwargs):
        super().__init__(*args, on_stop=release, **kwargs)
        self.pool = pool
        self.response_timeout_s = response_timeout_s
        self.release = release

    async def infer(self, request: InferRequest) -> InferResult:
        cap = time.monotonic() + self.response_timeout_s
        if request.deadline is None or request.deadline > cap:
            request.deadline = cap  # the request object is this call's own (built by the servicer)
        return await super().infer(request)


class TorchLoader(Loader):
    platform = PLATFORM

    def __init__(self, store: ModelStore, work_dir: Path, *, metrics=None, devices: DevicePlanner | None = None,
                 threads: ThreadBudget | None = None, default_device: str = "cpu",
                 max_archive_bytes: int = DEFAULT_MAX_ARCHIVE_BYTES):
        self.store = store
        self.work_dir = Path(work_dir)
        self.metrics = metrics
        self.devices = devices or DevicePlanner()
        self.threads = threads
        self.default_device = default_device
        self.max_archive_bytes = max_archive_bytes

    def names(self) -> list[str]:
        return self.store.names()

    def load(self, name: str) -> list[ServedModel]:
        try:
            sources = self.store.sources(name)
        except ArchiveError as e:
            raise Unavailable(str(e)) from None
        models: list[TorchServedModel] = []
        try:
            for source in sources:
                models.append(self._load_version(name, source))
        except BaseException:
            for m in models:
                m.release()
            raise
        return list(models)  # list[ServedModel]: list is invariant

    # ------------------------------------------------------------------ one version
    def _load_version(self, name: str, source: Source) -> TorchServedModel:
        label = source.path.name if source.version is None else f"{name}/{source.path.name}"
        try:
            archive = open_archive(source.path, self.work_dir / name, max_bytes=self.max_archive_bytes)
        except ArchiveError as e:
            raise Unavailable(str(e)) from None
        cache = ModelCache()
        factory = None
        try:
            manifest = archive.manifest
            if manifest.model_name != name:
                log.warning("%s: manifest modelName is %r; serving it as %r (the store path decides)", label,
                            manifest.model_name, name)
            version = source.version or manifest.model_version
            if source.version and manifest.model_version != source.version:
                log.warning("%s: manifest modelVersion is %r; serving it as version %s (the path decides)", label,
                            manifest.model_version, version)
            config = self._config(archive, label)
            factory = handler_factory(manifest, archive.root)
            devices = self.devices.place(name, config.device_type, config.device_ids, config.min_workers)
            workers = []
            for index, device in enumerate(devices):
                context = Context(name, version, archive.root, manifest, config, torch.device(device), index, cache)
                handler = factory.create()
                init = getattr(handler, "initialize", None)
                if callable(init):
                    init(context)
                workers.append((handler, context))
            return self._served(name, version, config, archive, factory, cache, workers, devices)
        except BaseException as e:
            cache.clear()
            forget(factory.module if factory else None)
            archive.close()
            if isinstance(e, _EXPECTED):
                raise Unavailable(f"{label}: {e}") from None
            if isinstance(e, Exception):
                log.warning("%s: loading failed", label, exc_info=True)
                raise Unavailable(f"{label}: {type(e).__name__}: {e}") from None
            raise

    def _config(self, archive: OpenedArchive, label: str) -> ModelConfig:
        config_file = archive.manifest.config_file
        if not config_file:
            raise ConfigError("the manifest names no configFile; archive with -c model-config.yaml declaring "
                              "tensors: {inputs: [...], outputs: [...]}")
        where = f"{config_file}"
        doc = read_config(archive.member(config_file, "configFile").read_bytes(), where)
        return parse_config(doc, where, default_device=self.default_device)

    def _served(self, name, version, config: ModelConfig, archive, factory, cache, workers, devices):
        pool = WorkerPool(name, version, config.outputs, workers, self.threads)
        key = f"{name}:{version}:{id(pool)}"
        if self.threads is not None:
            self.threads.register(key, sum(d == "cpu" for d in devices))
        released = False

        def release():
            nonlocal released
            if released:
                return
            released = True
            pool.close()
            cache.clear()
            forget(factory.module)
            archive.close()
            if self.threads is not None:
                self.threads.release(key)

        log.info("loaded %s version %s: handler %s, workers on %s, batchSize %d, maxBatchDelay %gms", name,
                 version, archive.manifest.handler, ", ".join(devices), config.batch_size,
                 config.max_batch_delay_ms)
        model = TorchServedModel(name, version, Signature(config.inputs, config.outputs), pool.run_batch,
                                 config.batching(), platform=PLATFORM, properties=config.properties,
                                 metrics=self.metrics, pool=pool, response_timeout_s=config.response_timeout_s,
                                 release=release)
        try:
            warmup.apply(model, archive.root, pool.run_batch)  # READY only after it ran (torch_service.warmup)
        except BaseException:
            release()
            raise
        return model
