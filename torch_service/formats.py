"""Loading a model from an archive's serializedFile, in the three formats TorchServe users have:

- `.pt2`: a `torch.export` program (`torch.export.save`), loaded with `torch.export.load`;
- a model file (`modelFile`, a .py defining exactly one `torch.nn.Module` subclass constructible
  without arguments) + a state_dict loaded with `torch.load(weights_only=True)` (eager mode);
- anything else: a TorchScript program (`torch.jit.save`), loaded with `torch.jit.load`.

Workers of one model version on the same device share one loaded model (forward passes under
inference_mode are re-entrant), so N workers do not mean N copies of the weights.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

import torch

from .archive import Manifest
from .pyload import classes_defined_in, forget, import_file

EXPORT, EAGER, TORCHSCRIPT = "torch.export", "eager", "torchscript"


class ModelLoadError(ValueError):
    """The serialized model cannot be loaded; the text says which file and what was expected."""


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(line.strip() for line in str(exc).strip().splitlines() if line.strip())
    return f"{type(exc).__name__}: {text[:limit]}"


class ModelCache:
    """Models loaded for one model version, one per device; and the modules imported for them."""

    def __init__(self):
        self._models: dict[str, object] = {}
        self._lock = threading.Lock()
        self.modules: list = []

    def get(self, device: torch.device, load: Callable[[], object]):
        with self._lock:
            key = str(device)
            if key not in self._models:
                self._models[key] = load()
            return self._models[key]

    def clear(self) -> None:
        with self._lock:
            self._models.clear()
            for module in self.modules:
                forget(module)
            self.modules.clear()


class LoadContext(Protocol):
    """What loading needs from a handler's context (`torch_service.handler.Context` is one); a
    protocol, so this module does not import the handler module that imports it."""

    model_dir: Path
    archive_manifest: Manifest
    device: torch.device
    cache: ModelCache


def model_format(serialized_file: str, model_file: str | None) -> str:
    if serialized_file.endswith(".pt2"):
        return EXPORT
    return EAGER if model_file else TORCHSCRIPT


def load_model(context: LoadContext):
    """The model of `context`'s archive on `context.device` (shared by workers on that device)."""
    return context.cache.get(context.device, lambda: _no_grad(_load(context)))


def _no_grad(model):
    """Serving never needs gradients: with parameters that do not require them, autograd records
    nothing even outside inference_mode, and TorchScript builds no differentiable graphs (which
    fail on inference tensors when a model first ran with grad enabled)."""
    for parameter in getattr(model, "parameters", lambda: ())():
        parameter.requires_grad_(False)
    return model


def _load(context: LoadContext):
    manifest = context.archive_manifest
    if not manifest.serialized_file:
        raise ModelLoadError("the manifest names no serializedFile; the base handler loads the model from it "
                             "(archive with --serialized-file)")
    path = context.model_dir / manifest.serialized_file
    kind = model_format(manifest.serialized_file, manifest.model_file)
    name = manifest.serialized_file
    device = context.device
    if kind == EXPORT:
        try:
            program = torch.export.load(str(path))
        except Exception as e:  # noqa: BLE001 - any failure here means "not a loadable .pt2"
            raise ModelLoadError(f"serializedFile '{name}' is not a torch.export program saved with "
                                 f"torch.export.save ({_short(e)})") from None
        module = program.module()
        return module if device.type == "cpu" else module.to(device)
    if kind == EAGER:
        return _load_eager(context, path, name, device)
    try:
        module = torch.jit.load(str(path), map_location=device)
    except Exception as e:  # noqa: BLE001
        raise ModelLoadError(f"serializedFile '{name}' is not a TorchScript program ({_short(e)}); a state_dict "
                             "needs --model-file, a torch.export program the .pt2 suffix") from None
    return module.eval()


def _load_eager(context: LoadContext, path, name: str, device: torch.device):
    model_file = context.archive_manifest.model_file
    assert model_file, "model_format() says eager only when the archive names a modelFile"
    try:
        module = import_file(context.model_dir / model_file, context.model_dir)
    except Exception as e:  # noqa: BLE001 - the user's file failed to import
        raise ModelLoadError(f"modelFile '{model_file}' failed to import ({_short(e)})") from None
    context.cache.modules.append(module)
    classes = classes_defined_in(module, torch.nn.Module)
    if len(classes) != 1:
        found = ", ".join(c.__name__ for c in classes) or "none"
        raise ModelLoadError(f"modelFile '{model_file}' must define exactly one torch.nn.Module subclass "
                             f"(found: {found})")
    try:
        model = classes[0]()
    except Exception as e:  # noqa: BLE001
        raise ModelLoadError(f"modelFile '{model_file}': {classes[0].__name__}() failed; the model class must "
                             f"be constructible without arguments ({_short(e)})") from None
    try:
        state = torch.load(str(path), map_location=device, weights_only=True)
    except Exception as e:  # noqa: BLE001
        raise ModelLoadError(f"serializedFile '{name}' cannot be read with torch.load(weights_only=True); it "
                             f"must hold a state_dict of tensors, not a pickled model ({_short(e)})") from None
    if not isinstance(state, Mapping):
        raise ModelLoadError(f"serializedFile '{name}' holds a {type(state).__name__}, expected a state_dict")
    try:
        model.load_state_dict(state)
    except Exception as e:  # noqa: BLE001
        raise ModelLoadError(f"serializedFile '{name}' does not match {classes[0].__name__} "
                             f"({_short(e, 500)})") from None
    return model.to(device).eval()
