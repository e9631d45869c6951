"""A PostgreSQL primary with two streaming replicas, built for this test session.

The system PostgreSQL on 5432 is shared and never reconfigured: LocalCluster runs its own
servers from the Debian binaries in a temporary directory on free ports. Locally a machine
without the binaries skips these tests; under CI=true it fails them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from banrimkwae import migrate
from banrimkwae.perf.db.local_cluster import ClusterError, LocalCluster
from tests.conftest import service_missing


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[LocalCluster]:
    try:
        cluster = LocalCluster(replicas=2)
        cluster.start()
    except (ClusterError, OSError) as exc:
        cluster.destroy()
        service_missing(f"local PostgreSQL primary + replicas: {exc}")
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
async def replicated_url(pg_cluster: LocalCluster) -> str:
    """The cluster's primary at the head revision; the replicas follow it."""
    await migrate.upgrade(pg_cluster.primary_url)
    return pg_cluster.primary_url


async def run_sql(url: str, sql: str) -> object:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text(sql))
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()


async def set_replay(cluster: LocalCluster, *, paused: bool) -> None:
    call = "pg_wal_replay_pause()" if paused else "pg_wal_replay_resume()"
    for url in cluster.replica_urls:
        await run_sql(url, f"SELECT {call}")


@pytest.fixture
async def replay_paused(pg_cluster: LocalCluster) -> AsyncIterator[None]:
    """Replay stopped on every replica for one test: they fall behind the primary."""
    await set_replay(pg_cluster, paused=True)
    try:
        yield
    finally:
        await set_replay(pg_cluster, paused=False)
