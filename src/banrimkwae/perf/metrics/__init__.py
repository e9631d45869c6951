"""Request metrics: the middleware, in-memory aggregation, the batched store, process samples."""

from banrimkwae.perf.metrics.aggregator import (
    UNMATCHED_ROUTE,
    EndpointAggregate,
    EndpointKey,
    RequestAggregator,
)
from banrimkwae.perf.metrics.context import (
    RequestStats,
    current_request_stats,
    record_cache,
    record_identity,
)
from banrimkwae.perf.metrics.histogram import LatencyHistogram
from banrimkwae.perf.metrics.middleware import MetricsMiddleware
from banrimkwae.perf.metrics.resources import ResourceSampler
from banrimkwae.perf.metrics.store import MetricsFlusher, MetricsStore, read_rollups

__all__ = [
    "UNMATCHED_ROUTE",
    "EndpointAggregate",
    "EndpointKey",
    "LatencyHistogram",
    "MetricsFlusher",
    "MetricsMiddleware",
    "MetricsStore",
    "RequestAggregator",
    "RequestStats",
    "ResourceSampler",
    "current_request_stats",
    "read_rollups",
    "record_cache",
    "record_identity",
]
