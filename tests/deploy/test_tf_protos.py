"""The protos-only `tensorflow` of the tf_service image: built from the installed TensorFlow, it lets
tf_service's tfserving backend import and build TF Serving's messages with no TensorFlow runtime."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from deploy import tf_protos

from .support import ROOT, import_closure, module_file
from .test_dockerfiles import IMAGES

SITE = Path(importlib.util.find_spec("tensorflow_serving").submodule_search_locations[0]).parent
SCAN = [SITE / "tensorflow_serving", ROOT / "tf_service"]

PROBE = r"""
import json, sys
import tensorflow
from tf_service.cli import build_parser, make_backend
from tf_service.tfs_config import model_server_config, to_text
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow.core.protobuf import saved_model_pb2

args = build_parser().parse_args(["--model-base-path", sys.argv[1], "--backend", "tfserving",
                                  "--tfserving-address", "tfserving:8500"])
backend = make_backend("tfserving", args, None, None)
request = predict_pb2.PredictRequest()
request.inputs["x"].CopyFrom(tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[1.0]))
try:
    tensorflow.constant
    runtime = "present"
except AttributeError as e:
    runtime = str(e)
print(json.dumps({
    "tensorflow": tensorflow.__file__, "protos_only": tensorflow.PROTOS_ONLY,
    "runtime_modules": sorted(m for m in sys.modules if m.startswith(("tensorflow.python", "keras"))),
    "backend": type(backend).__name__, "request_bytes": len(request.SerializeToString()),
    "config": to_text(model_server_config({"m": "/models/tfserving/m"})), "runtime": runtime,
}))
"""


@pytest.fixture(scope="module")
def protos(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    files = tf_protos.build(SITE, SCAN, out)
    assert files
    return out


def test_tfserving_backend_runs_on_the_protos_alone(protos, tmp_path):
    result = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path, check=False,
                            env={"PYTHONPATH": f"{protos}:{ROOT}", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["tensorflow"] == str(protos / "tensorflow" / "__init__.py") and out["protos_only"] is True
    assert out["runtime_modules"] == [] and out["backend"] == "TFServingBackend" and out["request_bytes"] > 0
    assert 'base_path: "/models/tfserving/m"' in out["config"]
    assert "protobuf modules only" in out["runtime"]


def test_only_protobuf_modules_are_copied(protos):
    files = sorted(p.relative_to(protos).as_posix() for p in (protos / "tensorflow").rglob("*.py"))
    assert all(f.endswith(("_pb2.py", "__init__.py")) for f in files)
    assert "tensorflow/core/framework/tensor_pb2.py" in files and "tensorflow/core/protobuf/saved_model_pb2.py" in files
    size = sum(p.stat().st_size for p in (protos / "tensorflow").rglob("*") if p.is_file())
    assert size < 2_000_000, f"{size} bytes: more than the protos"


# Runtime imports inside functions that the tfserving path never calls (the probe above runs that
# path with the protos alone): module -> the names it may import there.
LAZY_RUNTIME_IMPORTS = {"tf_service.cli": {"tensorflow"}}  # make_backend's embedded branch


def _tensorflow_imports(path: Path) -> list[tuple[str, bool]]:
    """(name, inside a function) of what a file takes from tensorflow that is not a protobuf module:
    `import tensorflow`, `from tensorflow import keras`, `from tensorflow.python...`."""
    found = []

    def visit(node, in_function: bool):
        in_function = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        if isinstance(node, ast.Import):
            found.extend((a.name, in_function) for a in node.names
                         if tf_protos._is_tf(a.name) and not a.name.endswith("_pb2"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and tf_protos._is_tf(node.module or ""):
            if not node.module.endswith("_pb2"):
                found.extend((f"{node.module}.{a.name}", in_function) for a in node.names
                             if not a.name.endswith("_pb2"))
        for child in ast.iter_child_nodes(node):
            visit(child, in_function)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def test_the_tf_image_code_imports_nothing_of_tensorflow_but_protos():
    image = IMAGES["docker/tf_service.Dockerfile"]
    modules, _ = import_closure(image["entries"], image["exclude"])
    assert "tf_service.tfserving" in modules and "tf_service.tfs_client" in modules
    for module in sorted(modules):
        found = _tensorflow_imports(module_file(module))
        at_import = [name for name, lazy in found if not lazy]
        assert not at_import, f"{module} imports {at_import}: the tf_service image has no TensorFlow runtime"
        lazy = {name for name, is_lazy in found if is_lazy} - LAZY_RUNTIME_IMPORTS.get(module, set())
        assert not lazy, f"{module} imports {sorted(lazy)} in a function: not on the tfserving path? (the image " \
                         "has no TensorFlow runtime; if so, list it in LAZY_RUNTIME_IMPORTS)"
    assert _tensorflow_imports(module_file("tf_service.embedded")) == [("tensorflow", False)], "the check can fail"


def _wheel(tmp_path: Path, files: dict[str, str]) -> Path:
    path = tmp_path / "tensorflow-9.9.9-cp311-cp311-manylinux_2_17_x86_64.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


def test_a_wheel_source_and_the_errors(tmp_path):
    code = tmp_path / "code.py"
    code.write_text("from tensorflow.core.framework import a_pb2\n")
    wheel = _wheel(tmp_path, {"tensorflow/__init__.py": "import heavy_runtime\n",
                              "tensorflow/core/framework/a_pb2.py": "from tensorflow.core.framework import b_pb2\n",
                              "tensorflow/core/framework/b_pb2.py": "X = 1\n",
                              "tensorflow/core/framework/unused_pb2.py": "X = 2\n"})
    out = tmp_path / "out"
    assert tf_protos.build(wheel, [code], out) == ["tensorflow/core/framework/a_pb2.py",
                                                  "tensorflow/core/framework/b_pb2.py"]
    assert '__version__ = "9.9.9"' in (out / "tensorflow" / "__init__.py").read_text()

    code.write_text("from tensorflow.core.framework import missing_pb2\n")
    with pytest.raises(tf_protos.ProtosError, match="missing_pb2"):
        tf_protos.build(wheel, [code], out)

    runtime = _wheel(tmp_path, {"tensorflow/core/framework/a_pb2.py": "from tensorflow.python import ops\n",
                                "tensorflow/python/ops.py": ""})
    code.write_text("from tensorflow.core.framework import a_pb2\n")
    with pytest.raises(tf_protos.ProtosError, match="not a protobuf module"):
        tf_protos.build(runtime, [code], tmp_path / "out2")


def test_refuses_to_overwrite_a_real_tensorflow(tmp_path):
    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow" / "__init__.py").write_text("# the real thing\n")
    with pytest.raises(tf_protos.ProtosError, match="real TensorFlow"):
        tf_protos.build(SITE, SCAN, tmp_path)
