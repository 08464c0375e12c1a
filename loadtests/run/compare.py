"""The comparison: check everything, then the same scenario against every target, in rounds.

`run_compare(config)` is the library entry (the main job calls it, or the CLI, once per model):
it raises PreflightError before any load when an input or a target is wrong, and otherwise
returns the report (also written to `config.out_dir` as report.json / report.md / report.html).
Each round loads every target in turn, in an order rotated by one each round (A B C, B C A, ...),
with the same warm-up. A target that dies or fails is reported as such with its error count and is
not loaded again; the others still finish. Ctrl-C ends the comparison with what was measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..render import report as report_mod
from ..render.write import write
from ..stats import bootstrap, sweep, verdicts
from ..stats.aggregate import target_entry
from ..targets import Target, kind_of
from . import behaviour as behaviour_mod
from . import parity as parity_mod
from . import preflight as pre
from . import server_time
from .locust_run import STARTUP_ALLOWANCE_S, Turn, run_target
from .plan import CompareConfig
from .preflight import PreflightError
from .progress import Progress

LOCUST_OVERHEAD_S = 4.0  # Locust's start-up and shut-down, for the time-left estimate


@dataclass
class CompareOutcome:
    report: dict
    paths: dict[str, Path]
    exit_code: int  # 0 every target measured; 1 a target died or a run failed; 130 Ctrl-C


def preflight(config: CompareConfig):
    """Settings, targets, model, signatures, inputs, a trial request and the parity files, before
    any load: (pool, signature, request set path, {"parity": section | None, "behaviour": section |
    None}); PreflightError otherwise."""
    config.validate()
    shown: dict[str, dict | None] = {"parity": None, "behaviour": None}
    try:
        if config.parity is not None:
            shown["parity"] = parity_mod.read(config.parity, config.model)
        if config.behaviour is not None:
            shown["behaviour"] = behaviour_mod.read(config.behaviour, config.model)
    except ValueError as e:
        raise PreflightError(str(e)) from None
    pool, meta, request_set = pre.prepare(config.targets, model=config.model, version=config.model_version,
                                          batch_size=config.batch_size, inputs=config.inputs, seed=config.seed,
                                          out_dir=Path(config.out_dir))
    return pool, meta, request_set, shown


def _info(t: Target, model: str, version: str) -> dict:
    return {"name": t.name, "url": t.url, "kind": t.kind, "address": t.address, "pid": t.pid,
            "pid_source": t.pid_source, "reports_server_time": kind_of(t).reports_server_time,
            "model_config": server_time.config(t, model, version)}


def _skipped(t: Target, round_index: int, why: str) -> dict:
    return {"name": t.name, "round": round_index + 1, "status": "skipped", "message": f"not run: {why}"}


def analyse(config_settings: dict, entries: list[dict]) -> tuple[list[dict], dict | None]:
    """Verdicts for every pair of targets (and the sweep's curve per target)."""
    scenario = config_settings.get("scenario")
    data: dict[str, bootstrap.Data] = {}
    curves = None
    if scenario == "sweep":
        curves = {}
        for e in entries:
            table = sweep.steps(e.get("rounds") or [])
            chosen = sweep.slo_step(table, config_settings.get("slo_p99_ms"))
            curves[e["name"]] = {"steps": table, "slo_step": chosen}
            data[e["name"]] = sweep.step_data(e.get("rounds") or [], chosen)
    else:
        for e in entries:
            data[e["name"]] = bootstrap.Data.from_records(
                [r.get("seconds") for r in e.get("rounds") or [] if r.get("status") == "ok"])
    return verdicts.all_pairs(data), curves


def run_compare(config: CompareConfig, progress: Progress | None = None) -> CompareOutcome:
    progress = progress or Progress()
    pool, meta, request_set, shown = preflight(config)
    per_turn = config.run_time_s + LOCUST_OVERHEAD_S
    turns = config.rounds * len(config.targets)
    rounds: dict[str, list[dict]] = {t.name: [] for t in config.targets}
    gone: dict[str, str] = {}
    interrupted = False
    done = 0
    for r in range(config.rounds):
        for t in config.order(r):
            if interrupted or t.name in gone:
                rounds[t.name].append(_skipped(t, r, "the comparison was interrupted (Ctrl-C)" if interrupted
                                               else gone[t.name]))
                continue
            done += 1
            turn = Turn(done, turns, per_turn * (turns - done))
            result = run_target(config, t, turn, progress, round_index=r, request_set=request_set, meta=meta)
            rounds[t.name].append(result)
            if result["status"] != "ok":
                progress.message(f"{t.name} round {r + 1}: {result['message']}")
            if result["status"] in ("died", "failed"):
                gone[t.name] = f"{t.name} {result['status']} in round {r + 1}"
            elif result["status"] == "interrupted":
                interrupted = True
    entries = [target_entry(_info(t, config.model, config.model_version), rounds[t.name]) for t in config.targets]
    settings = config.settings()
    pairs, curves = analyse(settings, entries)
    entry = report_mod.model_entry(config.model, settings, entries, **shown, inputs=pool.description,
                                   verdicts=pairs, method=bootstrap.method(config.rounds), sweep=curves)
    report = report_mod.new_report([entry])
    paths = write(report, config.out_dir)
    if interrupted:
        code = 130
    else:
        code = 0 if all(e["status"] == "ok" for e in entries) else 1
    return CompareOutcome(report, paths, code)


def compare(targets: list[tuple[str, str, int | None]], model: str, *, out_dir: str | Path,
            progress: Progress | None = None, **settings) -> CompareOutcome:
    """One model on several targets, e.g. from the main job::

        outcome = compare([("torch", "127.0.0.1:8001", pid1), ("tf", "127.0.0.1:8501", pid2)], "resnet18",
                          out_dir="reports/T/resnet18", scenario="throughput", users=4, duration_s=20, rounds=3)

    Each target is (name, URL, pid or None); `settings` are CompareConfig fields. Raises
    PreflightError (nothing loaded) on bad input."""
    made = [pre.make_target(name, url, pid) for name, url, pid in targets]
    return run_compare(CompareConfig(targets=made, model=model, out_dir=Path(out_dir), **settings), progress)


def time_budget_s(config: CompareConfig) -> float:
    """The longest a comparison may take (what a caller's own timeout should allow)."""
    return config.rounds * len(config.targets) * (config.run_time_s + STARTUP_ALLOWANCE_S + 20.0)
