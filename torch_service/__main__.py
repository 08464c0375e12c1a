"""`python -m torch_service` (serve) and `python -m torch_service archive` (write a model archive)."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
