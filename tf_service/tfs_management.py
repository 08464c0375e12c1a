"""The repository extension of the tfserving backend: RepositoryIndex from TF Serving's statuses,
RepositoryModelLoad / Unload as HandleReloadConfigRequest (model names from the base path only).

TF Serving's reload replaces its whole model list, so the list sent is what it serves now (as of
the last sync) plus or minus the one model; models that are not loadable SavedModels are refused
before TF Serving sees them, with the reason kept for the index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from client.messages import ModelIndexEntry
from server_core.errors import NotFound, ServingError, Unavailable

from .config import ConfigError, load_model_config
from .store import StoreError
from .tfs_config import model_server_config

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .store import ModelStore
    from .tfs_client import TFServingClient
    from .tfserving import TFServingOptions, _Model

READY, UNAVAILABLE = "READY", "UNAVAILABLE"
NOT_LOADED = "not loaded in TF Serving (load it with RepositoryModelLoad)"


class RepositoryManagement:
    """Mixed into TFServingBackend (uses its client, store, options, sync and model states)."""

    # What TFServingBackend provides (declared for the type checker; set in its __init__).
    client: TFServingClient
    store: ModelStore
    options: TFServingOptions
    tfserving_base_path: str
    _models: dict[str, _Model]
    _refused: dict[str, str]
    _reachable: bool
    _down: str

    if TYPE_CHECKING:
        def names(self) -> list[str]: ...

        async def sync(self, names: Iterable[str] | None = None) -> None: ...

    async def repository_index(self, ready_only: bool) -> list[ModelIndexEntry]:
        if not self._reachable:
            reason = self.client.unreachable(self._down).message
            return [] if ready_only else [ModelIndexEntry(n, "", UNAVAILABLE, reason) for n in self.names()]
        rows = []
        for name in self.names():
            entry = self._models.get(name)
            for row in entry.rows if entry else [ModelIndexEntry(name, "", UNAVAILABLE, NOT_LOADED)]:
                if row.state == READY or not ready_only:
                    rows.append(row)
        return rows

    def configured(self) -> set[str]:
        """The models TF Serving's config holds, as of the last sync."""
        return {name for name, entry in self._models.items() if entry.in_config}

    def check_loadable(self, name: str) -> None:
        """Refuse before TF Serving sees it: a bad model.yaml, or no version that is a SavedModel."""
        load_model_config(self.store.base_path / name)
        versions = self.store.versions(name)
        if not versions:
            raise StoreError(f"no version folders in {name}/ (expected {name}/<integer version>/saved_model.pb)")
        problems = []
        for version in versions:
            try:
                self.store.signature_defs(name, version)
                return
            except StoreError as e:
                problems.append(str(e))
        raise StoreError("; ".join(problems))

    async def _sync_reachable(self, name: str) -> None:
        await self.sync([name])
        if not self._reachable:
            raise self.client.unreachable(self._down)

    def base_path_for(self, name: str) -> str:
        return f"{self.tfserving_base_path.rstrip('/')}/{name}"

    async def _apply_config(self, names: set[str]) -> None:
        config = model_server_config({n: self.base_path_for(n) for n in names})
        await self.client.reload(config, self.options.load_timeout_s)

    async def load_model(self, name: str, parameters) -> None:
        if name not in self.store.names():
            known = ", ".join(self.store.names()) or "none"
            raise NotFound(f"model '{name}' is not in the model store; loadable models: {known}")
        try:
            self.check_loadable(name)
        except (ConfigError, StoreError) as e:
            self._refused[name] = f"load failed: {e}"
            await self.sync([name])
            raise Unavailable(f"model '{name}' failed to load: {e}") from None
        self._refused.pop(name, None)
        await self._sync_reachable(name)
        current = self.configured()
        try:
            if self._models[name].known and name not in current:
                await self._apply_config(current)  # TF Serving retries only models new to its config
            await self._apply_config(current | {name})
        except Unavailable:
            raise
        except ServingError as e:
            await self.sync([name])
            raise Unavailable(f"model '{name}' failed to load: {e.message}") from None
        await self.sync([name])
        entry = self._models[name]
        if not entry.served:
            raise Unavailable(f"model '{name}' failed to load: {entry.reason}")

    async def unload_model(self, name: str, parameters) -> None:
        if name not in self.names():
            known = ", ".join(self.names()) or "none"
            raise NotFound(f"model '{name}' is not in the repository; available models: {known}")
        await self._sync_reachable(name)
        current = self.configured()
        if name in current:
            await self._apply_config(current - {name})
        await self.sync([name])
