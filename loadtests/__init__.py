"""Tandem's load tests: Locust scenarios over the OIP v2 gRPC contract, resource sampling, and
the comparison of torch_service and tf_service in one report.

- `loadtests/locustfiles/{latency,throughput,ramp}.py`: plain Locust files (also distributed).
- `python -m loadtests compare ...` / `loadtests.compare.run_compare(config)`: one model, both
  services, report.json + report.md + report.html.
- `python -m loadtests report --in DIR... --out DIR` / `loadtests.report.merge(...)`: several
  comparisons (e.g. one per model) in one report.

Importing this package has no side effect; gevent and Locust are imported only by the modules
that run inside Locust (session, user, shapes).
"""
