"""The managed backend: tf_service runs `tensorflow_model_server` itself, then behaves as the tfserving
backend in front of it.

It writes TF Serving's config files from its protos (a ModelServerConfig, global
BatchingParameters, and each model's batching from model.yaml as `batching_params.pbtxt` in a
mirror of the base path: symlinks to the real version folders, so the model store is never
written), starts the binary on a loopback port, waits until the models are AVAILABLE, restarts it
(with backoff) whenever it dies, and stops it on shutdown. Models that are not valid SavedModels
stay out of the config (TF Serving refuses to start with one) and show UNAVAILABLE with the reason;
if the binary still dies while loading, the next start boots with no models and loads them by a
config reload, which TF Serving survives.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path

from server_core.errors import ServingError

from . import numerics
from .child import ChildProcess
from .config import ConfigError, load_model_config
from .store import ModelStore, StoreError
from .tfs_config import PER_MODEL_BATCHING_FILE, batching_parameters, model_server_config, write_text
from .tfserving import TFServingBackend, TFServingOptions

log = logging.getLogger("tandem.tf.managed")
MAX_BACKOFF_S = 30.0


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sync_mirror(store: ModelStore, mirror: Path, names: list[str]) -> None:
    """Make `mirror/<model>/<version>/` hold symlinks to the real version folder's entries, plus the
    model's batching_params.pbtxt when model.yaml configures batching."""
    mirror.mkdir(parents=True, exist_ok=True)
    for stale in (p for p in mirror.iterdir() if p.name not in names):
        shutil.rmtree(stale, ignore_errors=True)
    for name in names:
        try:
            batching = load_model_config(store.base_path / name).batching
        except ConfigError:
            batching = None
        versions = {str(v) for v in store.versions(name)}
        (mirror / name).mkdir(exist_ok=True)
        for stale in (p for p in (mirror / name).iterdir() if p.name not in versions):
            shutil.rmtree(stale, ignore_errors=True)
        for version in versions:
            real, shadow = store.base_path / name / version, mirror / name / version
            shadow.mkdir(exist_ok=True)
            for item in os.scandir(real):
                link = shadow / item.name
                if item.name != PER_MODEL_BATCHING_FILE and not link.is_symlink():
                    link.symlink_to(Path(item.path).resolve())
            params = shadow / PER_MODEL_BATCHING_FILE
            if batching is not None:
                write_text(params, batching_parameters(batching))
            elif params.exists() or params.is_symlink():
                params.unlink()


