"""The metrics store: batched writes of the aggregates, and their compaction and retention.

One flusher task per worker. Each tick it swaps the aggregator's window out and writes, in
one transaction, one `api_metric_rollups` row per endpoint key, the raw request samples and
the process samples. A failed or too slow write puts everything back (the window merges into
the next one, the samples return to their bounded buffers), counts the failure and logs one
line; requests never wait on any of it.

Time buckets: ticks fall on multiples of the flush interval and on every minute boundary, so
with `flush_interval <= 60` a window never spans two minutes and its row's `bucket_start` is
the minute it belongs to. A longer interval, or a backlog carried over a store outage, is
attributed to the minute its window started: counts stay exact, time placement is coarser.

At most once a minute the same task does the housekeeping of every monitoring table, the
query tracker's included: it compacts both rollup tables (1-minute rows older than a day into
10-minute rows, 10-minute rows older than a week into hourly rows; safe with several workers,
see banrimkwae.perf.storage.compaction), deletes raw rows past the raw retention and rollups
past theirs, and once a day maintains the monthly partitions on PostgreSQL and MariaDB.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from banrimkwae.perf.config import MonitoringConfig
from banrimkwae.perf.metrics.aggregator import (
    EndpointAggregate,
    EndpointKey,
    RawSample,
    RequestAggregator,
)
from banrimkwae.perf.metrics.histogram import LatencyHistogram
from banrimkwae.perf.metrics.resources import ProcessSampleRow, ResourceSampler
from banrimkwae.perf.storage import (
    ApiMetricRollup,
    ApiPerformanceMetric,
    DatabaseQueryPerformance,
    PlatformBase,
    ProcessSample,
    QueryFingerprintRollup,
)
from banrimkwae.perf.storage.compaction import (
    COMPACTION_BATCH,
    RollupTable,
    RowValues,
    compact_rollups,
    floor_time,
)
from banrimkwae.perf.storage.partitions import maintain_partitions

logger = logging.getLogger(__name__)

ROLLUP_SECONDS = 60
HOUSEKEEPING_EVERY = 60.0
PARTITIONS_EVERY = 86400.0
PARTITIONS_RETRY = 3600.0
PARTITION_MONTHS_AHEAD = 3
HOUSEKEEPING_TIMEOUT = 120.0
# Column limits of api_performance_metrics.
_MAX_CPU_PERCENT = Decimal("999.99")
_MAX_PATH = 255
_ROLLUP_COLUMNS = (
    ApiMetricRollup.bucket_start,
    ApiMetricRollup.endpoint_path,
    ApiMetricRollup.http_method,
    ApiMetricRollup.status_class,
    ApiMetricRollup.request_count,
    ApiMetricRollup.error_count,
    ApiMetricRollup.total_time_ms,
    ApiMetricRollup.min_time_ms,
    ApiMetricRollup.max_time_ms,
    ApiMetricRollup.latency_histogram,
    ApiMetricRollup.db_queries,
    ApiMetricRollup.db_time_ms,
    ApiMetricRollup.cache_hits,
    ApiMetricRollup.request_bytes,
    ApiMetricRollup.response_bytes,
    ApiMetricRollup.worker,
)


@dataclass(slots=True)
class FlushBatch:
    """What one tick writes, in one transaction."""

    bucket_start: dt.datetime
    window: dict[EndpointKey, EndpointAggregate]
    samples: list[RawSample]
    processes: list[ProcessSampleRow]
    rss_mb: float | None
    cpu_percent: float | None

    @property
    def empty(self) -> bool:
        return not (self.window or self.samples or self.processes)


class MetricsStore:
    """The platform tables of one database, as the flusher writes and maintains them."""

    def __init__(self, engine: AsyncEngine, worker: str, *, timeout: float = 10.0) -> None:
        self.engine = engine
        self.worker = worker[:64]
        self.timeout = timeout

    async def write(self, batch: FlushBatch) -> None:
        """Insert the batch in one transaction, or raise (TimeoutError past `timeout`)."""
        rollups = [
            _rollup_values(batch.bucket_start, key, aggregate, self.worker)
            for key, aggregate in batch.window.items()
        ]
        raw_rows = [
            _raw_values(sample, batch.rss_mb, batch.cpu_percent) for sample in batch.samples
        ]
        processes = [
            {
                "sampled_at": row.sampled_at,
                "worker": self.worker,
                "rss_mb": row.rss_mb,
                "cpu_percent": row.cpu_percent,
            }
            for row in batch.processes
        ]
        # The whole write, COMMIT included, is under the timeout: a store that hangs must not
        # stall the flusher. Should the timeout strike inside COMMIT itself, the outcome is
        # unknown and the window is kept; that one window could then be counted twice.
        async with asyncio.timeout(self.timeout), self._transaction() as connection:
            if rollups:
                await connection.execute(insert(ApiMetricRollup), rollups)
            if raw_rows:
                await connection.execute(insert(ApiPerformanceMetric), raw_rows)
            if processes:
                await connection.execute(insert(ProcessSample), processes)

    async def compact(self, now: dt.datetime, *, batch_size: int = COMPACTION_BATCH) -> int:
        """Merge aged rows of every rollup table; returns how many rows were merged away."""
        merged = 0
        for rollups in ROLLUP_TABLES:
            merged += await compact_rollups(self.engine, rollups, now, batch_size=batch_size)
        return merged

    async def expire(
        self, now: dt.datetime, *, raw_retention_days: int, rollup_retention_days: int
    ) -> None:
        """Delete raw rows and process samples past raw retention, rollups past theirs."""
        raw_cutoff = now - dt.timedelta(days=raw_retention_days)
        rollup_cutoff = now - dt.timedelta(days=rollup_retention_days)
        async with self._transaction() as connection:
            for moment in RAW_TIMES:
                await connection.execute(delete(moment.table).where(moment < raw_cutoff))
            for rollups in ROLLUP_TABLES:
                table = rollups.table
                await connection.execute(delete(table).where(table.c.bucket_start < rollup_cutoff))

    async def maintain_partitions(self, now: dt.datetime, *, raw_retention_days: int) -> None:
        # Partitions are whole months: keep enough of them to cover the raw retention.
        months = max(1, math.ceil(raw_retention_days / 30))
        await maintain_partitions(
            self.engine, now=now, months_ahead=PARTITION_MONTHS_AHEAD, retention_months=months
        )

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        """A transaction committed on success and rolled back (by closing) on failure."""
        async with self.engine.connect() as connection:
            yield connection
            await connection.commit()


class MetricsFlusher:
    """The worker's background task: flush every tick, housekeeping at most once a minute."""

    def __init__(
        self,
        aggregator: RequestAggregator,
        resources: ResourceSampler,
        store: MetricsStore,
        config: MonitoringConfig,
    ) -> None:
        self.aggregator = aggregator
        self.resources = resources
        self.store = store
        self.config = config
        self.flushes = 0
        self.flush_failures = 0
        self.last_flush_error: str | None = None
        self.last_flush_at: float | None = None
        self.housekeeping_failures = 0
        self._next_housekeeping = 0.0
        self._next_partitions = 0.0
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def flush(self) -> bool:
        """Write the current window and buffers; on failure keep them for the next tick."""
        started, _ended, window = self.aggregator.swap()
        batch = FlushBatch(
            bucket_start=floor_time(dt.datetime.fromtimestamp(started, dt.UTC), ROLLUP_SECONDS),
            window=window,
            samples=self.aggregator.take_samples(),
            processes=self.resources.take(),
            rss_mb=self.resources.rss_mb,
            cpu_percent=self.resources.cpu_percent,
        )
        if batch.empty:
            return True
        try:
            await self.store.write(batch)
        except BaseException as exc:
            self.aggregator.restore(batch.window)
            self.aggregator.return_samples(batch.samples)
            self.resources.give_back(batch.processes)
            if not isinstance(exc, Exception):
                raise
            self.flush_failures += 1
            self.last_flush_error = _describe(exc)
            logger.warning(
                "metrics flush failed, %d requests kept for the next one: %s",
                sum(aggregate.count for aggregate in batch.window.values()),
                self.last_flush_error,
            )
            return False
        self.flushes += 1
        self.last_flush_at = time.time()
        return True

    async def housekeeping(self, now: dt.datetime) -> None:
        """Compaction and retention; partition maintenance when it is due."""
        config = self.config
        try:
            async with asyncio.timeout(HOUSEKEEPING_TIMEOUT):
                await self.store.compact(now)
                await self.store.expire(
                    now,
                    raw_retention_days=config.raw_retention_days,
                    rollup_retention_days=config.rollup_retention_days,
                )
        except Exception as exc:
            self.housekeeping_failures += 1
            logger.warning("metrics compaction or retention failed: %s", _describe(exc))
        if time.monotonic() < self._next_partitions:
            return
        try:
            async with asyncio.timeout(HOUSEKEEPING_TIMEOUT):
                await self.store.maintain_partitions(
                    now, raw_retention_days=config.raw_retention_days
                )
            self._next_partitions = time.monotonic() + PARTITIONS_EVERY
        except Exception as exc:
            # Often another worker doing the same at the same moment; try again later.
            self.housekeeping_failures += 1
            self._next_partitions = time.monotonic() + PARTITIONS_RETRY
            logger.warning("metrics partition maintenance failed: %s", _describe(exc))

    def start(self) -> None:
        if self._task is None:
            self._stopping = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="banrimkwae-metrics-flusher")

    async def stop(self) -> None:
        """Stop the task after one last flush (or flush now if it never ran)."""
        task, self._task = self._task, None
        if task is None:
            await self.flush()
            return
        self._stopping.set()
        await task

    async def _run(self) -> None:
        while True:
            await self._sleep_until(next_tick(time.time(), self.config.flush_interval))
            stopping = self._stopping.is_set()
            await self.flush()
            if stopping:
                return
            if time.monotonic() >= self._next_housekeeping:
                self._next_housekeeping = time.monotonic() + HOUSEKEEPING_EVERY
                await self.housekeeping(dt.datetime.now(dt.UTC))

    async def _sleep_until(self, wall_time: float) -> None:
        # The loop's clock is monotonic and buckets follow the wall clock: re-check after
        # waking so that a window is never cut just before the minute it should close.
        while (remaining := wall_time - time.time()) > 0 and not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), remaining)


