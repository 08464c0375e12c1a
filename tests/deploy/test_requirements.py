"""The per-image requirement files: generated from requirements/dev.txt and up to date, pinned to the
versions the tests run with, and covering every third-party module the image's code imports."""

from __future__ import annotations

from importlib import metadata

import pytest
from packaging.utils import canonicalize_name

from deploy import requirements as reqs

from .support import import_closure
from .test_dockerfiles import IMAGES

# Imports the images satisfy otherwise: the tf_service image's `tensorflow` is the protos-only
# package deploy/tf_protos.py writes (checked in test_tf_protos).
SATISFIED_OTHERWISE = {"docker/tf_service.Dockerfile": {"tensorflow": "protos-only package (deploy/tf_protos.py)"}}


@pytest.mark.parametrize("role", sorted(reqs.ROLES))
def test_role_file_is_what_the_generator_writes(role):
    spec = reqs.ROLES[role]
    assert spec.path.read_text(encoding="utf-8") == reqs.render(spec), \
        f"requirements/{spec.file} is out of date: run `python -m deploy.requirements`"


@pytest.mark.parametrize("role", sorted(reqs.ROLES))
def test_every_pin_is_the_development_locks(role):
    lock = {name: version for name, (_, version) in reqs.read_lock().items()}
    pins = reqs.pins_of(reqs.ROLES[role].path)
    assert pins and all(lock.get(name) == version for name, version in pins.items()), \
        {n: (v, lock.get(n)) for n, v in pins.items() if lock.get(n) != v}


def test_a_dependency_missing_from_the_lock_is_an_error():
    lock = reqs.read_lock()
    del lock["sympy"]  # torch needs it
    with pytest.raises(ValueError, match="sympy not pinned"):
        reqs.render(reqs.ROLES["torch-service"], lock)


def test_the_generator_check_mode_agrees():
    assert reqs.main(["--check"]) == 0


@pytest.mark.parametrize("rel", sorted(IMAGES))
def test_the_image_installs_every_distribution_its_code_imports(rel):
    image = IMAGES[rel]
    _, third_party = import_closure(image["entries"], image["exclude"])
    installed = set()
    for name in image["requirements"]:
        installed |= set(reqs.pins_of(reqs.REQUIREMENTS / name))
    owners = metadata.packages_distributions()
    otherwise = SATISFIED_OTHERWISE.get(rel, {})
    for top in sorted(third_party):
        if top in otherwise:
            continue
        dists = {canonicalize_name(d) for d in owners.get(top, [])}
        assert dists, f"{rel}: `import {top}` belongs to no installed distribution"
        assert dists & installed, f"{rel}: the code imports {top} ({', '.join(sorted(dists))}), not installed"
