"""What a comparison runs: one scenario with identical settings for every target, in rounds."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..generator.options import LoadOptions, doubling
from ..targets import Target
from .preflight import PreflightError

SCENARIOS = ("latency", "throughput", "ramp", "sweep")
LOCUSTFILES = Path(__file__).resolve().parent.parent / "locustfiles"
MAX_USERS = 10_000
MAX_ROUNDS = 50
MAX_DURATION_S = 24 * 3600.0
LOCUST_T_SLACK_S = 5


@dataclass
class CompareConfig:
    """Settings of `python -m loadtests compare`; `validate()` before use.

    `duration_s` is the measured time of each target in each round (after `warmup_s`); for `ramp`
    it is the time limit of the steps; for `sweep` each step lasts `ramp_step_s` and the steps are
    `sweep_users` (default 1, 2, 4, ... `users`). `rounds`: how many times every target is loaded,
    in a rotated order each round (A B C, B C A, C A B, ...)."""

    targets: list[Target]
    model: str
    scenario: str = "throughput"
    users: int | None = None
    spawn_rate: float | None = None  # users started per second; default: all within a second
    duration_s: float = 30.0
    warmup_s: float = 5.0
    rounds: int = 3
    out_dir: Path = Path("reports/compare")
    model_version: str = ""
    batch_size: int = 1
    inputs: str = ""
    seed: int = 0
    deadline_s: float = 10.0
    check_rate: float = 0.05
    check_atol: float = 1e-4
    check_rtol: float = 1e-3
    parity: Path | None = None  # a parity JSON (python -m client parity --json) shown in the report
    behaviour: Path | None = None  # a behaviour JSON (python -m client parity --behaviour --json), shown too
    interval_s: float = 0.5
    ramp_start_users: int = 1
    ramp_step_users: int = 1
    ramp_step_s: float = 10.0
    ramp_p99_ms: float = 500.0
    ramp_max_error_rate: float = 0.01
    sweep_users: tuple[int, ...] = ()
    slo_p99_ms: float | None = None  # sweep: the highest throughput whose p99 stays under this
    nvml: object = field(default=None, repr=False)  # a pynvml stand-in (tests); None = pynvml

    def validate(self) -> None:
        """Raise PreflightError listing every setting that makes no sense."""
        problems = []
        if self.scenario not in SCENARIOS:
            problems.append(f"unknown scenario {self.scenario!r}; expected one of {', '.join(SCENARIOS)}")
        if self.scenario == "latency":
            if self.users not in (None, 1):
                problems.append(f"the latency scenario runs one user; got --users {self.users} "
                                "(use --scenario throughput for concurrent users)")
            self.users = 1
        elif self.users is None:
            self.users = 64 if self.scenario == "ramp" else 8
        if not 1 <= self.users <= MAX_USERS:
            problems.append(f"--users must be between 1 and {MAX_USERS}, got {self.users}")
        if not 1 <= self.rounds <= MAX_ROUNDS:
            problems.append(f"--rounds must be between 1 and {MAX_ROUNDS}, got {self.rounds}")
        if self.spawn_rate is not None and not self.spawn_rate > 0:
            problems.append(f"--spawn-rate must be positive, got {self.spawn_rate}")
        if self.scenario == "sweep":
            if not self.sweep_users:
                self.sweep_users = doubling(self.users)
            self.duration_s = len(self.sweep_users) * self.ramp_step_s
            if self.ramp_step_s < 2:
                problems.append(f"a sweep step (--step-time) must last at least 2 s, got {self.ramp_step_s:g}")
        if self.slo_p99_ms is not None and not self.slo_p99_ms > 0:
            problems.append(f"--slo-p99-ms must be positive, got {self.slo_p99_ms:g}")
        if not 1.0 <= self.duration_s <= MAX_DURATION_S:
            problems.append(f"--duration must be between 1 s and 24 h, got {self.duration_s:g} s")
        if not 0.0 <= self.warmup_s <= 3600:
            problems.append(f"--warmup must be between 0 and 1 h, got {self.warmup_s:g} s")
        if not 0.05 <= self.interval_s <= 60:
            problems.append(f"--interval must be between 0.05 and 60 s, got {self.interval_s:g}")
        if self.scenario == "ramp" and self.duration_s < self.ramp_step_s:
            problems.append(f"the ramp's --duration ({self.duration_s:g} s) must hold at least one step "
                            f"(--ramp-step-time {self.ramp_step_s:g} s)")
        if len(self.targets) < 2:
            problems.append(f"a comparison needs two targets or more, got {len(self.targets)}: add "
                            "--target NAME=URL (or --torch and --tf)")
        names = [t.name for t in self.targets]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            problems.append(f"target name given twice: {', '.join(twice)}; give each --target its own NAME")
        urls = [t.url for t in self.targets]
        if len(set(urls)) < len(urls):
            problems.append("two targets have the same address; each needs its own")
        if self.inputs and not Path(self.inputs).is_file():
            problems.append(f"--inputs {self.inputs}: no such file")
        if self.parity is not None and not Path(self.parity).is_file():
            problems.append(f"--parity {self.parity}: no such file")
        if self.behaviour is not None and not Path(self.behaviour).is_file():
            problems.append(f"--behaviour {self.behaviour}: no such file")
        try:
            self.load_options()
        except ValueError as e:
            problems.append(str(e))
        if problems:
            raise PreflightError("; ".join(problems))

    def load_options(self) -> LoadOptions:
        return LoadOptions(
            target="grpc://127.0.0.1:1", model=self.model, model_version=self.model_version,
            batch_size=self.batch_size, inputs=self.inputs, seed=self.seed, deadline_s=self.deadline_s,
            check_rate=self.check_rate, check_atol=self.check_atol, check_rtol=self.check_rtol,
            warmup_s=self.warmup_s, ramp_start_users=self.ramp_start_users,
            ramp_step_users=self.ramp_step_users, ramp_step_s=self.ramp_step_s,
            ramp_p99_ms=self.ramp_p99_ms, ramp_max_error_rate=self.ramp_max_error_rate)

    @property
    def run_time_s(self) -> float:
        """Warm-up and measurement: how long each target is loaded in each round."""
        return self.warmup_s + self.duration_s

    @property
    def locust_time_limit_s(self) -> int:
        """Locust's -t, a backstop: the session stops the test itself after the measured time."""
        return math.ceil(self.run_time_s) + (0 if self.scenario == "ramp" else LOCUST_T_SLACK_S)

    def order(self, round_index: int) -> list[Target]:
        """The targets in round `round_index` (0-based): rotated by one each round."""
        k = round_index % len(self.targets)
        return self.targets[k:] + self.targets[:k]

    def settings(self) -> dict:
        """The settings every target ran with, as the report shows them."""
        out: dict[str, object] = {
            "scenario": self.scenario, "users": self.users, "rounds": self.rounds,
            "spawn_rate": self.spawn_rate or float(self.users or 1), "duration_s": self.duration_s,
            "warmup_s": self.warmup_s, "model_version": self.model_version or "latest",
            "batch_size": self.batch_size, "inputs": self.inputs or f"generated (seed {self.seed})",
            "deadline_s": self.deadline_s, "check_rate": self.check_rate,
            "check_atol": self.check_atol, "check_rtol": self.check_rtol,
            "sampling_interval_s": self.interval_s}
        if self.scenario == "ramp":
            out.update(ramp_start_users=self.ramp_start_users, ramp_step_users=self.ramp_step_users,
                       ramp_step_s=self.ramp_step_s, ramp_p99_ms=self.ramp_p99_ms,
                       ramp_max_error_rate=self.ramp_max_error_rate)
        if self.scenario == "sweep":
            out.update(sweep_users=list(self.sweep_users), step_s=self.ramp_step_s, slo_p99_ms=self.slo_p99_ms)
        return out

    def locust_command(self, target: Target, results_json: Path, request_set: Path) -> list[str]:
        locustfile = LOCUSTFILES / f"{self.scenario}.py"
        cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
               "--only-summary", "--host", target.url, "-u", str(self.users),
               "-r", f"{self.spawn_rate or float(self.users or 1):g}", "-t", f"{self.locust_time_limit_s}s",
               "--model", self.model, "--batch-size", str(self.batch_size), "--seed", str(self.seed),
               "--deadline", f"{self.deadline_s:g}", "--check-rate", f"{self.check_rate:g}",
               "--check-atol", f"{self.check_atol:g}", "--check-rtol", f"{self.check_rtol:g}",
               "--warmup", f"{self.warmup_s:g}", "--results-json", str(Path(results_json).resolve()),
               "--request-set", str(Path(request_set).resolve())]  # Locust runs from the repository root
        if self.scenario != "ramp":  # the ramp's shape ends at -t itself, precisely
            cmd += ["--measure-time", f"{self.duration_s:g}"]
        if self.model_version:
            cmd += ["--model-version", self.model_version]
        if self.scenario in ("ramp", "sweep"):
            cmd += ["--ramp-step-time", f"{self.ramp_step_s:g}"]
        if self.scenario == "sweep":
            cmd += ["--sweep-users", ",".join(str(u) for u in self.sweep_users)]
        if self.scenario == "ramp":
            cmd += ["--ramp-start-users", str(self.ramp_start_users), "--ramp-step-users",
                    str(self.ramp_step_users), "--ramp-p99-ms", f"{self.ramp_p99_ms:g}",
                    "--ramp-max-error-rate", f"{self.ramp_max_error_rate:g}"]
        return cmd
