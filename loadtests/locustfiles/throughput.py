"""Throughput: N users (`-u N`), each sending its next request as soon as the previous one answers.

    locust -f loadtests/locustfiles/throughput.py --headless -u 8 -r 8 -t 30s \
        --host grpc://127.0.0.1:8001 --model digits-mlp --batch-size 4 --warmup 5s
"""

import _path  # noqa: I001 - must come first: makes `loadtests` importable from a checkout
from locust import events

_path.ensure_repository_on_path()

from loadtests.generator import session, user  # noqa: E402

user.init_grpc_gevent()
session.install(events, "throughput")


class ThroughputUser(user.TargetUser):
    """Closed loop, no think time: the server's throughput at N requests in flight."""
