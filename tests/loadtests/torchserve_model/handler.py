"""A tiny TorchServe handler for the load tests' torchserve:// target: the echo servers' `add_sub`
(OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1) as a TorchScript module, taking the
`encoding=json` payload of loadtests.targets.torchserve (each input a JSON nested list) and
answering a JSON object keyed by output name."""

import json
import os

import torch

_model = None


def handle(data, context):
    global _model
    if _model is None:
        _model = torch.jit.load(os.path.join(context.system_properties["model_dir"], "add_sub.pt"))
    if data is None:
        return None
    answers = []
    for row in data:
        a = torch.tensor(json.loads(row["INPUT0"]), dtype=torch.float32)
        b = torch.tensor(json.loads(row["INPUT1"]), dtype=torch.float32)
        with torch.inference_mode():
            total, difference = _model(a, b)
        answers.append(json.dumps({"OUTPUT0": total.tolist(), "OUTPUT1": difference.tolist()}))
    return answers
