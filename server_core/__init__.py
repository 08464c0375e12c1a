"""The server core both services stand on: backend interface, thin servicer, error mapping,
interceptors, bootstrap, statistics, metrics and the dynamic batcher."""
