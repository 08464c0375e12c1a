"""Opening model archives safely.

A `.mar` zip is checked entry by entry before anything is written (no absolute paths, no '..', no
symlinks, no duplicates; against zip bombs a total size cap, `--max-archive-bytes`, default 8 GiB, and
a compression-ratio cap on every entry past 1 MiB, both checked on the headers and again on the bytes
actually written, since headers can lie) and extracted into a fresh folder of its
own under the server's work directory; nothing is ever written elsewhere. A folder archive is used
in place, and every file its manifest names must resolve inside the folder (symlinks included).
"""

from __future__ import annotations

import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .archive import MANIFEST_PATH, ArchiveError, Manifest, check_member_name, parse_manifest

DEFAULT_MAX_ARCHIVE_BYTES = 8 * 1024**3  # uncompressed; a larger archive is refused (--max-archive-bytes)
MAX_COMPRESSION_RATIO = 100  # weights compress ~1.1:1, source and YAML ~5:1; a zip bomb ~1000:1
RATIO_EXEMPT_BYTES = 1 << 20  # small entries may compress as well as they like
MAX_ENTRIES = 100_000
_CHUNK = 1 << 20


@dataclass
class OpenedArchive:
    """An archive ready to load from: `root` holds the manifest's files."""

    source: Path
    root: Path
    manifest: Manifest
    extracted: bool  # True when `root` is our own extraction folder, removed by close()

    def member(self, name: str, what: str) -> Path:
        """The path of a file the archive must contain, checked to lie inside the archive."""
        return resolve_member(self.root, name, what, self.source.name)

    def close(self) -> None:
        if self.extracted:
            shutil.rmtree(self.root, ignore_errors=True)


def resolve_member(root: Path, name: str, what: str, label: str) -> Path:
    parts = check_member_name(name, what)
    path = root.joinpath(*parts)
    try:
        real = path.resolve(strict=True)
    except (FileNotFoundError, RuntimeError):
        raise ArchiveError(f"{label}: {what} {name!r} is not in the archive") from None
    if not real.is_relative_to(root.resolve()):
        raise ArchiveError(f"{label}: {what} {name!r} points outside the archive")
    if not real.is_file():
        raise ArchiveError(f"{label}: {what} {name!r} is not a regular file")
    return path


def open_archive(path: Path, work_dir: Path, *, max_bytes: int = DEFAULT_MAX_ARCHIVE_BYTES) -> OpenedArchive:
    """Open a `.mar` zip (extracted into a new folder under `work_dir`) or a folder archive.
    Raises ArchiveError with the reason when the archive is corrupt, incomplete or hostile."""
    path = Path(path)
    if path.is_dir():
        opened = _open_folder(path)
    else:
        opened = _open_zip(path, Path(work_dir), max_bytes)
    try:
        for key, name in opened.manifest.files().items():
            if key != "handler":  # a missing handler file is reported by the handler resolution
                opened.member(name, f"file {key}")
    except BaseException:
        opened.close()
        raise
    return opened


def _open_folder(path: Path) -> OpenedArchive:
    manifest_file = path / MANIFEST_PATH
    if not manifest_file.is_file():
        raise ArchiveError(f"{path.name}/ has no {MANIFEST_PATH}; a folder archive needs one "
                           "(write it with `python -m torch_service archive --archive-format no-archive`)")
    resolve_member(path, MANIFEST_PATH, "the manifest", path.name)
    manifest = parse_manifest(manifest_file.read_bytes(), f"{path.name}/{MANIFEST_PATH}")
    return OpenedArchive(path, path, manifest, extracted=False)


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _check_entries(label: str, infos: list[zipfile.ZipInfo], max_bytes: int) -> None:
    if len(infos) > MAX_ENTRIES:
        raise ArchiveError(f"{label} has {len(infos)} entries; at most {MAX_ENTRIES} are accepted")
    seen: set[str] = set()
    total = 0
    for info in infos:
        check_member_name(info.filename, f"{label}: entry")
        if _is_symlink(info):
            raise ArchiveError(f"{label}: entry {info.filename!r} is a symbolic link; links are refused")
        key = info.filename.rstrip("/")
        if key in seen:
            raise ArchiveError(f"{label}: entry {info.filename!r} appears twice")
        seen.add(key)
        _check_ratio(label, info, info.file_size)
        total += info.file_size
    if total > max_bytes:
        raise ArchiveError(f"{label} would unpack to {total} bytes; the limit is {max_bytes} "
                           "(--max-archive-bytes)")


def _check_ratio(label: str, info: zipfile.ZipInfo, size: int) -> None:
    if size > RATIO_EXEMPT_BYTES and size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
        raise ArchiveError(f"{label}: entry {info.filename!r} expands {size // max(info.compress_size, 1)}-fold "
                           f"({info.compress_size} -> {size}+ bytes); at most {MAX_COMPRESSION_RATIO}-fold is "
                           "accepted (a zip bomb?)")


def _open_zip(path: Path, work_dir: Path, max_bytes: int) -> OpenedArchive:
    label = path.name
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise ArchiveError(f"{label} is not a readable zip archive (.mar): {e}") from None
    with zf:
        infos = zf.infolist()
        _check_entries(label, infos, max_bytes)
        try:
            manifest_bytes = zf.read(MANIFEST_PATH)
        except KeyError:
            raise ArchiveError(f"{label} has no {MANIFEST_PATH}; is it a model archive?") from None
        except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as e:
            raise ArchiveError(f"{label}: cannot read {MANIFEST_PATH}: {e}") from None
        manifest = parse_manifest(manifest_bytes, f"{label}:{MANIFEST_PATH}")
        work_dir.mkdir(parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix=f"{manifest.model_version}-", dir=work_dir))
        try:
            _extract(zf, infos, root, label, max_bytes)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
    return OpenedArchive(path, root, manifest, extracted=True)


def _extract(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], root: Path, label: str, max_bytes: int) -> None:
    """Write every entry under `root` only, counting real bytes (headers can lie about sizes)."""
    real_root = root.resolve()
    written = 0
    for info in infos:
        parts = check_member_name(info.filename, f"{label}: entry")
        target = root.joinpath(*parts)
        if not target.parent.resolve().is_relative_to(real_root):  # pragma: no cover - names are checked
            raise ArchiveError(f"{label}: entry {info.filename!r} would be written outside the archive")
        try:
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            entry_bytes = 0
            with zf.open(info) as src, open(target, "xb") as dst:
                while chunk := src.read(_CHUNK):
                    written += len(chunk)
                    entry_bytes += len(chunk)
                    _check_ratio(label, info, entry_bytes)
                    if written > max_bytes:
                        raise ArchiveError(f"{label} unpacks to more than {max_bytes} bytes "
                                           "(--max-archive-bytes)")
                    dst.write(chunk)
        except (zipfile.BadZipFile, RuntimeError, ValueError, EOFError, OSError) as e:
            if isinstance(e, ArchiveError):
                raise
            raise ArchiveError(f"{label}: entry {info.filename!r} is corrupt or unreadable: {e}") from None
