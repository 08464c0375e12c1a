"""A protos-only `tensorflow` package, so the tf_service image needs no TensorFlow runtime.

tf_service's tfserving backend speaks TF Serving's gRPC API through `tensorflow_serving.apis`, whose
generated modules import TensorFlow's own `*_pb2` modules (tensor, types, meta_graph, ...). Those are
plain protobuf code, but they ship inside the `tensorflow` wheel, whose `tensorflow/__init__.py`
loads the whole runtime (over a gigabyte installed, with its dependencies). This copies only the
`_pb2` modules reachable from the scanned code into a `tensorflow` package whose `__init__` loads
nothing and says, when asked for anything else, that the runtime is not installed.

    python deploy/tf_protos.py --source tensorflow-2.21.0-...whl \
        --scan SITE/tensorflow_serving --scan tf_service --out SITE

`--source` is a tensorflow wheel, or the folder holding an installed `tensorflow` package
(site-packages). Every `tensorflow.*_pb2` module the scanned code imports (at any depth, including
imports inside functions) is copied with the `tensorflow.*` modules it imports in turn; a scanned
import that names a `_pb2` module missing from the source, or a closure that reaches a module that
is not protobuf code, is an error.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import re
import shutil
import sys
import zipfile
from pathlib import Path

PACKAGE = "tensorflow"
MARKER = "PROTOS_ONLY = True"
_WHEEL_VERSION = re.compile(r"^tensorflow(?:_cpu)?-(?P<version>[^-]+)-")
_INIT = '''"""TensorFlow's protocol buffer modules only, copied from tensorflow {version} by deploy/tf_protos.py.

The TensorFlow runtime is not installed here: tf_service's tfserving backend needs only these
messages to speak TF Serving's gRPC API. Anything else from `tensorflow` raises AttributeError.
"""

{marker}
__version__ = "{version}"


def __getattr__(name):
    raise AttributeError(
        f"tensorflow.{{name}}: this environment holds TensorFlow's protobuf modules only, not its "
        "runtime; run tf_service with --backend tfserving, or install tensorflow")
'''


class ProtosError(RuntimeError):
    """The protos-only package cannot be made from this source for this code."""


class _Source:
    """Files of a tensorflow wheel or of an installed tensorflow's parent folder, by relative path."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._zip: zipfile.ZipFile | None = None
        self._names: set[str] = set()  # the wheel's member names; unused for a folder
        if self.path.is_file():
            self._zip = zipfile.ZipFile(self.path)
            self._names = set(self._zip.namelist())
        elif (self.path / PACKAGE).is_dir():
            pass
        else:
            raise ProtosError(f"--source {path}: neither a tensorflow wheel nor a folder holding {PACKAGE}/")

    def exists(self, rel: str) -> bool:
        if self._zip is not None:
            return rel in self._names
        return (self.path / rel).is_file()

    def read(self, rel: str) -> bytes:
        if self._zip is not None:
            return self._zip.read(rel)
        return (self.path / rel).read_bytes()

    def glob(self, pattern: str) -> list[str]:
        """Relative paths matching a glob pattern (`*` may cross folders in a wheel)."""
        if self._zip is not None:
            return sorted(n for n in self._names if fnmatch.fnmatch(n, pattern))
        return sorted(str(p.relative_to(self.path)) for p in self.path.glob(pattern))

    def version(self) -> str:
        match = _WHEEL_VERSION.match(self.path.name) if self._zip is not None else None
        if match:
            return match.group("version")
        for rel in self.glob(f"{PACKAGE}-*.dist-info/METADATA"):
            for line in self.read(rel).decode("utf-8", "replace").splitlines():
                if line.startswith("Version:"):
                    return line.split(":", 1)[1].strip()
        return "unknown"

    def license_text(self) -> bytes | None:
        names = self.glob(f"{PACKAGE}-*.dist-info/LICENSE*") + self.glob(f"{PACKAGE}-*.dist-info/licenses/LICENSE*")
        return self.read(names[0]) if names else None


