"""Per-image requirement files, derived from the development lock `requirements/dev.txt`.

Each image installs only what its role needs, at exactly the versions the tests run with: a role
names its roots (the project's own extras from pyproject.toml, plus distributions), and its file
pins the roots and their whole dependency closure (read from the installed distributions' metadata,
markers evaluated for this Python) with dev.txt's versions.

    python -m deploy.requirements            # write requirements/<role>.txt
    python -m deploy.requirements --check    # exit 1 when a file differs from what would be written

Run it in the development venv (`make venv`) after regenerating dev.txt. pip, setuptools and wheel
are the installer's own and left out (dev.txt, a `pip freeze`, has none of them); a dependency that
dev.txt does not pin is an error, since the images would otherwise install an untested version.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
LOCK = REQUIREMENTS / "dev.txt"
INSTALLER_TOOLS = frozenset({"pip", "setuptools", "wheel"})
# The codec's BF16 support (client.datatypes) needs ml_dtypes, which the tests have through
# TensorFlow; the images that carry the codec install it so BF16 works there as tested.
BF16 = "ml-dtypes"


@dataclass(frozen=True)
class Role:
    file: str
    purpose: str
    extras: tuple[str, ...] = ()  # the project's extras (base dependencies always included)
    names: tuple[str, ...] = ()  # further distributions
    closure: bool = True  # False: the names only, installed with --no-deps

    @property
    def path(self) -> Path:
        return REQUIREMENTS / self.file


ROLES: dict[str, Role] = {role.file.removesuffix(".txt"): role for role in (
    Role("torch-service.txt", "the torch_service image (docker/torch_service.Dockerfile)",
         extras=("torch", "tracing"), names=(BF16,)),
    Role("tf-service.txt", "the tf_service image (docker/tf_service.Dockerfile), tfserving backend: "
                           "no TensorFlow runtime", extras=("server", "tracing"), names=(BF16,)),
    Role("tf-service-protos.txt", "the tf_service image, installed with --no-deps: tensorflow-serving-api, "
                                  "and tensorflow only as the source of its protobuf modules "
                                  "(deploy/tf_protos.py)",
         names=("tensorflow-serving-api", "tensorflow"), closure=False),
    Role("loadtests.txt", "the loadtests image (docker/loadtests.Dockerfile): Locust, the sampler, the "
                          "client and its parity suite", extras=("loadtests",),
         names=(BF16, "grpcio-health-checking")),  # deploy.healthcheck
    Role("zoo.txt", "the zoo builder image (docker/zoo.Dockerfile): both frameworks",
         names=("torch", "tensorflow", "scikit-learn", "pyyaml")),
)}


def read_lock(path: Path = LOCK) -> dict[str, tuple[str, str]]:
    """canonical name -> (name as dev.txt spells it, version)."""
    pins: dict[str, tuple[str, str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep:
            raise ValueError(f"{path.name}: {line!r} is not pinned with ==")
        pins[canonicalize_name(name)] = (name.strip(), version.strip())
    return pins


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def project_roots(extras: tuple[str, ...]) -> list[Requirement]:
    """The project's base dependencies plus those of `extras`, following self-references."""
    project = _project()
    own = canonicalize_name(project["name"])
    out = [Requirement(r) for r in project["dependencies"]]
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in project["optional-dependencies"][extra]:
            req = Requirement(text)
            if canonicalize_name(req.name) == own:
                todo.extend(req.extras)
            else:
                out.append(req)
    return out


def closure(roots: list[Requirement]) -> set[str]:
    """Canonical names of the roots and everything they require, from the installed metadata."""
    found: set[str] = set()
    todo = [(r, frozenset(r.extras)) for r in roots]
    done: set[tuple[str, frozenset]] = set()
    while todo:
        req, extras = todo.pop()
        name = canonicalize_name(req.name)
        if (name, extras) in done or name in INSTALLER_TOOLS:
            continue
        done.add((name, extras))
        found.add(name)
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            raise ValueError(f"{name} is not installed here; run this in the development venv") from None
        for text in requires:
            dep = Requirement(text)
            if dep.marker is None or any(dep.marker.evaluate({"extra": e}) for e in (extras or {""})):
                todo.append((dep, frozenset(dep.extras)))
    return found


def names_of(role: Role) -> set[str]:
    roots = project_roots(role.extras) if role.extras else []
    roots += [Requirement(n) for n in role.names]
    if not role.closure:
        return {canonicalize_name(r.name) for r in roots}
    return closure(roots)


def render(role: Role, lock: dict[str, tuple[str, str]] | None = None) -> str:
    lock = read_lock() if lock is None else lock
    names = names_of(role)
    unpinned = sorted(names - set(lock))
    if unpinned:
        raise ValueError(f"{role.file}: {', '.join(unpinned)} not pinned in {LOCK.name}; regenerate the lock")
    roots = [f"[{','.join(role.extras)}] of pyproject.toml"] if role.extras else []
    roots += list(role.names)
    header = [f"# Requirements of {role.purpose}.",
              "# Generated by `python -m deploy.requirements` from requirements/dev.txt: do not edit.",
              f"# Roots: {', '.join(roots)}" + ("; with their dependency closure." if role.closure else ".")]
    pins = sorted((f"{lock[n][0]}=={lock[n][1]}" for n in names), key=str.lower)
    return "\n".join(header + pins) + "\n"


def pins_of(path: Path) -> dict[str, str]:
    """canonical name -> version of a requirements file's `name==version` lines."""
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            out[canonicalize_name(re.split(r"[\[; ]", name, maxsplit=1)[0])] = version
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.requirements", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check the files are up to date")
    args = parser.parse_args(argv)
    lock, stale = read_lock(), []
    for role in ROLES.values():
        try:
            text = render(role, lock)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        current = role.path.read_text(encoding="utf-8") if role.path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(role.file)
        else:
            role.path.write_text(text, encoding="utf-8")
            print(f"wrote requirements/{role.file}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python -m deploy.requirements", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
