"""Runs in its own process (tritonclient.http brings gevent): `python -m tests.rest.triton_http_probe
HOST:PORT` drives a REST endpoint with Triton's own HTTP client, unchanged; prints OK when every
check passed."""

from __future__ import annotations

import sys


def call(url: str) -> None:
    import numpy as np
    import tritonclient.http as th
    from tritonclient.utils import InferenceServerException

    c = th.InferenceServerClient(url)
    assert c.is_server_live() and c.is_server_ready()
    assert c.is_model_ready("add_sub") and not c.is_model_ready("add_sub", "99")
    assert c.get_server_metadata()["name"] == "tandem"
    meta = c.get_model_metadata("add_sub")
    assert [i["name"] for i in meta["inputs"]] == ["INPUT0", "INPUT1"], meta
    config = c.get_model_config("add_sub")
    assert config["max_batch_size"] == 8 and config["input"][0]["dims"] == [16], config
    a = np.arange(32, dtype=np.float32).reshape(2, 16)
    b = np.ones((2, 16), np.float32)
    for binary in (True, False):
        inputs = [th.InferInput("INPUT0", [2, 16], "FP32"), th.InferInput("INPUT1", [2, 16], "FP32")]
        inputs[0].set_data_from_numpy(a, binary_data=binary)
        inputs[1].set_data_from_numpy(b, binary_data=binary)
        result = c.infer("add_sub", inputs, model_version="1",
                         outputs=[th.InferRequestedOutput("OUTPUT1", binary_data=binary)])
        np.testing.assert_allclose(result.as_numpy("OUTPUT1"), a - b)
        assert result.as_numpy("OUTPUT0") is None
    everything = c.infer("add_sub", inputs)  # no outputs named: all of them, binary
    np.testing.assert_allclose(everything.as_numpy("OUTPUT0"), a + b + 1)
    strings = np.array([[b"x", b"yz"]], dtype=object)
    s_in = th.InferInput("INPUT0", [1, 2], "BYTES")
    s_in.set_data_from_numpy(strings)
    assert c.infer("identity_bytes", [s_in]).as_numpy("OUTPUT0").tolist() == [[b"x", b"yz"]]
    index = c.get_model_repository_index()
    assert any(m["name"] == "add_sub" and m["state"] == "READY" for m in index), index
    stats = c.get_inference_statistics("add_sub", "1")
    assert stats["model_stats"][0]["inference_count"] >= 2, stats
    c.unload_model("identity_fp32")
    assert not c.is_model_ready("identity_fp32")
    c.load_model("identity_fp32")
    assert c.is_model_ready("identity_fp32")
    try:
        c.get_model_metadata("missing")
    except InferenceServerException as e:
        assert e.status() == "404" and "missing" in e.message(), (e.status(), e.message())
    else:
        raise AssertionError("metadata of a missing model did not fail")
    c.close()


if __name__ == "__main__":
    call(sys.argv[1])
    print("OK")
