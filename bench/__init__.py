"""Benchmarks: the harness that runs server variants side by side under wrk, and workloads."""
