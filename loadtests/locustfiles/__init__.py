"""Locustfiles, one per scenario: latency (one user), throughput (N users), ramp (stepped users)."""
