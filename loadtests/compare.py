"""The comparison: check everything, then the same scenario against each service in turn.

`run_compare(config)` is the library entry (the main job calls it, or the CLI, once per model):
it raises PreflightError before any load when an input or a service is wrong, and otherwise
returns the report (also written to `config.out_dir` as report.json / report.md / report.html).
A service that dies ends the comparison: the services after it are not loaded, the report says
so and keeps everything measured until then.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import parity as parity_mod
from . import report as report_mod
from .locust_run import STARTUP_ALLOWANCE_S, Turn, run_service
from .plan import CompareConfig
from .progress import Progress
from .targets import PreflightError, Service, check_inputs, check_services

LOCUST_OVERHEAD_S = 4.0  # Locust's start-up and shut-down, for the time-left estimate


@dataclass
class CompareOutcome:
    report: dict
    paths: dict[str, Path]
    exit_code: int  # 0 every service measured; 1 a service died or a run failed; 130 Ctrl-C


def preflight(config: CompareConfig) -> tuple[str, dict | None]:
    """Settings, services, model, signatures, inputs and parity file, before any load.
    (inputs description, parity section or None); PreflightError otherwise."""
    config.validate()
    metas = check_services(config.services, config.model, config.model_version)
    meta = metas[config.services[0].name]
    described = check_inputs(meta, batch_size=config.batch_size, inputs=config.inputs, seed=config.seed,
                             version=config.model_version)
    parity = None
    if config.parity is not None:
        try:
            parity = parity_mod.read(config.parity, config.model)
        except ValueError as e:
            raise PreflightError(str(e)) from None
    try:
        Path(config.out_dir).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PreflightError(f"--out {config.out_dir}: cannot create it ({e.strerror})") from None
    return described, parity


def run_compare(config: CompareConfig, progress: Progress | None = None) -> CompareOutcome:
    progress = progress or Progress()
    described, parity = preflight(config)
    per_service = config.run_time_s + LOCUST_OVERHEAD_S
    services: list[dict] = []
    stopped: str | None = None
    for i, service in enumerate(config.services):
        if stopped:
            services.append({"name": service.name, "address": service.address, "pid": service.pid,
                             "status": "skipped", "message": f"not run: {stopped}"})
            continue
        turn = Turn(i + 1, len(config.services), per_service * (len(config.services) - i - 1))
        result = run_service(config, service, turn, progress)
        services.append(result)
        if result["status"] != "ok":
            progress.message(f"{service.name}: {result['message']}")
        if result["status"] == "died":
            stopped = f"the comparison stopped because {service.name} died"
        elif result["status"] == "interrupted":
            stopped = "the comparison was interrupted (Ctrl-C)"
    entry = report_mod.model_entry(config.model, config.settings(), services, parity=parity,
                                   inputs=described)
    report = report_mod.new_report([entry])
    paths = report_mod.write(report, config.out_dir)
    if any(s["status"] == "interrupted" for s in services):
        code = 130
    else:
        code = 0 if all(s["status"] == "ok" for s in services) else 1
    return CompareOutcome(report, paths, code)


def compare(torch: str, tf: str, model: str, *, out_dir: str | Path, torch_pid: int | None = None,
            tf_pid: int | None = None, progress: Progress | None = None, **settings) -> CompareOutcome:
    """One model on both services, e.g. from the main job::

        outcome = compare("127.0.0.1:8001", "127.0.0.1:8501", "resnet18", out_dir="reports/T/resnet18",
                          scenario="throughput", users=4, duration_s=20, warmup_s=5, torch_pid=pid1)

    `settings` are CompareConfig fields. Raises PreflightError (nothing loaded) on bad input."""
    services = [Service.parse("torch", torch, torch_pid), Service.parse("tf", tf, tf_pid)]
    return run_compare(CompareConfig(services=services, model=model, out_dir=Path(out_dir), **settings), progress)


def time_budget_s(config: CompareConfig) -> float:
    """The longest a comparison may take (what a caller's own timeout should allow)."""
    return len(config.services) * (config.run_time_s + STARTUP_ALLOWANCE_S + 20.0)
