"""Model archives in TorchServe's `.mar` layout: the manifest, and writing archives.

An archive is a zip (`NAME.mar`) or a plain folder holding `MAR-INF/MANIFEST.json` next to the
files the manifest names::

    {"createdOn": "25/11/2025 18:40:00", "runtime": "python",
     "model": {"modelName": "mlp", "serializedFile": "mlp.pt2", "handler": "base_handler",
               "modelVersion": "1", "configFile": "model-config.yaml"},
     "archiverVersion": "tandem-0.1.0"}

This is exactly what TorchServe's `torch-model-archiver` writes, so its archives load unchanged.
`build_archive()` (and `python -m torch_service archive`) writes them without any other tool.
Reading archives safely (hostile zips, path traversal) lives in `torch_service.extract`.
This module does not import torch.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml

from . import __version__

MANIFEST_PATH = "MAR-INF/MANIFEST.json"
CONFIG_NAME = "model-config.yaml"
BUILTIN_HANDLERS = ("base_handler",)  # "tensors in, tensors out" (see torch_service.handler)
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-.]*$")  # torch-model-archiver's model-name rule
ARCHIVER_VERSION = f"tandem-{__version__}"
_FILE_KEYS = ("serializedFile", "modelFile", "configFile", "requirementsFile")


class ArchiveError(ValueError):
    """An archive is malformed, incomplete or hostile; the text says what and what was expected."""


@dataclass(frozen=True)
class Manifest:
    """The `model` part of MAR-INF/MANIFEST.json (TorchServe's keys), plus the raw document."""

    model_name: str
    model_version: str
    handler: str
    serialized_file: str | None = None
    model_file: str | None = None
    config_file: str | None = None
    requirements_file: str | None = None
    raw: Mapping = field(default_factory=dict, compare=False, repr=False)

    @property
    def handler_file(self) -> str | None:
        """The .py file a custom handler lives in; None for a built-in handler."""
        return handler_file(self.handler)

    def files(self) -> dict[str, str]:
        """Manifest key -> archive-relative file name, for every file the manifest names
        (the custom handler's file included)."""
        named = {"serializedFile": self.serialized_file, "modelFile": self.model_file,
                 "configFile": self.config_file, "requirementsFile": self.requirements_file,
                 "handler": self.handler_file}
        return {key: value for key, value in named.items() if value}


def handler_file(handler: str) -> str | None:
    """`base_handler` -> None; `my_handler.py:fn` or `my_handler:fn` -> `my_handler.py` (TorchServe's rule)."""
    if handler in BUILTIN_HANDLERS:
        return None
    module = handler.split(":", 1)[0]
    return module if module.endswith(".py") else module + ".py"


def check_member_name(name: str, what: str) -> tuple[str, ...]:
    """The path components of an archive-relative name; ArchiveError for anything that could
    point outside the archive (absolute paths, drive letters, '..', backslashes, NUL)."""
    bad = (not name or "\\" in name or "\x00" in name or name.startswith("/")
           or re.match(r"^[A-Za-z]:", name) is not None)
    parts = tuple(name.rstrip("/").split("/"))
    if bad or any(p in ("", ".", "..") for p in parts):
        raise ArchiveError(f"{what} {name!r} is not a plain relative path inside the archive "
                           "(absolute paths, '..' and backslashes are refused)")
    return parts


def parse_manifest(data: bytes | str, where: str = MANIFEST_PATH) -> Manifest:
    """Parse and validate a MANIFEST.json document."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArchiveError(f"{where} is not valid JSON: {e}") from None
    model = doc.get("model") if isinstance(doc, dict) else None
    if not isinstance(model, dict):
        raise ArchiveError(f"{where} has no 'model' object; expected "
                           '{"model": {"modelName": ..., "handler": ..., "serializedFile": ...}}')
    for key in ("modelName", "handler"):
        if not isinstance(model.get(key), str) or not model[key]:
            raise ArchiveError(f"{where}: model.{key} is missing or not a string")
    version = model.get("modelVersion", "1")
    if not isinstance(version, (str, int)) or not NAME_RE.match(str(version)):
        raise ArchiveError(f"{where}: model.modelVersion {version!r} must match {NAME_RE.pattern}")
    files = {}
    for key in _FILE_KEYS:
        value = model.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not value:
            raise ArchiveError(f"{where}: model.{key} must be a file name, got {value!r}")
        check_member_name(value, f"{where}: model.{key}")
        files[key] = value
    manifest = Manifest(model["modelName"], str(version), model["handler"], files.get("serializedFile"),
                        files.get("modelFile"), files.get("configFile"), files.get("requirementsFile"), doc)
    if manifest.handler_file:
        check_member_name(manifest.handler_file, f"{where}: model.handler")
    return manifest


def manifest_document(*, model_name: str, version: str, handler: str, serialized_file: str | None = None,
                      model_file: str | None = None, config_file: str | None = None,
                      requirements_file: str | None = None) -> dict:
    """A MANIFEST.json document with torch-model-archiver's keys, in its order."""
    model = {"modelName": model_name}
    if serialized_file:
        model["serializedFile"] = serialized_file
    model["handler"] = handler
    if model_file:
        model["modelFile"] = model_file
    model["modelVersion"] = version
    if requirements_file:
        model["requirementsFile"] = requirements_file
    if config_file:
        model["configFile"] = config_file
    return {"createdOn": datetime.now().strftime("%d/%m/%Y %H:%M:%S"), "runtime": "python",
            "model": model, "archiverVersion": ARCHIVER_VERSION}


def _add(files: dict[str, Path | bytes], arcname: str, source: Path | bytes, what: str) -> None:
    check_member_name(arcname, what)
    if arcname.split("/")[0] == "MAR-INF":
        raise ValueError(f"{what}: 'MAR-INF' is reserved for the manifest")
    if arcname in files:
        raise ValueError(f"{what}: two files would be stored as {arcname!r} in the archive; rename one")
    if isinstance(source, Path) and not source.is_file():
        raise FileNotFoundError(f"{what}: {source} does not exist or is not a file")
    files[arcname] = source


def _handler_entry(handler: str | os.PathLike, files: dict) -> str:
    """The manifest's handler value; a custom handler's .py file is added to `files`."""
    text = os.fspath(handler)
    if text in BUILTIN_HANDLERS:
        return text
    path_part, colon, function = text.partition(":")
    path = Path(path_part if path_part.endswith(".py") else path_part + ".py")
    _add(files, path.name, path, "handler")
    return path.name + (colon + function if function else "")


def build_archive(out: Path, *, model_name: str, version: str, serialized_file: Path | None,
                  handler: str | Path = "base_handler", model_file: Path | None = None,
                  config: Mapping | Path | None = None, extra_files: Iterable[Path] = (),
                  as_folder: bool = False, requirements_file: Path | None = None,
                  compress: bool = True, overwrite: bool = False) -> Path:
    """Write a model archive at `out` (a `.mar` zip, or a folder when `as_folder`); returns `out`.

    - `serialized_file`: the model: a `.pt2` (torch.export), a TorchScript `.pt`, or a state_dict
      when `model_file` (the .py defining the nn.Module) is given.
    - `handler`: `"base_handler"` (tensors in, tensors out) or the path of a custom handler .py,
      optionally `path.py:function`.
    - `config`: the model-config.yaml content as a dict (written as `model-config.yaml`), or the path
      of an existing YAML file. See torch_service.config for its keys (`tensors:` declares the contract).
    - `extra_files`: more files (stored by base name) or folders (stored under their base name).
    - `compress`: deflate the zip (torch-model-archiver's default); False stores entries as they are.
    - `overwrite`: replace an existing `out` (otherwise FileExistsError).

    Raises ValueError / FileNotFoundError for bad arguments. The archive is written next to `out`
    and renamed into place, so a reader never sees half an archive.
    """
    out = Path(out)
    if not NAME_RE.match(model_name):
        raise ValueError(f"model name {model_name!r} must match {NAME_RE.pattern}")
    if not NAME_RE.match(str(version)):
        raise ValueError(f"version {version!r} must match {NAME_RE.pattern}")
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists (pass overwrite=True / --force to replace it)")
    files: dict[str, Path | bytes] = {}
    names: dict[str, str | None] = {"serialized_file": None, "model_file": None, "config_file": None,
                                    "requirements_file": None}
    for key, source in (("serialized_file", serialized_file), ("model_file", model_file),
                        ("requirements_file", requirements_file)):
        if source is not None:
            source = Path(source)
            _add(files, source.name, source, key)
            names[key] = source.name
    if isinstance(config, Mapping):
        _add(files, CONFIG_NAME, yaml.safe_dump(dict(config), sort_keys=False).encode(), "config")
        names["config_file"] = CONFIG_NAME
    elif config is not None:
        config = Path(config)
        _add(files, config.name, config, "config")
        names["config_file"] = config.name
    handler_value = _handler_entry(handler, files)
    for extra in extra_files:
        extra = Path(extra)
        if extra.is_dir():
            for item in sorted(p for p in extra.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
                _add(files, "/".join((extra.name, *item.relative_to(extra).parts)), item, "extra file")
        else:
            _add(files, extra.name, extra, "extra file")
    manifest = manifest_document(model_name=model_name, version=str(version), handler=handler_value, **names)
    manifest_bytes = json.dumps(manifest, indent=2).encode()
    parse_manifest(manifest_bytes)  # what we write, we can read
    out.parent.mkdir(parents=True, exist_ok=True)
    if as_folder:
        _write_folder(out, files, manifest_bytes, overwrite)
    else:
        _write_zip(out, files, manifest_bytes, compress)
    return out


def _write_zip(out: Path, files: Mapping[str, Path | bytes], manifest: bytes, compress: bool) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        with zipfile.ZipFile(tmp, "w", mode) as z:
            for arcname, source in files.items():
                if isinstance(source, bytes):
                    z.writestr(arcname, source)
                else:
                    z.write(source, arcname)
            z.writestr(MANIFEST_PATH, manifest)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_folder(out: Path, files: Mapping[str, Path | bytes], manifest: bytes, overwrite: bool) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        for arcname, source in {**files, MANIFEST_PATH: manifest}.items():
            target = tmp.joinpath(*arcname.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(source, bytes):
                target.write_bytes(source)
            else:
                shutil.copyfile(source, target)
        if out.exists() and overwrite:
            if out.is_dir():
                shutil.rmtree(out)
            else:
                out.unlink()
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
