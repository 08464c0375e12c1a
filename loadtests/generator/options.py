"""Tandem's custom Locust options, their validation, and small parsers shared with the runner.

Registered on Locust's parser by `add_arguments` (from an `init_command_line_parser` listener),
so they work with plain `locust -f loadtests/locustfiles/<scenario>.py ...`, in the web UI and in
distributed mode (the master hands them to its workers).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_DURATION = re.compile(r"^(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m)?(?:(?P<s>\d+(?:\.\d+)?)s?)?$")


def parse_duration(text: str | float | int, what: str = "duration") -> float:
    """Seconds from `30`, `2.5`, `30s`, `1m`, `1m30s`, `1h`; ValueError naming `what` otherwise."""
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        match = _DURATION.match(str(text).strip())
        if not str(text).strip() or match is None or not any(match.groupdict().values()):
            raise ValueError(f"{what}: {text!r} is not a duration; expected e.g. 30, 30s, 1m30s or 2.5")
        parts = {k: float(v) for k, v in match.groupdict().items() if v}
        value = parts.get("h", 0.0) * 3600 + parts.get("m", 0.0) * 60 + parts.get("s", 0.0)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what}: {text!r} must be a non-negative number of seconds")
    return value


def parse_host(text: str, what: str = "--host"):
    """The Target of Locust's --host: `[scheme://]HOST:PORT[?...]` of any registered kind."""
    from ..targets import parse_url

    try:
        return parse_url("target", text)
    except ValueError as e:
        raise ValueError(f"{what}: {str(e).removeprefix('target target: ')}") from None


@dataclass(frozen=True)
class LoadOptions:
    """What each virtual user needs to know; built from Locust's parsed options."""

    target: str  # the target's URL (scheme picks the kind: see loadtests.targets)
    model: str
    model_version: str = ""
    batch_size: int = 1
    inputs: str = ""  # .npz path; empty = generate from ModelMetadata
    seed: int = 0
    deadline_s: float = 10.0
    check_rate: float = 0.05
    check_atol: float = 1e-4
    check_rtol: float = 1e-3
    warmup_s: float = 0.0
    measure_s: float = 0.0  # stop after this much measured time (0: at -t, Locust's own limit)
    results_json: str = ""
    request_set: str = ""  # the orchestrator's request set (loadtests.generator.inputs); overrides inputs
    ramp_start_users: int = 1
    ramp_step_users: int = 1
    ramp_step_s: float = 10.0
    ramp_p99_ms: float = 500.0
    ramp_max_error_rate: float = 0.01
    sweep_users: tuple[int, ...] = ()  # sweep: the users of each step (1, 2, 4, ... -u)

    def __post_init__(self):
        problems = []
        if not self.model:
            problems.append("--model is required (the model to load-test)")
        if self.batch_size < 1:
            problems.append(f"--batch-size must be >= 1, got {self.batch_size}")
        if not 0 < self.deadline_s <= 3600:
            problems.append(f"--deadline must be in (0, 3600] seconds, got {self.deadline_s}")
        if not 0.0 <= self.check_rate <= 1.0:
            problems.append(f"--check-rate must be a fraction in [0, 1], got {self.check_rate}")
        if self.check_atol < 0 or self.check_rtol < 0:
            problems.append("--check-atol and --check-rtol must be >= 0")
        if self.ramp_start_users < 1 or self.ramp_step_users < 1:
            problems.append("--ramp-start-users and --ramp-step-users must be >= 1")
        if self.ramp_step_s < 1:
            problems.append(f"--ramp-step-time must be at least 1 s, got {self.ramp_step_s}")
        if self.ramp_p99_ms <= 0:
            problems.append(f"--ramp-p99-ms must be positive, got {self.ramp_p99_ms}")
        if not 0.0 <= self.ramp_max_error_rate <= 1.0:
            problems.append(f"--ramp-max-error-rate must be a fraction in [0, 1], got {self.ramp_max_error_rate}")
        if problems:
            raise ValueError("; ".join(problems))


