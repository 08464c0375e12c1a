"""Fixtures: serialized models built once per session, and in-process servers on a free port."""

from __future__ import annotations

import contextlib
import copy
import types
from pathlib import Path

import pytest
import torch

from client import InferenceClient
from server_core.metrics import Metrics
from server_core.repository import RepositoryBackend
from server_core.runner import BackgroundServer
from server_core.settings import ServerSettings
from torch_service.devices import DevicePlanner
from torch_service.loader import TorchLoader
from torch_service.store import ModelStore

from . import models


class MLP(torch.nn.Module):
    """The model file's class (same source as MLP_SOURCE), for reference outputs. Written out twice on
    purpose: torch.jit.script needs the class's source in a real file, so it cannot come from exec."""

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))

    def forward(self, x):
        return self.net(x)


MLP_SOURCE = '''
import torch


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))

    def forward(self, x):
        return self.net(x)
'''

MLP_TENSORS = models.tensors([("x", "FP32", (-1, 8))], [("y", "FP32", (-1, 3))])


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory):
    """Serialized models shared by the tests (read-only): the same MLP in all three formats."""
    d = tmp_path_factory.mktemp("artifacts")
    torch.manual_seed(0)
    mlp = MLP().eval()
    ns = types.SimpleNamespace(dir=d, mlp=mlp)
    ns.mlp_script = models.save_torchscript(mlp, d / "mlp.pt")
    ns.mlp_export = models.save_export(mlp, (torch.zeros(2, 8),), d / "mlp.pt2")
    ns.mlp_state = models.save_state_dict(mlp, d / "mlp_state.pt")
    ns.mlp_model_file = models.write_text(d / "mlp_model.py", MLP_SOURCE)
    ns.identity = models.save_torchscript(models.Identity(), d / "identity.pt")
    return ns


def mlp_config(**extra) -> dict:
    return {"tensors": copy.deepcopy(MLP_TENSORS), **extra}


@contextlib.contextmanager
def serving(store: Path, work_dir: Path, *, metrics=None, models_to_load=None, cuda_count=0, **settings):
    """An in-process torch_service (TorchLoader on RepositoryBackend) on a free loopback port."""
    metrics = metrics or Metrics()
    loader = TorchLoader(ModelStore(store), work_dir, metrics=metrics, devices=DevicePlanner(cuda_count=cuda_count))
    backend = RepositoryBackend(loader, models_to_load, drain_timeout=10)
    with BackgroundServer(backend, ServerSettings(**settings), metrics) as srv:
        srv.backend = backend
        srv.loader = loader
        yield srv


@pytest.fixture
def serve(tmp_path):
    """serve(store, **kw) -> (server, client); both closed at the end of the test."""
    with contextlib.ExitStack() as stack:
        def start(store, *, token=None, **kw):
            srv = stack.enter_context(serving(store, tmp_path / "work", token=token, **kw))
            return srv, stack.enter_context(InferenceClient(srv.address, token=token))
        yield start


def pytest_collection_modifyitems(items):
    # TorchScript is one of the formats this service must load; torch 2.13 warns that it is deprecated.
    quiet = pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:DeprecationWarning")
    for item in items:
        if "torch_service" in item.nodeid:
            item.add_marker(quiet)
