"""A Backend over a model store: loading, versions, states, management, statistics.

Each service supplies a `Loader` (what is in its store, how to load one model's versions); the
repository does the rest, so both services behave the same for the same mistakes.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from client.messages import ModelIndexEntry, ModelMetadata

from .backend import Backend, InferRequest, InferResult
from .errors import NotFound, ServingError, Unavailable
from .model import ServedModel
from .model_config import ServingFacts, serving_facts
from .stats import ModelStatsSnapshot

log = logging.getLogger("tandem.repository")

READY, UNAVAILABLE, LOADING, UNLOADING = "READY", "UNAVAILABLE", "LOADING", "UNLOADING"


class Loader(abc.ABC):
    """What a service knows about its store."""

    platform: str = ""

    @abc.abstractmethod
    def names(self) -> list[str]:
        """Model names present in the store."""

    @abc.abstractmethod
    def load(self, name: str) -> list[ServedModel]:
        """Load every version of `name` (blocking; runs on a thread). Raise to mark it UNAVAILABLE;
        the exception's text becomes the reason shown in RepositoryIndex."""


def _version_key(v: str):
    return (0, int(v)) if v.isdigit() else (1, v)


def pick_version(name: str, versions: Mapping[str, ServedModel], version: str = "") -> ServedModel:
    """`version` of a model's loaded versions; "" = the highest. NotFound names the versions there are."""
    if not version:
        return versions[max(versions, key=_version_key)]
    model = versions.get(version)
    if model is None:
        have = ", ".join(sorted(versions, key=_version_key))
        raise NotFound(f"model '{name}' has no version '{version}'; versions: {have}")
    return model


class ResolvingBackend(Backend):
    """ModelReady, ModelMetadata and ModelInfer for a backend that resolves (name, version) to a
    loaded ServedModel: each repository only says how it resolves and which versions a model has."""

    @abc.abstractmethod
    def resolve(self, name: str, version: str = "") -> ServedModel:
        """The ServedModel; NotFound / Unavailable with the reason otherwise."""

    @abc.abstractmethod
    def loaded_versions(self, name: str) -> Iterable[str]:
        """The versions of `name` now loaded (called after resolve succeeded)."""

    async def model_ready(self, name: str, version: str) -> bool:
        try:
            self.resolve(name, version)
        except ServingError:
            return False
        return True

    async def model_metadata(self, name: str, version: str) -> ModelMetadata:
        model = self.resolve(name, version)
        versions = tuple(sorted(self.loaded_versions(name), key=_version_key))
        return ModelMetadata(name, versions, model.platform, model.signature.inputs, model.signature.outputs,
                             model.properties)

    async def serving_facts(self, name: str, version: str) -> ServingFacts:
        return serving_facts(self.resolve(name, version))

    async def infer(self, request: InferRequest) -> InferResult:
        return await self.resolve(request.model, request.version).infer(request)


@dataclass
class _Entry:
    state: str = UNAVAILABLE
    reason: str = "not loaded"
    versions: dict[str, ServedModel] = field(default_factory=dict)


class RepositoryBackend(ResolvingBackend):
    def __init__(self, loader: Loader, models: Iterable[str] | None = None, *, drain_timeout: float = 30.0):
        self.loader = loader
        self._initial = None if models is None else list(models)
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._drain_timeout = drain_timeout
        self._started = False

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        names = self.loader.names() if self._initial is None else self._initial
        for name in names:
            try:
                await self._load(name)
            except ServingError as e:
                log.warning("model %s not loaded: %s", name, e.message)
        self._started = True

    async def stop(self) -> None:
        self._started = False
        for name in list(self._entries):
            await self._unload(name)

    async def ready(self) -> bool:
        return self._started

    # ------------------------------------------------------------------ lookups
    def _entry(self, name: str) -> _Entry:
        entry = self._entries.get(name)
        if entry is None:
            if name in self.loader.names():
                raise Unavailable(f"model '{name}' is not loaded (load it with RepositoryModelLoad)")
            known = ", ".join(sorted(set(self.loader.names()) | set(self._entries))) or "none"
            raise NotFound(f"model '{name}' is not in the repository; available models: {known}")
        return entry

    def resolve(self, name: str, version: str = "") -> ServedModel:
        entry = self._entry(name)
        if entry.state != READY:
            raise Unavailable(f"model '{name}' is {entry.state}: {entry.reason}")
        return pick_version(name, entry.versions, version)

    def loaded_versions(self, name: str) -> Iterable[str]:
        return self._entries[name].versions

    # ------------------------------------------------------------------ repository extension
    async def repository_index(self, ready_only: bool) -> list[ModelIndexEntry]:
        rows = []
        for name in sorted(set(self.loader.names()) | set(self._entries)):
            entry = self._entries.get(name, _Entry())
            if entry.state == READY:
                rows += [ModelIndexEntry(name, v, READY, "") for v in sorted(entry.versions, key=_version_key)]
            elif not ready_only:
                rows.append(ModelIndexEntry(name, "", entry.state, entry.reason))
        return rows

    async def load_model(self, name: str, parameters: Mapping[str, object]) -> None:
        if name not in self.loader.names():
            known = ", ".join(sorted(self.loader.names())) or "none"
            raise NotFound(f"model '{name}' is not in the model store; loadable models: {known}")
        await self._load(name)

    async def unload_model(self, name: str, parameters: Mapping[str, object]) -> None:
        if name not in self._entries:
            self._entry(name)  # raises NotFound for unknown names
            return  # known but not loaded: nothing to do
        await self._unload(name)

    async def _load(self, name: str) -> None:
        async with self._locks.setdefault(name, asyncio.Lock()):
            entry = self._entries.setdefault(name, _Entry())
            old = dict(entry.versions) if entry.state == READY else {}
            if not old:
                entry.state, entry.reason = LOADING, "loading"
            try:
                models = await asyncio.get_running_loop().run_in_executor(None, self.loader.load, name)
                if not models:
                    raise ValueError("no loadable versions found")
            except Exception as e:  # noqa: BLE001 - a model that fails to load must not stop the others
                reason = e.message if isinstance(e, ServingError) else f"{type(e).__name__}: {e}"
                log.warning("loading %s failed: %s", name, reason, exc_info=not isinstance(e, ServingError))
                if not old:
                    entry.state, entry.reason = UNAVAILABLE, f"load failed: {reason}"
                raise Unavailable(f"model '{name}' failed to load: {reason}") from None
            for m in models:
                m.start()
            entry.versions = {m.version: m for m in models}
            entry.state, entry.reason = READY, ""
            for m in old.values():
                await m.stop(self._drain_timeout)
            log.info("model %s ready (versions %s)", name, ", ".join(sorted(entry.versions, key=_version_key)))

    async def _unload(self, name: str) -> None:
        async with self._locks.setdefault(name, asyncio.Lock()):
            entry = self._entries.get(name)
            if entry is None:
                return
            versions = list(entry.versions.values())
            entry.state, entry.reason = UNLOADING, "unloading"
            for m in versions:
                await m.stop(self._drain_timeout)
            entry.versions = {}
            entry.state, entry.reason = UNAVAILABLE, "unloaded"

    # ------------------------------------------------------------------ statistics
    async def statistics(self, name: str, version: str) -> list[ModelStatsSnapshot]:
        if not name:
            models = [m for e in self._entries.values() for m in e.versions.values()]
        elif version:
            models = [self.resolve(name, version)]
        else:
            self.resolve(name)
            models = list(self._entries[name].versions.values())
        return [m.stats.snapshot() for m in sorted(models, key=lambda m: (m.name, _version_key(m.version)))]
