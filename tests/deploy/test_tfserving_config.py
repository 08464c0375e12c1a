"""TF Serving's config in compose is what tf_service's managed backend writes for the zoo, and the
`tfserving-init` job refuses a built zoo that does not match it."""

from __future__ import annotations

import pytest

from deploy import tfserving_config

CONFIG_DIR = tfserving_config.CONFIG_DIR


@pytest.fixture(scope="module")
def zoo_store(tmp_path_factory):
    """A model base path laid out as the zoo writes it: model.yaml from the zoo's TF export, one version."""
    from zoo.specs import MODELS
    from zoo.tf_export import write_model_yaml

    base = tmp_path_factory.mktemp("models") / "tf"
    for model in MODELS.values():
        version = base / model.name / "1"
        (version / "variables").mkdir(parents=True)
        (version / "saved_model.pb").write_bytes(b"\x08\x01")
        write_model_yaml(base / model.name, model)
    return base


def test_committed_files_are_what_the_managed_backend_writes_for_the_zoo(zoo_store):
    expected = tfserving_config.expected_files(zoo_store, sorted(p.name for p in zoo_store.iterdir()))
    assert set(expected) == {"models.config", "batching.config"}
    assert tfserving_config.differences(expected, CONFIG_DIR) == [], \
        "docker/tfserving is stale: run `python -m deploy.tfserving_config generate`"
    assert expected == tfserving_config.zoo_files()
    for name in ("digits-mlp", "resnet18", "text-encoder"):
        assert f'base_path: "{tfserving_config.MIRROR}/{name}"' in expected["models.config"]


def test_mirror_writes_each_models_batching_next_to_links_to_the_real_files(zoo_store, tmp_path):
    from zoo.specs import MODELS

    mirror = tmp_path / "tfserving"
    names = tfserving_config.mirror(zoo_store, mirror, CONFIG_DIR, tfserving_config.MIRROR)
    assert names == sorted(MODELS)
    for model in MODELS.values():
        version = mirror / model.name / "1"
        assert (version / "saved_model.pb").is_symlink()
        assert (version / "saved_model.pb").resolve() == (zoo_store / model.name / "1" / "saved_model.pb").resolve()
        if model.batching is None:  # unbatched (text-encoder: variable sequence lengths)
            assert not (version / "batching_params.pbtxt").exists()
            continue
        params = (version / "batching_params.pbtxt").read_text()
        assert f"value: {model.batching.max_batch_size}\n" in params.split("batch_timeout_micros")[0]
        assert f"value: {model.batching.batch_timeout_micros}\n" in params


def test_mirror_refuses_a_zoo_the_committed_config_does_not_describe(zoo_store, tmp_path):
    import shutil

    store = tmp_path / "tf"
    shutil.copytree(zoo_store, store)
    shutil.copytree(store / "digits-mlp", store / "another-model")
    with pytest.raises(ValueError, match="another-model"):
        tfserving_config.mirror(store, tmp_path / "mirror", CONFIG_DIR, tfserving_config.MIRROR)
    assert not (tmp_path / "mirror").exists()
    with pytest.raises(ValueError, match="holds no models"):
        tfserving_config.mirror(tmp_path / "empty", tmp_path / "mirror", CONFIG_DIR)


def test_check_mode_of_the_generator(tmp_path):
    assert tfserving_config.main(["generate", "--check"]) == 0
    (tmp_path / "models.config").write_text("model_config_list {}\n")
    assert tfserving_config.main(["generate", "--check", "--config-dir", str(tmp_path)]) == 1
