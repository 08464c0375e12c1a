"""Corrupt and hostile archives are refused at load with a clear reason, nothing is written
outside the model's own extraction folder, and the other models keep serving."""

from __future__ import annotations

import json
import os
import stat
import zipfile

import numpy as np
import pytest

from torch_service.archive import MANIFEST_PATH, ArchiveError, build_archive
from torch_service.extract import open_archive

from .conftest import mlp_config

MANIFEST = {"model": {"modelName": "m", "modelVersion": "1", "serializedFile": "m.pt", "handler": "base_handler"}}


def make_zip(path, entries, manifest=MANIFEST):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries.items():
            if isinstance(data, zipfile.ZipInfo):
                z.writestr(data, b"/etc/passwd")
            else:
                z.writestr(name, data)
        if manifest is not None:
            z.writestr(MANIFEST_PATH, manifest if isinstance(manifest, (bytes, str)) else json.dumps(manifest))
    return path


def symlink_entry(name):
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


HOSTILE = {
    "traversal": ({"m.pt": b"x", "../evil.py": b"print('owned')"}, MANIFEST, "'..'"),
    "deep-traversal": ({"m.pt": b"x", "a/../../evil.py": b"x"}, MANIFEST, "'..'"),
    "absolute": ({"m.pt": b"x", "/tmp/evil.py": b"x"}, MANIFEST, "absolute"),
    "backslash": ({"m.pt": b"x", "..\\evil.py": b"x"}, MANIFEST, "backslash"),
    "symlink": ({"m.pt": b"x", "link": symlink_entry("link")}, MANIFEST, "symbolic link"),
    "no-manifest": ({"m.pt": b"x"}, None, "no MAR-INF/MANIFEST.json"),
    "bad-json": ({"m.pt": b"x"}, b"{not json", "not valid JSON"),
    "no-model": ({"m.pt": b"x"}, {"runtime": "python"}, "no 'model' object"),
    "missing-file": ({}, MANIFEST, "serializedFile 'm.pt' is not in the archive"),
    "manifest-outside": ({"m.pt": b"x"}, {"model": {**MANIFEST["model"], "serializedFile": "../../etc/passwd"}},
                         "not a plain relative path"),
    "manifest-absolute": ({"m.pt": b"x"}, {"model": {**MANIFEST["model"], "modelFile": "/etc/passwd"}},
                          "not a plain relative path"),
    "handler-outside": ({"m.pt": b"x"}, {"model": {**MANIFEST["model"], "handler": "../../x.py"}},
                        "not a plain relative path"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_zip_is_refused_and_writes_nothing(tmp_path, case):
    entries, manifest, reason = HOSTILE[case]
    mar = make_zip(tmp_path / "m.mar", entries, manifest)
    work = tmp_path / "work"
    before = tree(tmp_path)
    with pytest.raises(ArchiveError, match=reason):
        open_archive(mar, work)
    assert [p for p in tree(tmp_path) if p not in before] in ([], ["work"]), "something was left behind"
    assert not any(work.rglob("*")) if work.exists() else True
    assert not (tmp_path.parent / "evil.py").exists() and not (tmp_path / "evil.py").exists()


def test_zip_bomb_and_corrupt_entries_are_refused(tmp_path):
    mar = make_zip(tmp_path / "big.mar", {"m.pt": b"\0" * 10_000})
    with pytest.raises(ArchiveError, match="the limit is 1000"):
        open_archive(mar, tmp_path / "work", max_bytes=1000)
    corrupt = tmp_path / "corrupt.mar"
    data = bytearray(make_zip(tmp_path / "ok.mar", {"m.pt": b"model bytes " * 100}).read_bytes())
    start = data.index(b"model bytes")
    data[start:start + 20] = b"X" * 20  # damage the stored data: the CRC check fails on extraction
    corrupt.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="corrupt"):
        open_archive(corrupt, tmp_path / "work")
    assert not any((tmp_path / "work").rglob("*"))
    (tmp_path / "junk.mar").write_bytes(os.urandom(64))
    with pytest.raises(ArchiveError, match="not a readable zip"):
        open_archive(tmp_path / "junk.mar", tmp_path / "work")


def test_folder_archive_cannot_name_files_outside_itself(tmp_path):
    outside = tmp_path / "secret.pt"
    outside.write_bytes(b"x")
    folder = tmp_path / "store" / "m"
    (folder / "MAR-INF").mkdir(parents=True)
    (folder / "m.pt").symlink_to(outside)
    (folder / MANIFEST_PATH).write_text(json.dumps(MANIFEST))
    with pytest.raises(ArchiveError, match="points outside the archive"):
        open_archive(folder, tmp_path / "work")


def test_zip_extracts_only_into_its_own_folder_and_close_removes_it(tmp_path):
    mar = make_zip(tmp_path / "m.mar", {"m.pt": b"x", "sub/dir/extra.txt": b"y"})
    opened = open_archive(mar, tmp_path / "work" / "m")
    assert opened.root.parent == tmp_path / "work" / "m"
    assert (opened.root / "sub" / "dir" / "extra.txt").read_bytes() == b"y"
    opened.close()
    assert not opened.root.exists()


def test_bad_archives_are_unavailable_with_reason_while_others_serve(tmp_path, artifacts, serve):
    store = tmp_path / "store"
    build_archive(store / "good.mar", model_name="good", version="1", serialized_file=artifacts.mlp_script,
                  config=mlp_config())
    make_zip(store / "evil.mar", {"m.pt": b"x", "../../evil.py": b"import os"})
    make_zip(store / "nomodel.mar", {"m.pt": b"not torchscript"},
             {"model": {**MANIFEST["model"], "configFile": "c.yaml"}})
    (store / "junk.mar").write_bytes(b"not a zip")
    srv, c = serve(store)
    reasons = {e.name: e.reason for e in c.repository_index() if e.state == "UNAVAILABLE"}
    assert set(reasons) == {"evil", "nomodel", "junk"}
    assert "'..'" in reasons["evil"] and "not a readable zip" in reasons["junk"]
    assert "configFile 'c.yaml' is not in the archive" in reasons["nomodel"]
    assert c.infer("good", {"x": np.ones((1, 8), np.float32)})["y"].shape == (1, 3)
    assert not (tmp_path / "evil.py").exists() and not (tmp_path.parent / "evil.py").exists()
    work = tmp_path / "work"
    assert {p.name for p in work.iterdir()} <= {"good", "evil", "nomodel", "junk"}
    assert [p.parent.name for p in work.glob("*/*")] == ["good"], "a refused archive left files behind"
