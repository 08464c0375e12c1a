"""Ramp: users added step by step until a step's p99 latency or error rate passes its limit (the
knee: the most load the service carries within the limits), `-u` users, or the `-t` time limit.

    locust -f loadtests/locustfiles/ramp.py --headless -u 64 -t 5m \
        --host grpc://127.0.0.1:8001 --model resnet18 \
        --ramp-start-users 1 --ramp-step-users 2 --ramp-step-time 15s --ramp-p99-ms 250
"""

import _path  # noqa: I001 - must come first: makes `loadtests` importable from a checkout
from locust import events

_path.ensure_repository_on_path()

from loadtests.generator import session, user  # noqa: E402
from loadtests.generator.shapes import SteppedRamp  # noqa: E402

user.init_grpc_gevent()
session.install(events, "ramp")


class RampUser(user.TargetUser):
    """Closed loop, no think time; how many run is the shape's decision."""


class RampShape(SteppedRamp):
    """Steps and limits from --ramp-* options, -u (most users) and -t (time limit)."""
