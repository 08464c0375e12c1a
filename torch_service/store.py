"""The model store: which models and versions a folder holds. Names come from paths only.

Layout (model and version names match `[A-Za-z0-9][A-Za-z0-9_.-]*`; hidden entries are ignored):

    STORE/mlp.mar               one archive; its version is the manifest's modelVersion
    STORE/mlp/MAR-INF/...       the same as a folder archive
    STORE/add_sub/1.mar         several versions side by side: STORE/<name>/<version>.mar
    STORE/add_sub/2/MAR-INF/... ... or STORE/<name>/<version>/ folder archives (mixing is fine)

In the versioned layout the path gives the version (a different manifest modelVersion is logged
and ignored). The highest version serves by default (integers compare numerically). A model whose
archive cannot be read still has a name, so RepositoryIndex can report why it is unavailable.
This module does not import torch.
"""

from __future__ import annotations

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


class ModelStore:
    def __init__(self, root: Path):
        self.root = Path(root)

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
        if mar.is_file():
            return [Source(mar)]
        if not folder.is_dir():
            raise ArchiveError(f"model '{name}' is not in the store {self.root}")
        if _is_folder_archive(folder):
            return [Source(folder)]
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
            if version in found:
                raise ArchiveError(f"{name}/ holds version {version} twice ({version}{SUFFIX} and {version}/); "
                                   "keep one of them")
            found[version] = Source(entry, version)
        if not found:
            raise ArchiveError(f"{name}/ holds no archive: expected {name}/{MANIFEST_PATH}, or versions as "
                               f"{name}/<version>{SUFFIX} or {name}/<version>/{MANIFEST_PATH}")
        return list(found.values())
