"""The reference model zoo: the same networks in PyTorch and Keras, with identical weights and contract.

`python -m zoo build --out DIR` (or `zoo.build.build(DIR)`) writes a torch_service model store
(`DIR/torch/`), a TensorFlow Serving base path (`DIR/tf/`), parity inputs (`DIR/parity/`) and a
description of the models, their contract and tolerances (`DIR/zoo.json`).

Importing this package loads neither torch nor tensorflow: the framework code lives in
`zoo.torch_models`, `zoo.keras_models` and the stages that use them.
"""

from .specs import MODELS, ZooModel

__all__ = ["MODELS", "ZooModel"]
