"""Small real models, handler sources and model stores for the torch_service tests (built in tmp
folders at test time: no downloads)."""

from __future__ import annotations

from pathlib import Path

import torch

from client.datatypes import DATATYPES
from tests.support.echo import identity_name
from torch_service.archive import build_archive

# An eager model file: exactly one nn.Module subclass, constructible without arguments.
ADD_SUB_SOURCE = '''
import torch


class AddSub(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("offset", torch.zeros(()))

    def forward(self, a, b):
        return a + b + self.offset, a - b
'''

BYTES_IDENTITY_HANDLER = '''
import numpy as np

from torch_service.handler import BaseHandler


class BytesIdentity(BaseHandler):
    """BYTES cannot be a torch tensor: pass the numpy object array through."""

    def initialize(self, context):
        self.context = context
        self.initialized = True

    def handle(self, data, context):
        return {"OUTPUT0": np.array(data["INPUT0"], dtype=object, copy=True)}
'''

SLOW_HANDLER = '''
import time

from torch_service.handler import BaseHandler


class Slow(BaseHandler):
    def inference(self, data, *args, **kwargs):
        time.sleep(0.5)  # the model itself is slow: what the queue and deadline tests need
        return super().inference(data, *args, **kwargs)
'''

FAULTY_HANDLER = '''
from torch_service.handler import BaseHandler


class Faulty(BaseHandler):
    def inference(self, data, *args, **kwargs):
        raise RuntimeError("secret internal detail: the model exploded")
'''


class AddSub(torch.nn.Module):
    def __init__(self, offset: float = 0.0):
        super().__init__()
        self.register_buffer("offset", torch.tensor(offset))

    def forward(self, a, b):
        return a + b + self.offset, a - b


class Identity(torch.nn.Module):
    def forward(self, x):
        return x.clone()


def tensors(inputs, outputs) -> dict:
    """A `tensors:` section from [(name, datatype, shape), ...] lists."""
    def specs(items):
        return [{"name": n, "datatype": d, "shape": list(s)} for n, d, s in items]
    return {"inputs": specs(inputs), "outputs": specs(outputs)}


ADD_SUB_TENSORS = tensors([("INPUT0", "FP32", (-1, 16)), ("INPUT1", "FP32", (-1, 16))],
                          [("OUTPUT0", "FP32", (-1, 16)), ("OUTPUT1", "FP32", (-1, 16))])


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def save_torchscript(module: torch.nn.Module, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.script(module).save(str(path))
    return path


def save_export(module: torch.nn.Module, example: tuple, path: Path) -> Path:
    """A torch.export program with a variable first (batch) dimension on every input."""
    batch = torch.export.Dim("batch")
    program = torch.export.export(module, example, dynamic_shapes=tuple({0: batch} for _ in example))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.export.save(program, str(path))
    return path


def save_state_dict(module: torch.nn.Module, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(module.state_dict(), str(path))
    return path


def build_conformance_store(work: Path) -> Path:
    """The conformance model set as torch archives: add_sub v1 (eager, .mar) and v2 (torch.export,
    folder archive), TorchScript identity models for every datatype (BYTES through a custom
    handler), slow, faulty and a corrupt `broken.mar`."""
    src, store = work / "src", work / "store"
    batching = {"batchSize": 8, "maxBatchDelay": 5, "maxQueueSize": 64, "tensors": ADD_SUB_TENSORS}
    model_file = write_text(src / "add_sub_model.py", ADD_SUB_SOURCE)
    build_archive(store / "add_sub" / "1.mar", model_name="add_sub", version="1", model_file=model_file,
                  serialized_file=save_state_dict(AddSub(0.0), src / "add_sub_v1.pt"), config=batching)
    example = (torch.zeros(2, 16), torch.zeros(2, 16))
    build_archive(store / "add_sub" / "2", model_name="add_sub", version="2", as_folder=True,
                  serialized_file=save_export(AddSub(1.0), example, src / "add_sub_v2.pt2"), config=batching)
    identity = save_torchscript(Identity(), src / "identity.pt")
    bytes_handler = write_text(src / "bytes_identity.py", BYTES_IDENTITY_HANDLER)
    for datatype in DATATYPES:
        config = {"tensors": tensors([("INPUT0", datatype, (-1, -1))], [("OUTPUT0", datatype, (-1, -1))])}
        handler = bytes_handler if datatype == "BYTES" else "base_handler"
        name = identity_name(datatype)
        build_archive(store / f"{name}.mar", model_name=name, version="1", serialized_file=identity,
                      handler=handler, config=config)
    one = tensors([("INPUT0", "FP32", (-1, 1))], [("OUTPUT0", "FP32", (-1, 1))])
    build_archive(store / "slow.mar", model_name="slow", version="1", serialized_file=identity,
                  handler=write_text(src / "slow_handler.py", SLOW_HANDLER),
                  config={"minWorkers": 1, "maxQueueSize": 2, "tensors": one})
    build_archive(store / "faulty.mar", model_name="faulty", version="1", serialized_file=identity,
                  handler=write_text(src / "faulty_handler.py", FAULTY_HANDLER), config={"tensors": one})
    (store / "broken.mar").write_bytes(b"PK\x03\x04 this is not really a zip archive")
    return store

# A request whose first value is negative blocks its worker until the gate file exists: the tests
# queue requests behind it, then open the gate, so batches form deterministically. A batch holding
# a value <= -100 makes the model raise.
GATED_HANDLER = '''
import os
import time

from torch_service.handler import BaseHandler


class Gated(BaseHandler):
    def initialize(self, context):
        super().initialize(context)
        self.gate = context.model_yaml_config["handler"]["gate"]

    def inference(self, data, *args, **kwargs):
        if float(data[0].min()) <= -100:
            raise RuntimeError("secret internal detail: this batch broke the model")
        if float(data[0].flatten()[0]) < 0:
            give_up = time.monotonic() + 30
            while not os.path.exists(self.gate) and time.monotonic() < give_up:
                time.sleep(0.005)
        return super().inference(data, *args, **kwargs)
'''
