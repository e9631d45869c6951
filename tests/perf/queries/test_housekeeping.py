"""Compaction and retention of the query tracker's tables, on every dialect."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.db import create_engine_for_url
from banrimkwae.perf.metrics import MetricsStore
from banrimkwae.perf.queries import Fingerprint, QueryAggregate, normalise
from banrimkwae.perf.queries.aggregate import rollup_rows
from banrimkwae.perf.storage import DatabaseQueryPerformance, QueryFingerprintRollup
from banrimkwae.perf.storage.compaction import ANY_WORKER, as_utc

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)
ROLLUPS = QueryFingerprintRollup.__table__
LOOKUP = normalise("SELECT name FROM qt_rooms WHERE id = 7", "sqlite")
SEARCH = normalise("SELECT id FROM qt_bookings WHERE guest = 'x' AND nights > 3", "sqlite")

# Per fingerprint: executions, total ms, max ms, rows, N+1 requests, and its description.
Totals = tuple[int, float, float, int, int, tuple[str, tuple[str, ...], str]]


def _aggregate(fingerprint: Fingerprint, count: int, step_ms: float) -> QueryAggregate:
    aggregate = QueryAggregate(fingerprint)
    for index in range(count):
        # Quarter milliseconds: every sum is exact, whatever order rows are merged in.
        aggregate.add(step_ms * (index + 1), rows=index % 3)
    aggregate.n_plus_one_requests = count // 4
    return aggregate


async def _seed_history(engine: AsyncEngine, endpoint: str, workers: int) -> None:
    """Minute rows of several workers over nine days before NOW, every 97 minutes."""
    rows = []
    for worker in range(workers):
        for minute in range(0, 9 * 24 * 60, 97):
            window = {
                (LOOKUP.hash, endpoint): _aggregate(LOOKUP, 1 + minute % 7, 0.25 * (worker + 1)),
                (SEARCH.hash, endpoint): _aggregate(SEARCH, 1 + worker, 1.5 + minute % 5),
            }
            started = (NOW - dt.timedelta(minutes=minute)).timestamp()
            rows += rollup_rows(started, window, f"worker-{worker}")
    async with engine.begin() as connection:
        await connection.execute(insert(QueryFingerprintRollup), rows)


async def _totals(engine: AsyncEngine, endpoint: str) -> dict[str, Totals]:
    async with engine.connect() as connection:
        query = select(ROLLUPS).where(ROLLUPS.c.endpoint_path == endpoint)
        rows = (await connection.execute(query)).all()
    totals: dict[str, Totals] = {}
    for row in rows:
        description = (row.query_type, tuple(row.table_names), row.normalized_text)
        count, total, largest, returned, repeated, seen = totals.get(
            row.query_hash, (0, 0.0, 0.0, 0, 0, description)
        )
        assert seen == description
        totals[row.query_hash] = (
            count + row.execution_count,
            math.fsum((total, row.total_time_ms)),
            max(largest, row.max_time_ms),
            returned + row.total_rows,
            repeated + row.n_plus_one_requests,
            description,
        )
    return totals


async def _buckets(engine: AsyncEngine, endpoint: str) -> dict[int, list[tuple[dt.datetime, str]]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(ROLLUPS.c.bucket_seconds, ROLLUPS.c.bucket_start, ROLLUPS.c.worker).where(
                ROLLUPS.c.endpoint_path == endpoint
            )
        )
        found: dict[int, list[tuple[dt.datetime, str]]] = {}
        for seconds, start, worker in rows:
            found.setdefault(seconds, []).append((as_utc(start), worker))
    return found


async def test_compaction_merges_query_rollups_keeping_every_total(engine: AsyncEngine) -> None:
    endpoint = "/compacted/{id}"
    await _seed_history(engine, endpoint, workers=2)
    before = await _totals(engine, endpoint)
    rows_before = sum(len(rows) for rows in (await _buckets(engine, endpoint)).values())

    merged = await MetricsStore(engine, "compactor").compact(NOW, batch_size=50)

    assert await _totals(engine, endpoint) == before
    assert set(before) == {LOOKUP.hash, SEARCH.hash}
    buckets = await _buckets(engine, endpoint)
    assert merged > 0
    assert sum(len(rows) for rows in buckets.values()) < rows_before
    day, week = NOW - dt.timedelta(days=1), NOW - dt.timedelta(days=7)
    assert min(start for start, _ in buckets[60]) >= day
    assert all(week <= start < day and start.timestamp() % 600 == 0 for start, _ in buckets[600])
    assert all(start < week and start.timestamp() % 3600 == 0 for start, _ in buckets[3600])
    # A row merged from both workers' rows names neither.
    workers = {worker for rows in buckets.values() for _, worker in rows}
    assert ANY_WORKER in workers and workers <= {ANY_WORKER, "worker-0", "worker-1"}
    assert await MetricsStore(engine, "compactor").compact(NOW) == 0


async def test_racing_compactions_count_each_statement_once(
    engine: AsyncEngine, module_database_url: str
) -> None:
    endpoint = "/raced/{id}"
    await _seed_history(engine, endpoint, workers=3)
    before = await _totals(engine, endpoint)
    second_engine = create_engine_for_url(module_database_url)
    try:
        merged = await asyncio.gather(
            MetricsStore(engine, "first").compact(NOW, batch_size=25),
            MetricsStore(second_engine, "second").compact(NOW, batch_size=25),
        )
    finally:
        await second_engine.dispose()

    assert await _totals(engine, endpoint) == before
    assert sum(merged) > 0
    buckets = await _buckets(engine, endpoint)
    assert min(start for start, _ in buckets[60]) >= NOW - dt.timedelta(days=1)


async def test_retention_removes_old_query_rollups_and_statements_only(
    engine: AsyncEngine,
) -> None:
    endpoint = "/retained/{id}"
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    rows = []
    for age_days in (1, 89, 91, 200):
        started = (now - dt.timedelta(days=age_days)).timestamp()
        rows += rollup_rows(started, {(LOOKUP.hash, endpoint): _aggregate(LOOKUP, 2, 1.0)}, "w")
    statement = {
        "query_hash": LOOKUP.hash,
        "query_type": "SELECT",
        "table_names": ["qt_rooms"],
        "execution_time_ms": Decimal("120.5"),
        "query_text": LOOKUP.text,
        "endpoint_path": endpoint,
    }
    async with engine.begin() as connection:
        await connection.execute(insert(QueryFingerprintRollup), rows)
        await connection.execute(
            insert(DatabaseQueryPerformance),
            [{**statement, "executed_at": now - dt.timedelta(days=age)} for age in (0, 6, 8, 30)],
        )

    await MetricsStore(engine, "keeper").expire(now, raw_retention_days=7, rollup_retention_days=90)

    buckets = await _buckets(engine, endpoint)
    kept_rollups = sorted((now - start).days for rows in buckets.values() for start, _ in rows)
    async with engine.connect() as connection:
        executed = (
            await connection.execute(
                select(DatabaseQueryPerformance.executed_at).where(
                    DatabaseQueryPerformance.endpoint_path == endpoint
                )
            )
        ).scalars()
        kept_statements = sorted((now - as_utc(moment)).days for moment in executed if moment)
    assert kept_rollups == [1, 89]
    assert kept_statements == [0, 6]
