"""The rules engine over rollup rows inserted by hand: findings, one per target, closing.

Runs on the engine with `now` moved forward, so one test sees the problem, then its absence
(the problem's rows fall out of the window and a healthy measurement takes their place).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import delete, insert, select, update

from banrimkwae.perf.metrics import LatencyHistogram
from banrimkwae.perf.recommend.engine import run_rules
from banrimkwae.perf.recommend.timer import RecommendationTimer
from banrimkwae.perf.storage import (
    ApiMetricRollup,
    AuditLog,
    PerformanceRecommendation,
    QueryFingerprintRollup,
)

HOUR = 3600.0
BANRIMKWAE = str(Path(sys.executable).with_name("banrimkwae"))
ROOMS = "/api/v1/rooms/{room_id}"


def _at(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch - epoch % 60, dt.UTC)


def _request_rollup(
    start: float, latencies: Sequence[float], *, cache_hits: int, db_time_ms: float = 0.0
) -> dict[str, Any]:
    histogram = LatencyHistogram()
    for latency in latencies:
        histogram.add(latency)
    return {
        "bucket_start": _at(start),
        "bucket_seconds": 60,
        "endpoint_path": ROOMS,
        "http_method": "GET",
        "status_class": 2,
        "request_count": len(latencies),
        "error_count": 0,
        "total_time_ms": sum(latencies),
        "min_time_ms": min(latencies),
        "max_time_ms": max(latencies),
        "latency_histogram": histogram.to_json(),
        "db_queries": len(latencies),
        "db_time_ms": db_time_ms,
        "cache_hits": cache_hits,
        "request_bytes": 0,
        "response_bytes": 0,
        "worker": "host:1",
    }


def _fingerprint(start: float, *, total_ms: float, count: int, n_plus_one: int) -> dict[str, Any]:
    return {
        "bucket_start": _at(start),
        "bucket_seconds": 60,
        "query_hash": "feedc0de",
        "endpoint_path": ROOMS,
        "query_type": "SELECT",
        "table_names": ["rooms"],
        "normalized_text": "SELECT * FROM rooms WHERE id = ?",
        "execution_count": count,
        "total_time_ms": total_ms,
        "max_time_ms": total_ms / count * 2,
        "total_rows": count,
        "n_plus_one_requests": n_plus_one,
        "worker": "host:1",
    }


@pytest.fixture
async def database(admin_app: FastAPI) -> AsyncIterator[Any]:
    database = admin_app.state.database
    async with database.sessions() as session:
        for table in (ApiMetricRollup, QueryFingerprintRollup, PerformanceRecommendation, AuditLog):
            await session.execute(delete(table))
        await session.commit()
    yield database


async def _insert(database: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    async with database.sessions() as session:
        await session.execute(insert(table), rows)
        await session.commit()


async def _open(database: Any) -> dict[str, Any]:
    async with database.sessions() as session:
        rows = (await session.execute(select(PerformanceRecommendation))).scalars().all()
    return {row.target_resource: row for row in rows}


async def test_the_specifications_rules_and_n_plus_one_find_one_recommendation_per_target(
    database: Any,
) -> None:
    now = time.time()
    slow = [900.0] * 150  # slow, mostly in the database, and never from the cache
    await _insert(
        database,
        ApiMetricRollup,
        [_request_rollup(now - HOUR, slow, cache_hits=15, db_time_ms=sum(slow) * 0.8)],
    )
    await _insert(
        database,
        QueryFingerprintRollup,
        [_fingerprint(now - HOUR, total_ms=2500.0 * 10, count=10, n_plus_one=3)],
    )

    first = await run_rules(database.engine, now=now)
    found = await _open(database)
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

    again = await run_rules(database.engine, now=now)
    assert (again.created, sorted(again.updated)) == ([], sorted(first.created))
    assert len(await _open(database)) == 4


async def test_a_solved_problem_closes_with_its_after_value_and_a_rejected_one_stays_quiet(
    database: Any,
) -> None:
    then = time.time() - 10 * 86_400
    slow = [900.0] * 150
    await _insert(database, ApiMetricRollup, [_request_rollup(then, slow, cache_hits=150)])
    await run_rules(database.engine, now=then + HOUR)
    [endpoint] = (await _open(database)).values()
    assert endpoint.target_resource == f"endpoint:GET {ROOMS}"

    # Ten days later: the same endpoint is fast.
    now = time.time()
    await _insert(
        database, ApiMetricRollup, [_request_rollup(now - HOUR, [40.0] * 150, cache_hits=150)]
    )
    result = await run_rules(database.engine, now=now)
    assert result.closed == [endpoint.id]
    closed = (await _open(database))[endpoint.target_resource]
    assert closed.status == "completed"
    assert closed.implemented_at is not None
    assert closed.impact_analysis["after_value"] == 40.0
    async with database.sessions() as session:
        [audit] = (await session.execute(select(AuditLog))).scalars().all()
    assert (audit.actor, audit.action) == ("recommend:engine", "recommendation.resolved")
    assert audit.after["after_value"] == 40.0

    # A problem an operator rejected is not raised again.
    await _insert(
        database, ApiMetricRollup, [_request_rollup(now - 60, [3000.0] * 150, cache_hits=150)]
    )
    await run_rules(database.engine, now=now)
    reopened = [r for r in (await _open(database)).values() if r.status == "pending"]
    async with database.sessions() as session:
        await session.execute(
            update(PerformanceRecommendation)
            .where(PerformanceRecommendation.id.in_([r.id for r in reopened]))
            .values(status="rejected")
        )
        await session.commit()
    quiet = await run_rules(database.engine, now=now)
    assert quiet.created == []
    assert quiet.skipped_rejected == [f"endpoint:GET {ROOMS}"]


def test_the_command_runs_the_rules(module_database_url: str) -> None:
    env = {**os.environ, "COLUMNS": "200", "BANRIMKWAE_DATABASE_URL": module_database_url}
    done = subprocess.run(
        [BANRIMKWAE, "recommend", "--period", "24h"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "created" in done.stdout
    wrong = subprocess.run(
        [BANRIMKWAE, "recommend", "--period", "2h"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert wrong.returncode == 2
    assert "period" in wrong.stderr
    assert wrong.stderr.strip().count("\n") == 0


async def test_the_platforms_timer_runs_the_rules(database: Any) -> None:
    now = time.time()
    await _insert(
        database, ApiMetricRollup, [_request_rollup(now - 60, [900.0] * 150, cache_hits=150)]
    )
    timer = RecommendationTimer(database.engine, interval=0.01)
    timer.start()
    try:
        await asyncio.wait_for(timer.ran.wait(), timeout=60)
    finally:
        await timer.stop()
    assert timer.failures == 0
    assert f"endpoint:GET {ROOMS}" in await _open(database)
