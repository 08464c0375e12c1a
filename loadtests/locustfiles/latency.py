"""Latency: one user sending one request at a time: the service's latency without queueing.

    locust -f loadtests/locustfiles/latency.py --headless -t 30s \
        --host grpc://127.0.0.1:8001 --model digits-mlp --warmup 5s

`-u` is ignored (always one user).
"""

import _path  # noqa: I001 - must come first: makes `loadtests` importable from a checkout
from locust import events

_path.ensure_repository_on_path()

from loadtests.generator import session, user  # noqa: E402

user.init_grpc_gevent()
session.install(events, "latency", single_user=True)


class LatencyUser(user.TargetUser):
    """One request in flight at any time."""
