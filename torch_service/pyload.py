"""Importing Python files shipped inside an archive (custom handlers, eager model definitions)."""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import re
import sys
import threading
from pathlib import Path
from types import ModuleType

_lock = threading.Lock()
_counter = itertools.count(1)
PREFIX = "tandem_archive_"


def import_file(path: Path, root: Path) -> ModuleType:
    """Import `path` as a fresh module under a unique name, TorchServe-style: with `root` (the
    archive) first on sys.path while it runs, so it can import its sibling files. Siblings
    imported from `root` are then dropped from sys.modules, so another archive's `model.py` is
    never mistaken for this one's (import siblings at module level, not lazily). Writes no
    bytecode into the archive."""
    name = f"{PREFIX}{next(_counter)}_{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}"
    real_root = Path(root).resolve()
    with _lock:
        before = set(sys.modules)
        entry = str(root)
        sys.path.insert(0, entry)
        old_flag, sys.dont_write_bytecode = sys.dont_write_bytecode, True
        importlib.invalidate_caches()
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot import {path.name}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(name, None)
                raise
        finally:
            sys.dont_write_bytecode = old_flag
            try:
                sys.path.remove(entry)
            except ValueError:  # pragma: no cover - the module removed it itself
                pass
            for key in set(sys.modules) - before - {name}:
                file = getattr(sys.modules.get(key), "__file__", None)
                if file and Path(file).resolve().is_relative_to(real_root):
                    del sys.modules[key]
    return module


def forget(module: ModuleType | None) -> None:
    """Drop a module imported by import_file from sys.modules (on unload)."""
    if module is not None and module.__name__.startswith(PREFIX):
        sys.modules.pop(module.__name__, None)


def classes_defined_in(module: ModuleType, base: type) -> list[type]:
    """Subclasses of `base` defined in `module` itself (not imported into it)."""
    return [obj for obj in vars(module).values()
            if isinstance(obj, type) and issubclass(obj, base) and obj.__module__ == module.__name__]
