"""Triton's perf_analyzer (the C++ load tool, unchanged) runs a concurrency sweep against a target
over gRPC and over REST, with batch sizes 1 and 2: it needs ModelConfig (max_batch_size, dims without
the batch dimension), ModelMetadata, ModelInfer and ModelStatistics to agree with Triton's semantics.

perf_analyzer comes from `make tools` (the tritonclient 2.40.0 wheel, in .venv/perf_analyzer); the
test is skipped, saying so, where it is not installed. Measurement windows are count-based and every
window is accepted (--stability-percentage 999), so the run's length does not depend on the machine's
load; the test asserts what perf_analyzer reports, not how fast it was."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from .target import REST

ROOT = Path(__file__).resolve().parents[2]
PERF_DIR = ROOT / ".venv" / "perf_analyzer"
BINARY = PERF_DIR / "bin" / "perf_analyzer"
CUDART = PERF_DIR / "nvidia" / "cuda_runtime" / "lib"
TARGETS = ("echo", "torch", "tf-embedded")  # the reference backend and both services' own backends


def perf_analyzer(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "LD_LIBRARY_PATH": os.pathsep.join(filter(None, [str(CUDART),
                                                                          os.environ.get("LD_LIBRARY_PATH")]))}
    return subprocess.run([str(BINARY), *args], capture_output=True, text=True, env=env, timeout=timeout)


@pytest.mark.parametrize("batch", [1, 2])
def test_perf_analyzer_concurrency_sweep(target, batch):
    if not BINARY.exists():
        pytest.skip("perf_analyzer is not installed (run `make tools`)")
    if target.name not in TARGETS:
        pytest.skip(f"perf_analyzer runs against {', '.join(TARGETS)}")
    rest = target.transport == REST
    args = ["-m", "add_sub", "-u", target.http_address if rest else target.address,
            "-i", "http" if rest else "grpc", "-b", str(batch), "--concurrency-range", "1:2",
            "--measurement-mode", "count_windows", "--measurement-request-count", "20",
            "--stability-percentage", "999", "--max-trials", "10",
            "-H", f"authorization: Bearer {target.token}"]  # lowercase: gRPC refuses upper-case metadata keys
    result = perf_analyzer(*args)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    sweep = re.findall(r"Concurrency: (\d+), throughput: ([\d.]+) infer/sec", output)
    assert [c for c, _ in sweep] == ["1", "2"], output[-3000:]
    assert all(float(t) > 0 for _, t in sweep), output[-3000:]
    assert f"Batch size: {batch}" in output, output[:1500]
    assert "Successful request count" in output  # server-side statistics were read (ModelStatistics)
