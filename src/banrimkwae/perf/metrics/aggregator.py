"""In-memory aggregation of request measurements: the only work done per request.

Per endpoint (route template, method, status class) the aggregator keeps count, errors,
sum/min/max, a mergeable latency histogram, database queries and time, cache hits and bytes.
The flusher swaps the window out and writes it in one batch; a window whose write failed is
merged back, so the backlog is bounded by the number of endpoints, not by traffic.
Everything here runs on the event loop thread, so a swap is atomic without locks.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field
from math import ceil, log
from typing import Any

from banrimkwae.perf.metrics.context import RequestStats
from banrimkwae.perf.metrics.histogram import (
    LOG_GAMMA,
    MIN_INDEX,
    MIN_VALUE,
    LatencyHistogram,
)

# (route template, HTTP method, status class 1..5)
EndpointKey = tuple[str, str, int]
UNMATCHED_ROUTE = "<unmatched>"
LIVE_SECONDS = 60
# Upper bounds (ms) of the cumulative duration buckets /metrics exposes: OpenTelemetry's
# default boundaries for http.server.request.duration.
DURATION_BOUNDS_MS = (
    5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0, 10000.0
)  # fmt: skip


@dataclass(slots=True)
class EndpointAggregate:
    count: int = 0
    errors: int = 0
    total_ms: float = 0.0
    min_ms: float = math.inf
    max_ms: float = 0.0
    histogram: LatencyHistogram = field(default_factory=LatencyHistogram)
    db_queries: int = 0
    db_time_ms: float = 0.0
    cache_hits: int = 0
    request_bytes: int = 0
    response_bytes: int = 0

    def add(
        self,
        duration_ms: float,
        bucket: int,
        error: bool,
        db_queries: int,
        db_time_ms: float,
        cache_hit: bool,
        request_bytes: int,
        response_bytes: int,
    ) -> None:
        """One request; `bucket` is its duration's histogram bucket_index."""
        self.count += 1
        self.errors += error
        self.total_ms += duration_ms
        if duration_ms < self.min_ms:
            self.min_ms = duration_ms
        if duration_ms > self.max_ms:
            self.max_ms = duration_ms
        self.histogram.add_at(bucket)
        self.db_queries += db_queries
        self.db_time_ms += db_time_ms
        self.cache_hits += cache_hit
        self.request_bytes += request_bytes
        self.response_bytes += response_bytes

    def merge(self, other: EndpointAggregate) -> None:
        self.count += other.count
        self.errors += other.errors
        self.total_ms += other.total_ms
        self.min_ms = min(self.min_ms, other.min_ms)
        self.max_ms = max(self.max_ms, other.max_ms)
        self.histogram.merge(other.histogram)
        self.db_queries += other.db_queries
        self.db_time_ms += other.db_time_ms
        self.cache_hits += other.cache_hits
        self.request_bytes += other.request_bytes
        self.response_bytes += other.response_bytes


def _empty_buckets() -> list[int]:
    return [0] * (len(DURATION_BOUNDS_MS) + 1)


@dataclass(slots=True)
class EndpointTotals:
    """Since the process started, never swapped out: Prometheus counters are cumulative."""

    # Requests per bound of DURATION_BOUNDS_MS (not cumulative), the last for larger ones.
    buckets: list[int] = field(default_factory=_empty_buckets)
    sum_ms: float = 0.0


@dataclass(slots=True)
class LiveSecond:
    """One second of this worker's traffic, for the real-time feed."""

    second: int
    count: int = 0
    errors: int = 0
    total_ms: float = 0.0
    max_ms: float = 0.0
    histogram: LatencyHistogram = field(default_factory=LatencyHistogram)


@dataclass(slots=True)
class RawSample:
    """One request kept whole for api_performance_metrics (slow, or in the sample)."""

    endpoint_path: str
    http_method: str
    status: int
    response_time_ms: float
    request_size_bytes: int
    response_size_bytes: int
    cache_hit: bool
    database_queries_count: int
    database_time_ms: float
    client_id: int | None
    user_id: int | None
    sample_rate: float
    timestamp: float


