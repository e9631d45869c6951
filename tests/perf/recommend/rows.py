"""Real rows for the recommendations' tests: request and statement rollups, cache statistics,
recommendations; and a client of the admin API."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, insert, select

from banrimkwae.perf.metrics import LatencyHistogram
from banrimkwae.perf.storage import (
    ApiMetricRollup,
    AuditLog,
    AutoScalingConfig,
    CacheStatistic,
    JobRun,
    PerformanceRecommendation,
    ProcessSample,
    QueryFingerprintRollup,
)
from tests.perf.admin.conftest import key_headers

RECOMMENDATIONS = "/api/admin/performance/recommendations"
BANRIMKWAE = str(Path(sys.executable).with_name("banrimkwae"))


def recommend_command(url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`banrimkwae recommend ARGS` on the database at `url`, with `env` added."""
    return subprocess.run(
        [BANRIMKWAE, "recommend", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", "BANRIMKWAE_DATABASE_URL": url, **env},
        timeout=120,
    )


def minute(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch - epoch % 60, dt.UTC)


def request_rollup(
    start: float,
    endpoint: str,
    *,
    requests: int,
    hits: int = 0,
    latency_ms: float = 20.0,
    method: str = "GET",
    db_time_ms: float | None = None,
) -> dict[str, Any]:
    """One minute of `requests` to `endpoint`, `hits` of them from the cache.

    Time in the database: `db_time_ms`, else half the time of each request not from the cache.
    """
    histogram = LatencyHistogram()
    for _ in range(min(requests, 50)):
        histogram.add(latency_ms)
    return {
        "bucket_start": minute(start),
        "bucket_seconds": 60,
        "endpoint_path": endpoint,
        "http_method": method,
        "status_class": 2,
        "request_count": requests,
        "error_count": 0,
        "total_time_ms": requests * latency_ms,
        "min_time_ms": latency_ms,
        "max_time_ms": latency_ms,
        "latency_histogram": histogram.to_json(),
        "db_queries": requests - hits,
        "db_time_ms": (requests - hits) * latency_ms / 2 if db_time_ms is None else db_time_ms,
        "cache_hits": hits,
        "request_bytes": 0,
        "response_bytes": 0,
        "worker": "host:1",
    }


def statement_rollup(
    bucket_start: dt.datetime,
    query_hash: str,
    normalized_text: str,
    *,
    endpoint: str,
    tables: list[str],
    runs: int,
    avg_ms: float,
    n_plus_one: int = 0,
) -> dict[str, Any]:
    """`runs` executions of one statement in the bucket starting at `bucket_start`."""
    return {
        "bucket_start": bucket_start,
        "bucket_seconds": 60,
        "query_hash": query_hash,
        "endpoint_path": endpoint,
        "query_type": "SELECT",
        "table_names": tables,
        "normalized_text": normalized_text,
        "execution_count": runs,
        "total_time_ms": runs * avg_ms,
        "max_time_ms": avg_ms * 2,
        "total_rows": runs,
        "n_plus_one_requests": n_plus_one,
        "worker": "host:1",
    }


def cache_statistic(
    pattern: str, *, lookups: int, hits: int, layer: str = "application"
) -> dict[str, Any]:
    return {
        "cache_key_pattern": pattern,
        "cache_layer": layer,
        "total_requests": lookups,
        "cache_hits": hits,
        "cache_misses": lookups - hits,
        "total_bytes_served": hits * 1000,
        "date_recorded": dt.datetime.now(dt.UTC).date(),
    }


async def insert_rows(app: FastAPI, table: Any, rows: list[dict[str, Any]]) -> None:
    async with app.state.database.sessions() as session:
        await session.execute(insert(table), rows)
        await session.commit()


async def add_recommendation(app: FastAPI, **values: Any) -> int:
    """A recommendation as the rules would write it (a slow query), with `values` changed."""
    row = {
        "recommendation_type": "query",
        "priority": "medium",
        "target_resource": "query:abc",
        "current_metric_value": Decimal("1500"),
        "recommended_metric_value": Decimal("100"),
        "description": "Slow query",
        "implementation_steps": ["Analyse the plan"],
        "impact_analysis": {"query_text": "SELECT * FROM rooms WHERE id = ?"},
        **values,
    }
    async with app.state.database.sessions() as session:
        result = await session.execute(insert(PerformanceRecommendation).values(row))
        await session.commit()
        return int(result.inserted_primary_key[0])  # type: ignore[attr-defined]


def admin_client(app: FastAPI, key: str) -> httpx.AsyncClient:
    """A client of `app`'s admin API with the API key `key`."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers=key_headers(key),
    )


async def open_recommendations(app: FastAPI) -> dict[str, Any]:
    """Every recommendation by target (the engine keeps one open per target)."""
    async with app.state.database.sessions() as session:
        rows = (await session.execute(select(PerformanceRecommendation))).scalars().all()
    return {row.target_resource: row for row in rows}


@pytest.fixture
async def rules_app(admin_app: FastAPI) -> AsyncIterator[FastAPI]:
    """The module's app with no measurements, recommendations, claims or scaling configs."""
    async with admin_app.state.database.sessions() as session:
        for table in (
            ApiMetricRollup,
            QueryFingerprintRollup,
            PerformanceRecommendation,
            AuditLog,
            CacheStatistic,
            AutoScalingConfig,
            ProcessSample,
            JobRun,
        ):
            await session.execute(delete(table))
        await session.commit()
    yield admin_app
