"""A small test backend on the real server core: identity models for every datatype, a two-input
add/sub model with two versions and batching, a slow model with a tiny queue, a model that raises,
and one that fails to load. The conformance suite's reference target."""

from __future__ import annotations

import time

import numpy as np

from client.datatypes import DATATYPES
from client.messages import TensorSpec
from server_core.batcher import BatchingConfig
from server_core.model import ServedModel, Signature
from server_core.repository import Loader

PLATFORM = "tandem_echo"


def identity_name(datatype: str) -> str:
    return f"identity_{datatype.lower()}"


def _identity(inputs):
    return {"OUTPUT0": np.array(inputs["INPUT0"], copy=True)}


def _add_sub(offset):
    def run(inputs):
        a, b = inputs["INPUT0"], inputs["INPUT1"]
        return {"OUTPUT0": a + b + offset, "OUTPUT1": a - b}
    return run


def _slow(inputs):
    time.sleep(0.5)
    return {"OUTPUT0": np.array(inputs["INPUT0"], copy=True)}


def _faulty(inputs):
    raise RuntimeError("secret internal detail: the model exploded")


class EchoLoader(Loader):
    platform = PLATFORM

    def __init__(self, metrics=None):
        self.metrics = metrics
        self.models = {identity_name(dt): self._identity for dt in DATATYPES}
        self.models.update(add_sub=self._add_sub, slow=self._slow, faulty=self._faulty, broken=self._broken)

    def names(self) -> list[str]:
        return list(self.models)

    def load(self, name: str) -> list[ServedModel]:
        return self.models[name](name)

    def _model(self, name, version, inputs, outputs, run, batching=None):
        return ServedModel(name, version, Signature(tuple(inputs), tuple(outputs)), run, batching,
                           platform=PLATFORM, metrics=self.metrics)

    def _identity(self, name):
        dt = name.split("_", 1)[1].upper()
        return [self._model(name, "1", [TensorSpec("INPUT0", dt, (-1, -1))], [TensorSpec("OUTPUT0", dt, (-1, -1))],
                            _identity)]

    def _add_sub(self, name):
        ins = [TensorSpec("INPUT0", "FP32", (-1, 16)), TensorSpec("INPUT1", "FP32", (-1, 16))]
        outs = [TensorSpec("OUTPUT0", "FP32", (-1, 16)), TensorSpec("OUTPUT1", "FP32", (-1, 16))]
        # Version 1 batches deterministically: a batch leaves as soon as 8 requests wait (a burst never
        # waits), and the first request of a batch always waits up to 0.25 s for company (even when the
        # model looks quiet), far longer than a burst of concurrent requests takes to arrive even on a
        # loaded machine where this in-process server answers each request before the next arrives.
        # Version 2 (the default version, used by most tests one request at a time) waits 5 ms, and
        # not at all when quiet.
        delay = {"1": 0.25, "2": 0.005}
        return [self._model(name, v, ins, outs, _add_sub(float(int(v) - 1)),
                            BatchingConfig(max_batch_size=8, max_delay_s=delay[v], max_queue=64, workers=1,
                                           quiet_skips_delay=v == "2"))
                for v in ("1", "2")]

    def _slow(self, name):
        spec = [TensorSpec("INPUT0", "FP32", (-1, 1))]
        out = [TensorSpec("OUTPUT0", "FP32", (-1, 1))]
        return [self._model(name, "1", spec, out, _slow, BatchingConfig(max_queue=2, workers=1))]

    def _faulty(self, name):
        spec = [TensorSpec("INPUT0", "FP32", (-1, 1))]
        return [self._model(name, "1", spec, [TensorSpec("OUTPUT0", "FP32", (-1, 1))], _faulty)]

    def _broken(self, name):
        raise ValueError("weights file is corrupt")


def main(argv=None) -> int:
    """`python -m tests.support.echo [--port N] [--metrics-port N] [--grace S]`: the echo backend as
    a real server process."""
    import argparse

    from server_core.metrics import Metrics
    from server_core.repository import RepositoryBackend
    from server_core.server import configure_logging, run
    from server_core.settings import ServerSettings

    parser = argparse.ArgumentParser(prog="python -m tests.support.echo")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--metrics-port", type=int, default=None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--grace", type=float, default=10.0)
    args = parser.parse_args(argv)
    configure_logging("INFO")
    metrics = Metrics()
    settings = ServerSettings(host=args.host, port=args.port, metrics_port=args.metrics_port, grace_s=args.grace)
    return run(RepositoryBackend(EchoLoader(metrics)), settings, metrics, prog="echo")


if __name__ == "__main__":
    raise SystemExit(main())
