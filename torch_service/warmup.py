"""torch_service's warm-up file: `warmup.npz` at the root of a model archive (add it with
`torch-model-archiver --extra-files warmup.npz` or `python -m torch_service archive`), holding one
request: one array per model input, named by the input (`numpy.savez("warmup.npz", x=...)`).
Several requests: name the arrays `<n>/<input>` (`0/x`, `1/x`, ...); they run in order of n.
The requests run through the model's workers before the version is READY (server_core.warmup).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from server_core.warmup import WarmupError, WarmupRequest, warm_up

FILE = "warmup.npz"


def read_requests(path: Path) -> list[WarmupRequest]:
    """The requests of a warmup.npz; WarmupError when it cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise WarmupError(f"{FILE} cannot be read as a numpy .npz file: {e}") from None
    if not arrays:
        raise WarmupError(f"{FILE} holds no arrays; save one array per model input")
    numbered = [k for k in arrays if "/" in k]
    if not numbered:
        return [arrays]
    if len(numbered) != len(arrays):
        raise WarmupError(f"{FILE}: name every array either <input> (one request) or <n>/<input> (several)")
    requests: dict[int, dict[str, np.ndarray]] = {}
    for key, array in arrays.items():
        n, _, name = key.partition("/")
        if not n.isdigit():
            raise WarmupError(f"{FILE}: array '{key}' is not named <n>/<input> with an integer n")
        requests.setdefault(int(n), {})[name] = array
    return [requests[n] for n in sorted(requests)]


def apply(model, root: Path, run) -> int:
    """Warm `model` up from `root/warmup.npz` when the archive has one; returns the requests run."""
    path = Path(root) / FILE
    if not path.is_file():
        return 0
    return warm_up(model, read_requests(path), run, FILE)
