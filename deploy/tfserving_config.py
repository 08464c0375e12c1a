"""TF Serving's config files for docker-compose, written by tf_service's own managed-backend code.

In compose, TF Serving runs as its own container and reads the same files tf_service's managed
backend writes when it runs the binary itself (`tf_service.managed`):

- `docker/tfserving/models.config` and `docker/tfserving/batching.config`: the model config and the
  global batching parameters for the zoo's models, committed, and mounted into the `tfserving`
  service. Regenerate them when the zoo's models change:

      python -m deploy.tfserving_config generate

- per-model batching: each model's `batching_params.pbtxt` (from its model.yaml) in a mirror of the
  base path, as the managed backend keeps one. The compose `tfserving-init` job writes it into the
  model volume after the zoo build, and first checks that the committed files are what the managed
  backend would write for the models the zoo actually built:

      python -m deploy.tfserving_config mirror --model-base-path /models/tf --mirror /models/tfserving \
          --config-dir /etc/tfserving
"""

from __future__ import annotations

import argparse
import difflib
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "docker" / "tfserving"
# The files compose mounts: the key of write_tfserving_config's result -> file name.
FILES = {"model_config_file": "models.config", "batching_parameters_file": "batching.config"}
# Where the compose services see the model volume.
MODEL_BASE_PATH = "/models/tf"
MIRROR = "/models/tfserving"


def expected_files(store_path: Path, names: list[str], tfserving_base_path: str = MIRROR) -> dict[str, str]:
    """file name -> text, as the managed backend writes them for `names` of the store."""
    from tf_service.managed import write_tfserving_config
    from tf_service.store import ModelStore

    with tempfile.TemporaryDirectory(prefix="tfserving-config-") as tmp:
        written = write_tfserving_config(ModelStore(store_path), Path(tmp), names, tfserving_base_path)
        return {name: Path(written[key]).read_text(encoding="utf-8") for key, name in FILES.items()}


def zoo_files(tfserving_base_path: str = MIRROR) -> dict[str, str]:
    """The files for every zoo model, from the model.yaml the zoo's TF export writes (loads TensorFlow)."""
    from zoo.specs import MODELS
    from zoo.tf_export import write_model_yaml

    with tempfile.TemporaryDirectory(prefix="zoo-yaml-") as tmp:
        for model in MODELS.values():
            (Path(tmp) / model.name).mkdir()
            write_model_yaml(Path(tmp) / model.name, model)
        return expected_files(Path(tmp), list(MODELS), tfserving_base_path)


def differences(expected: dict[str, str], config_dir: Path) -> list[str]:
    """Unified diffs of each committed file against the expected text (empty when they agree)."""
    out = []
    for name, text in expected.items():
        path = config_dir / name
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        if current != text:
            out.append("".join(difflib.unified_diff(current.splitlines(True), text.splitlines(True),
                                                    f"{path} (mounted)", f"{name} (tf_service would write)")))
    return out


def generate(config_dir: Path = CONFIG_DIR) -> list[Path]:
    config_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in zoo_files().items():
        (config_dir / name).write_text(text, encoding="utf-8")
        paths.append(config_dir / name)
    return paths


def mirror(model_base_path: Path, mirror_path: Path, config_dir: Path, tfserving_base_path: str | None = None
           ) -> list[str]:
    """Check the mounted config against the built models, then write the per-model batching mirror.
    `tfserving_base_path` is the mirror as TF Serving sees it (default: `mirror_path`, the same mount).
    Raises ValueError when they disagree; returns the models mirrored."""
    from tf_service.managed import sync_mirror
    from tf_service.store import ModelStore

    store = ModelStore(model_base_path)
    names = store.names()
    if not names:
        raise ValueError(f"{model_base_path} holds no models (did the zoo build complete?)")
    diffs = differences(expected_files(model_base_path, names, tfserving_base_path or str(mirror_path)), config_dir)
    if diffs:
        raise ValueError("TF Serving's mounted config is not what tf_service would write for the models built "
                         f"({', '.join(names)}); regenerate it with `python -m deploy.tfserving_config generate`:\n"
                         + "\n".join(diffs))
    sync_mirror(store, mirror_path, names)
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m deploy.tfserving_config", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="write docker/tfserving/{models,batching}.config for the zoo's models")
    g.add_argument("--config-dir", type=Path, default=CONFIG_DIR, help=f"default {CONFIG_DIR.relative_to(ROOT)}")
    g.add_argument("--check", action="store_true", help="only check the files are up to date")
    m = sub.add_parser("mirror", help="check the mounted config and write the per-model batching mirror")
    m.add_argument("--model-base-path", type=Path, default=Path(MODEL_BASE_PATH), help=f"default {MODEL_BASE_PATH}")
    m.add_argument("--mirror", type=Path, default=Path(MIRROR), help=f"default {MIRROR}")
    m.add_argument("--config-dir", type=Path, required=True, help="the folder TF Serving's config is mounted from")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "generate":
        if args.check:
            diffs = differences(zoo_files(), args.config_dir)
            print("\n".join(diffs) or "up to date", file=sys.stderr if diffs else sys.stdout)
            return 1 if diffs else 0
        for path in generate(args.config_dir):
            print(f"wrote {path}")
        return 0
    try:
        names = mirror(args.model_base_path, args.mirror, args.config_dir)
    except ValueError as e:
        print(f"tfserving-init: {e}", file=sys.stderr)
        return 1
    print(f"tfserving-init: config checked; per-model batching written to {args.mirror} for {', '.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
