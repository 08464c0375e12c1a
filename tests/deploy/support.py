"""What the deployment tests read: the compose variants as `docker-compose config` resolves them, the
Dockerfiles (stages, ENV, COPY, HEALTHCHECK...), .dockerignore, and the project's import graph."""

from __future__ import annotations

import ast
import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILES = ("docker-compose.yml", "docker-compose.gpu.yml")
# Every variant a user can run: the base file alone or with the GPU override, without and with the
# `compare` profile.
VARIANTS = {
    "cpu": (("docker-compose.yml",), ()),
    "cpu+compare": (("docker-compose.yml",), ("compare",)),
    "gpu": (COMPOSE_FILES, ()),
    "gpu+compare": (COMPOSE_FILES, ("compare",)),
}
PROJECT_PACKAGES = ("protos", "client", "server_core", "torch_service", "tf_service", "loadtests", "zoo", "deploy")
INSTALL_HINT = ("docker-compose is not installed: the deployment tests validate the compose files with it. "
                "Install Debian's package (apt-get install -y docker-compose; `make test` does this).")


# ---------------------------------------------------------------- compose
def docker_compose() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        raise AssertionError(INSTALL_HINT)
    return found


def compose_env(**extra: str) -> dict[str, str]:
    """An environment without any of the compose file's variables set, so defaults apply."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    for name in set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", "".join((ROOT / f).read_text() for f in COMPOSE_FILES))):
        env.pop(name, None)
    env.update(extra)
    return env


def run_config(files, profiles, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [docker_compose(), "--project-directory", str(ROOT)]
    for f in files:
        cmd += ["-f", str(ROOT / f)]
    for p in profiles:
        cmd += ["--profile", p]
    return subprocess.run([*cmd, "config", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env or compose_env(), timeout=60)


@functools.cache
def resolved(variant: str) -> dict:
    """The variant's configuration as `docker-compose config` prints it (merged, interpolated)."""
    files, profiles = VARIANTS[variant]
    result = run_config(files, profiles)
    assert result.returncode == 0, f"docker-compose config failed for {variant}:\n{result.stderr}"
    return yaml.safe_load(result.stdout)


def active_services(variant: str) -> dict[str, dict]:
    """Services that `up` starts in this variant: those without profiles or with an enabled one."""
    _, profiles = VARIANTS[variant]
    services = resolved(variant)["services"]
    return {n: s for n, s in services.items() if not s.get("profiles") or set(s["profiles"]) & set(profiles)}


def published_ports(service: dict) -> list[tuple[str, int, int]]:
    """(host address, host port, container port) of each published port, in either of the forms
    `docker-compose config` prints (`IP:HOST:CONTAINER/tcp` strings, or mappings)."""
    out = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            out.append((port.get("host_ip", ""), int(port["published"]), int(port["target"])))
        else:
            parts = str(port).split("/")[0].split(":")
            host_ip = parts[0] if len(parts) == 3 else ""
            out.append((host_ip, int(parts[-2]), int(parts[-1])))
    return out


