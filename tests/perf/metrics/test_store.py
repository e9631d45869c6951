"""The metrics store: compaction, retention and the flusher's lifecycle on every dialect."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae import migrate
from banrimkwae.perf.config import MonitoringConfig
from banrimkwae.perf.db import create_engine_for_url
from banrimkwae.perf.metrics import (
    EndpointAggregate,
    MetricsFlusher,
    MetricsStore,
    RequestAggregator,
    RequestStats,
    ResourceSampler,
    read_rollups,
)
from banrimkwae.perf.metrics.histogram import bucket_index
from banrimkwae.perf.metrics.store import FlushBatch, next_tick
from banrimkwae.perf.storage import (
    ApiMetricRollup,
    ApiPerformanceMetric,
    ProcessSample,
    QueryFingerprintRollup,
)
from banrimkwae.perf.storage.compaction import as_utc, floor_time
from tests.conftest import ScratchDatabases

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
FAR = dt.datetime(2037, 1, 1, tzinfo=dt.UTC)


def _aggregate(durations: list[float], *, errors: int = 0) -> EndpointAggregate:
    aggregate = EndpointAggregate()
    for index, duration in enumerate(durations):
        aggregate.add(
            duration,
            bucket_index(duration),
            error=index < errors,
            db_queries=2,
            db_time_ms=duration / 4,
            cache_hit=index % 3 == 0,
            request_bytes=10,
            response_bytes=100 + index,
        )
    return aggregate


async def _write(
    store: MetricsStore, bucket_start: dt.datetime, path: str, durations: list[float]
) -> None:
    window = {
        (path, "GET", 2): _aggregate(durations),
        (path, "GET", 5): _aggregate([900.0], errors=1),
    }
    await store.write(FlushBatch(bucket_start, window, [], [], None, None))


async def _seed_history(engine: AsyncEngine, path: str, workers: int = 2) -> None:
    """Minute rows of several workers over nine days before NOW, every 97 minutes."""
    for worker in range(workers):
        store = MetricsStore(engine, f"worker-{worker}")
        minute = 0
        while minute < 9 * 24 * 60:
            durations = [1.0 + (minute % 50) + worker, 5.0 + worker * 3, 42.0]
            await _write(store, NOW - dt.timedelta(minutes=minute), path, durations)
            minute += 97


async def _buckets(engine: AsyncEngine, path: str) -> dict[int, list[dt.datetime]]:
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(ApiMetricRollup.bucket_seconds, ApiMetricRollup.bucket_start).where(
                    ApiMetricRollup.endpoint_path == path
                )
            )
        ).all()
    found: dict[int, list[dt.datetime]] = {}
    for seconds, start in rows:
        found.setdefault(seconds, []).append(as_utc(start))
    return found


def _only(
    merged: dict[tuple[str, str, int], EndpointAggregate], path: str
) -> dict[tuple[str, str, int], tuple[object, ...]]:
    """Every total of the rows of `path`, in a comparable form."""
    return {
        key: (
            aggregate.count,
            aggregate.errors,
            round(aggregate.total_ms, 3),
            aggregate.min_ms,
            aggregate.max_ms,
            aggregate.histogram.buckets,
            aggregate.db_queries,
            round(aggregate.db_time_ms, 3),
            aggregate.cache_hits,
            aggregate.request_bytes,
            aggregate.response_bytes,
        )
        for key, aggregate in merged.items()
        if key[0] == path
    }


async def test_compaction_merges_aged_rows_without_losing_or_doubling(
    engine: AsyncEngine,
) -> None:
    path = "/compaction/{id}"
    await _seed_history(engine, path)
    before = _only(await read_rollups(engine, EPOCH, FAR), path)
    rows_before = sum(len(starts) for starts in (await _buckets(engine, path)).values())

    merged = await MetricsStore(engine, "compactor").compact(NOW, batch_size=50)

    buckets = await _buckets(engine, path)
    after = _only(await read_rollups(engine, EPOCH, FAR), path)
    assert after == before
    assert merged > 0
    assert sum(len(starts) for starts in buckets.values()) < rows_before
    day, week = NOW - dt.timedelta(days=1), NOW - dt.timedelta(days=7)
    assert min(buckets[60]) >= day
    assert week <= min(buckets[600]) and max(buckets[600]) < day
    assert max(buckets[3600]) < week
    assert all(start.timestamp() % 600 == 0 for start in buckets[600])
    assert all(start.timestamp() % 3600 == 0 for start in buckets[3600])
    # Nothing is left to do at the same moment.
    assert await MetricsStore(engine, "compactor").compact(NOW) == 0


async def test_compaction_waits_for_the_sqlite_writer(engine: AsyncEngine, dialect: str) -> None:
    if dialect != "sqlite":
        return  # PostgreSQL and MariaDB skip locked rows instead: the next test
    path = "/sqlite-writer/{id}"
    await _seed_history(engine, path, workers=1)
    before = _only(await read_rollups(engine, EPOCH, FAR), path)
    oldest_minutes = (
        select(ApiMetricRollup)
        .where(ApiMetricRollup.endpoint_path == path, ApiMetricRollup.bucket_seconds == 60)
        .order_by(ApiMetricRollup.bucket_start)
        .limit(5)
    )
    async with engine.connect() as holder:
        await holder.exec_driver_sql("BEGIN IMMEDIATE")
        compaction = asyncio.create_task(MetricsStore(engine, "other").compact(NOW))
        await asyncio.sleep(0.5)
        assert not compaction.done()
        # Meanwhile this writer moves the oldest minute rows into a 10-minute bucket, as
        # another worker's compaction would. Had the waiting compaction read them before
        # this commit, it would merge them a second time.
        rows = [dict(row._mapping) for row in await holder.execute(oldest_minutes)]
        await holder.execute(
            delete(ApiMetricRollup).where(ApiMetricRollup.id.in_([row.pop("id") for row in rows]))
        )
        for row in rows:
            row.update(bucket_seconds=600, bucket_start=floor_time(row["bucket_start"], 600))
        await holder.execute(insert(ApiMetricRollup), rows)
        await holder.commit()
    assert await asyncio.wait_for(compaction, 10) > 0

    assert _only(await read_rollups(engine, EPOCH, FAR), path) == before


async def test_compaction_leaves_rows_another_transaction_holds(
    engine: AsyncEngine, dialect: str
) -> None:
    if dialect == "sqlite":
        return  # one writer at a time: the test above
    path = "/locked/{id}"
    await _seed_history(engine, path, workers=1)
    before = _only(await read_rollups(engine, EPOCH, FAR), path)
    day = NOW - dt.timedelta(days=1)
    old_minute_rows = (
        select(ApiMetricRollup.id)
        .where(
            ApiMetricRollup.endpoint_path == path,
            ApiMetricRollup.bucket_seconds == 60,
            ApiMetricRollup.bucket_start < day,
        )
        .order_by(ApiMetricRollup.id)
    )
    async with engine.connect() as holder:
        # Locked by primary key: on MariaDB a locking scan would hold every row it examined.
        held = (await holder.execute(old_minute_rows.limit(20))).scalars().all()
        await holder.execute(
            select(ApiMetricRollup.id).where(ApiMetricRollup.id.in_(held)).with_for_update()
        )
        # Another worker holds these: compaction must neither wait for them nor merge them.
        async with asyncio.timeout(20):
            await MetricsStore(engine, "other").compact(NOW, batch_size=30)
        async with engine.connect() as reader:
            remaining = (await reader.execute(old_minute_rows)).scalars().all()
        assert sorted(remaining) == sorted(held)
        await holder.rollback()

    await MetricsStore(engine, "other").compact(NOW)

    async with engine.connect() as reader:
        assert (await reader.execute(old_minute_rows)).scalars().all() == []
    assert _only(await read_rollups(engine, EPOCH, FAR), path) == before


async def test_two_racing_compactions_count_everything_once(
    engine: AsyncEngine, dialect: str, module_database_url: str
) -> None:
    path = "/race/{id}"
    await _seed_history(engine, path, workers=3)
    before = _only(await read_rollups(engine, EPOCH, FAR), path)
    second_engine = create_engine_for_url(module_database_url)
    try:
        merged = await asyncio.gather(
            MetricsStore(engine, "first").compact(NOW, batch_size=25),
            MetricsStore(second_engine, "second").compact(NOW, batch_size=25),
        )
    finally:
        await second_engine.dispose()

    assert _only(await read_rollups(engine, EPOCH, FAR), path) == before
    buckets = await _buckets(engine, path)
    assert min(buckets[60]) >= NOW - dt.timedelta(days=1)
    assert sum(merged) > 0


async def test_retention_deletes_only_what_has_expired(engine: AsyncEngine) -> None:
    path = "/retention/{id}"
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    store = MetricsStore(engine, "keeper")
    for age_days in (1, 89, 91, 200):
        await _write(store, now - dt.timedelta(days=age_days), path, [3.0])
    raw = {"endpoint_path": path, "http_method": "GET", "response_time_ms": 3}
    async with engine.begin() as connection:
        await connection.execute(
            insert(ApiPerformanceMetric),
            [{**raw, "timestamp": now - dt.timedelta(days=age)} for age in (0, 6, 8, 30)],
        )
        process = {"worker": path, "rss_mb": 1.0, "cpu_percent": 0.0}
        await connection.execute(
            insert(ProcessSample),
            [{**process, "sampled_at": now - dt.timedelta(days=age)} for age in (0, 8)],
        )

    await store.expire(now, raw_retention_days=7, rollup_retention_days=90)

    async with engine.connect() as connection:
        raw_ages = (
            await connection.execute(
                select(ApiPerformanceMetric.timestamp).where(
                    ApiPerformanceMetric.endpoint_path == path
                )
            )
        ).scalars()
        kept_raw = sorted((now - as_utc(moment)).days for moment in raw_ages if moment)
        kept_processes = await connection.scalar(
            select(func.count()).select_from(ProcessSample).where(ProcessSample.worker == path)
        )
    kept_rollups = sorted(
        (now - start).days for starts in (await _buckets(engine, path)).values() for start in starts
    )
    assert kept_raw == [0, 6]
    assert kept_processes == 1
    assert kept_rollups == [1, 1, 89, 89]


async def test_housekeeping_runs_cleanly_on_a_live_database(engine: AsyncEngine) -> None:
    flusher = MetricsFlusher(
        RequestAggregator(buffer_size=10, sample_rate=0, slow_request_ms=500),
        ResourceSampler(60),
        MetricsStore(engine, "housekeeper"),
        MonitoringConfig(),
    )
    # Compaction, retention and partition maintenance; a second run finds nothing to do.
    await flusher.housekeeping(dt.datetime.now(dt.UTC))
    await flusher.housekeeping(dt.datetime.now(dt.UTC))
    assert flusher.housekeeping_failures == 0


async def test_a_failed_flush_keeps_everything_for_the_next(
    dialect: str, scratch_databases: ScratchDatabases
) -> None:
    # A database without the platform's tables: every write fails until it is migrated.
    url = await scratch_databases.create(dialect)
    engine = create_engine_for_url(url)
    aggregator = RequestAggregator(buffer_size=5, sample_rate=1.0, slow_request_ms=500)
    resources = ResourceSampler(60)
    flusher = MetricsFlusher(aggregator, resources, MetricsStore(engine, "w"), MonitoringConfig())
    try:
        for n in range(8):
            aggregator.record("/f", "GET", 200, 1.0 + n, 0, 1, RequestStats(str(n)), 1e9 + n)
        resources.sample()

        assert not await flusher.flush()
        assert not await flusher.flush()
        assert (flusher.flush_failures, aggregator.dropped_samples) == (2, 3)
        assert flusher.last_flush_error
        assert "\n" not in flusher.last_flush_error

        await migrate.upgrade(url)
        assert await flusher.flush()
        merged = await read_rollups(engine, EPOCH, FAR)
        async with engine.connect() as connection:
            raw = await connection.scalar(select(func.count()).select_from(ApiPerformanceMetric))
            processes = await connection.scalar(select(func.count()).select_from(ProcessSample))
    finally:
        await engine.dispose()
    assert merged[("/f", "GET", 2)].count == 8
    assert (raw, processes) == (5, 1)
    assert flusher.flushes == 1


async def test_stop_flushes_what_is_left(engine: AsyncEngine) -> None:
    aggregator = RequestAggregator(buffer_size=10, sample_rate=0, slow_request_ms=500)
    config = MonitoringConfig(flush_interval=3600, resource_sample_interval=3600, worker="stopper")
    flusher = MetricsFlusher(
        aggregator, ResourceSampler(3600), MetricsStore(engine, "stopper"), config
    )
    started = dt.datetime.now(dt.UTC)
    flusher.start()
    for n in range(11):
        aggregator.record("/stop", "GET", 204, 2.0, 0, 0, RequestStats(str(n)), 0.0)
    await flusher.stop()

    merged = await read_rollups(engine, started - dt.timedelta(minutes=1), FAR)
    assert merged[("/stop", "GET", 2)].count == 11


async def test_float_totals_keep_every_digit(engine: AsyncEngine) -> None:
    # Past a hundred million ms with fractions: every digit survives the DOUBLE columns.
    total, minimum, largest = 123456789.123, 0.001, 98765432.125
    path = "/precision/{id}"
    store = MetricsStore(engine, "precise")
    # The two older minutes share a ten-minute bucket, which compaction makes of them.
    old, older = NOW - dt.timedelta(days=2, minutes=1), NOW - dt.timedelta(days=2, minutes=2)
    for start in (NOW, old, older):
        aggregate = _aggregate([1.0, 2.0])
        aggregate.total_ms, aggregate.min_ms, aggregate.max_ms = total, minimum, largest
        aggregate.db_time_ms = total
        window = {(path, "GET", 2): aggregate}
        await store.write(FlushBatch(start, window, [], [], None, None))
    fingerprint = {
        "bucket_seconds": 60,
        "query_hash": "f" * 64,
        "endpoint_path": path,
        "query_type": "SELECT",
        "table_names": ["rooms"],
        "normalized_text": "SELECT 1",
        "execution_count": 1,
        "total_rows": 0,
        "n_plus_one_requests": 0,
        "worker": "precise",
    }
    async with engine.begin() as connection:
        await connection.execute(
            insert(QueryFingerprintRollup),
            [
                {**fingerprint, "bucket_start": start, "total_time_ms": spent, "max_time_ms": most}
                for start, spent, most in ((NOW, total, total), (old, total, largest))
            ]
            + [{**fingerprint, "bucket_start": older, "total_time_ms": 0.5, "max_time_ms": 0.5}],
        )

    latest = (await read_rollups(engine, NOW, FAR))[(path, "GET", 2)]
    assert (latest.total_ms, latest.min_ms, latest.max_ms) == (total, minimum, largest)
    assert latest.db_time_ms == total
    # Merged by compaction: the sums are those of the exact values.
    await MetricsStore(engine, "compactor").compact(NOW)
    compacted = (await read_rollups(engine, EPOCH, NOW, bucket_seconds=600))[(path, "GET", 2)]
    assert (compacted.count, compacted.total_ms) == (4, total + total)
    async with engine.connect() as connection:
        stored = (
            await connection.execute(
                select(
                    QueryFingerprintRollup.bucket_seconds,
                    QueryFingerprintRollup.total_time_ms,
                    QueryFingerprintRollup.max_time_ms,
                ).where(QueryFingerprintRollup.endpoint_path == path)
            )
        ).all()
    expected = [(60, total, total), (600, total + 0.5, largest)]
    assert sorted(tuple(row) for row in stored) == expected


@pytest.mark.parametrize(
    ("now", "interval", "expected"),
    [
        (125.3, 10.0, 130.0),
        (118.0, 7.0, 119.0),
        (119.5, 7.0, 120.0),  # the minute boundary comes first
        (59.9, 0.5, 60.0),
        (61.0, 300.0, 300.0),  # longer than a minute: windows span minutes
    ],
)
def test_ticks_fall_on_interval_multiples_and_minute_boundaries(
    now: float, interval: float, expected: float
) -> None:
    assert next_tick(now, interval) == pytest.approx(expected)


async def test_raw_rows_carry_the_columns_of_the_specification(engine: AsyncEngine) -> None:
    aggregator = RequestAggregator(buffer_size=10, sample_rate=0, slow_request_ms=100)
    resources = ResourceSampler(60)
    resources.sample()
    stats = RequestStats("slow-1", user_id=7, client_id=70, query_count=3, query_time_ms=12.6)
    aggregator.record("/slow/{id}", "POST", 201, 250.4, 33, 44, stats, NOW.timestamp())
    flusher = MetricsFlusher(aggregator, resources, MetricsStore(engine, "raw"), MonitoringConfig())
    assert await flusher.flush()

    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(ApiPerformanceMetric).where(
                    ApiPerformanceMetric.endpoint_path == "/slow/{id}"
                )
            )
        ).one()
    assert (row.http_method, row.status_code, row.response_time_ms) == ("POST", 201, 250)
    assert (row.request_size_bytes, row.response_size_bytes) == (33, 44)
    assert (row.database_queries_count, row.database_time_ms) == (3, 13)
    assert (row.user_id, row.client_id, row.sample_rate) == (7, 70, Decimal(1))
    assert row.memory_usage_mb > 0
    assert as_utc(row.timestamp) == NOW
