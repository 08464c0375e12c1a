"""TorchServe-style handlers over a whole batch of named tensors.

A handler has `initialize(context)` (load the model), `preprocess`, `inference` (run under
`torch.inference_mode`), `postprocess` and `handle(data, context)` chaining them. Unlike TorchServe,
`data` is not a list of opaque request bodies: it is a dict of named numpy arrays, already decoded,
checked against the declared signature and concatenated along the first dimension for the batch;
`handle` returns a dict of named outputs (tensors or numpy arrays) with one row per input row.

The default (`base_handler`, "tensors in, tensors out") passes the declared inputs to the model
positionally in declared order and names its output(s) in declared order. A custom handler is a
.py file in the archive (`--handler my_handler.py`) defining one `BaseHandler` subclass, or a
module-level `handle(data, context)` function (and optionally `initialize(context)`);
`my_handler.py:entry` picks a method or function by name. Import it as
`from torch_service.handler import BaseHandler`. Each worker gets its own handler instance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from client.messages import TensorSpec

from .archive import BUILTIN_HANDLERS, Manifest
from .config import ModelConfig
from .extract import resolve_member
from .formats import ModelCache, load_model
from .pyload import classes_defined_in, import_file
from .tensors import to_torch


class HandlerError(ValueError):
    """The archive's handler cannot be found or used; the text says what was expected."""


@dataclass
class Context:
    """What a handler knows about its model and worker (TorchServe's context, plus our signature)."""

    model_name: str
    model_version: str
    model_dir: Path
    archive_manifest: Manifest
    config: ModelConfig
    device: torch.device
    worker_index: int = 0
    cache: ModelCache = field(default_factory=ModelCache, repr=False)

    @property
    def manifest(self) -> Mapping:
        """The raw MANIFEST.json document (TorchServe: `context.manifest["model"]["serializedFile"]`)."""
        return self.archive_manifest.raw

    @property
    def system_properties(self) -> dict:
        gpu_id = self.device.index if self.device.type == "cuda" else None
        return {"model_dir": str(self.model_dir), "gpu_id": gpu_id, "batch_size": self.config.batch_size,
                "device": str(self.device), "server_name": "tandem torch_service"}

    @property
    def model_yaml_config(self) -> Mapping:
        return self.config.raw

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return self.config.inputs

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return self.config.outputs


def name_outputs(result, specs: Sequence[TensorSpec]) -> dict:
    """Name a model's return value: a mapping as it is, a tuple/list positionally, one tensor as the
    first (only) declared output."""
    names = [s.name for s in specs]
    if isinstance(result, Mapping):
        return dict(result)
    if isinstance(result, (tuple, list)):
        if len(result) != len(names):
            raise ValueError(f"the model returned {len(result)} outputs, the config declares {len(names)}: "
                             f"{', '.join(names)}")
        return dict(zip(names, result))
    if len(names) != 1:
        raise ValueError(f"the model returned one tensor, the config declares {len(names)} outputs: "
                         f"{', '.join(names)}")
    return {names[0]: result}


class BaseHandler:
    """The default handler, and the base class for custom ones."""

    def __init__(self):
        self.context: Context | None = None
        self.device: torch.device | None = None
        self.model = None
        self.initialized = False

    def initialize(self, context: Context) -> None:
        self.context = context
        self.device = context.device
        self.model = load_model(context)
        self.initialized = True

    def preprocess(self, data: Mapping[str, np.ndarray]) -> list:
        """Declared inputs, in declared order, as tensors on the worker's device."""
        assert self.context is not None and self.device is not None, "initialize() first"
        return [to_torch(data[spec.name], self.device) for spec in self.context.inputs]

    def inference(self, data, *args, **kwargs):
        return self.model(*data, *args, **kwargs)

    def postprocess(self, data) -> dict:
        assert self.context is not None, "initialize() first"
        return name_outputs(data, self.context.outputs)

    def handle(self, data: Mapping[str, np.ndarray], context: Context) -> dict:
        inputs = self.preprocess(data)
        if torch.is_inference_mode_enabled():  # the worker entered it already
            outputs = self.inference(inputs)
        else:
            with torch.inference_mode():
                outputs = self.inference(inputs)
        return self.postprocess(outputs)


class _FunctionHandler:
    """A module-level `handle(data, context)` (and optional `initialize(context)`)."""

    def __init__(self, module: ModuleType, entry: str):
        self._module = module
        self._entry = getattr(module, entry)

    def initialize(self, context: Context) -> None:
        init = getattr(self._module, "initialize", None)
        if callable(init):
            init(context)

    def handle(self, data, context):
        return self._entry(data, context)


class _MethodHandler:
    """A handler class whose entry point is a method other than `handle`."""

    def __init__(self, instance, entry: str):
        self._instance = instance
        self._entry = getattr(instance, entry)

    def initialize(self, context: Context) -> None:
        init = getattr(self._instance, "initialize", None)
        if callable(init):
            init(context)

    def handle(self, data, context):
        return self._entry(data, context)


@dataclass
class HandlerFactory:
    """Makes one handler instance per worker; `module` is the custom handler's module, if any."""

    kind: str
    module: ModuleType | None = None
    cls: type | None = None
    entry: str = "handle"

    def create(self):
        if self.cls is None:
            return _FunctionHandler(self.module, self.entry)
        instance = self.cls()
        return instance if self.entry == "handle" else _MethodHandler(instance, self.entry)


def handler_factory(manifest: Manifest, model_dir: Path) -> HandlerFactory:
    """Resolve the manifest's `handler`: a built-in name, or `file.py[:entry]` inside the archive."""
    if manifest.handler in BUILTIN_HANDLERS:
        return HandlerFactory("builtin", cls=BaseHandler)
    file = manifest.handler_file
    assert file is not None  # a handler that is not built in names a file
    entry = manifest.handler.partition(":")[2] or "handle"
    if not (model_dir / file).exists():
        raise HandlerError(f"handler {manifest.handler!r} is neither a built-in handler "
                           f"({', '.join(BUILTIN_HANDLERS)}) nor a file in the archive ({file} is missing)")
    path = resolve_member(model_dir, file, "handler file", model_dir.name)  # inside the archive, no links out
    try:
        module = import_file(path, model_dir)
    except Exception as e:  # noqa: BLE001 - the user's handler failed to import
        raise HandlerError(f"handler file '{file}' failed to import: {type(e).__name__}: {e}") from None
    classes = classes_defined_in(module, BaseHandler) or [
        c for c in classes_defined_in(module, object) if callable(getattr(c, entry, None))]
    if len(classes) > 1:
        names = ", ".join(c.__name__ for c in classes)
        raise HandlerError(f"handler file '{file}' defines several handler classes ({names}); keep one")
    if classes:
        return HandlerFactory("class", module, classes[0], entry)
    if callable(getattr(module, entry, None)):
        return HandlerFactory("function", module, None, entry)
    raise HandlerError(f"handler file '{file}' defines no handler: expected one BaseHandler subclass or a "
                       f"module-level {entry}(data, context) function")