def imported_modules(code: str, filename: str = "<code>") -> set[str]:
    """Absolute module names a module's code imports, with `from a import b` counted as a and a.b."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(code, filename)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def _module_file(name: str) -> str:
    return name.replace(".", "/") + ".py"


def _is_tf(name: str) -> bool:
    return name == PACKAGE or name.startswith(PACKAGE + ".")


def scan(paths: list[Path]) -> dict[str, str]:
    """`tensorflow.*_pb2` modules imported by the .py files under `paths`: module -> first importer."""
    wanted: dict[str, str] = {}
    for root in paths:
        files = [root] if root.is_file() else sorted(root.rglob("*.py"))
        if not files:
            raise ProtosError(f"--scan {root}: no Python files there")
        for path in files:
            for name in sorted(imported_modules(path.read_text(encoding="utf-8"), str(path))):
                if _is_tf(name) and name.endswith("_pb2"):
                    wanted.setdefault(name, str(path))
    return wanted


def closure(source: _Source, roots: dict[str, str]) -> list[str]:
    """The relative paths of the roots and every tensorflow module they import, transitively."""
    todo = []
    for name, importer in sorted(roots.items()):
        if not source.exists(_module_file(name)):
            raise ProtosError(f"{importer} imports {name}, which {source.path.name} does not contain")
        todo.append(name)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if not name.endswith("_pb2"):
            raise ProtosError(f"{name} is not a protobuf module (reached from {sorted(roots)}); "
                              "the protos-only package cannot hold it")
        code = source.read(_module_file(name)).decode("utf-8")
        for imported in imported_modules(code, name):
            if _is_tf(imported) and source.exists(_module_file(imported)):
                todo.append(imported)
    return sorted(_module_file(n) for n in seen)


def write(source: _Source, files: list[str], out: Path) -> Path:
    """Write the protos-only package under `out` (replacing an earlier one); the package folder."""
    package = Path(out) / PACKAGE
    init = package / "__init__.py"
    if package.exists():
        if not (init.is_file() and MARKER in init.read_text(encoding="utf-8")):
            raise ProtosError(f"{package} holds a real TensorFlow; refusing to overwrite it")
        shutil.rmtree(package)
    for rel in files:
        target = Path(out) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read(rel))
        for folder in target.relative_to(out).parents:
            if str(folder) != "." and not (Path(out) / folder / "__init__.py").exists():
                (Path(out) / folder / "__init__.py").write_text("")
    version = source.version()
    init.write_text(_INIT.format(version=version, marker=MARKER), encoding="utf-8")
    license_text = source.license_text()
    if license_text:
        (package / "LICENSE").write_bytes(license_text)
    return package


def build(source_path: Path, scan_paths: list[Path], out: Path) -> list[str]:
    source = _Source(source_path)
    roots = scan(scan_paths)
    if not roots:
        raise ProtosError(f"no tensorflow.*_pb2 imports under {', '.join(map(str, scan_paths))}")
    files = closure(source, roots)
    write(source, files, out)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python deploy/tf_protos.py", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, required=True,
                        help="a tensorflow wheel, or the folder holding an installed tensorflow/")
    parser.add_argument("--scan", type=Path, action="append", required=True,
                        help="a .py file or folder whose tensorflow.*_pb2 imports must resolve (repeat)")
    parser.add_argument("--out", type=Path, required=True, help="where to write tensorflow/ (site-packages)")
    args = parser.parse_args(argv)
    try:
        files = build(args.source, args.scan, args.out)
    except (ProtosError, OSError, zipfile.BadZipFile, SyntaxError) as e:
        print(f"tf_protos: {e}", file=sys.stderr)
        return 1
    print(f"tf_protos: wrote {len(files)} protobuf modules of TensorFlow into {args.out / PACKAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
