"""The rules engine over rollup rows inserted by hand: findings, one per target, closing.

Runs on the engine with `now` moved forward, so one test sees the problem, then its absence
(the problem's rows fall out of the window and a healthy measurement takes their place).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select, update

from banrimkwae.perf.recommend.engine import run_rules
from banrimkwae.perf.recommend.timer import RecommendationTimer
from banrimkwae.perf.storage import (
    ApiMetricRollup,
    AuditLog,
    PerformanceRecommendation,
    QueryFingerprintRollup,
)
from tests.perf.recommend.rows import (
    insert_rows,
    minute,
    open_recommendations,
    recommend_command,
    request_rollup,
    statement_rollup,
)

HOUR = 3600.0
ROOMS = "/api/v1/rooms/{room_id}"


def _rooms(
    start: float, latency_ms: float, *, hits: int, db_time_ms: float = 0.0
) -> dict[str, Any]:
    """150 requests to the room route in the minute of `start`, each taking `latency_ms`."""
    return request_rollup(
        start, ROOMS, requests=150, hits=hits, latency_ms=latency_ms, db_time_ms=db_time_ms
    )


def _n_plus_one_query(start: float, *, avg_ms: float, runs: int, n_plus_one: int) -> dict[str, Any]:
    return statement_rollup(
        minute(start),
        "feedc0de",
        "SELECT * FROM rooms WHERE id = ?",
        endpoint=ROOMS,
        tables=["rooms"],
        runs=runs,
        avg_ms=avg_ms,
        n_plus_one=n_plus_one,
    )


async def test_the_specifications_rules_and_n_plus_one_find_one_recommendation_per_target(
    rules_app: FastAPI,
) -> None:
    now = time.time()
    # Slow, mostly in the database, and seldom from the cache.
    slow = _rooms(now - HOUR, 900.0, hits=15, db_time_ms=150 * 900.0 * 0.8)
    await insert_rows(rules_app, ApiMetricRollup, [slow])
    query = _n_plus_one_query(now - HOUR, avg_ms=2500.0, runs=10, n_plus_one=3)
    await insert_rows(rules_app, QueryFingerprintRollup, [query])

    first = await run_rules(rules_app.state.database.engine, now=now)
    found = await open_recommendations(rules_app)
    assert set(found) == {
        "query:feedc0de",
        "n+1:feedc0de",
        f"cache:GET {ROOMS}",
        f"endpoint:GET {ROOMS}",
    }
    assert len(first.created) == 4
    query = found["query:feedc0de"]
    assert (query.recommendation_type, query.priority) == ("query", "high")
    assert float(query.current_metric_value) == 2500.0
    assert query.impact_analysis["rule"] == "slow_query"
    cache = found[f"cache:GET {ROOMS}"]
    assert (cache.recommendation_type, float(cache.current_metric_value)) == ("cache", 10.0)
    assert found[f"endpoint:GET {ROOMS}"].recommendation_type == "query"  # 80 % database
    assert found["n+1:feedc0de"].status == "pending"

    again = await run_rules(rules_app.state.database.engine, now=now)
    assert (again.created, sorted(again.updated)) == ([], sorted(first.created))
    assert len(await open_recommendations(rules_app)) == 4


async def test_a_solved_problem_closes_with_its_after_value_and_a_rejected_one_stays_quiet(
    rules_app: FastAPI,
) -> None:
    then = time.time() - 10 * 86_400
    await insert_rows(rules_app, ApiMetricRollup, [_rooms(then, 900.0, hits=150)])
    await run_rules(rules_app.state.database.engine, now=then + HOUR)
    [endpoint] = (await open_recommendations(rules_app)).values()
    assert endpoint.target_resource == f"endpoint:GET {ROOMS}"

    # Ten days later: the same endpoint is fast.
    now = time.time()
    await insert_rows(rules_app, ApiMetricRollup, [_rooms(now - HOUR, 40.0, hits=150)])
    result = await run_rules(rules_app.state.database.engine, now=now)
    assert result.closed == [endpoint.id]
    closed = (await open_recommendations(rules_app))[endpoint.target_resource]
    assert closed.status == "completed"
    assert closed.implemented_at is not None
    assert closed.impact_analysis["after_value"] == 40.0
    async with rules_app.state.database.sessions() as session:
        [audit] = (await session.execute(select(AuditLog))).scalars().all()
    assert (audit.actor, audit.action) == ("recommend:engine", "recommendation.resolved")
    assert audit.after["after_value"] == 40.0

    # A problem an operator rejected is not raised again.
    await insert_rows(rules_app, ApiMetricRollup, [_rooms(now - 60, 3000.0, hits=150)])
    await run_rules(rules_app.state.database.engine, now=now)
    reopened = [
        r for r in (await open_recommendations(rules_app)).values() if r.status == "pending"
    ]
    async with rules_app.state.database.sessions() as session:
        await session.execute(
            update(PerformanceRecommendation)
            .where(PerformanceRecommendation.id.in_([r.id for r in reopened]))
            .values(status="rejected")
        )
        await session.commit()
    quiet = await run_rules(rules_app.state.database.engine, now=now)
    assert quiet.created == []
    assert quiet.skipped_rejected == [f"endpoint:GET {ROOMS}"]


def test_the_command_runs_the_rules(module_database_url: str) -> None:
    done = recommend_command(module_database_url, "--period", "24h")
    assert done.returncode == 0, done.stderr
    assert "created" in done.stdout
    wrong = recommend_command(module_database_url, "--period", "2h")
    assert wrong.returncode == 2
    assert "period" in wrong.stderr
    assert wrong.stderr.strip().count("\n") == 0


async def test_the_platforms_timer_runs_the_rules(rules_app: FastAPI) -> None:
    now = time.time()
    await insert_rows(rules_app, ApiMetricRollup, [_rooms(now - 60, 900.0, hits=150)])
    timer = RecommendationTimer(rules_app.state.database.engine, interval=0.01)
    timer.start()
    try:
        await asyncio.wait_for(timer.ran.wait(), timeout=60)
    finally:
        await timer.stop()
    assert timer.failures == 0
    assert f"endpoint:GET {ROOMS}" in await open_recommendations(rules_app)


async def test_an_applied_change_waiting_for_verification_stays_open(rules_app: FastAPI) -> None:
    then = time.time() - 10 * 86_400
    await insert_rows(rules_app, ApiMetricRollup, [_rooms(then, 900.0, hits=150)])
    await run_rules(rules_app.state.database.engine, now=then + HOUR)
    [endpoint] = (await open_recommendations(rules_app)).values()
    # The platform applied it: implementing, with the change, its before-value and a window.
    applied = {
        "status": "implementing",
        "applied_change": {"action": "scaling", "metric": {"name": "p95_ms"}},
        "applied_at": dt.datetime.now(dt.UTC),
        "verify_after": dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
        "before_value": 900,
    }
    async with rules_app.state.database.sessions() as session:
        await session.execute(
            update(PerformanceRecommendation)
            .where(PerformanceRecommendation.id == endpoint.id)
            .values(applied)
        )
        await session.commit()

    # The endpoint is fast now, but only the verifier may say whether the change did that.
    now = time.time()
    await insert_rows(rules_app, ApiMetricRollup, [_rooms(now - HOUR, 40.0, hits=150)])
    result = await run_rules(rules_app.state.database.engine, now=now)
    assert result.closed == []
    assert result.created == []
    waiting = (await open_recommendations(rules_app))[endpoint.target_resource]
    assert (waiting.status, waiting.verification) == ("implementing", None)
    assert waiting.implemented_at is None
    assert waiting.applied_change == applied["applied_change"]
    async with rules_app.state.database.sessions() as session:
        audit = (await session.execute(select(AuditLog))).scalars().all()
    assert [row.action for row in audit] == []
