"""The ramp scenario's load shape: stepped users until latency or errors pass a limit.

Each step holds a number of users for `--ramp-step-time`; it is judged on the requests that ended
in its second half-or-later (after one settling second), from Tandem's exact samples: its p99 and
error rate. The first step over a limit ends the ramp; the knee is the last step within them (the
most throughput the service delivers within the limits). The warm-up runs the first step's users
and is not judged. The shape bounds itself: `-u` caps the users, `-t` the total time.
"""

from __future__ import annotations

import logging
import math
import time

from locust import LoadTestShape
from locust.runners import MasterRunner

from ..stats.samples import window_stats
from .options import doubling
from .session import REPORT_INTERVAL_S, session_of

log = logging.getLogger("tandem.loadtests")
SETTLE_S = 1.0


def judge(stats: dict, p99_limit_ms: float, max_error_rate: float) -> str | None:
    """Why a step is over the limits, or None when it is within them."""
    if stats["requests"] == 0:
        return "no request completed in the step"
    if stats["error_rate"] > max_error_rate:
        return f"error rate {stats['error_rate']:.2%} > {max_error_rate:.2%}"
    if stats["p99_ms"] is not None and stats["p99_ms"] > p99_limit_ms:
        return f"p99 {stats['p99_ms']:.1f} ms > {p99_limit_ms:g} ms"
    return None


class SteppedRamp(LoadTestShape):
    abstract = True
    use_common_options = True  # reads -u (most users) and -t (time limit)

    def __init__(self):
        super().__init__()
        self._steps: list[dict] = []
        self._done = False

    def _state(self):
        session = session_of(self.runner.environment)
        o = session.options or session.load_options()
        parsed = self.runner.environment.parsed_options
        max_users = parsed.num_users or 1_000_000
        time_limit = float(parsed.run_time) if parsed.run_time else math.inf
        return session, o, max_users, time_limit

    def _finish(self, session, reason: str) -> None:
        within = [s for s in self._steps if s["verdict"] == "within limits"]
        knee = max(within, key=lambda s: s["rps"]) if within else None
        session.ramp = {"steps": self._steps, "knee": knee, "stop_reason": reason}
        log.warning("tandem ramp: %s; knee: %s", reason,
                    f"{knee['users']} users, {knee['rps']:.1f} req/s, p99 {knee['p99_ms']:.1f} ms"
                    if knee else "none (no step within the limits)")
        self._done = True

    @staticmethod
    def _users(o, i: int, max_users: int) -> int:
        """Users of step i: the last step has exactly the most users allowed."""
        return min(o.ramp_start_users + i * o.ramp_step_users, max_users)

    def _judge(self, session, o, i: int, max_users: int) -> str | None:
        users = self._users(o, i, max_users)
        begin = session.started + o.warmup_s + i * o.ramp_step_s
        stats = window_stats(session.store, begin + min(SETTLE_S, o.ramp_step_s / 2), begin + o.ramp_step_s)
        reason = judge(stats, o.ramp_p99_ms, o.ramp_max_error_rate)
        self._steps.append({"users": users, "start_s": round(i * o.ramp_step_s, 3),
                            "end_s": round((i + 1) * o.ramp_step_s, 3), **stats,
                            "verdict": "within limits" if reason is None else "over limits", "reason": reason})
        return None if reason is None else f"step {i + 1} ({users} users) is over the limits: {reason}"

    def tick(self):
        if self._done:
            return None
        session, o, max_users, time_limit = self._state()
        first = self._users(o, 0, max_users)
        if session.started is None:  # the test starts with this tick's answer
            return first, first
        elapsed = time.time() - session.started  # the samples' clock
        at_limit = elapsed >= time_limit
        if elapsed < o.warmup_s and not at_limit:
            return first, first
        since = max(0.0, elapsed - o.warmup_s)
        step = int(since // o.ramp_step_s)
        steps = 1 + max(0, math.ceil((max_users - first) / o.ramp_step_users))
        # judge each finished step once its samples can have arrived (workers report every second)
        lag = REPORT_INTERVAL_S + 0.3 if isinstance(self.runner, MasterRunner) and not at_limit else 0.0
        while len(self._steps) < min(step, steps) and since >= (len(self._steps) + 1) * o.ramp_step_s + lag:
            over = self._judge(session, o, len(self._steps), max_users)
            if over:
                self._finish(session, over)
                return None
        if at_limit:
            self._finish(session, f"reached the time limit (-t {time_limit:g}s)")
            return None
        if step >= steps:
            if len(self._steps) >= steps:
                self._finish(session, f"reached the most users allowed (-u {max_users})")
                return None
            step = steps - 1  # hold while the last step is judged
        users = self._users(o, step, max_users)
        return users, users


class Sweep(LoadTestShape):
    """Concurrency steps (`--sweep-users`, default 1, 2, 4, ... `-u`), each `--ramp-step-time` long,
    after a warm-up at the first step's users; never stops early (every step is measured, its
    figures are computed afterwards from the per-second records: loadtests.stats.sweep)."""

    abstract = True
    use_common_options = True

    def tick(self):
        session = session_of(self.runner.environment)
        o = session.options or session.load_options()
        users = o.sweep_users or doubling(self.runner.environment.parsed_options.num_users or 1)
        if session.sweep is None:
            session.sweep = {"step_s": o.ramp_step_s,
                             "steps": [{"users": u, "start_s": round(i * o.ramp_step_s, 3),
                                        "end_s": round((i + 1) * o.ramp_step_s, 3)} for i, u in enumerate(users)]}
        if session.started is None:
            return users[0], users[0]
        since = time.time() - session.started - o.warmup_s
        if since < 0:
            return users[0], users[0]
        step = int(since // o.ramp_step_s)
        if step >= len(users):
            return None
        return users[step], users[step]
