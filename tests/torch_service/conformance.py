"""The conformance target for torch_service: the real CLI (`python -m torch_service`) as a
subprocess, serving a model store of torch archives built in a temporary folder."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from client.datatypes import DATATYPES
from tests.conformance.target import Target, http_address
from tests.support.echo import identity_name

TOKEN = "conformance-token"


@contextlib.contextmanager
def torch_target():
    from .models import build_conformance_store  # imports torch: only when this target runs
    from .service import running_service

    with tempfile.TemporaryDirectory(prefix="torch-conformance-") as tmp:
        work = Path(tmp)
        store = build_conformance_store(work)
        with running_service(store, "--token", TOKEN, "--http-port", "0", log_path=work / "service.log") as service:
            yield Target("torch", service.address, "pytorch",
                         identity={dt: identity_name(dt) for dt in DATATYPES}, token=TOKEN,
                         http_address=http_address(service))
