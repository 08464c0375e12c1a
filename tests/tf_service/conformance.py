"""Conformance targets for tf_service: the real `python -m tf_service` in each backend, on SavedModels
of the conformance model set (built once per session)."""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

from tests.conformance.target import Target, http_address

from .models import identities, shared_store
from .process import tf_service

TOKEN = "conformance-token"
PLATFORM = "tensorflow_savedmodel"


def _target(name: str, service) -> Target:
    return Target(name, service.address, PLATFORM, identity=identities(), token=TOKEN, stop=service.stop,
                  http_address=http_address(service))


@contextlib.contextmanager
def embedded_target():
    with tf_service("--model-base-path", str(shared_store()), "--backend", "embedded", "--http-port", "0",
                    token=TOKEN) as svc:
        yield _target("tf-embedded", svc)


@contextlib.contextmanager
def tfserving_target():
    """tf_service's tfserving backend in front of the stand-in, which serves every model but the
    broken one (a real TF Serving refuses to start with a model that fails to load)."""
    from . import fake_tfserving

    store = shared_store()
    with tempfile.TemporaryDirectory(prefix="tfs-config-") as tmp:
        names = [p.name for p in sorted(store.iterdir()) if p.name != "broken"]
        config = fake_tfserving.write_model_config(Path(tmp) / "models.config", store, names)
        with fake_tfserving.binary("--port", "0", f"--model_config_file={config}") as tfs, \
                tf_service("--model-base-path", str(store), "--backend", "tfserving", "--poll-interval", "0.5",
                           "--tfserving-address", tfs.address, "--http-port", "0", token=TOKEN) as svc:
            yield _target("tf-tfserving", svc)


@contextlib.contextmanager
def managed_target():
    """tf_service's managed backend, starting the stand-in binary from the config files it writes."""
    from . import fake_tfserving

    with tf_service("--model-base-path", str(shared_store()), "--backend", "managed", "--poll-interval", "0.5",
                    "--tfserving-binary", str(fake_tfserving.BINARY), "--http-port", "0", token=TOKEN,
                    env={"FAKE_TFS_PYTHON": sys.executable}) as svc:
        yield _target("tf-managed", svc)
