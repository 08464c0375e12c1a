"""The Python load generator, for the targets perf_analyzer cannot drive (TorchServe's own gRPC API,
TF Serving's Predict) and for the pairs that include them: several processes, each a closed loop of
asyncio callers sending one pre-serialised request to one unary method, bytes in and bytes out (no
protobuf work on the client's side).

`python -m bench.clients --address A --method /pkg.Service/Method --payload FILE --concurrency C
--start EPOCH --duration S` waits until EPOCH (so that every process measures the same window), calls
for `S` seconds after a warm-up, and prints one JSON object: {"requests": N, "seconds": S,
"latencies_s": [...]}; `run()` starts the processes and merges what they print."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .harness import REPO_ROOT, Load, Server, cpu_seconds

MAX_MESSAGE = 64 << 20
WARMUP_S = 0.5


async def closed_loop(address: str, method: str, payload: bytes, concurrency: int, start_at: float,
                      duration_s: float) -> dict:
    import grpc

    options = [("grpc.max_send_message_length", MAX_MESSAGE), ("grpc.max_receive_message_length", MAX_MESSAGE)]
    async with grpc.aio.insecure_channel(address, options=options) as channel:
        call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        await call(payload, timeout=60)
        measure_from = max(start_at, time.time() + WARMUP_S)
        stop_at = measure_from + duration_s
        latencies: list[float] = []

        async def caller():
            while True:
                now = time.time()
                if now >= stop_at:
                    return
                t0 = time.perf_counter()
                await call(payload, timeout=60)
                if now >= measure_from:
                    latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(caller() for _ in range(concurrency)))
    return {"requests": len(latencies), "seconds": duration_s, "latencies_s": latencies}


def run(server: Server, method: str, payload: bytes, concurrency: int, duration_s: float,
        processes: int = 1, items_per_request: int = 1, workdir: Path | None = None) -> Load:
    """`concurrency` callers split over `processes` client processes, measuring one common window;
    the Load carries the clients' CPU and the server's over that window."""
    with tempfile.NamedTemporaryFile(dir=workdir, suffix=".bin", delete=False) as f:
        f.write(payload)
    payload_file = Path(f.name)
    processes = max(1, min(processes, concurrency))
    shares = [concurrency // processes + (i < concurrency % processes) for i in range(processes)]
    start_at = time.time() + 1.5 + 0.2 * processes  # every process is up and warm by then
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    procs = [subprocess.Popen([sys.executable, "-m", "bench.clients", "--address", server.address, "--method", method,
                               "--payload", str(payload_file), "--concurrency", str(share), "--start", repr(start_at),
                               "--duration", repr(duration_s)], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for share in shares]
    while time.time() < start_at:
        time.sleep(0.01)
    server_cpu0, client_cpu0 = cpu_seconds(server.pid), sum(cpu_seconds(p.pid) for p in procs)
    time.sleep(duration_s)
    server_cpu, client_cpu = cpu_seconds(server.pid) - server_cpu0, sum(cpu_seconds(p.pid) for p in procs) - client_cpu0
    results = []
    for p in procs:
        out, err = p.communicate(timeout=duration_s + 120)
        if p.returncode != 0:
            raise RuntimeError(f"bench.clients failed against {server.name}: {err[-2000:]}")
        results.append(json.loads(out))
    payload_file.unlink(missing_ok=True)
    latencies = [lat for r in results for lat in r["latencies_s"]]
    requests = sum(r["requests"] for r in results)
    return Load(requests / duration_s, statistics.median(latencies) * 1e3 if latencies else float("nan"),
                items_per_request, client_cpu / duration_s, server_cpu / duration_s)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.clients", description=__doc__)
    parser.add_argument("--address", required=True)
    parser.add_argument("--method", required=True, help="/package.Service/Method")
    parser.add_argument("--payload", required=True, help="file with the serialised request")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--start", type=float, default=0.0, help="epoch seconds when measuring starts")
    parser.add_argument("--duration", type=float, default=3.0)
    args = parser.parse_args(argv)
    result = asyncio.run(closed_loop(args.address, args.method, Path(args.payload).read_bytes(), args.concurrency,
                                     args.start, args.duration))
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
