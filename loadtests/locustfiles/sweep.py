"""Sweep: concurrency steps 1, 2, 4, ... up to `-u` (or `--sweep-users 1,3,9`), each
`--ramp-step-time` long: throughput and p50/p99 per step, for a latency-throughput curve.

    locust -f loadtests/locustfiles/sweep.py --headless -u 16 -t 2m \\
        --host grpc://127.0.0.1:8001 --model digits-mlp --ramp-step-time 10s --warmup 3s
"""

import _path  # noqa: I001 - must come first: makes `loadtests` importable from a checkout
from locust import events

_path.ensure_repository_on_path()

from loadtests.generator import session, user  # noqa: E402
from loadtests.generator.shapes import Sweep  # noqa: E402

user.init_grpc_gevent()
session.install(events, "sweep")


class SweepUser(user.TargetUser):
    """Closed loop, no think time; how many run is the shape's decision."""


class SweepShape(Sweep):
    """Steps from -u / --sweep-users and --ramp-step-time."""
