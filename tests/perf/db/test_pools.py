"""Pool settings reach the engine; waits, wait time and timeouts are counted and exported."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from banrimkwae.perf.db import Database, PoolSettings, pool_stats
from banrimkwae.perf.metrics import RequestAggregator
from banrimkwae.perf.metrics.prometheus import PrometheusExporter
from tests.conftest import ScratchDatabases

TINY = PoolSettings(size=1, max_overflow=0, timeout=0.3, recycle=600, use_lifo=True)


@pytest.fixture(params=["postgresql", "mariadb"])
async def server_url(request: pytest.FixtureRequest, scratch_databases: ScratchDatabases) -> str:
    return await scratch_databases.create(str(request.param))


async def test_settings_reach_the_pool(server_url: str) -> None:
    database = Database(server_url, pool=TINY)
    pool = database.engine.pool
    try:
        assert pool.size() == 1  # type: ignore[attr-defined]
        assert pool._timeout == 0.3  # type: ignore[attr-defined]
        assert pool._recycle == 600
        assert pool._pre_ping is True
        assert pool._pool.use_lifo is True  # type: ignore[attr-defined]
    finally:
        await database.dispose()


async def test_an_exhausted_pool_counts_waits_and_timeouts(server_url: str) -> None:
    database = Database(server_url, pool=TINY)
    stats = pool_stats(database.engine.pool)
    assert stats is not None
    try:
        async with database.engine.connect() as held:
            await held.execute(text("SELECT 1"))
            with pytest.raises(Exception, match="QueuePool limit"):
                async with database.engine.connect():
                    pass
            assert (stats.waits, stats.timeouts) == (1, 1)

            async def wait_then_read() -> int:
                async with database.engine.connect() as connection:
                    return int((await connection.execute(text("SELECT 2"))).scalar_one())

            waiting = asyncio.create_task(wait_then_read())
            await asyncio.sleep(0.05)  # let it start waiting on the held connection
            await held.close()
            assert await waiting == 2
        assert (stats.waits, stats.timeouts) == (2, 1)
        assert stats.wait_seconds > 0

        exporter = PrometheusExporter(
            RequestAggregator(buffer_size=10, sample_rate=0.0, slow_request_ms=500.0),
            pools=database.pools,
        )
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(exporter.render().decode())
            for sample in family.samples
        }
        labels = (("pool_name", "primary"),)
        assert samples[("db_client_connections_waits_total", labels)] == 2
        assert samples[("db_client_connections_timeouts_total", labels)] == 1
        assert samples[("db_client_connections_wait_time_seconds_total", labels)] > 0
        assert samples[("db_client_connections_max", labels)] == 1
    finally:
        await database.dispose()


async def test_counters_survive_dispose(server_url: str) -> None:
    database = Database(server_url, pool=TINY)
    try:
        async with database.engine.connect() as held:
            await held.execute(text("SELECT 1"))
            with pytest.raises(Exception, match="QueuePool limit"):
                async with database.engine.connect():
                    pass
        await database.engine.dispose()  # builds a new pool
        stats = pool_stats(database.engine.pool)
        assert stats is not None and stats.timeouts == 1
    finally:
        await database.dispose()
