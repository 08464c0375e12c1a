"""h2load (nghttp2's HTTP/2 load generator: Debian's nghttp2-client, installed by `make tools`) as the
load generator for the gRPC targets perf_analyzer cannot drive: TorchServe's Predictions API and TF
Serving's Predict. It is C and event-driven: about a tenth of a core at 3,000 req/s on the 2-core
machine, where the Python client processes (bench/clients.py) take half a core, which the servers
beside them then lack.

One measurement = one h2load run of `duration_s` sending one pre-serialised request as a gRPC frame
over h2c: `concurrency` streams in flight over at most two connections (as the Python clients hold
two channels), closed loop. Its throughput is h2load's, its p50 the median of the per-request times
of its log. The client's CPU comes from the run's own rusage, the server's from /proc over the same
span; both in cores.

h2load knows HTTP/2, not gRPC: a call that fails still answers HTTP 200, with its error in trailers
and no message. So before the run one real gRPC call reads the size of a good answer, and after it
the DATA bytes received must be exactly one good answer's frame for every completed request; any
other count, or any request h2load itself counts failed, fails the measurement (RuntimeError)."""

from __future__ import annotations

import os
import re
import shutil
import statistics
import struct
import subprocess
import tempfile
import time
from pathlib import Path

from .harness import Load, Server, cpu_seconds

MAX_CONNECTIONS = 2
MAX_MESSAGE = 64 << 20
_HEADERS = ("content-type: application/grpc", "te: trailers")
_SCALE = {"us": 1e6, "ms": 1e3, "s": 1.0}  # the units h2load prints durations in


def missing() -> str:
    """Why h2load cannot run here ("" when it can)."""
    return "" if shutil.which("h2load") else "h2load is not installed (run `make tools`: Debian's nghttp2-client)"


def frame(message: bytes) -> bytes:
    """`message` as one uncompressed gRPC length-prefixed frame."""
    return b"\x00" + struct.pack(">I", len(message)) + message


def answer_size(address: str, method: str, message: bytes, timeout_s: float = 60.0) -> int:
    """The size of `method`'s answer to `message` (a real gRPC call, which fails on an error status)."""
    import grpc

    options = [("grpc.max_send_message_length", MAX_MESSAGE), ("grpc.max_receive_message_length", MAX_MESSAGE)]
    with grpc.insecure_channel(address, options=options) as channel:
        call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        return len(call(message, timeout=timeout_s))


def _connections(concurrency: int) -> tuple[int, int]:
    """(connections, streams per connection) holding exactly `concurrency` streams."""
    connections = MAX_CONNECTIONS if concurrency % MAX_CONNECTIONS == 0 else 1
    return connections, concurrency // connections


def _count(pattern: str, out: str) -> int:
    found = re.search(pattern, out)
    if found is None:
        raise RuntimeError(f"h2load printed no '{pattern}': {out[-1500:]}")
    return int(found.group(1))


def parse(out: str, answer_bytes: int) -> tuple[int, float]:
    """(completed requests, seconds measured) from h2load's summary, after checking every completed
    request got one good answer (see the module docstring)."""
    done = _count(r"requests: .*?(\d+) done", out)
    succeeded = _count(r"requests: .*?(\d+) succeeded", out)
    bad = sum(_count(rf"requests: .*?(\d+) {what}", out) for what in ("failed", "errored", "timeout"))
    data = _count(r"traffic: .*\((\d+)\) data", out)
    finished = re.search(r"finished in ([\d.]+)(us|ms|s)\b", out)
    seconds = float(finished.group(1)) / _SCALE[finished.group(2)] if finished else 0.0
    if not done or bad or succeeded != done or seconds <= 0:
        raise RuntimeError(f"h2load: {done} done, {succeeded} succeeded, {bad} failed: {out[-1500:]}")
    expected = done * len(frame(b"\0" * answer_bytes))
    if data != expected:
        raise RuntimeError(f"h2load: {data} bytes of answers for {done} requests, not {expected}: some calls "
                           f"did not answer the {answer_bytes}-byte message a good call does (gRPC errors?)")
    return done, seconds


def run(server: Server, method: str, message: bytes, concurrency: int, duration_s: float,
        items_per_request: int = 1, workdir: Path | None = None) -> Load:
    """One measurement of `method` at `server` (see the module docstring)."""
    size = answer_size(server.address, method, message)
    connections, streams = _connections(concurrency)
    with tempfile.TemporaryDirectory(prefix="h2load-", dir=workdir) as d:
        body, log = Path(d) / "request.bin", Path(d) / "requests.tsv"
        body.write_bytes(frame(message))
        headers = [arg for header in _HEADERS for arg in ("-H", header)]
        args = ["h2load", "-c", str(connections), "-m", str(streams), "-D", f"{max(1, round(duration_s * 1e3))}ms",
                "-d", str(body), "--log-file", str(log), *headers, f"http://{server.address}{method}"]
        server_cpu0, started = cpu_seconds(server.pid), time.perf_counter()
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None  # stdout=PIPE
        with proc.stdout:
            out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        server_cores = (cpu_seconds(server.pid) - server_cpu0) / elapsed
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"h2load failed against {server.name}: {out[-1500:]}")
        done, seconds = parse(out, size)
        times_us = [int(line.split("\t")[2]) for line in log.read_text().splitlines() if line.count("\t") == 2]
    p50_ms = statistics.median(times_us) / 1e3 if times_us else float("nan")
    return Load(done / seconds, p50_ms, items_per_request, (usage.ru_utime + usage.ru_stime) / elapsed, server_cores)