# ---------------------------------------------------------------- Dockerfiles
@dataclass
class Instruction:
    keyword: str
    args: str

    def exec_form(self) -> list[str] | None:
        text = self.args.strip()
        if text.startswith("["):
            return json.loads(text)
        return None

    def flags_and_rest(self) -> tuple[dict[str, str], str]:
        flags, rest = {}, self.args.strip()
        while rest.startswith("--"):
            head, _, rest = rest.partition(" ")
            key, _, value = head[2:].partition("=")
            flags[key] = value
            rest = rest.strip()
        return flags, rest


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None

    def env(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for inst in self.all("ENV"):
            for item in shlex.split(inst.args):
                key, sep, value = item.partition("=")
                assert sep, f"ENV {inst.args!r}: use the KEY=VALUE form"
                out[key] = value
        return out

    def copies(self) -> list[tuple[list[str], str, dict[str, str]]]:
        """(sources, destination, flags) of each COPY."""
        out = []
        for inst in self.all("COPY"):
            flags, rest = inst.flags_and_rest()
            parts = inst.exec_form() if rest.startswith("[") else shlex.split(rest)
            out.append((parts[:-1], parts[-1], flags))
        return out

    def runs(self) -> str:
        return "\n".join(i.args for i in self.all("RUN"))


@dataclass
class Dockerfile:
    path: Path
    args: dict[str, str]  # ARGs declared before the first FROM, with their defaults
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage_names(self) -> set[str]:
        return {s.name for s in self.stages if s.name}


def _logical_lines(text: str) -> list[str]:
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        lines.append(current + raw)
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    return lines


@functools.cache
def dockerfile(rel: str) -> Dockerfile:
    path = ROOT / rel
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in _logical_lines(path.read_text(encoding="utf-8")):
        keyword, _, rest = line.strip().partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "FROM":
            words = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base, name))
        elif not stages:
            assert keyword == "ARG", f"{rel}: only ARG may come before the first FROM, found {keyword}"
            key, _, default = rest.partition("=")
            args[key] = default
        else:
            stages[-1].instructions.append(Instruction(keyword, rest))
    return Dockerfile(path, args, stages)


def dockerfiles() -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docker").glob("*.Dockerfile"))


# ---------------------------------------------------------------- .dockerignore
def _pattern_matches(pattern: str, path: str) -> bool:
    """Docker's matching of one pattern against a context-relative path or any of its parents."""
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            regex += ".*"
            i += 2
        elif pattern[i] == "*":
            regex += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            regex += "[^/]"
            i += 1
        else:
            regex += re.escape(pattern[i])
            i += 1
    compiled = re.compile(regex + r"\Z")
    parts = path.split("/")
    return any(compiled.match("/".join(parts[:n])) for n in range(1, len(parts) + 1))


@functools.cache
def _ignore_patterns() -> list[tuple[bool, str]]:
    out = []
    for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = os.path.normpath(line[1:] if negate else line).lstrip("/")
        out.append((negate, pattern))
    return out


def in_build_context(rel: str) -> bool:
    """Whether .dockerignore lets the context-relative path into the build context (last match wins)."""
    included = True
    for negate, pattern in _ignore_patterns():
        if _pattern_matches(pattern, rel):
            included = negate
    return included


# ---------------------------------------------------------------- the project's imports
def _module_path(name: str) -> Path | None:
    base = ROOT / name.replace(".", "/")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _imports(path: Path, module: str) -> set[str]:
    """Modules a file imports, at any depth; relative imports resolved; `from a import b` as a and a.b."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module
            names.add(prefix)
            names.update(f"{prefix}.{a.name}" for a in node.names if a.name != "*")
    # a module next to a script (Locust puts the locustfile's folder on sys.path)
    siblings = {n for n in names if "." not in n and (path.parent / f"{n}.py").is_file()
                and n.split(".")[0] not in PROJECT_PACKAGES}
    local = module.rpartition(".")[0]
    return (names - siblings) | {f"{local}.{n}" for n in siblings}


def import_closure(entries: list[str], exclude: frozenset[str] = frozenset()) -> tuple[set[str], set[str]]:
    """(project modules, third-party top-level names) reached from the entry modules, following
    every import of the project's own modules (package __init__s included), except `exclude`."""
    project, third = set(), set()
    todo = list(entries)
    while todo:
        name = todo.pop()
        if name in project or name in exclude:
            continue
        top = name.split(".")[0]
        if top not in PROJECT_PACKAGES:
            if top not in sys.stdlib_module_names and top != "__future__":
                third.add(top)
            continue
        path = _module_path(name)
        if path is None:
            continue  # `from package import name` where name is not a module
        project.add(name)
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        todo.extend(_imports(path, name))
    return project, third


def module_file(name: str) -> Path:
    path = _module_path(name)
    assert path is not None, name
    return path
