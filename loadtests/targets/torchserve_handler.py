"""A TorchServe handler speaking the `torchserve://` target's `encoding=json` payload
(loadtests.targets.torchserve), for a model saved with torch.export (`.pt2`) or TorchScript (`.pt`):
a stock TorchServe compared with Tandem's services on the same model file.

    torch-model-archiver --model-name digits-mlp --version 1 --serialized-file digits-mlp.pt2 \\
        --handler loadtests/targets/torchserve_handler.py --config-file model-config.yaml \\
        --export-path STORE

With the `model-config.yaml` of a torch_service archive (the zoo's `.mar` holds one) TorchServe
batches as torch_service does (`batchSize`, `maxBatchDelay`, workers) and the handler reads the
tensors' names, datatypes and order from its `tensors:` section; without one, the inputs are passed
to the model in the order the request gives them and the outputs are named output0, output1, ...

Each request holds one JSON nested list per input name; its answer is a JSON object {output name:
nested list}. When TorchServe hands the handler several requests at once (batchSize > 1), they run
as one forward over their rows concatenated and each gets its own rows back. TorchServe loads this
file by itself in its Python worker: it imports only the standard library and torch.
"""

import json
import os

import torch

DTYPES = {"FP16": torch.float16, "FP32": torch.float32, "FP64": torch.float64, "BF16": torch.bfloat16,
          "INT8": torch.int8, "INT16": torch.int16, "INT32": torch.int32, "INT64": torch.int64,
          "UINT8": torch.uint8, "BOOL": torch.bool}


class Model:
    def __init__(self, context):
        properties = context.system_properties
        manifest = context.manifest["model"]
        path = os.path.join(properties["model_dir"], manifest["serializedFile"])
        self.module = torch.export.load(path).module() if path.endswith(".pt2") else torch.jit.load(path).eval()
        tensors = (getattr(context, "model_yaml_config", None) or {}).get("tensors") or {}
        self.inputs = [(t["name"], DTYPES.get(t["datatype"], torch.float32)) for t in tensors.get("inputs") or []]
        self.outputs = [t["name"] for t in tensors.get("outputs") or []]

    def __call__(self, rows):
        names = self.inputs or [(name, None) for name in rows[0]]
        parsed = [[torch.tensor(json.loads(row[name]), dtype=dtype) for name, dtype in names] for row in rows]
        arguments = [torch.cat([p[i] for p in parsed]) if len(parsed) > 1 else parsed[0][i] for i in range(len(names))]
        with torch.inference_mode():
            result = self.module(*arguments)
        results = list(result) if isinstance(result, (tuple, list)) else [result]
        outputs = self.outputs or [f"output{i}" for i in range(len(results))]
        sizes = [p[0].shape[0] for p in parsed]  # each request's rows
        pieces = [torch.split(r, sizes) if len(parsed) > 1 else (r,) for r in results]
        return [json.dumps({n: p[i].tolist() for n, p in zip(outputs, pieces)}) for i in range(len(rows))]


_model = None


def handle(data, context):
    """TorchServe's entry point: one JSON answer per request of the batch."""
    global _model
    if _model is None:
        _model = Model(context)
    if data is None:
        return None
    return _model(data)
