"""TorchServe handler for the peer comparison: the benchmark's TorchScript MLP (the same .pt file
torch_service serves), raw little-endian FP32 bytes in (input "x": one row of 64) and out (one row of
10) — the cheapest decode and encode TorchServe's gRPC Predictions allows, so that the comparison
measures TorchServe's serving path and not a JSON codec. TorchServe batches the rows (model config:
batchSize 8, maxBatchDelay 5 ms) and calls `handle` with the whole batch."""

import os

import torch

_model = None


def handle(data, context):
    global _model
    if _model is None:
        torch.set_num_threads(1)  # as torch_service runs this model (--torch-threads 1)
        model_dir = context.system_properties["model_dir"]
        _model = torch.jit.load(os.path.join(model_dir, "mlp.pt")).eval()
    if data is None:
        return None
    rows = torch.stack([torch.frombuffer(bytearray(row["x"]), dtype=torch.float32) for row in data])
    with torch.inference_mode():
        out = _model(rows)
    return [bytes(r.numpy().tobytes()) for r in out]
