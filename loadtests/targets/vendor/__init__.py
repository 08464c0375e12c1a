"""Stubs of the stock servers' own gRPC APIs, generated from the .proto files beside them
(`python -m loadtests.targets.vendor` regenerates them; a test fails when they drift).

- `torchserve_inference.proto`: TorchServe 0.12.0's inference API (Ping, Predictions).
- `tfserving_subset.proto`: TF Serving 2.21.0's Predict / GetModelMetadata messages, renamed into a
  package of Tandem's own so they can live beside `tensorflow_serving` in one process.

Each .proto names its source, version and what was left out.
"""
