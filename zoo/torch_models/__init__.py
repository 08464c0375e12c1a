"""The zoo's networks in PyTorch; each module imports only torch, nothing else of the zoo."""
