"""Statement aggregates kept in memory: per (fingerprint, endpoint) between flushes, and
cumulative durations per operation for Prometheus.

The same `QueryAggregate` tallies one request's executions of a fingerprint and, once the
request's route is known, is merged into the window. The flusher swaps the window out and
writes one query_fingerprint_rollups row per key; a failed write is merged back, so the
backlog is bounded by the number of keys, not by traffic. `OperationDurations` is never
swapped out: /metrics renders its cumulative bucket counts when it is scraped. Everything
runs on the event loop thread: no locks.
"""

from __future__ import annotations

import datetime as dt
import time
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

from banrimkwae.perf.queries.fingerprint import Fingerprint

# (fingerprint hash, endpoint route template)
QueryKey = tuple[str, str]
BUCKET_SECONDS = 60
# OpenTelemetry's default boundaries (seconds) for db.client.operation.duration, in ms.
DB_DURATION_BOUNDS_MS = (1.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0, 10000.0)


@dataclass(slots=True)
class QueryAggregate:
    fingerprint: Fingerprint
    count: int = 0
    total_ms: float = 0.0
    max_ms: float = 0.0
    rows: int = 0
    # Requests in which the fingerprint ran more than the N+1 threshold.
    n_plus_one_requests: int = 0

    def add(self, elapsed_ms: float, rows: int) -> None:
        self.count += 1
        self.total_ms += elapsed_ms
        if elapsed_ms > self.max_ms:
            self.max_ms = elapsed_ms
        self.rows += rows

    def merge(self, other: QueryAggregate) -> None:
        self.count += other.count
        self.total_ms += other.total_ms
        self.max_ms = max(self.max_ms, other.max_ms)
        self.rows += other.rows
        self.n_plus_one_requests += other.n_plus_one_requests


class QueryWindow:
    """The aggregates since the last flush, bounded by `max_keys`."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self.aggregates: dict[QueryKey, QueryAggregate] = {}
        self.started = time.time()
        self.dropped = 0

    def add(self, endpoint: str, tally: QueryAggregate, *, n_plus_one: bool) -> None:
        key = (tally.fingerprint.hash, endpoint)
        current = self.aggregates.get(key)
        if current is None:
            if len(self.aggregates) >= self.max_keys:
                self.dropped += tally.count
                return
            current = self.aggregates[key] = QueryAggregate(tally.fingerprint)
        current.merge(tally)
        current.n_plus_one_requests += n_plus_one

    def swap(self) -> tuple[float, dict[QueryKey, QueryAggregate]]:
        """Take the window (its start, its aggregates) and begin a new one."""
        started, aggregates = self.started, self.aggregates
        self.started = time.time()
        self.aggregates = {}
        return started, aggregates

    def restore(self, aggregates: dict[QueryKey, QueryAggregate], started: float) -> None:
        """Merge back aggregates that could not be stored, so the next flush carries them."""
        self.started = min(self.started, started)
        for key, aggregate in aggregates.items():
            current = self.aggregates.get(key)
            if current is not None:
                current.merge(aggregate)
            elif len(self.aggregates) < self.max_keys:
                self.aggregates[key] = aggregate
            else:
                self.dropped += aggregate.count


class OperationDurations:
    """Statement durations by operation (SELECT, INSERT, UPDATE, DELETE) since the start.

    A bisect and two additions per statement, the way the request aggregator keeps its
    per-endpoint totals: far cheaper than a prometheus_client Histogram.observe.
    """

    def __init__(self) -> None:
        # Per operation: counts per bound of DB_DURATION_BOUNDS_MS (not cumulative), the
        # last but one for larger durations, then the sum in milliseconds.
        self.totals: dict[str, list[float]] = {}

    def observe(self, operation: str, duration_ms: float) -> None:
        totals = self.totals.get(operation)
        if totals is None:
            totals = self.totals[operation] = [0.0] * (len(DB_DURATION_BOUNDS_MS) + 2)
        totals[bisect_left(DB_DURATION_BOUNDS_MS, duration_ms)] += 1
        totals[-1] += duration_ms


def rollup_rows(
    started: float, aggregates: dict[QueryKey, QueryAggregate], worker: str
) -> list[dict[str, Any]]:
    """query_fingerprint_rollups rows: one per key, in the minute the window began."""
    bucket = dt.datetime.fromtimestamp(started - started % BUCKET_SECONDS, dt.UTC)
    return [
        {
            "bucket_start": bucket,
            "bucket_seconds": BUCKET_SECONDS,
            "query_hash": aggregate.fingerprint.hash,
            "endpoint_path": endpoint[:255],
            "query_type": aggregate.fingerprint.query_type,
            "table_names": list(aggregate.fingerprint.tables),
            "normalized_text": aggregate.fingerprint.text,
            "execution_count": aggregate.count,
            "total_time_ms": aggregate.total_ms,
            "max_time_ms": aggregate.max_ms,
            "total_rows": aggregate.rows,
            "n_plus_one_requests": aggregate.n_plus_one_requests,
            "worker": worker,
        }
        for (_, endpoint), aggregate in aggregates.items()
    ]
