"""The conformance suite runs once per registered target; each service registers its own."""

from __future__ import annotations

import pytest

from . import targets


@pytest.fixture(scope="session", params=sorted(targets.FACTORIES))
def target(request):
    factory = targets.load(targets.FACTORIES[request.param])
    with factory() as t:
        yield t
