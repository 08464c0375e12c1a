"""TF Serving's model layout on disk: `BASE/<model>/<integer version>/saved_model.pb` + `variables/`,
with an optional `BASE/<model>/model.yaml`. Names come from the base path only: nothing a caller
sends is ever joined onto a path unless it is one of these names. A model folder that resolves
outside the base path (a symbolic link out of it) is not a model. `survey()` says at start-up what is
wrong with the base path as a whole (empty, torch_service's layout, a folder of base paths).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .config import CONFIG_FILE

SAVED_MODEL_PB = "saved_model.pb"
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


class StoreError(ValueError):
    """A model folder is not a loadable SavedModel; the message says what is wrong."""


class ModelStore:
    def __init__(self, base_path: Path):
        self.base_path = Path(base_path)

    def names(self) -> list[str]:
        try:
            entries = list(os.scandir(self.base_path))
        except OSError:
            return []
        return sorted(e.name for e in entries if e.is_dir() and _MODEL_NAME.match(e.name)
                      and self._inside(Path(e.path)))

    def _inside(self, path: Path) -> bool:
        try:
            return path.resolve().is_relative_to(self.base_path.resolve())
        except (OSError, RuntimeError):
            return False

    def survey(self) -> list[str]:
        """What is wrong with the base path as a whole (empty, another layout): one sentence each."""
        expected = f"expected <name>/<integer version>/{SAVED_MODEL_PB} (TF Serving's layout)"
        try:
            entries = sorted(os.scandir(self.base_path), key=lambda e: e.name)
        except OSError as e:
            return [f"cannot list the base path: {e.strerror}"]
        archives = [e.name for e in entries if e.name.endswith(".mar")
                    or (e.is_dir() and os.path.isfile(os.path.join(e.path, "MAR-INF", "MANIFEST.json")))]
        names = self.names()
        problems = []
        if archives:
            problems.append(f"the base path holds torch_service model archives ({', '.join(archives)}), which "
                            f"belong to torch_service's --model-store; {expected}")
        nested = [n for n in names if not self.versions(n) and ModelStore(self.base_path / n).has_models()]
        if nested:
            problems.append(f"{', '.join(n + '/' for n in nested)} hold models of their own (a base path inside "
                            f"the base path): point --model-base-path at it; {expected}")
        if not any(self.versions(n) for n in names) and not problems:
            problems.append(f"the base path holds no models: {expected}")
        return problems

    def has_models(self) -> bool:
        return any((self.base_path / n / str(v) / SAVED_MODEL_PB).is_file()
                   for n in self.names() for v in self.versions(n))

    def model_dir(self, name: str) -> Path:
        if name not in self.names():
            raise KeyError(name)
        return self.base_path / name

    def versions(self, name: str) -> list[int]:
        """Integer version folders of a model, ascending (TF Serving ignores other names too)."""
        try:
            entries = list(os.scandir(self.base_path / name))
        except OSError:
            return []
        return sorted(int(e.name) for e in entries if e.is_dir() and e.name.isdigit())

    def fingerprint(self, name: str) -> tuple:
        """Changes when a version folder appears or vanishes, or when model.yaml changes."""
        cfg = self.base_path / name / CONFIG_FILE
        try:
            stamp = cfg.stat().st_mtime_ns
        except OSError:
            stamp = None
        return tuple(self.versions(name)), stamp

    def signature_defs(self, name: str, version: int):
        """The SignatureDef map of one version, read from its saved_model.pb (no TF runtime needed
        beyond the protobuf classes). Raises StoreError naming the problem."""
        from tensorflow.core.protobuf import saved_model_pb2  # noqa: PLC0415 - TF protos, on demand

        path = self.base_path / name / str(version) / SAVED_MODEL_PB
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise StoreError(f"version {version} has no {SAVED_MODEL_PB}") from None
        except OSError as e:
            raise StoreError(f"version {version}: cannot read {SAVED_MODEL_PB}: {e.strerror}") from None
        try:
            saved = saved_model_pb2.SavedModel.FromString(data)
        except Exception:  # noqa: BLE001 - protobuf raises DecodeError and friends
            raise StoreError(f"version {version}: {SAVED_MODEL_PB} is not a valid SavedModel "
                             f"({len(data)} bytes that do not parse)") from None
        if not saved.meta_graphs:
            raise StoreError(f"version {version}: {SAVED_MODEL_PB} holds no MetaGraph")
        graphs = [g for g in saved.meta_graphs if "serve" in g.meta_info_def.tags] or list(saved.meta_graphs)
        return dict(graphs[0].signature_def)
