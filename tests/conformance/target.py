"""What the conformance suite needs from a server under test.

Every service provides, in its own model format, the same small model set (see tests/support/echo.py
for the reference): `add_sub` (INPUT0, INPUT1 FP32 [-1, 16] -> OUTPUT0 = a + b + (version - 1),
OUTPUT1 = a - b; versions 1 and 2), identity models per datatype it supports, and optionally `slow`
(>= 0.5 s per request, queue of 2), `faulty` (raises inside the model) and `broken` (fails to load).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Target:
    name: str
    address: str
    platform: str
    identity: dict[str, str] = field(default_factory=dict)  # datatype -> model name
    slow: str | None = "slow"
    faulty: str | None = "faulty"
    broken: str | None = "broken"
    token: str | None = None
    stop: object = None  # callable that stops the server
