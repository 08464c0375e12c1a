"""The tfserving backend: the OIP v2 contract in front of a running TF Serving.

TF Serving owns loading; this backend mirrors its state. A sync (at start, every poll interval,
after load/unload, and after a failed Predict) asks GetModelStatus for every model of the base path,
serves each AVAILABLE version through a `remote_model` (contract from GetModelMetadata + model.yaml),
and retires versions that left. When TF Serving cannot be reached, readiness is false and every call
answers UNAVAILABLE naming its address; the next successful sync recovers on its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from client.messages import ModelIndexEntry
from client.parity.properties import PropertyError
from server_core.backend import InferRequest, InferResult
from server_core.errors import NotFound, ServingError, Unavailable
from server_core.model import ServedModel
from server_core.repository import ResolvingBackend, pick_version
from server_core.stats import ModelStatsSnapshot

from .config import ConfigError, load_model_config
from .contract import ContractError, build_contract
from .remote import remote_model
from .store import ModelStore
from .tfs_client import TFServingClient, VersionStatus
from .tfs_management import NOT_LOADED, READY, UNAVAILABLE, RepositoryManagement

log = logging.getLogger("tandem.tf.tfserving")
_STATE = {"START": "LOADING", "LOADING": "LOADING", "AVAILABLE": READY, "UNLOADING": "UNLOADING",
          "END": UNAVAILABLE, "UNKNOWN": UNAVAILABLE}


@dataclass
class TFServingOptions:
    poll_s: float = 2.0
    load_timeout_s: float = 300.0
    inflight: int = 8  # Predicts in flight per version of an unbatched model
    drain_timeout_s: float = 30.0


@dataclass
class _Model:
    served: dict[str, ServedModel] = field(default_factory=dict)  # version -> model
    rows: list[ModelIndexEntry] = field(default_factory=list)
    state: str = UNAVAILABLE
    reason: str = NOT_LOADED
    config_stamp: object = None
    in_config: bool = False  # TF Serving's config holds it (some version not END)
    known: bool = False  # TF Serving reports versions of it (maybe all END: unloaded or failed)


def _version_key(v: str) -> int:
    return int(v)


class TFServingBackend(RepositoryManagement, ResolvingBackend):
    def __init__(self, address: str, base_path: Path, *, tfserving_base_path: str | None = None,
                 models=None, metrics=None, options: TFServingOptions | None = None):
        self.client = TFServingClient(address)
        self.store = ModelStore(base_path)
        self.tfserving_base_path = str(tfserving_base_path or base_path)
        self.options = options or TFServingOptions()
        self.metrics = metrics
        self._initial = None if models is None else list(models)
        self._models: dict[str, _Model] = {}
        self._refused: dict[str, str] = {}  # models refused before TF Serving saw them -> why
        self._reachable = False
        self._down = "not contacted yet"
        self._sync_lock = asyncio.Lock()
        self._poller: asyncio.Task | None = None
        self._pending: asyncio.Task | None = None
        self._retiring: set[asyncio.Task] = set()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        await self.sync()
        if self._initial is not None and self._reachable:  # --models: TF Serving serves exactly these
            try:
                await self._apply_config(set(self._initial))
            except ServingError as e:
                log.warning("TF Serving did not load every model of --models: %s", e.message)
            await self.sync()
        if not self._reachable:
            log.warning("TF Serving at %s is not reachable yet (%s); serving UNAVAILABLE until it is",
                        self.client.address, self._down)
        if self.options.poll_s > 0:
            self._poller = asyncio.ensure_future(self._poll())

    async def stop(self) -> None:
        for task in (self._poller, self._pending):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        async with self._sync_lock:
            for entry in self._models.values():
                for model in entry.served.values():
                    self._retire(model)
                entry.served = {}
        await asyncio.gather(*self._retiring, return_exceptions=True)
        await self.client.close()

    async def ready(self) -> bool:
        return self._reachable

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.options.poll_s)
            try:
                await self.sync()
            except Exception:  # noqa: BLE001 - the poll must outlive any one failure
                log.exception("syncing with TF Serving failed")

    def poke(self) -> None:
        """Sync soon (after a failed call), once at a time."""
        if self._pending is None or self._pending.done():
            self._pending = asyncio.ensure_future(self.sync())

    def _retire(self, model: ServedModel) -> None:
        task = asyncio.ensure_future(model.stop(self.options.drain_timeout_s))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    # ------------------------------------------------------------------ mirroring TF Serving's state
    def names(self) -> list[str]:
        return sorted(set(self.store.names()) | set(self._models))

    async def sync(self, names=None) -> None:
        async with self._sync_lock:
            try:
                for name in names or self.names():
                    statuses, problem = None, None
                    try:
                        statuses = await self.client.status(name)
                    except Unavailable:
                        raise
                    except Exception as e:  # noqa: BLE001 - one model's odd answer must not stop the sync
                        log.warning("TF Serving's status of %s: %s", name, e)
                        problem = f"TF Serving cannot report its status: {getattr(e, 'message', e)}"
                    await self._sync_model(name, statuses, problem)
            except Unavailable as e:
                if self._reachable:
                    log.warning("lost TF Serving: %s", e.message)
                self._reachable, self._down = False, e.message
                return
            if not self._reachable:
                log.info("TF Serving at %s is reachable", self.client.address)
            self._reachable = True

    async def _sync_model(self, name: str, statuses: list[VersionStatus] | None, problem: str | None = None) -> None:
        entry = self._models.setdefault(name, _Model())
        entry.known = bool(statuses)
        entry.in_config = entry.known and any(s.state != "END" for s in statuses or ())
        try:
            config = load_model_config(self.store.base_path / name)
            config_error = None
        except ConfigError as e:
            config, config_error = None, str(e)
        stamp = self.store.fingerprint(name)[1]
        available = {str(s.version) for s in statuses or () if s.state == "AVAILABLE"}
        for version in list(entry.served):
            if version not in available or stamp != entry.config_stamp or config_error:
                self._retire(entry.served.pop(version))
        entry.config_stamp = stamp
        errors: dict[str, str] = {}
        for version in sorted(available - set(entry.served), key=_version_key):
            if config_error:
                errors[version] = config_error
                continue
            assert config is not None  # loaded whenever there is no config_error
            try:
                contract = build_contract(await self.client.signature_defs(name, int(version)), config)
            except ContractError as e:
                errors[version] = str(e)
                continue
            except Unavailable:
                raise
            except ServingError as e:
                errors[version] = e.message
                continue
            try:
                model = remote_model(self.client, name, int(version), contract, config,
                                     inflight=self.options.inflight, metrics=self.metrics)
            except PropertyError as e:  # a malformed contract property: the version is not served
                errors[version] = str(e)
                continue
            model.start()
            entry.served[version] = model
        self._index(name, entry, statuses, errors, problem)

    def _index(self, name: str, entry: _Model, statuses, errors: Mapping[str, str], problem: str | None) -> None:
        if not statuses:
            reason = problem or self._refused.get(name, NOT_LOADED)
            entry.rows = [ModelIndexEntry(name, "", UNAVAILABLE, reason)]
            entry.state, entry.reason = UNAVAILABLE, reason
            return
        rows = []
        for s in statuses:
            version = str(s.version)
            state = _STATE.get(s.state, UNAVAILABLE)
            reason = s.error_message or ("unloaded" if s.state == "END" else "")
            if state == READY and version not in entry.served:
                state, reason = UNAVAILABLE, errors.get(version, "not yet served")
            rows.append(ModelIndexEntry(name, version, state, "" if state == READY else reason))
        entry.rows = rows
        if not entry.served:
            last = rows[-1]
            entry.state, entry.reason = last.state, last.reason or last.state.lower()

    # ------------------------------------------------------------------ lookups and inference
    def resolve(self, name: str, version: str = "") -> ServedModel:
        if not self._reachable:
            raise self.client.unreachable(self._down)
        entry = self._models.get(name)
        if entry is None or (not entry.served and name not in self.store.names()):  # no store scan per request
            known = ", ".join(self.names()) or "none"
            raise NotFound(f"model '{name}' is not in the repository; available models: {known}")
        if not entry.served:
            raise Unavailable(f"model '{name}' is {entry.state}: {entry.reason}")
        return pick_version(name, entry.served, version)

    def loaded_versions(self, name: str):
        return self._models[name].served

    async def infer(self, request: InferRequest) -> InferResult:
        try:
            model = self.resolve(request.model, request.version)
        except Unavailable:
            if not self._reachable:
                self.poke()  # TF Serving was down at the last sync: look again now
            raise
        try:
            return await model.infer(request)
        except Unavailable:
            self.poke()  # the Predict found TF Serving down, or the version is leaving: mirror its state
            raise

    async def statistics(self, name: str, version: str) -> list[ModelStatsSnapshot]:
        if not name:
            models = [m for e in self._models.values() for m in e.served.values()]
        elif version:
            models = [self.resolve(name, version)]
        else:
            self.resolve(name)
            models = list(self._models[name].served.values())
        return [m.stats.snapshot() for m in sorted(models, key=lambda m: (m.name, _version_key(m.version)))]
