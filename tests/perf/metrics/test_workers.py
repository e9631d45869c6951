"""`banrimkwae serve --workers 2`: each worker flushes its own rollups; together they are exact."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae import migrate
from banrimkwae.perf.db import create_engine_for_url
from banrimkwae.perf.metrics import read_rollups
from banrimkwae.perf.storage import ApiMetricRollup
from tests.conftest import TEST_SECRET, ScratchDatabases
from tests.e2e.server import running_server

PROPERTIES = "/api/v1/properties"


@pytest.mark.slow
async def test_two_workers_flush_rollups_that_sum_exactly(
    scratch_databases: ScratchDatabases,
) -> None:
    url = await scratch_databases.create("sqlite")
    await migrate.upgrade(url)
    engine = create_engine_for_url(url)
    env = {
        "BANRIMKWAE_DATABASE_URL": url,
        "BANRIMKWAE_TOKEN_SECRET": TEST_SECRET,
        "BANRIMKWAE_METRICS_FLUSH_INTERVAL": "0.5",
        "BANRIMKWAE_LOG_LEVEL": "warning",
    }
    started = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    sent = 0
    try:
        with running_server(env, workers=2) as base_url:
            # A new connection per request lets the kernel hand them to either worker; keep
            # sending until both workers have flushed some.
            limits = httpx.Limits(max_keepalive_connections=0)
            async with httpx.AsyncClient(base_url=base_url, limits=limits) as client:
                deadline = time.monotonic() + 60
                while True:
                    responses = await asyncio.gather(*(client.get(PROPERTIES) for _ in range(20)))
                    assert {response.status_code for response in responses} == {200}
                    sent += len(responses)
                    if len(await _workers(engine)) == 2 or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.3)
        # The server has stopped: each worker made its final flush on the way out.
        merged = await read_rollups(engine, started, dt.datetime.now(dt.UTC) + dt.timedelta(1))
        workers = await _workers(engine)
    finally:
        await engine.dispose()

    assert len(workers) == 2
    assert merged[(PROPERTIES, "GET", 2)].count == sent


async def _workers(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        query = (
            select(ApiMetricRollup.worker)
            .where(ApiMetricRollup.endpoint_path == PROPERTIES)
            .distinct()
        )
        return set((await connection.execute(query)).scalars())