def write_tfserving_config(store: ModelStore, out_dir: Path, names: list[str], tfserving_base_path: str) -> dict:
    """Write the model config and the global batching file for `names`; returns their paths. The
    docker-compose files are checked against what this writes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    base = tfserving_base_path.rstrip("/")
    threads = 1
    for name in names:
        try:
            batching = load_model_config(store.base_path / name).batching
        except ConfigError:
            batching = None
        if batching is not None:
            threads = max(threads, batching.value("num_batch_threads"))
    return {
        "model_config_file": write_text(out_dir / "models.config",
                                        model_server_config({n: f"{base}/{n}" for n in names})),
        "empty_config_file": write_text(out_dir / "models.empty.config", model_server_config({})),
        "batching_parameters_file": write_text(out_dir / "batching.config",
                                               batching_parameters(num_batch_threads=threads)),
    }


class ManagedBackend(TFServingBackend):
    def __init__(self, binary: str, base_path: Path, *, work_dir: Path | None = None, models=None,
                 metrics=None, options: TFServingOptions | None = None, port: int | None = None):
        self.binary = binary
        self._temporary = work_dir is None
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="tf_service-tfs-")).resolve()
        self.mirror = self.work_dir / "models"
        super().__init__(f"127.0.0.1:{port or free_loopback_port()}", base_path,
                         tfserving_base_path=str(self.mirror), metrics=metrics, options=options)
        self._selection = None if models is None else list(models)
        self.child = ChildProcess("tensorflow_model_server")
        self.files: dict = {}
        self._supervisor: asyncio.Task | None = None
        self._wanted: set[str] = set()
        self._stopping = False

    def argv(self, config_file: Path) -> list[str]:
        poll = max(1, round(self.options.poll_s)) if self.options.poll_s > 0 else 0
        return [self.binary, f"--port={self.client.address.rsplit(':', 1)[1]}", "--rest_api_port=0",
                f"--model_config_file={config_file}", "--model_config_file_poll_wait_seconds=0",
                f"--file_system_poll_wait_seconds={poll}", "--enable_batching=true",
                f"--batching_parameters_file={self.files['batching_parameters_file']}",
                "--enable_per_model_batching_parameters=true"]

    def _loadable(self) -> list[str]:
        names = self.store.names() if self._selection is None else self._selection
        good = []
        for name in names:
            try:
                self.check_loadable(name)
                good.append(name)
            except (ConfigError, StoreError) as e:
                self._refused[name] = f"load failed: {e}"
                log.warning("model %s stays out of TF Serving's config: %s", name, e)
        return good

    async def sync(self, names=None) -> None:
        sync_mirror(self.store, self.mirror, self.store.names())
        await super().sync(names)

    async def start(self) -> None:
        names = self._loadable()
        sync_mirror(self.store, self.mirror, self.store.names())
        self.files = write_tfserving_config(self.store, self.work_dir, names, str(self.mirror))
        self._wanted = set(names)
        # Loading can take minutes, before the server's own signal handlers exist: a SIGTERM or
        # SIGINT meanwhile cancels the start-up, and the child is stopped, not orphaned.
        loop, task, installed = asyncio.get_running_loop(), asyncio.current_task(), []
        assert task is not None  # a coroutine runs inside its task
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, task.cancel)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not on the main thread (in-process tests): nothing to install
        try:
            await self._launch()
            await super().start()
        except BaseException:
            self._stopping = True
            await self.child.stop()
            if self._temporary:
                shutil.rmtree(self.work_dir, ignore_errors=True)
            raise
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
        self._supervisor = asyncio.ensure_future(self._supervise())

    async def _launch(self, boot_empty: bool = False) -> None:
        config = self.files["empty_config_file" if boot_empty else "model_config_file"]
        await self.child.start(self.argv(config), env=numerics.child_environment())
        if await self._await_serving():
            if boot_empty and self._wanted:
                try:
                    await self._apply_config(self._wanted)
                except ServingError as e:
                    log.warning("some models did not load: %s", e.message)
                await self.sync()
                self._write_model_config(self.configured())  # the next start boots only what loads
            return
        if not self.child.running() and not boot_empty and not self._stopping:
            assert self.child.proc is not None  # started above
            log.warning("TF Serving exited while loading its models (exit %s):\n%s\nstarting it with no models "
                        "and loading them by a config reload", self.child.proc.returncode, self.child.last_output())
            await self._launch(boot_empty=True)

    async def _await_serving(self) -> bool:
        """Wait until TF Serving answers and every configured model has settled (AVAILABLE or END);
        False when the child exits first or the load timeout passes."""
        deadline = time.monotonic() + self.options.load_timeout_s
        probe = sorted(self._wanted) or ["__probe__"]
        while time.monotonic() < deadline and self.child.running():
            try:
                statuses = [await self.client.status(name) for name in probe]
            except Exception:  # noqa: BLE001 - not up yet (UNAVAILABLE) or not answering sensibly yet
                await asyncio.sleep(0.1)
                continue
            if all(not s or all(v.state in ("AVAILABLE", "END") for v in s) for s in statuses):
                return True
            await asyncio.sleep(0.1)
        if self.child.running():
            log.warning("TF Serving did not settle within %.0fs; serving what it has", self.options.load_timeout_s)
            return True
        return False

    async def _supervise(self) -> None:
        backoff = 1.0
        while not self._stopping:
            code = await self.child.wait()
            if self._stopping:
                return
            self._reachable, self._down = False, f"its process exited with {code}; restarting it"
            log.error("TF Serving (pid %s) exited with %s; last output:\n%s", self.child.pid, code,
                      self.child.last_output())
            await self._launch()
            await self.sync()
            if self.child.running():
                backoff = 1.0
            else:
                await asyncio.sleep(backoff)
                backoff = min(MAX_BACKOFF_S, backoff * 2)

    def _write_model_config(self, names: set[str]) -> None:
        write_text(self.files["model_config_file"], model_server_config({n: self.base_path_for(n) for n in names}))

    async def _apply_config(self, names: set[str]) -> None:
        """Reload TF Serving and keep the config file in step, so a restart boots the same models."""
        self._wanted = set(names)
        self._write_model_config(self._wanted)
        await super()._apply_config(names)

    async def stop(self) -> None:
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)
        await super().stop()
        await self.child.stop()
        if self._temporary:
            shutil.rmtree(self.work_dir, ignore_errors=True)
