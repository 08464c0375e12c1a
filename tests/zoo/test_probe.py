"""`zoo probe`: the measurements docs/numerics.md quotes (checked on the cheapest model)."""

from __future__ import annotations

import numpy as np

from zoo.probe import probe_model, round_to_tf32
from zoo.specs import MODELS


def test_round_to_tf32_keeps_ten_mantissa_bits():
    x = np.array([1.0, 1.0 + 2**-10, 1.0 + 2**-11 + 2**-12, 1.0 + 2**-12, -3.14159265], dtype=np.float32)
    rounded = round_to_tf32(x)
    np.testing.assert_array_equal(rounded[:4], [1.0, 1.0 + 2**-10, 1.0 + 2**-10, 1.0])
    assert abs(rounded[4] - x[4]) <= abs(x[4]) * 2**-11
    assert (rounded.view(np.uint32) & 0x1FFF == 0).all()


def test_probe_digits_separates_round_off_from_real_errors():
    rows = {check: (diff, used) for check, diff, used in probe_model(MODELS["digits-mlp"], seed=0)}
    assert rows["keras port"][1] < 0.1 and rows["keras port, batch 1"][1] < 0.1
    assert rows["TF32 emulated"][1] > 5  # TF32 left on would fail parity
    perturbed = [used for check, (_, used) in rows.items() if check.startswith("+1% ")]
    assert len(perturbed) == 3 and min(perturbed) > 5
