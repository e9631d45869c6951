"""The response cache's storage side: L1 in-process, L2 Redis / Redis Cluster, versioned tags,
cross-process invalidation, a circuit breaker in front of L2, a cross-instance lock."""

from banrimkwae.perf.cache.breaker import BreakerState, CircuitBreaker
from banrimkwae.perf.cache.entry import CacheDecodeError, CachedResponse
from banrimkwae.perf.cache.l2 import is_cluster_url
from banrimkwae.perf.cache.stats import LayerStats, StoreStats
from banrimkwae.perf.cache.store import Layer, ResponseStore
from banrimkwae.perf.cache.tags import ALL_TAG

__all__ = [
    "ALL_TAG",
    "BreakerState",
    "CacheDecodeError",
    "CachedResponse",
    "CircuitBreaker",
    "Layer",
    "LayerStats",
    "ResponseStore",
    "StoreStats",
    "is_cluster_url",
]