class RequestAggregator:
    """Collects request measurements in memory for the flusher, Prometheus and the live feed."""

    def __init__(self, *, buffer_size: int, sample_rate: float, slow_request_ms: float) -> None:
        self.window: dict[EndpointKey, EndpointAggregate] = {}
        self.totals: dict[EndpointKey, EndpointTotals] = {}
        self.window_started = time.time()
        self.live: deque[LiveSecond] = deque(maxlen=LIVE_SECONDS)
        self.samples: deque[RawSample] = deque()
        self.buffer_size = buffer_size
        self.sample_rate = sample_rate
        self.slow_request_ms = slow_request_ms
        self.dropped_samples = 0
        self.active_requests = 0
        # Sampling by a counter, not a random draw: exact rates, and no RNG on the hot path.
        self._sample_every = round(1 / sample_rate) if sample_rate > 0 else 0
        self._since_sample = 0

    def record(
        self,
        route: str,
        method: str,
        status: int,
        duration_ms: float,
        request_bytes: int,
        response_bytes: int,
        stats: RequestStats,
        now: float,
    ) -> None:
        # This runs for every request, a cache hit included (where it is a good part of the
        # cost): EndpointAggregate.add, LatencyHistogram.add_at and the live second are
        # inlined here, each a call saved (`add` says the same for one aggregate).
        key = (route, method, status // 100)
        aggregate = self.window.get(key)
        if aggregate is None:
            aggregate = self.window[key] = EndpointAggregate()
        error = status >= 500
        # bucket_index(duration_ms), inlined
        bucket = ceil(log(duration_ms) / LOG_GAMMA) if duration_ms > MIN_VALUE else MIN_INDEX
        aggregate.count += 1
        aggregate.errors += error
        aggregate.total_ms += duration_ms
        if duration_ms < aggregate.min_ms:
            aggregate.min_ms = duration_ms
        if duration_ms > aggregate.max_ms:
            aggregate.max_ms = duration_ms
        histogram = aggregate.histogram
        buckets = histogram.buckets
        buckets[bucket] = buckets.get(bucket, 0) + 1
        histogram.count += 1
        if stats.query_count:
            aggregate.db_queries += stats.query_count
            aggregate.db_time_ms += stats.query_time_ms
        aggregate.cache_hits += stats.cache_hit
        aggregate.request_bytes += request_bytes
        aggregate.response_bytes += response_bytes
        totals = self.totals.get(key)
        if totals is None:
            totals = self.totals[key] = EndpointTotals()
        totals.buckets[bisect_left(DURATION_BOUNDS_MS, duration_ms)] += 1
        totals.sum_ms += duration_ms
        live = self.live
        second = int(now)
        if not live or live[-1].second != second:
            live.append(LiveSecond(second))
        current = live[-1]
        current.count += 1
        current.errors += error
        current.total_ms += duration_ms
        if duration_ms > current.max_ms:
            current.max_ms = duration_ms
        histogram = current.histogram
        buckets = histogram.buckets
        buckets[bucket] = buckets.get(bucket, 0) + 1
        histogram.count += 1
        slow = duration_ms >= self.slow_request_ms
        sampled = False
        if not slow and self._sample_every:
            self._since_sample += 1
            if self._since_sample >= self._sample_every:
                self._since_sample = 0
                sampled = True
        if slow or sampled:
            self._keep_sample(
                RawSample(
                    endpoint_path=route,
                    http_method=method,
                    status=status,
                    response_time_ms=duration_ms,
                    request_size_bytes=request_bytes,
                    response_size_bytes=response_bytes,
                    cache_hit=stats.cache_hit,
                    database_queries_count=stats.query_count,
                    database_time_ms=stats.query_time_ms,
                    client_id=stats.client_id,
                    user_id=stats.user_id,
                    # Slow requests are all kept (weight 1); sampled ones stand for 1/rate.
                    sample_rate=1.0 if slow else 1 / self._sample_every,
                    timestamp=now,
                )
            )

    def _keep_sample(self, sample: RawSample) -> None:
        if len(self.samples) >= self.buffer_size:
            self.dropped_samples += 1
            return
        self.samples.append(sample)

    def swap(self) -> tuple[float, float, dict[EndpointKey, EndpointAggregate]]:
        """Take the current window (start, end, aggregates) and begin a new one."""
        started, window = self.window_started, self.window
        self.window_started = time.time()
        self.window = {}
        return started, self.window_started, window

    def restore(self, window: dict[EndpointKey, EndpointAggregate]) -> None:
        """Merge back a window that could not be stored, so the next flush carries it."""
        for key, aggregate in window.items():
            current = self.window.get(key)
            if current is None:
                self.window[key] = aggregate
            else:
                current.merge(aggregate)

    def take_samples(self) -> list[RawSample]:
        taken = list(self.samples)
        self.samples.clear()
        return taken

    def return_samples(self, samples: list[RawSample]) -> None:
        """Put back samples whose write failed, oldest first, dropping what does not fit."""
        room = self.buffer_size - len(self.samples)
        kept = samples[:room] if room > 0 else []
        self.dropped_samples += len(samples) - len(kept)
        self.samples.extendleft(reversed(kept))

    def live_series(self, now: float) -> list[dict[str, Any]]:
        """The last minute at one-second resolution, oldest first, with empty seconds filled."""
        by_second = {entry.second: entry for entry in self.live}
        end = int(now)
        series: list[dict[str, Any]] = []
        for second in range(end - LIVE_SECONDS + 1, end + 1):
            entry = by_second.get(second)
            if entry is None:
                series.append(
                    {"t": second, "count": 0, "errors": 0, "avg_ms": None, "p95_ms": None}
                )
                continue
            series.append(
                {
                    "t": second,
                    "count": entry.count,
                    "errors": entry.errors,
                    "avg_ms": entry.total_ms / entry.count,
                    "p95_ms": entry.histogram.quantile(0.95),
                    "max_ms": entry.max_ms,
                }
            )
        return series
