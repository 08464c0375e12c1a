"""The model store: which models and versions a folder holds. Names come from paths only.

Layout (model and version names match `[A-Za-z0-9][A-Za-z0-9_.-]*`; hidden entries are ignored):

    STORE/mlp.mar               one archive; its version is the manifest's modelVersion
    STORE/mlp/MAR-INF/...       the same as a folder archive
    STORE/add_sub/1.mar         several versions side by side: STORE/<name>/<version>.mar
    STORE/add_sub/2/MAR-INF/... ... or STORE/<name>/<version>/ folder archives (mixing is fine)

In the versioned layout the path gives the version (a different manifest modelVersion is logged
and ignored). The highest version serves by default (integers compare numerically). A model whose
archive cannot be read still has a name, so RepositoryIndex can report why it is unavailable.

Refused (the model is listed, UNAVAILABLE, with the reason): an entry that resolves outside the store
(a symbolic link out of it), and a folder that is a model store itself (`STORE/torch/<model>.mar`,
e.g. the zoo's root given as the store) rather than the versions of one model. `survey()` says at
start-up what is wrong with the store as a whole (empty, TF Serving's layout, a store of stores).
Messages name entries relative to the store, never the server's absolute paths.
This module does not import torch.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .archive import MANIFEST_PATH, NAME_RE
from .extract import ArchiveError

SUFFIX = ".mar"


@dataclass(frozen=True)
class Source:
    """One archive of a model: a .mar file or a folder; `version` is set by the versioned layout."""

    path: Path
    version: str | None = None


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def _is_folder_archive(path: Path) -> bool:
    return (path / MANIFEST_PATH).is_file()


def _manifest_model_name(path: Path) -> str | None:
    """The modelName an archive's manifest declares (None when unreadable: reported at load)."""
    try:
        if path.is_dir():
            data = (path / MANIFEST_PATH).read_bytes()
        else:
            with zipfile.ZipFile(path) as zf:
                data = zf.read(MANIFEST_PATH)
        name = json.loads(data)["model"]["modelName"]
    except (OSError, KeyError, TypeError, ValueError, zipfile.BadZipFile):
        return None
    return name if isinstance(name, str) else None


def _is_tf_model(path: Path) -> bool:
    """TF Serving's layout: NAME/<integer>/saved_model.pb."""
    try:
        return any(v.is_dir() and v.name.isdigit() and (v / "saved_model.pb").is_file() for v in path.iterdir())
    except OSError:
        return False


class ModelStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def _inside(self, entry: Path) -> bool:
        try:
            return entry.resolve().is_relative_to(self.root.resolve())
        except (OSError, RuntimeError):
            return False

    def _relative(self, entry: Path) -> str:
        return entry.relative_to(self.root).as_posix()

    def survey(self) -> list[str]:
        """What is wrong with the store as a whole (empty, another layout): one sentence each."""
        expected = (f"expected NAME{SUFFIX}, NAME/{MANIFEST_PATH}, or versions as NAME/<version>{SUFFIX} "
                    f"or NAME/<version>/{MANIFEST_PATH}")
        names = self.names()
        if not names:
            return [f"the model store holds no models: {expected}"]
        problems = []
        tf_models = [n for n in names if (self.root / n).is_dir() and _is_tf_model(self.root / n)]
        if tf_models:
            problems.append(f"the model store holds TF Serving's layout ({', '.join(tf_models)}: "
                            f"<name>/<version>/saved_model.pb), which is tf_service's --model-base-path; "
                            f"{expected}")
        for name in names:
            nested = self._nested_models(name)
            if nested:
                problems.append(f"'{name}/' is a model store itself (it holds the models {', '.join(nested)}), "
                                f"not the versions of one model: point --model-store at it")
        return problems

    def _nested_models(self, name: str) -> list[str]:
        """The models of `STORE/name/` when it is a store of its own: versioned entries whose archive
        declares a model named as the entry (`torch/digits-mlp.mar` holding model 'digits-mlp')."""
        folder = self.root / name
        if not folder.is_dir() or _is_folder_archive(folder):
            return []
        nested = []
        for entry in sorted(folder.iterdir()):
            stem = entry.name[: -len(SUFFIX)] if entry.is_file() and entry.suffix == SUFFIX else entry.name
            if stem != name and _visible(entry) and _manifest_model_name(entry) == stem:
                nested.append(stem)
        return nested

    def check(self) -> None:
        if not self.root.is_dir():
            raise FileNotFoundError(f"model store {self.root} is not a directory")

    def names(self) -> list[str]:
        """Every model name in the store (cheap: a directory listing)."""
        names = set()
        try:
            entries = list(self.root.iterdir())
        except OSError:
            return []
        for entry in entries:
            if not _visible(entry):
                continue
            if entry.is_dir():
                name = entry.name
            elif entry.suffix == SUFFIX:
                name = entry.name[: -len(SUFFIX)]
            else:
                continue
            if NAME_RE.match(name):
                names.add(name)
        return sorted(names)

    def sources(self, name: str) -> list[Source]:
        """The archives of model `name`; ArchiveError when the layout is ambiguous or empty."""
        if not NAME_RE.match(name):
            raise ArchiveError(f"{name!r} is not a valid model name ({NAME_RE.pattern})")
        mar, folder = self.root / f"{name}{SUFFIX}", self.root / name
        if mar.is_file() and folder.is_dir():
            raise ArchiveError(f"the store holds both {mar.name} and {folder.name}/; keep one of them")
        for entry in (mar, folder):
            if entry.exists() and not self._inside(entry):
                raise ArchiveError(f"{self._relative(entry)} resolves outside the model store (a link?); "
                                   "entries must lie inside the store")
        if mar.is_file():
            return [Source(mar)]
        if not folder.is_dir():
            raise ArchiveError(f"model '{name}' is not in the model store")
        if _is_folder_archive(folder):
            return [Source(folder)]
        nested = self._nested_models(name)
        if nested:
            raise ArchiveError(f"{name}/ is a model store itself (it holds the models {', '.join(nested)}), not "
                               f"the versions of one model: point --model-store at it")
        found: dict[str, Source] = {}
        for entry in sorted(folder.iterdir()):
            if not _visible(entry):
                continue
            if entry.is_dir():
                version = entry.name
            elif entry.suffix == SUFFIX:
                version = entry.name[: -len(SUFFIX)]
            else:
                continue
            if not NAME_RE.match(version):
                continue
            if not self._inside(entry):
                raise ArchiveError(f"{self._relative(entry)} resolves outside the model store (a link?); "
                                   "entries must lie inside the store")
            if version in found:
                raise ArchiveError(f"{name}/ holds version {version} twice ({version}{SUFFIX} and {version}/); "
                                   "keep one of them")
            found[version] = Source(entry, version)
        if not found:
            raise ArchiveError(f"{name}/ holds no archive: expected {name}/{MANIFEST_PATH}, or versions as "
                               f"{name}/<version>{SUFFIX} or {name}/<version>/{MANIFEST_PATH}")
        return list(found.values())
