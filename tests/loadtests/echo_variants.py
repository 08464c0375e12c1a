"""Echo backends that differ from the plain one (tests/support/echo.py) on purpose, on the real server
core:

- `WideBatches`: add_sub batches up to 64 rows (the plain one: 8), so the shared contract refuses a
  batch of 17 or 33 rows on the plain backend (INVALID_ARGUMENT naming max_batch_size 8) and serves
  it here (OK): two cases of the behaviour corpus whose statuses differ, everything else alike;
- `Slowed`: add_sub's model sleeps SLOW_S per execution (a handler that sleeps), answers unchanged:
  a target made slower on purpose, for `loadtests diff`."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from client.messages import TensorSpec
from server_core.batcher import BatchingConfig
from tests.support.echo import EchoLoader

from .conftest import echo_server

WIDE_MAX_BATCH = 64
DIFFERING_CASES = ("batch of 17 rows", "batch of 33 rows")  # over 8 rows, within 64


SLOW_S = 0.05
INPUTS = [TensorSpec("INPUT0", "FP32", (-1, 16)), TensorSpec("INPUT1", "FP32", (-1, 16))]
OUTPUTS = [TensorSpec("OUTPUT0", "FP32", (-1, 16)), TensorSpec("OUTPUT1", "FP32", (-1, 16))]


class _AddSub:
    def __init__(self, offset: float, sleep_s: float = 0.0):
        self.offset = offset
        self.sleep_s = sleep_s

    def __call__(self, inputs):
        if self.sleep_s:
            time.sleep(self.sleep_s)
        a, b = inputs["INPUT0"], inputs["INPUT1"]
        return {"OUTPUT0": a + b + self.offset, "OUTPUT1": a - b}


class WideBatches(EchoLoader):
    def _add_sub(self, name):
        return [self._model(name, v, INPUTS, OUTPUTS, _AddSub(float(int(v) - 1)),
                            BatchingConfig(max_batch_size=WIDE_MAX_BATCH, max_delay_s=0.005, max_queue=64, workers=1))
                for v in ("1", "2")]


class Slowed(EchoLoader):
    def _add_sub(self, name):
        return [self._model(name, v, INPUTS, OUTPUTS, _AddSub(float(int(v) - 1), SLOW_S),
                            BatchingConfig(max_batch_size=8, max_delay_s=0.005, max_queue=64, workers=1))
                for v in ("1", "2")]


@contextlib.contextmanager
def differing_pair() -> Iterator[tuple[str, str]]:
    """(plain echo address, WideBatches address), both serving until the block ends."""
    with echo_server() as a, echo_server(WideBatches()) as b:
        yield a.address, b.address
