"""Load distribution among equivalent endpoints (database replicas) and their health."""

from banrimkwae.perf.balancing.algorithms import (
    ALGORITHMS,
    Algorithm,
    AlgorithmName,
    Endpoint,
    LeastOutstanding,
    PowerOfTwoPeakEwma,
    RoundRobin,
    SmoothWeighted,
    make_algorithm,
)
from banrimkwae.perf.balancing.ewma import PeakEwma
from banrimkwae.perf.balancing.health import EndpointHealth, HealthPolicy, HealthTracker

__all__ = [
    "ALGORITHMS",
    "Algorithm",
    "AlgorithmName",
    "Endpoint",
    "EndpointHealth",
    "HealthPolicy",
    "HealthTracker",
    "LeastOutstanding",
    "PeakEwma",
    "PowerOfTwoPeakEwma",
    "RoundRobin",
    "SmoothWeighted",
    "make_algorithm",
]
