"""MariaDB replication for real: a primary and a replica of it, the lag check and routing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import literal_column, select
from sqlalchemy.ext.asyncio import create_async_engine

from banrimkwae.perf.db import Database, ReplicaConfig
from banrimkwae.perf.db.lag import LagReading, read_mariadb_lag
from banrimkwae.perf.db.local_cluster import ClusterError
from tests.conftest import service_missing
from tests.perf.db.mariadb_pair import MariaDBPair

SERVER_PORT = select(literal_column("@@port"))


@pytest.fixture(scope="module")
def pair() -> Iterator[MariaDBPair]:
    pair = MariaDBPair()
    try:
        pair.start()
    except (ClusterError, OSError) as exc:
        pair.destroy()
        service_missing(f"local MariaDB primary + replica: {exc}")
    pair.sql(pair.servers[0], "CREATE DATABASE IF NOT EXISTS bk")
    try:
        yield pair
    finally:
        pair.destroy()


async def replica_lag(pair: MariaDBPair) -> LagReading:
    engine = create_async_engine(pair.url(1))
    try:
        async with engine.connect() as connection:
            return await read_mariadb_lag(connection)
    finally:
        await engine.dispose()


@pytest.fixture
async def database(pair: MariaDBPair) -> AsyncIterator[Database]:
    for _ in range(100):  # the replica creates `bk` once it has replayed that statement
        if pair.sql(pair.servers[1], "SHOW DATABASES LIKE 'bk'").strip():
            break
        await asyncio.sleep(0.1)
    database = Database(
        pair.url(0, "bk"),
        replica_urls=[pair.url(1, "bk")],
        replicas=ReplicaConfig(check_interval=3600),
    )
    yield database
    await database.dispose()


async def test_a_running_replica_reports_its_seconds_behind(pair: MariaDBPair) -> None:
    reading = await replica_lag(pair)
    assert reading.problem == "" and reading.lag_seconds is not None
    assert reading.lag_seconds < 60


async def test_a_stopped_replication_thread_fails_the_check(
    pair: MariaDBPair, database: Database
) -> None:
    assert database.router is not None
    replica, primary = pair.servers[1], pair.servers[0]
    await database.router.check_once()
    async with database.session() as session:
        assert (await session.execute(SERVER_PORT)).scalar_one() == replica.port
    pair.sql(replica, "STOP REPLICA SQL_THREAD")
    try:
        reading = await replica_lag(pair)
        assert reading == LagReading(None, None, "replication 'default' is not running")
        await database.router.check_once()
        assert database.router.snapshot()["replicas"][0]["status"] == "unhealthy"
        async with database.session() as session:
            assert (await session.execute(SERVER_PORT)).scalar_one() == primary.port
    finally:
        pair.sql(replica, "START REPLICA SQL_THREAD")
    await database.router.check_once()
    async with database.session() as session:
        assert (await session.execute(SERVER_PORT)).scalar_one() == replica.port
