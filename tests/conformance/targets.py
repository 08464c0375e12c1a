"""Target factories: context managers yielding a running server's Target. Add one per service."""

from __future__ import annotations

import contextlib
import importlib

from client.datatypes import DATATYPES
from server_core.metrics import Metrics
from server_core.repository import RepositoryBackend
from server_core.runner import BackgroundServer
from server_core.settings import ServerSettings
from tests.support.echo import PLATFORM, EchoLoader, identity_name

from .target import Target

TOKEN = "conformance-token"


@contextlib.contextmanager
def echo_target():
    backend = RepositoryBackend(EchoLoader(Metrics()))
    with BackgroundServer(backend, ServerSettings(token=TOKEN, http_port=0)) as srv:
        yield Target("echo", srv.address, PLATFORM, identity={dt: identity_name(dt) for dt in DATATYPES},
                     token=TOKEN, http_address=f"127.0.0.1:{srv.server.http_port}")


# name -> "module:function"; each service adds its own line (imported only when its target runs).
FACTORIES = {
    "echo": "tests.conformance.targets:echo_target",
    "torch": "tests.torch_service.conformance:torch_target",
    "tf-embedded": "tests.tf_service.conformance:embedded_target",
    "tf-tfserving": "tests.tf_service.conformance:tfserving_target",
    "tf-managed": "tests.tf_service.conformance:managed_target",
}


def load(spec: str):
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)
