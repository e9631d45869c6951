"""The metrics store goes away and comes back while the real app keeps serving."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from banrimkwae import migrate
from banrimkwae.app import create_fastapi_app
from banrimkwae.perf.db import create_engine_for_url
from banrimkwae.perf.metrics import MetricsStore, read_rollups
from banrimkwae.perf.platform import Platform
from banrimkwae.perf.storage import ApiPerformanceMetric
from tests.conftest import POSTGRES_ADMIN_URL, ScratchDatabases, make_settings

PROPERTIES = "/api/v1/properties"


async def _admin(statement: str) -> None:
    engine = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def test_requests_survive_a_store_outage_and_the_backlog_flushes_exactly(
    scratch_databases: ScratchDatabases,
) -> None:
    # The app's own database is SQLite; its metrics go to a PostgreSQL database that is
    # dropped mid-test and recreated, as a store lost and restored would be.
    app_url = await scratch_databases.create("sqlite")
    await migrate.upgrade(app_url)
    store_url = await scratch_databases.create("postgresql")
    await migrate.upgrade(store_url)
    store_name = store_url.rsplit("/", 1)[1]

    app = create_fastapi_app(
        make_settings(
            app_url,
            metrics_flush_interval=3600,
            metrics_sample_rate=1.0,
            metrics_buffer_size=100,
        )
    )
    platform: Platform = app.state.platform
    store_engine = create_engine_for_url(store_url)
    flusher = platform.metrics_flusher
    flusher.store = MetricsStore(store_engine, "outage-worker", timeout=5)
    transport = httpx.ASGITransport(app=platform.wrap(app))
    started = dt.datetime.now(dt.UTC)

    async def serve(count: int) -> None:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            statuses = {(await client.get(PROPERTIES)).status_code for _ in range(count)}
        assert statuses == {200}

    try:
        await serve(20)
        assert await flusher.flush()

        await _admin(f"DROP DATABASE {store_name} WITH (FORCE)")
        await serve(150)  # 100 samples fit the buffer, 50 are dropped
        assert not await flusher.flush()
        await serve(30)  # the returned 100 still fill it: 30 more dropped
        assert not await flusher.flush()

        assert flusher.flush_failures == 2
        assert flusher.last_flush_error
        assert platform.requests.dropped_samples == 80
        assert platform.requests.window[(PROPERTIES, "GET", 2)].count == 180

        await _admin(f"CREATE DATABASE {store_name}")
        await migrate.upgrade(store_url)
        assert await flusher.flush()

        merged = await read_rollups(
            store_engine, started - dt.timedelta(minutes=1), started + dt.timedelta(hours=1)
        )
        async with store_engine.connect() as connection:
            raw = await connection.scalar(select(func.count()).select_from(ApiPerformanceMetric))
    finally:
        await store_engine.dispose()
        await app.state.database.dispose()

    # The restored database holds the backlog: every request counted once in the rollups;
    # the raw samples that fitted the buffer are there, and the rest are counted as drops.
    assert merged[(PROPERTIES, "GET", 2)].count == 180
    assert raw == 100
    assert platform.requests.window == {}
    assert flusher.flush_failures == 2
