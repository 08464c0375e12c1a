"""Reading the `infer` command's inputs (.npy, .npz, JSON) and saving its outputs (.npz)."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import datatypes
from ..codec import shape_str
from ..messages import ModelMetadata


class CliInputError(ValueError):
    """A file or argument given on the command line is unusable; the message says why."""


_PICKLE_HINT = "save BYTES tensors as fixed-width bytes (dtype 'S') or str ('U')"


def _load(path: Path):
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise CliInputError(f"{path}: no such file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise CliInputError(f"{path}: not a readable numpy file ({e}); {_PICKLE_HINT}") from None


def read_named_npy(items: Sequence[str]) -> dict[str, np.ndarray]:
    """{name: array} from `NAME=FILE.npy` arguments."""
    arrays = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise CliInputError(f"--input {item!r}: expected NAME=FILE.npy")
        if name in arrays:
            raise CliInputError(f"--input {name} is given more than once")
        array = _load(Path(path))
        if not isinstance(array, np.ndarray):
            array.close()
            raise CliInputError(f"{path}: an .npz archive; pass it with --inputs")
        arrays[name] = array
    return arrays


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    path = Path(path)
    loaded = _load(path)
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise CliInputError(f"{path}: a single array; expected an .npz archive with one array per input "
                            "(or pass .npy files with --input NAME=FILE.npy)")
    with loaded as data:
        try:
            arrays = {key: data[key] for key in data.files}
        except ValueError as e:
            raise CliInputError(f"{path}: an array cannot be read without pickle ({e}); {_PICKLE_HINT}") from None
    if not arrays:
        raise CliInputError(f"{path}: holds no arrays")
    return arrays


def to_array(name: str, data, datatype: str, shape: Sequence[int] | None = None) -> np.ndarray:
    """JSON values as an array of `datatype`, refusing values the datatype cannot hold exactly."""
    label = f"input '{name}'"
    try:
        dt = datatypes.lookup(datatype)
    except KeyError:
        known = ", ".join(datatypes.DATATYPES)
        raise CliInputError(f"{label}: unknown datatype {datatype!r}; expected one of {known}") from None
    try:
        raw = np.asarray(data, dtype=object if dt.dtype is None else None)
    except ValueError as e:
        raise CliInputError(f"{label}: values are not a regular (rectangular) array: {e}") from None
    if dt.dtype is None:
        values = raw
        flat = values.reshape(-1)
        for i, v in enumerate(flat):
            if not isinstance(v, str):
                raise CliInputError(f"{label}: BYTES values must be strings, got {type(v).__name__}")
            flat[i] = v.encode("utf-8")
        array = values
    else:
        if raw.dtype.kind not in "biuf":
            raise CliInputError(f"{label}: expected numbers for {datatype}, got {raw.dtype.kind!r} values")
        target = dt.dtype.newbyteorder("=")
        if target.kind in "biu" and raw.dtype.kind == "f":
            raise CliInputError(f"{label}: expected integers for {datatype}, got fractional numbers")
        array = raw.astype(target)
        if target.kind in "biu" and raw.size and not np.array_equal(array.astype(raw.dtype), raw):
            raise CliInputError(f"{label}: values do not fit {datatype}")
    if shape is not None:
        shape = tuple(int(d) for d in shape)
        if array.size != int(np.prod(shape)):
            raise CliInputError(f"{label}: shape {shape_str(shape)} needs {int(np.prod(shape))} values, "
                                f"got {array.size}")
        array = array.reshape(shape)
    return array


def read_json(path: str | Path, metadata: Callable[[], ModelMetadata]) -> tuple[dict, list[str]]:
    """({name: array}, requested outputs) from a JSON file in either form:

    - the OIP v2 REST request body: {"inputs": [{"name", "datatype", "shape", "data"}, ...],
      "outputs": [{"name": ...}]} (data flat or nested);
    - a plain mapping {"INPUT0": [[...]], ...}: datatypes come from the model's metadata
      (`metadata()` is called only then).
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise CliInputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CliInputError(f"{path}: not valid JSON: {e}") from None
    if not isinstance(doc, dict) or not doc:
        raise CliInputError(f"{path}: expected a JSON object with the inputs")
    if isinstance(doc.get("inputs"), list):
        return _rest_form(path, doc)
    specs = {s.name: s for s in metadata().inputs}
    arrays = {}
    for name, data in doc.items():
        if name not in specs:
            expected = ", ".join(str(s) for s in specs.values())
            raise CliInputError(f"{path}: the model has no input '{name}'; expected inputs: {expected}")
        arrays[name] = to_array(name, data, specs[name].datatype)
    return arrays, []


def _rest_form(path: Path, doc: Mapping) -> tuple[dict, list[str]]:
    arrays = {}
    for i, item in enumerate(doc["inputs"]):
        missing = [k for k in ("name", "datatype", "shape", "data") if not isinstance(item, dict) or k not in item]
        if missing:
            raise CliInputError(f"{path}: inputs[{i}] lacks {', '.join(missing)}; expected "
                                "{\"name\", \"datatype\", \"shape\", \"data\"}")
        arrays[item["name"]] = to_array(item["name"], item["data"], item["datatype"], item["shape"])
    outputs = [o["name"] for o in doc.get("outputs") or [] if isinstance(o, dict) and "name" in o]
    return arrays, outputs


def _storable(array: np.ndarray) -> np.ndarray:
    """BYTES outputs as fixed-width bytes when that keeps every element (loadable without pickle)."""
    if array.dtype.kind != "O":
        return array
    items = array.reshape(-1).tolist()
    if all(isinstance(v, bytes) and not v.endswith(b"\0") for v in items):
        return np.array(items, dtype=bytes).reshape(array.shape)
    return array


def save_npz(path: str | Path, outputs: Mapping[str, np.ndarray]) -> Path:
    path = Path(path)
    try:
        with path.open("wb") as f:
            # dict[str, Any]: mypy rejects **dict[str, ndarray], as it might hold savez's allow_pickle
            arrays: dict[str, Any] = {k: _storable(v) for k, v in outputs.items()}
            np.savez(f, **arrays)
    except OSError as e:
        raise CliInputError(f"cannot write {path}: {e}") from None
    return path