def next_tick(now: float, interval: float) -> float:
    """The next flush time: a multiple of `interval`, and no later than the next minute."""
    tick = (math.floor(now / interval) + 1) * interval
    if interval <= ROLLUP_SECONDS:
        tick = min(tick, (math.floor(now / ROLLUP_SECONDS) + 1) * ROLLUP_SECONDS)
    return tick


def aggregate_of(values: Mapping[Any, Any]) -> EndpointAggregate:
    """An in-memory aggregate from one api_metric_rollups row."""
    return EndpointAggregate(
        count=int(values["request_count"]),
        errors=int(values["error_count"]),
        total_ms=float(values["total_time_ms"]),
        min_ms=float(values["min_time_ms"]),
        max_ms=float(values["max_time_ms"]),
        histogram=LatencyHistogram.from_json(values["latency_histogram"]),
        db_queries=int(values["db_queries"]),
        db_time_ms=float(values["db_time_ms"]),
        cache_hits=int(values["cache_hits"]),
        request_bytes=int(values["request_bytes"]),
        response_bytes=int(values["response_bytes"]),
    )


async def read_rollups(
    engine: AsyncEngine,
    since: dt.datetime,
    until: dt.datetime,
    bucket_seconds: int | None = None,
) -> dict[EndpointKey, EndpointAggregate]:
    """Rollups of buckets starting in [since, until), merged per endpoint key across workers,
    flushes and bucket sizes."""
    query = select(*_ROLLUP_COLUMNS).where(
        ApiMetricRollup.bucket_start >= since, ApiMetricRollup.bucket_start < until
    )
    if bucket_seconds is not None:
        query = query.where(ApiMetricRollup.bucket_seconds == bucket_seconds)
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return merge_rows(row._mapping for row in rows)


