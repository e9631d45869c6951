"""Replica routing against a real PostgreSQL primary and two streaming replicas.

Every test asks the server itself where a statement ran (inet_server_port()), stops and
starts replicas, and pauses WAL replay to make them lag.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from banrimkwae.perf.config import MonitoringConfig
from banrimkwae.perf.db import Database, ReplicaConfig
from banrimkwae.perf.db.local_cluster import LocalCluster
from banrimkwae.perf.metrics.context import RequestStats, begin_request, end_request
from banrimkwae.perf.queries import QueryTracker
from tests.perf.db.conftest import run_sql

metadata = MetaData()
notes = Table(
    "replica_notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("body", String(80), nullable=False),
)
SERVER_PORT = select(func.inet_server_port())


@pytest.fixture(scope="module")
async def notes_table(replicated_url: str) -> str:
    await run_sql(
        replicated_url,
        "CREATE TABLE IF NOT EXISTS replica_notes"
        " (id serial PRIMARY KEY, body varchar(80) NOT NULL)",
    )
    return replicated_url


@pytest.fixture
async def database(pg_cluster: LocalCluster, notes_table: str) -> AsyncIterator[Database]:
    # Checks run only when a test asks (check_once), so what they see is what the test made.
    database = Database(
        pg_cluster.primary_url,
        replica_urls=pg_cluster.replica_urls,
        replicas=ReplicaConfig(algorithm="round_robin", max_lag_seconds=0.1, check_interval=3600),
    )
    assert database.router is not None
    await database.router.check_once()
    yield database
    await database.dispose()


def ports(cluster: LocalCluster) -> tuple[int, set[int]]:
    assert cluster.primary is not None
    return cluster.primary.port, {node.port for node in cluster.standbys}


async def read_port(database: Database, client: str | None = None) -> int:
    async with database.session(client) as session:
        return int((await session.execute(SERVER_PORT)).scalar_one())


async def write_note(database: Database, client: str | None = None) -> str:
    body = uuid.uuid4().hex
    async with database.session(client) as session:
        await session.execute(insert(notes).values(body=body))
        await session.commit()
    return body


async def wait_for_replicas(database: Database, pg_cluster: LocalCluster) -> None:
    """Until every replica has replayed what the primary has now (bounded)."""
    assert database.router is not None
    target = await run_sql(pg_cluster.primary_url, "SELECT pg_current_wal_lsn()::text")
    for _ in range(200):
        caught_up = [
            await run_sql(url, f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn")
            for url in pg_cluster.replica_urls
        ]
        if all(caught_up):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the replicas did not catch up")


async def test_reads_go_to_the_replicas_in_turn(
    database: Database, pg_cluster: LocalCluster
) -> None:
    _primary, replicas = ports(pg_cluster)
    seen = [await read_port(database) for _ in range(4)]
    assert set(seen) == replicas  # round robin: both replicas, nothing on the primary
    assert seen[0] != seen[1]


async def test_writes_and_reads_after_a_write_go_to_the_primary(
    database: Database, pg_cluster: LocalCluster
) -> None:
    primary, _replicas = ports(pg_cluster)
    async with database.session() as session:
        assert (await session.execute(SERVER_PORT)).scalar_one() != primary  # read: replica
        await session.execute(insert(notes).values(body="in the transaction"))
        # The transaction has written: its reads see its own rows, on the primary.
        assert (await session.execute(SERVER_PORT)).scalar_one() == primary
        found = await session.execute(
            select(notes.c.id).where(notes.c.body == "in the transaction")
        )
        assert found.first() is not None
        await session.rollback()


async def test_a_primary_only_session_never_reads_a_replica(
    database: Database, pg_cluster: LocalCluster
) -> None:
    primary, _replicas = ports(pg_cluster)
    async with database.session("poster", primary_only=True) as session:
        assert (await session.execute(SERVER_PORT)).scalar_one() == primary
    assert database.router is not None
    assert database.router.routed[("primary", "primary_only")] == 1


async def test_a_client_reads_its_own_write_while_replicas_lag(
    database: Database, pg_cluster: LocalCluster, replay_paused: None
) -> None:
    primary, replicas = ports(pg_cluster)
    body = await write_note(database, client="writer")
    async with database.session("writer") as session:
        row = await session.execute(
            select(notes.c.body, func.inet_server_port()).where(notes.c.body == body)
        )
        assert row.one() == (body, primary)
    # Another client is not held to the primary: it reads a replica (stale until ejected).
    async with database.session("someone-else") as session:
        row = await session.execute(
            select(
                func.inet_server_port(),
                select(func.count()).where(notes.c.body == body).scalar_subquery(),
            )
        )
        port, count = row.one()
        assert port in replicas and count == 0
    assert database.router is not None
    assert database.router.routed[("primary", "read_your_writes")] == 1


async def test_a_client_returns_to_a_replica_once_it_replayed_the_write(
    database: Database, pg_cluster: LocalCluster
) -> None:
    _primary, replicas = ports(pg_cluster)
    assert database.router is not None
    body = await write_note(database, client="writer")
    await wait_for_replicas(database, pg_cluster)
    await database.router.check_once()  # learns the replicas' replay positions
    async with database.session("writer") as session:
        row = await session.execute(
            select(func.inet_server_port(), notes.c.body).where(notes.c.body == body)
        )
        port, found = row.one()
    assert port in replicas and found == body


async def test_a_lagging_replica_is_ejected_and_the_primary_serves(
    database: Database, pg_cluster: LocalCluster, replay_paused: None
) -> None:
    primary, _replicas = ports(pg_cluster)
    assert database.router is not None
    await write_note(database)
    await database.router.check_once()  # the primary's position, not yet replayed
    await asyncio.sleep(0.3)
    await database.router.check_once()  # still not replayed 0.3 s later: over 0.1 s of lag
    snapshot = database.router.snapshot()
    assert [r["status"] for r in snapshot["replicas"]] == ["unhealthy", "unhealthy"]
    assert all(r["reason"].startswith("lagging") for r in snapshot["replicas"])
    assert await read_port(database) == primary
    assert database.router.routed[("primary", "no_healthy_replica")] == 1


async def test_a_caught_up_replica_returns_to_rotation(
    database: Database, pg_cluster: LocalCluster
) -> None:
    _primary, replicas = ports(pg_cluster)
    assert database.router is not None
    await wait_for_replicas(database, pg_cluster)
    await database.router.check_once()
    assert {r["status"] for r in database.router.snapshot()["replicas"]} == {"healthy"}
    assert await read_port(database) in replicas


async def test_a_stopped_replica_fails_over_to_the_other_and_then_the_primary(
    database: Database, pg_cluster: LocalCluster
) -> None:
    primary, _replicas = ports(pg_cluster)
    assert database.router is not None
    first, second = pg_cluster.standbys
    # Warm both pools so the stopped server leaves dead connections behind.
    for _ in range(4):
        await read_port(database)
    await asyncio.to_thread(pg_cluster.stop_replica, 0)
    try:
        # Before any check notices, reads still succeed: a refused replica falls back.
        seen = [await read_port(database) for _ in range(4)]
        assert set(seen) <= {second.port, primary}
        assert database.router.routed[("primary", "replica_failed")] >= 1
        await database.router.check_once()
        status = {r["name"]: r["status"] for r in database.router.snapshot()["replicas"]}
        assert status == {"replica1": "unhealthy", "replica2": "healthy"}
        assert {await read_port(database) for _ in range(4)} == {second.port}
        await asyncio.to_thread(pg_cluster.stop_replica, 1)
        await database.router.check_once()
        assert {await read_port(database) for _ in range(3)} == {primary}
        assert database.router.routed[("primary", "no_healthy_replica")] >= 3
    finally:
        await asyncio.to_thread(pg_cluster.start_replica, 0)
        await asyncio.to_thread(pg_cluster.start_replica, 1)
    await database.router.check_once()
    assert {await read_port(database) for _ in range(4)} == {first.port, second.port}


async def test_outstanding_counts_the_sessions_reading_a_replica(database: Database) -> None:
    assert database.router is not None
    endpoints = {r.name: r.endpoint for r in database.router.replicas}
    async with database.session() as first, database.session() as second:
        await first.execute(SERVER_PORT)
        await second.execute(SERVER_PORT)
        # Round robin put one session on each; both count until their sessions close.
        assert sorted(e.outstanding for e in endpoints.values()) == [1, 1]
    assert [e.outstanding for e in endpoints.values()] == [0, 0]


async def tracked_read(database: Database, *, primary_only: bool) -> tuple[RequestStats, int]:
    """One read inside a request, as the metrics middleware frames it."""
    stats = RequestStats("replica-tracking")
    token = begin_request(stats)
    try:
        async with database.session(primary_only=primary_only) as session:
            port = (
                await session.execute(
                    select(func.inet_server_port(), func.count(notes.c.id)).where(
                        notes.c.body == "nobody wrote this"
                    )
                )
            ).one()[0]
    finally:
        end_request(token)
    return stats, int(port)


async def test_statements_on_a_replica_are_tracked_like_on_the_primary(
    database: Database, pg_cluster: LocalCluster
) -> None:
    primary, replicas = ports(pg_cluster)
    assert database.router is not None
    tracker = QueryTracker(MonitoringConfig(), database)
    for engine in database.pools.values():
        tracker.instrument(engine)

    stamps = {r.name: r.endpoint.latency.stamp for r in database.router.replicas}
    on_primary, primary_port = await tracked_read(database, primary_only=True)
    on_replica, replica_port = await tracked_read(database, primary_only=False)

    assert primary_port == primary and replica_port in replicas
    for stats in (on_primary, on_replica):
        assert stats.query_count == 1 and stats.query_time_ms > 0
        assert stats.tables_read == {"replica_notes"} and stats.tables_written is None
    # The same statement: the same fingerprint, wherever it ran.
    assert on_replica.queries.tallies.keys() == on_primary.queries.tallies.keys()
    assert len(on_primary.queries.tallies) == 1
    tracker.finish_request(on_primary, "/notes")
    tracker.finish_request(on_replica, "/notes")
    (aggregate,) = tracker.window.aggregates.values()
    assert aggregate.count == 2
    # The router's latency observation rode along on the same hook, for that replica only.
    observed = {
        r.url.rsplit(":", 1)[1].split("/")[0]
        for r in database.router.replicas
        if r.endpoint.latency.stamp != stamps[r.name]
    }
    assert observed == {str(replica_port)}
    # No engine-level listener on any engine: one would switch on SQLAlchemy's per-connection
    # event dispatch for every begin, commit and execute there.
    assert not any(engine.sync_engine._has_events for engine in database.pools.values())
