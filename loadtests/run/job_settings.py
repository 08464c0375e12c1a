"""The main job's settings and their defaults, apart from the job itself so that `python -m loadtests
--help` (and `compare` in the loadtests image, which ships no server_core) does not import it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class JobSettings:
    models: str = "all"
    scenario: str = "throughput"
    users: int = 8
    # about 5 minutes for the three zoo models on 2 cores: 3 rounds x 2 services x (2 s + 6 s + Locust's
    # start-up) per model, plus one sweep round (1, 2, 4, 8 users, 3 s each) for sweep_model
    duration_s: float = 6.0  # per target and round
    warmup_s: float = 2.0
    rounds: int = 3
    sweep_model: str = "digits-mlp"  # also measured with the sweep scenario ("" for none)
    slo_p99_ms: float = 50.0
    sweep_step_s: float = 3.0
    sweep_rounds: int = 1  # the curve's shape, not a verdict: one round keeps the job short
    out: Path = Path("reports")
    zoo: Path | None = None  # reuse a built zoo instead of building one
    seed: int = 0
    tf_backend: str = "auto"
    parity_samples_cap: int = 512