def merge_rows(rows: Iterable[Mapping[Any, Any]]) -> dict[EndpointKey, EndpointAggregate]:
    merged: dict[EndpointKey, EndpointAggregate] = {}
    for values in rows:
        key = (values["endpoint_path"], values["http_method"], int(values["status_class"]))
        aggregate = merged.get(key)
        if aggregate is None:
            merged[key] = aggregate = EndpointAggregate()
        aggregate.merge(aggregate_of(values))
    return merged


def _rollup_values(
    bucket_start: dt.datetime, key: EndpointKey, aggregate: EndpointAggregate, worker: str
) -> dict[str, Any]:
    path, method, status_class = key
    return {
        "bucket_start": bucket_start,
        "bucket_seconds": ROLLUP_SECONDS,
        "endpoint_path": path[:_MAX_PATH],
        "http_method": method,
        "status_class": status_class,
        "request_count": aggregate.count,
        "error_count": aggregate.errors,
        "total_time_ms": aggregate.total_ms,
        "min_time_ms": aggregate.min_ms if aggregate.count else 0.0,
        "max_time_ms": aggregate.max_ms,
        "latency_histogram": aggregate.histogram.to_json(),
        "db_queries": aggregate.db_queries,
        "db_time_ms": aggregate.db_time_ms,
        "cache_hits": aggregate.cache_hits,
        "request_bytes": aggregate.request_bytes,
        "response_bytes": aggregate.response_bytes,
        "worker": worker,
    }


