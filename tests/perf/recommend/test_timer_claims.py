"""One rule run per interval across processes: every worker's timer claims the run first.

Two timers with engines of their own (as two worker processes have) on one database: of
ticks in the same interval, exactly one runs the rules, whether they come together or one
after the other; the next interval runs again; a worker that stopped is replaced. The claim
is the job's `job_runs` row, never an audit row.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from banrimkwae.perf.db import create_engine_for_url
from banrimkwae.perf.recommend.timer import RecommendationTimer
from banrimkwae.perf.storage import ApiMetricRollup, AuditLog, JobRun, claim_run
from tests.perf.recommend.rows import insert_rows, open_recommendations, request_rollup

HOUR = 3600.0


@pytest.fixture
async def two_workers(
    rules_app: FastAPI, module_database_url: str
) -> AsyncIterator[tuple[RecommendationTimer, RecommendationTimer]]:
    engines = [create_engine_for_url(module_database_url) for _ in range(2)]
    timers = (
        RecommendationTimer(engines[0], interval=HOUR, holder="host:101"),
        RecommendationTimer(engines[1], interval=HOUR, holder="host:202"),
    )
    try:
        yield timers
    finally:
        for engine in engines:
            await engine.dispose()


async def test_two_timers_run_the_rules_once_per_interval(
    rules_app: FastAPI, two_workers: tuple[RecommendationTimer, RecommendationTimer]
) -> None:
    first, second = two_workers
    start = time.time()
    await insert_rows(
        rules_app,
        ApiMetricRollup,
        [request_rollup(start - 120, "/api/v1/rooms/{room_id}", requests=150, latency_ms=900.0)],
    )

    together = await asyncio.gather(first.tick(start), second.tick(start))
    assert sorted(together) == [False, True]
    assert "endpoint:GET /api/v1/rooms/{room_id}" in await open_recommendations(rules_app)
    # Later in the same interval, in either order: nobody runs.
    assert await second.tick(start + 60) is False
    assert await first.tick(start + 600) is False
    # The next interval: one runs again (the one whose tick comes first).
    assert await first.tick(start + HOUR) is True
    assert await second.tick(start + HOUR + 5) is False
    # The first worker stopped: the second one takes over an interval later.
    assert await second.tick(start + 2 * HOUR + 30) is True

    assert first.runs + second.runs == 3
    assert first.skipped + second.skipped == 4
    async with rules_app.state.database.sessions() as session:
        [job] = (await session.execute(select(JobRun))).scalars().all()
        claims_in_audit = (await session.execute(select(AuditLog))).scalars().all()
    # The job's row tells when it last ran and where; the audit log holds only changes.
    assert (job.name, job.holder) == ("recommendations", "host:202")
    assert job.last_run_at is not None
    last_run = job.last_run_at.replace(tzinfo=dt.UTC).timestamp()
    assert int(last_run) == int(start + 2 * HOUR + 30)  # MariaDB keeps whole seconds
    assert not [row for row in claims_in_audit if row.action.endswith(".run")]


async def test_claims_on_one_row_are_atomic(module_database_url: str, rules_app: FastAPI) -> None:
    """Many workers claiming one new job at once, its row created by whoever comes first."""
    engines = [create_engine_for_url(module_database_url) for _ in range(4)]
    now = time.time()
    try:
        claims = await asyncio.gather(
            *(
                claim_run(engine, "atomic-test", f"host:{n}", now, 60.0)
                for n, engine in enumerate(engines)
                for _ in range(3)
            )
        )
        assert claims.count(True) == 1
        # Within the gap nobody claims; after it, exactly one again.
        assert await claim_run(engines[0], "atomic-test", "host:0", now + 59, 60.0) is False
        later = await asyncio.gather(
            *(claim_run(engine, "atomic-test", "host:x", now + 61, 60.0) for engine in engines)
        )
        assert later.count(True) == 1
    finally:
        for engine in engines:
            await engine.dispose()
