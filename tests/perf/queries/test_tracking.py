"""Per-request counts, per-endpoint rollups, N+1 detection and flush failures, per dialect."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import func, select

from banrimkwae.perf.db import Database
from banrimkwae.perf.queries import NPlusOneError
from banrimkwae.perf.storage.models import DatabaseQueryPerformance, QueryFingerprintRollup
from tests.perf.queries.conftest import Monitored

Build = Callable[..., Awaitable[Monitored]]
LOOKUP_ROUTE = "/rooms/lookups/{count}"


async def stored_rollups(monitored: Monitored) -> list[QueryFingerprintRollup]:
    async with monitored.database.sessions() as session:
        found = await session.scalars(
            select(QueryFingerprintRollup).where(QueryFingerprintRollup.worker == monitored.worker)
        )
        return list(found)


async def test_concurrent_requests_each_count_their_own_statements(monitored: Build) -> None:
    app = await monitored(n_plus_one_threshold=100)
    counts = [1, 7, 3, 12, 5, 9]

    responses = await asyncio.gather(
        *(app.client.get(f"/rooms/lookups/{count}") for count in counts)
    )

    assert [response.status_code for response in responses] == [200] * len(counts)
    for count in counts:
        route, stats = app.app.finished[f"/rooms/lookups/{count}"]
        assert route == LOOKUP_ROUTE
        assert stats.query_count == count
        assert stats.query_time_ms > 0
    (aggregate,) = app.tracker.window.aggregates.values()
    assert aggregate.count == sum(counts)
    assert aggregate.fingerprint.tables == ("qt_rooms",)
    # What /metrics shows as db_client_operation_duration_seconds: buckets, then the sum.
    ((operation, totals),) = app.tracker.durations.totals.items()
    assert (operation, sum(totals[:-1])) == ("SELECT", sum(counts))
    assert totals[-1] == pytest.approx(aggregate.total_ms)


async def test_statements_with_many_or_no_parameter_sets_are_counted_too(
    monitored: Build,
) -> None:
    app = await monitored()

    assert (await app.client.post("/rooms/renames")).status_code == 200

    _route, stats = app.app.finished["/rooms/renames"]
    assert stats.query_count == 3
    kinds = sorted(
        aggregate.fingerprint.query_type for aggregate in app.tracker.window.aggregates.values()
    )
    assert kinds == ["SELECT", "SELECT", "UPDATE"]


async def test_statements_outside_a_request_are_not_counted(monitored: Build) -> None:
    app = await monitored()
    async with app.database.sessions() as session:
        await session.execute(select(QueryFingerprintRollup.id).limit(1))

    assert app.tracker.window.aggregates == {}
    assert app.tracker.durations.totals == {}


async def test_rollups_flush_per_fingerprint_and_endpoint(monitored: Build) -> None:
    app = await monitored(n_plus_one_threshold=100)
    await app.client.get("/rooms/lookups/4")
    await app.client.get("/rooms/lookups/6")
    await app.client.get("/bookings/secret")

    await app.tracker.flush()

    rows = await stored_rollups(app)
    by_endpoint = {(row.endpoint_path, row.query_type): row for row in rows}
    lookups = by_endpoint[(LOOKUP_ROUTE, "SELECT")]
    assert (lookups.execution_count, lookups.bucket_seconds) == (10, 60)
    assert lookups.table_names == ["qt_rooms"]
    assert lookups.n_plus_one_requests == 0
    assert len(lookups.query_hash) == 64
    # The secret endpoint ran two SELECT shapes and one UPDATE.
    secret = [row for row in rows if row.endpoint_path == "/bookings/secret"]
    assert sorted(row.query_type for row in secret) == ["SELECT", "SELECT", "UPDATE"]
    assert all("Secret" not in row.normalized_text for row in secret)
    assert app.tracker.window.aggregates == {}


async def test_a_loop_of_single_row_selects_is_flagged_as_n_plus_one(monitored: Build) -> None:
    app = await monitored(n_plus_one_threshold=10)

    quiet = await app.client.get("/rooms/lookups/10")
    noisy = await app.client.get("/rooms/lookups/12")

    assert (quiet.status_code, noisy.status_code) == (200, 200)
    (key,) = app.tracker.n_plus_one.flags
    assert key[0] == LOOKUP_ROUTE
    await app.tracker.flush()
    (row,) = await stored_rollups(app)
    assert (row.execution_count, row.n_plus_one_requests) == (22, 1)


async def test_strict_mode_raises_naming_the_endpoint_and_statement(monitored: Build) -> None:
    app = await monitored(n_plus_one_threshold=10, n_plus_one_strict=True)

    assert (await app.client.get("/rooms/lookups/10")).status_code == 200
    with pytest.raises(NPlusOneError) as raised:
        await app.client.get("/rooms/lookups/30")

    error = raised.value
    assert error.executions == 11
    message = str(error)
    assert LOOKUP_ROUTE in message
    assert error.fingerprint.hash[:16] in message
    assert "qt_rooms" in message
    # The request stopped at the statement that crossed the threshold.
    _, stats = app.app.finished["/rooms/lookups/30"]
    assert stats.query_count == 11


async def test_a_failed_flush_keeps_the_window_for_the_next(
    monitored: Build, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = await monitored(n_plus_one_threshold=100)
    working_store = app.tracker.store
    unreachable = Database(f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('gone')}/no/such.db")
    app.disposables.append(unreachable)
    await app.client.get("/rooms/lookups/3")

    app.tracker.store = unreachable
    await app.tracker.flush()
    assert app.tracker.flush_failures == 1
    # Requests go on while the store is down.
    assert (await app.client.get("/rooms/lookups/4")).status_code == 200

    app.tracker.store = working_store
    await app.tracker.flush()

    (row,) = await stored_rollups(app)
    assert row.execution_count == 7
    assert app.tracker.flush_failures == 1


async def test_stop_captures_queued_plans_and_flushes_the_last_window(monitored: Build) -> None:
    app = await monitored(slow_query_ms=0.0, flush_interval=3600.0)
    app.tracker.start()
    await app.client.get("/rooms/lookups/2")
    _, stats = app.app.finished["/rooms/lookups/2"]

    await app.tracker.stop()

    (row,) = await stored_rollups(app)
    assert row.execution_count == 2
    async with app.database.sessions() as session:
        logged = await session.scalar(
            select(func.count())
            .select_from(DatabaseQueryPerformance)
            .where(DatabaseQueryPerformance.request_id == stats.request_id)
        )
    assert logged == 2
