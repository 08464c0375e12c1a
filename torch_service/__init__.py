"""torch_service: a TorchServe-style PyTorch server on the OIP v2 gRPC contract.

Run it with `python -m torch_service --model-store DIR`; write model archives with
`python -m torch_service archive ...` or `torch_service.archive.build_archive(...)`.
Importing this package loads neither torch nor any model: `main()` does.
"""

__version__ = "0.1.0"
