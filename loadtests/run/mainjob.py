"""The main job (`make run`): build the reference zoo, serve it from both services on loopback, check
parity for every model (the same numbers for good inputs, and the same statuses for a corpus of bad
requests: behaviour parity), compare both under the same load, and write one report.

    python -m loadtests run [--models all|a,b] [--duration 6s] [--warmup 2s] [--users 8] [--rounds 3]
                            [--scenario throughput] [--sweep-model digits-mlp] [--slo-p99-ms 50]
                            [--zoo DIR] [--out reports] [--tf-backend auto]

Every model is compared in `--rounds` rounds (rotated order, verdicts with intervals); the
`--sweep-model` is also measured with the sweep scenario (concurrency 1, 2, 4, ... --users, the
highest throughput whose p99 stays under --slo-p99-ms).

Everything lands in `<out>/<timestamp>/`: zoo/ (unless --zoo reuses a build), logs/, one folder per
model (parity.json, behaviour.json and the comparison), and the merged report.{html,md,json}. Exit code
0 when every model agreed within its tolerance, answered every bad request alike on both sides (no
case of behaviour parity failed) and every run completed; 1 otherwise; 2 when it could not run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .job_settings import JobSettings
from .localstack import LocalService, ServiceError
from .progress import Progress

START_TIMEOUT_S = 300.0  # loading TensorFlow and three models on a busy 2-core machine


def _timestamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S")


def build_zoo(settings: JobSettings, run_dir: Path, progress: Progress) -> Path:
    if settings.zoo is not None:
        if not (settings.zoo / "zoo.json").is_file():
            raise ServiceError(f"--zoo {settings.zoo}: no zoo.json there (build one with python -m zoo build)")
        return settings.zoo
    out = run_dir / "zoo"
    argv = [sys.executable, "-m", "zoo", "build", "--out", str(out), "--seed", str(settings.seed), "--quiet"]
    if settings.models != "all":
        argv += ["--models", settings.models]
    log = run_dir / "logs" / "zoo.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    progress.message(f"building the reference zoo into {out} (log: {log}) ...")
    quiet_tf = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    with log.open("w", encoding="utf-8") as sink:
        code = subprocess.call(argv, env=quiet_tf, stderr=sink)
    if code != 0:
        tail = "".join(log.read_text(encoding="utf-8").splitlines(True)[-15:])
        raise ServiceError(f"the zoo build failed (exit {code}); see {log}:\n{tail}")
    return out


def zoo_models(zoo: Path, wanted: str) -> dict[str, dict]:
    doc = json.loads((zoo / "zoo.json").read_text(encoding="utf-8"))
    models = doc["models"]
    if wanted == "all":
        return models
    names = [n.strip() for n in wanted.split(",") if n.strip()]
    unknown = [n for n in names if n not in models]
    if unknown:
        raise ServiceError(f"--models: {', '.join(unknown)} not in the zoo ({', '.join(models)})")
    return {n: models[n] for n in names}


def start_services(zoo: Path, run_dir: Path, settings: JobSettings, models: list[str],
                   progress: Progress) -> tuple[LocalService, LocalService]:
    common = ["--host", "127.0.0.1", "--port", "0", "--metrics-port", "-1", "--log-level", "WARNING"]
    torch = LocalService("torch", ["torch_service", "--model-store", str(zoo / "torch"),
                                   "--models", ",".join(models), *common], run_dir / "logs" / "torch_service.log")
    tf = LocalService("tf", ["tf_service", "--model-base-path", str(zoo / "tf"), "--backend", settings.tf_backend,
                             "--models", ",".join(models), *common], run_dir / "logs" / "tf_service.log")
    deadline = time.monotonic() + START_TIMEOUT_S
    progress.message("starting torch_service and tf_service on loopback ...")
    for service in (torch, tf):
        service.start()
    for service in (torch, tf):
        service.wait_listening(deadline)
        service.wait_models(models, deadline)
        progress.message(f"{service.name}_service ready at {service.address} (pid {service.pid})")
    return torch, tf


def run_parity(torch: LocalService, tf: LocalService, zoo: Path, model: str, entry: dict, out: Path) -> dict:
    from client.parity import ParityError, error_document
    from client.parity import run_parity as parity

    tol = entry.get("tolerance", {})
    inputs = zoo / "parity" / f"{model}.npz"
    path = out / "parity.json"
    try:
        report = parity(torch.address, tf.address, model, inputs=inputs if inputs.is_file() else None,
                        atol=tol.get("atol", 1e-4), rtol=tol.get("rtol", 1e-3), batch_size=16)
        doc = report.to_dict()
        print(report.render())
    except ParityError as e:
        doc = error_document(e, model)
        print(f"parity {model}: {e}", file=sys.stderr)
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return doc


def run_behaviour(torch: str, tf: str, model: str, out: Path, seed: int = 0) -> dict:
    """Behaviour parity (`python -m client parity --behaviour`) between the services at these
    addresses: the corpus of bad requests sent to both; its document (passed false when a case
    failed, e.g. the statuses differ) also written to `out`/behaviour.json; a few lines on the
    terminal (the report has the table)."""
    from client.parity import ParityError
    from client.parity.behaviour import error_document
    from client.parity.behaviour import run_behaviour as behaviour

    try:
        report = behaviour(torch, tf, model, seed=seed)
        doc = report.to_dict()
        s = report.summary()
        print(f"behaviour parity {model}: {s['cases']} cases, {s['same_status']} with the same status on torch "
              f"and tf, {s['cases'] - s['same_status']} different, {s['same_message']} with the same message, "
              f"{s['internal']} INTERNAL/UNKNOWN; {'PASS' if report.passed else 'FAIL'}")
        for line in report.failures:
            print(f"  FAIL {line}")
    except ParityError as e:
        doc = error_document(e, model)
        print(f"behaviour parity {model}: {e}", file=sys.stderr)
    (out / "behaviour.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return doc


def run(settings: JobSettings) -> int:
    from ..render import report as report_mod
    from ..render.summary import summary_table
    from .compare import compare
    from .preflight import PreflightError

    progress = Progress()
    run_dir = settings.out / _timestamp()
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    torch = tf = None
    worst = 0
    try:
        zoo = build_zoo(settings, run_dir, progress)
        models = zoo_models(zoo, settings.models)
        torch, tf = start_services(zoo, run_dir, settings, list(models), progress)
        folders = []
        for model, entry in models.items():
            out = run_dir / model
            out.mkdir(parents=True, exist_ok=True)
            progress.message(f"== {model}: parity")
            parity = run_parity(torch, tf, zoo, model, entry, out)
            progress.message(f"== {model}: behaviour parity (bad requests)")
            behaviour = run_behaviour(torch.address, tf.address, model, out, settings.seed)
            if not parity.get("passed", False) or not behaviour.get("passed", False):
                worst = max(worst, 1)
            progress.message(f"== {model}: {settings.scenario} load, {settings.users} users, {settings.rounds} "
                             f"rounds of {settings.duration_s:g}s after {settings.warmup_s:g}s warm-up, each service")
            inputs = zoo / "parity" / f"{model}.npz"
            targets = [("torch", torch.address, torch.pid), ("tf", tf.address, tf.pid)]
            tol = entry.get("tolerance") or {}  # answers under load are checked with the zoo's tolerance
            common: dict[str, Any] = dict(
                progress=progress, parity=out / "parity.json", behaviour=out / "behaviour.json", users=settings.users,
                check_atol=float(tol.get("atol", 1e-4)), check_rtol=float(tol.get("rtol", 1e-3)),
                warmup_s=settings.warmup_s, rounds=settings.rounds, inputs=str(inputs) if inputs.is_file() else "",
                seed=settings.seed)
            runs = [(out, dict(scenario=settings.scenario, duration_s=settings.duration_s))]
            if model == settings.sweep_model:
                runs.append((out / "sweep", dict(scenario="sweep", ramp_step_s=settings.sweep_step_s,
                                                 slo_p99_ms=settings.slo_p99_ms,
                                                 rounds=min(settings.sweep_rounds, settings.rounds))))
            for folder, scenario in runs:
                if scenario["scenario"] == "sweep":
                    progress.message(f"== {model}: sweep, 1..{settings.users} users, {settings.sweep_step_s:g}s "
                                     f"a step, p99 limit {settings.slo_p99_ms:g} ms")
                outcome = compare(targets, model, out_dir=folder, **{**common, **scenario})
                folders.append(folder)
                if outcome.exit_code == 130:
                    raise KeyboardInterrupt
                worst = max(worst, outcome.exit_code if outcome.exit_code in (0, 1) else 1)
        merged, paths = report_mod.combine(folders, run_dir)
        print()
        print(summary_table(merged))
        print(f"\nreport: {paths['html']}\n        {paths['md']}\n        {paths['json']}")
        print(f"main job finished in {time.monotonic() - started:.0f}s")
        return worst
    except (ServiceError, PreflightError) as e:
        print(f"main job: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nmain job interrupted: stopping the services", file=sys.stderr)
        return 130
    finally:
        for service in (torch, tf):
            if service is not None:
                service.stop()
