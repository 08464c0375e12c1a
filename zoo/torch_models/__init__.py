"""The zoo's networks in PyTorch. Each module imports only torch, so it can also ship as a model file."""
