"""Pool sizing: demand sampled under real load, the server's real max_connections, the advice.

A pool made too small for its load makes callers wait, and the advice grows it within what
the server allows; more workers than the server can serve make it shrink; an idle pool is
trimmed; SQLite has no pool to size. The pool rule writes the advice as a recommendation,
and `banrimkwae db pools` shows it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, insert, select, text

from banrimkwae import migrate
from banrimkwae.app import create_fastapi_app
from banrimkwae.perf.db import Database, PoolSettings, create_engine_for_url
from banrimkwae.perf.db.pool_sizing import (
    PoolObservation,
    PoolSampler,
    server_connection_limit,
    size_pool,
    usable_connections,
)
from banrimkwae.perf.recommend.engine import run_rules
from banrimkwae.perf.storage import PerformanceRecommendation, ProcessSample
from tests.conftest import ScratchDatabases, make_settings
from tests.perf.admin.conftest import key_headers, make_key

BANRIMKWAE = str(Path(sys.executable).with_name("banrimkwae"))
RECOMMENDATIONS = "/api/admin/performance/recommendations"
SLEEP = {"postgresql": "SELECT pg_sleep(0.2)", "mysql": "SELECT SLEEP(0.2)"}


@pytest.fixture(scope="module", params=["postgresql", "mariadb"])
async def server_url(request: pytest.FixtureRequest, scratch_databases: ScratchDatabases) -> str:
    url = await scratch_databases.create(str(request.param))
    await migrate.upgrade(url)
    return url


@pytest.fixture
async def small_pool(server_url: str) -> AsyncIterator[Database]:
    database = Database(server_url, pool=PoolSettings(size=2, max_overflow=0, timeout=30))
    try:
        yield database
    finally:
        await database.dispose()


async def _load(database: Database, sampler: PoolSampler, callers: int) -> None:
    """`callers` concurrent sleeping statements, sampled while they run."""
    sleep = SLEEP[database.dialect]

    async def one() -> None:
        async with database.engine.connect() as connection:
            await connection.execute(text(sleep))

    tasks = [asyncio.create_task(one()) for _ in range(callers)]
    while not all(task.done() for task in tasks):
        sampler.sample()
        await asyncio.sleep(0.05)
    await asyncio.gather(*tasks)
    sampler.sample()


async def _live_workers(url: str, count: int) -> None:
    """`count` workers that sampled their resources just now, and no other."""
    now = dt.datetime.now(dt.UTC)
    engine = create_engine_for_url(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(delete(ProcessSample))
            if count:
                await connection.execute(
                    insert(ProcessSample),
                    [
                        {
                            "sampled_at": now,
                            "worker": f"host:{n}",
                            "rss_mb": 80.0,
                            "cpu_percent": 5.0,
                        }
                        for n in range(count)
                    ],
                )
    finally:
        await engine.dispose()


async def test_a_pool_too_small_for_its_load_waits_and_is_grown_within_max_connections(
    small_pool: Database,
) -> None:
    sampler = PoolSampler(small_pool.pools)
    await _load(small_pool, sampler, callers=8)
    [observed] = sampler.observations()
    assert observed.waits > 0 and observed.wait_seconds > 0
    assert observed.peak_demand > observed.limit == 2

    limit = await server_connection_limit(small_pool.engine)
    assert limit is not None and limit > 10
    sizing = size_pool(observed, workers=2, server_limit=limit)
    assert sizing.action == "grow"
    assert sizing.limit >= observed.peak_demand
    assert 2 * sizing.limit <= usable_connections(limit)

    await run_rules(small_pool.engine, period="1h", pools=sampler, workers=2)
    async with small_pool.engine.connect() as connection:
        [row] = (
            await connection.execute(
                select(PerformanceRecommendation).where(
                    PerformanceRecommendation.target_resource == "pool:primary"
                )
            )
        ).all()
    assert (row.recommendation_type, row.status) == ("configuration", "pending")
    assert float(row.current_metric_value) == 2.0
    assert float(row.recommended_metric_value) == sizing.limit
    assert row.impact_analysis["rule"] == "pool"
    assert row.impact_analysis["waits"] == observed.waits
    assert row.impact_analysis["server_max_connections"] == limit
    assert any(
        f"BANRIMKWAE_DATABASE_POOL_SIZE={sizing.size}" in step for step in row.implementation_steps
    )

    # The admin API lists it with the other configuration recommendations.
    app = create_fastapi_app(make_settings(small_pool.url))
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers=key_headers(await make_key(small_pool.url, "viewer")),
        ) as client:
            listed = await client.get(RECOMMENDATIONS, params={"type": "configuration"})
    finally:
        await app.state.database.dispose()
    assert listed.status_code == 200
    [item] = listed.json()["data"]
    assert (item["target_resource"], item["impact_analysis"]["rule"]) == ("pool:primary", "pool")


async def test_more_workers_than_max_connections_allow_shrink_the_pool(server_url: str) -> None:
    database = Database(server_url, pool=PoolSettings(size=20, max_overflow=10))
    try:
        limit = await server_connection_limit(database.engine)
        assert limit is not None
        workers = usable_connections(limit) // 10  # each may hold 30: far over the server's limit
        await _live_workers(server_url, workers)
        sampler = PoolSampler(database.pools)
        sampler.sample()
        await run_rules(database.engine, period="1h", pools=sampler)
        async with database.engine.connect() as connection:
            [row] = (
                await connection.execute(
                    select(PerformanceRecommendation).where(
                        PerformanceRecommendation.target_resource == "pool:primary"
                    )
                )
            ).all()
    finally:
        await database.dispose()
    impact = row.impact_analysis
    assert row.priority == "high"
    assert impact["workers"] == workers
    assert impact["total_connections_now"] == workers * 30 > usable_connections(limit)
    assert impact["total_connections_after"] <= usable_connections(limit)
    assert float(row.recommended_metric_value) < 30
    assert "max_connections" in row.description


def _observed(**values: object) -> PoolObservation:
    base: dict[str, object] = {
        "name": "primary",
        "dialect": "postgresql",
        "size": 10,
        "max_overflow": 10,
        "timeout": 30.0,
        "samples": 3600,
        "seconds": 3600.0,
    }
    return PoolObservation(**{**base, **values})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("observed", "workers", "server_limit", "action", "size", "overflow"),
    [
        # waits at a peak of 30: grown to the peak and a quarter
        (
            _observed(peak_demand=30, p95_demand=16, waits=40, wait_seconds=3.0),
            2,
            200,
            "grow",
            20,
            18,
        ),
        # the same, but two workers may only hold 45 each on a server of 100
        (
            _observed(peak_demand=60, p95_demand=40, waits=9, wait_seconds=1.0),
            2,
            100,
            "grow",
            45,
            0,
        ),
        # fine: no waits, demand near the size
        (_observed(peak_demand=9, p95_demand=7), 4, 200, "keep", 10, 10),
        # idle for an hour: trimmed, overflow kept
        (_observed(peak_demand=3, p95_demand=2), 1, 200, "shrink", 4, 10),
        # not long enough observed to call it idle
        (_observed(peak_demand=3, p95_demand=2, seconds=60.0), 1, 200, "keep", 10, 10),
        # eight workers x 20 over a server of 100: 11 each
        (_observed(peak_demand=9, p95_demand=7), 8, 100, "shrink", 10, 1),
    ],
)
def test_sizing_rules(
    observed: PoolObservation,
    workers: int,
    server_limit: int,
    action: str,
    size: int,
    overflow: int,
) -> None:
    sizing = size_pool(observed, workers=workers, server_limit=server_limit)
    assert (sizing.action, sizing.size, sizing.max_overflow) == (action, size, overflow)
    assert workers * sizing.limit <= usable_connections(server_limit) or action == "keep"


def test_sqlite_has_no_pool_to_size() -> None:
    sizing = size_pool(_observed(dialect="sqlite", waits=5), workers=4, server_limit=None)
    assert sizing.action == "not_applicable"


async def test_the_command_shows_settings_counters_and_the_recommended_size(
    server_url: str,
) -> None:
    env = {
        **os.environ,
        "COLUMNS": "200",
        "BANRIMKWAE_DATABASE_URL": server_url,
        "BANRIMKWAE_DATABASE_POOL_SIZE": "40",
        "BANRIMKWAE_DATABASE_POOL_MAX_OVERFLOW": "40",
        "BANRIMKWAE_WORKERS": "4",
    }
    await _live_workers(server_url, 0)
    done = await asyncio.to_thread(
        subprocess.run,
        [BANRIMKWAE, "db", "pools"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    engine = create_engine_for_url(server_url)
    try:
        limit = await server_connection_limit(engine)
    finally:
        await engine.dispose()
    assert limit is not None
    budget = usable_connections(limit) // 4
    assert "primary" in done.stdout
    assert f"max_connections {limit}" in done.stdout
    assert "shrink" in done.stdout
    assert f"BANRIMKWAE_DATABASE_POOL_MAX_OVERFLOW={budget - min(40, budget)}" in done.stdout
