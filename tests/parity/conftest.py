"""Real servers for the parity tests, started once per session on free 127.0.0.1 ports."""

from __future__ import annotations

import contextlib

import pytest

from server_core.repository import RepositoryBackend
from server_core.runner import BackgroundServer
from tests.support.echo import EchoLoader

from .models import ParityLoader, serve

TOKEN = "parity-token"


@pytest.fixture(scope="session")
def servers():
    """name -> HOST:PORT. ref/twin agree; drift is off by 1e-6 (within tolerance); off has a
    1e-2 add_sub bug and a shifted classifier; narrow/int32 declare other signatures; echo is the
    conformance echo backend (add_sub only); locked requires a token."""
    specs = {
        "ref": ParityLoader(),
        "twin": ParityLoader(),
        "drift": ParityLoader(error=1e-6),
        "off": ParityLoader(error=1e-2, weight_shift=0.5),
        "narrow": ParityLoader(narrow=True),
        "int32": ParityLoader(text_datatype="INT32"),
    }
    with contextlib.ExitStack() as stack:
        addresses = {name: stack.enter_context(serve(loader)) for name, loader in specs.items()}
        echo = BackgroundServer(RepositoryBackend(EchoLoader(), ["add_sub"]))
        addresses["echo"] = stack.enter_context(echo).address
        addresses["locked"] = stack.enter_context(serve(ParityLoader(), ["add_sub"], token=TOKEN))
        yield addresses