def _raw_values(
    sample: RawSample, rss_mb: float | None, cpu_percent: float | None
) -> dict[str, Any]:
    return {
        "endpoint_path": sample.endpoint_path[:_MAX_PATH],
        "http_method": sample.http_method,
        "response_time_ms": round(sample.response_time_ms),
        "request_size_bytes": sample.request_size_bytes,
        "response_size_bytes": sample.response_size_bytes,
        "cache_hit": sample.cache_hit,
        "database_queries_count": sample.database_queries_count,
        "database_time_ms": round(sample.database_time_ms),
        "memory_usage_mb": None if rss_mb is None else Decimal(f"{rss_mb:.2f}"),
        "cpu_usage_percent": (
            None if cpu_percent is None else min(Decimal(f"{cpu_percent:.2f}"), _MAX_CPU_PERCENT)
        ),
        "timestamp": dt.datetime.fromtimestamp(sample.timestamp, dt.UTC),
        "client_id": sample.client_id,
        "user_id": sample.user_id,
        "status_code": sample.status,
        "sample_rate": Decimal(f"{sample.sample_rate:.6f}"),
    }


def _table(model: type[PlatformBase]) -> Table:
    return PlatformBase.metadata.tables[model.__tablename__]


def _merge_request_rows(rows: Sequence[RowValues]) -> dict[str, Any]:
    aggregate = EndpointAggregate()
    for values in rows:
        aggregate.merge(aggregate_of(values))
    first = rows[0]
    key = (first["endpoint_path"], first["http_method"], int(first["status_class"]))
    return _rollup_values(first["bucket_start"], key, aggregate, first["worker"])


def _merge_query_rows(rows: Sequence[RowValues]) -> dict[str, Any]:
    first = rows[0]
    return {
        "query_hash": first["query_hash"],
        "endpoint_path": first["endpoint_path"],
        # A fingerprint's hash is that of its text: one hash, one description.
        "query_type": first["query_type"],
        "table_names": first["table_names"],
        "normalized_text": first["normalized_text"],
        "execution_count": sum(int(values["execution_count"]) for values in rows),
        "total_time_ms": math.fsum(float(values["total_time_ms"]) for values in rows),
        "max_time_ms": max(float(values["max_time_ms"]) for values in rows),
        "total_rows": sum(int(values["total_rows"]) for values in rows),
        "n_plus_one_requests": sum(int(values["n_plus_one_requests"]) for values in rows),
    }


REQUEST_ROLLUPS = RollupTable(
    _table(ApiMetricRollup), ("endpoint_path", "http_method", "status_class"), _merge_request_rows
)
QUERY_ROLLUPS = RollupTable(
    _table(QueryFingerprintRollup), ("query_hash", "endpoint_path"), _merge_query_rows
)
ROLLUP_TABLES = (REQUEST_ROLLUPS, QUERY_ROLLUPS)
# Raw rows by their time: deleted past the raw retention on every dialect. On PostgreSQL and
# MariaDB the two partitioned ones also lose whole months to partition maintenance, which is
# cheaper but coarser than the retention asks for.
RAW_TIMES: tuple[Column[Any], ...] = (
    _table(ApiPerformanceMetric).c.timestamp,
    _table(DatabaseQueryPerformance).c.executed_at,
    _table(ProcessSample).c.sampled_at,
)


def _describe(exc: BaseException) -> str:
    """One line naming the failure: the driver's message without SQL or parameters."""
    cause = getattr(exc, "orig", None) or exc
    # SQLAlchemy's async adapters wrap the driver's own exception, whose name says more.
    cause = cause.__cause__ or cause
    first_line = (str(cause).strip().splitlines() or [""])[0]
    return f"{type(cause).__name__}: {first_line}"[:500] if first_line else type(cause).__name__
