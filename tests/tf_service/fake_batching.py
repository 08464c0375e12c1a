"""TEST FIXTURE: TF Serving's BatchingParameters, compiled from protos/session_bundle_config.proto with
protoc (grpcio-tools) on first use, for the stand-in to parse batching files as TF Serving does."""

from __future__ import annotations

import atexit
import functools
import importlib.resources
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from google.protobuf import text_format

PROTO = Path(__file__).resolve().parent / "protos" / "session_bundle_config.proto"


@functools.cache
def batching_parameters_class():
    out = Path(tempfile.mkdtemp(prefix="fake-tfs-protos-"))
    atexit.register(shutil.rmtree, out, True)
    include = str(importlib.resources.files("grpc_tools") / "_proto")
    # In a process of its own: protoc's bundled protobuf crashes a process that has loaded TensorFlow.
    done = subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO.parent}", f"-I{include}",
                           f"--python_out={out}", str(PROTO)], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"protoc failed on {PROTO}: {done.stderr}")
    spec = importlib.util.spec_from_file_location("fake_session_bundle_config_pb2",
                                                  out / "session_bundle_config_pb2.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BatchingParameters


def parse_batching_text(text: str):
    """Parse a batching parameters text proto; raises text_format.ParseError like TF Serving refuses it."""
    return text_format.Parse(text, batching_parameters_class()())


def parse_batching_file(path: Path):
    return parse_batching_text(Path(path).read_text())