def add_arguments(parser) -> None:
    """Register the options on Locust's (configargparse) parser."""
    g = parser  # Locust's own add_argument (it takes include_in_web_ui); groups do not
    g.add_argument("--model", default="", help="model to call (required)")
    g.add_argument("--model-version", default="", help="model version (default: the server's latest)")
    g.add_argument("--batch-size", type=int, default=1, help="samples per request (default 1)")
    g.add_argument("--inputs", default="", help="an .npz of inputs keyed by input name (arrays keyed by "
                                                "output name are reference outputs); default: generated "
                                                "from ModelMetadata")
    g.add_argument("--seed", type=int, default=0, help="seed of generated inputs (default 0)")
    g.add_argument("--deadline", default="10", help="deadline of every request: seconds, or e.g. 2s, "
                                                    "500ms (default 10)")
    g.add_argument("--check-rate", type=float, default=0.05,
                   help="fraction of responses checked against the reference outputs (default 0.05)")
    g.add_argument("--check-atol", type=float, default=1e-4, help="absolute tolerance of checks (1e-4)")
    g.add_argument("--check-rtol", type=float, default=1e-3, help="relative tolerance of checks (1e-3)")
    g.add_argument("--warmup", default="0", help="seconds at the start left out of Tandem's figures "
                                                 "(Locust's own table is reset then too)")
    g.add_argument("--measure-time", default="0",
                   help="stop after this long past the warm-up, precisely (Locust's -t may end up to "
                        "~0.5 s early); 0 = at -t")
    g.add_argument("--results-json", default="", include_in_web_ui=False,
                   help="write exact latencies' percentiles, CDF, timeline and checks here at the end")
    g.add_argument("--request-set", default="", include_in_web_ui=False,
                   help="the requests to send, as saved by `python -m loadtests compare` (overrides --inputs)")
    g.add_argument("--sweep-users", default="", help="sweep: users of each step, e.g. 1,2,4,8 (default: "
                                                    "doubling from 1 up to -u)")
    g.add_argument("--ramp-start-users", type=int, default=1, help="ramp: users of the first step (1)")
    g.add_argument("--ramp-step-users", type=int, default=1, help="ramp: users added per step (1)")
    g.add_argument("--ramp-step-time", default="10", help="ramp: seconds per step (10)")
    g.add_argument("--ramp-p99-ms", type=float, default=500.0,
                   help="ramp: stop when a step's p99 latency exceeds this many ms (500)")
    g.add_argument("--ramp-max-error-rate", type=float, default=0.01,
                   help="ramp: stop when a step's error rate exceeds this fraction (0.01)")


def _deadline(text) -> float:
    text = str(text).strip()
    if text.endswith("ms"):
        return float(text[:-2]) / 1000.0
    return parse_duration(text, "--deadline")


def from_parsed(parsed, host: str | None) -> LoadOptions:
    """LoadOptions from Locust's parsed options; ValueError with every problem found."""
    if not host:
        raise ValueError("--host is required: the target's URL, e.g. grpc://HOST:PORT or "
                         "torchserve://HOST:PORT?model=NAME")
    return LoadOptions(
        target=parse_host(host).url, request_set=getattr(parsed, "request_set", ""),
        sweep_users=parse_users(getattr(parsed, "sweep_users", "")), model=parsed.model,
        model_version=parsed.model_version,
        batch_size=int(parsed.batch_size), inputs=parsed.inputs, seed=int(parsed.seed),
        deadline_s=_deadline(parsed.deadline), check_rate=float(parsed.check_rate),
        check_atol=float(parsed.check_atol), check_rtol=float(parsed.check_rtol),
        warmup_s=parse_duration(parsed.warmup, "--warmup"),
        measure_s=parse_duration(parsed.measure_time, "--measure-time"), results_json=parsed.results_json,
        ramp_start_users=int(parsed.ramp_start_users), ramp_step_users=int(parsed.ramp_step_users),
        ramp_step_s=parse_duration(parsed.ramp_step_time, "--ramp-step-time"),
        ramp_p99_ms=float(parsed.ramp_p99_ms), ramp_max_error_rate=float(parsed.ramp_max_error_rate),
    )


def parse_users(text: str) -> tuple[int, ...]:
    """`1,2,4,8` -> (1, 2, 4, 8); ValueError unless positive and increasing."""
    if not str(text or "").strip():
        return ()
    try:
        users = tuple(int(v) for v in str(text).split(","))
    except ValueError:
        raise ValueError(f"--sweep-users {text!r}: expected users per step, e.g. 1,2,4,8") from None
    if any(u < 1 for u in users) or list(users) != sorted(set(users)):
        raise ValueError(f"--sweep-users {text!r}: steps must be positive and increasing")
    return users


def doubling(most: int) -> tuple[int, ...]:
    """1, 2, 4, ... up to `most` (which is always the last step)."""
    steps, u = [], 1
    while u < most:
        steps.append(u)
        u *= 2
    return (*steps, most)
