"""The interface a service implements; the servicer only converts and forwards to it."""

from __future__ import annotations

import abc
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from client.messages import ModelIndexEntry, ModelMetadata

from .model_config import ModelConfig, ServingFacts, model_config
from .stats import ModelStatsSnapshot


@dataclass
class InferRequest:
    model: str
    version: str  # "" = the default (highest) version
    inputs: dict[str, np.ndarray]
    outputs: tuple[str, ...] = ()  # requested outputs, in order; () = all
    id: str = ""
    parameters: Mapping[str, object] = field(default_factory=dict)
    deadline: float | None = None  # time.monotonic() deadline, from the caller's gRPC deadline

    def time_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()


@dataclass
class InferResult:
    model: str
    version: str
    outputs: dict[str, np.ndarray]
    id: str = ""
    parameters: Mapping[str, object] = field(default_factory=dict)


class Backend(abc.ABC):
    """What a service provides to the shared server core. All methods run on the server's loop."""

    server_name = "tandem"
    server_version = "0.1.0"
    extensions: tuple[str, ...] = ("model_repository", "statistics", "model_stream_infer")

    async def start(self) -> None:  # noqa: B027 - an optional hook: most backends have nothing to do
        """Load what must be loaded before serving (called once, before the port opens)."""

    async def stop(self) -> None:  # noqa: B027 - an optional hook, as start()
        """Release resources (called once, after in-flight requests finished)."""

    async def live(self) -> bool:
        return True

    @abc.abstractmethod
    async def ready(self) -> bool: ...

    @abc.abstractmethod
    async def model_ready(self, name: str, version: str) -> bool: ...

    @abc.abstractmethod
    async def model_metadata(self, name: str, version: str) -> ModelMetadata: ...

    async def serving_facts(self, name: str, version: str) -> ServingFacts:
        """How the model version is served (batching, workers); the default: one worker, no batching."""
        return ServingFacts(row_limit=1)

    async def model_config(self, name: str, version: str) -> ModelConfig:
        """Triton's ModelConfig, from the same facts as model_metadata (server_core.model_config)."""
        meta = await self.model_metadata(name, version)
        return model_config(meta, await self.serving_facts(name, version))

    @abc.abstractmethod
    async def infer(self, request: InferRequest) -> InferResult: ...

    @abc.abstractmethod
    async def repository_index(self, ready_only: bool) -> list[ModelIndexEntry]: ...

    @abc.abstractmethod
    async def load_model(self, name: str, parameters: Mapping[str, object]) -> None: ...

    @abc.abstractmethod
    async def unload_model(self, name: str, parameters: Mapping[str, object]) -> None: ...

    @abc.abstractmethod
    async def statistics(self, name: str, version: str) -> list[ModelStatsSnapshot]: ...
