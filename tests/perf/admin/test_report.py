"""The performance report API over rollup rows inserted by hand, on every dialect.

The app runs without its lifespan, so no flusher writes rows of these requests: every figure
comes from the rows each test inserts into its own database.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, insert

from banrimkwae.app import create_fastapi_app
from banrimkwae.perf.admin.report import PERIODS, Window, read_fingerprints
from banrimkwae.perf.metrics import LatencyHistogram
from banrimkwae.perf.storage import (
    ApiMetricRollup,
    DatabaseQueryPerformance,
    PerformanceRecommendation,
    QueryFingerprintRollup,
)
from tests.conftest import guest_headers, make_settings
from tests.perf.admin.conftest import key_headers

BASE = "/api/admin/performance"
ROOMS = "/api/v1/rooms/{room_id}"
BOOKINGS = "/api/v1/bookings"
MINUTE = 60


@pytest.fixture(scope="module")
async def report_app(module_database_url: str) -> AsyncIterator[FastAPI]:
    app = create_fastapi_app(make_settings(module_database_url))
    yield app
    await app.state.database.dispose()


@pytest.fixture
async def api(report_app: FastAPI, role_keys: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with report_app.state.database.sessions() as session:
        for table in (
            ApiMetricRollup,
            QueryFingerprintRollup,
            DatabaseQueryPerformance,
            PerformanceRecommendation,
        ):
            await session.execute(delete(table))
        await session.commit()
    transport = httpx.ASGITransport(app=report_app)
    async with httpx.AsyncClient(
        # An admin sees the query texts and plans that the tests below check.
        transport=transport,
        base_url="http://testserver",
        headers=key_headers(role_keys["admin"]),
    ) as client:
        yield client


async def _insert(app: FastAPI, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    async with app.state.database.sessions() as session:
        await session.execute(insert(table), list(rows))
        await session.commit()


def _at(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def _floor(epoch: float, seconds: int) -> float:
    return epoch - epoch % seconds


def _rollup(
    start: float,
    path: str,
    latencies: Sequence[float],
    *,
    method: str = "GET",
    status_class: int = 2,
    errors: int = 0,
    cache_hits: int = 0,
    db_queries: int = 0,
    db_time_ms: float = 0.0,
    bucket_seconds: int = MINUTE,
    worker: str = "host:1",
) -> dict[str, Any]:
    histogram = LatencyHistogram()
    for latency in latencies:
        histogram.add(latency)
    return {
        "bucket_start": _at(start),
        "bucket_seconds": bucket_seconds,
        "endpoint_path": path,
        "http_method": method,
        "status_class": status_class,
        "request_count": len(latencies),
        "error_count": errors,
        "total_time_ms": sum(latencies),
        "min_time_ms": min(latencies),
        "max_time_ms": max(latencies),
        "latency_histogram": histogram.to_json(),
        "db_queries": db_queries,
        "db_time_ms": db_time_ms,
        "cache_hits": cache_hits,
        "request_bytes": 0,
        "response_bytes": 0,
        "worker": worker,
    }


def _exact(values: Sequence[float], q: float) -> float:
    return sorted(values)[int(q * (len(values) - 1))]


def _within_one_percent(reported: float, values: Sequence[float], q: float) -> None:
    expected = _exact(values, q)
    assert abs(reported - expected) <= 0.01 * expected, (q, reported, expected)


class Load:
    """Known traffic: two endpoints over rows from two workers and three resolutions."""

    def __init__(self, now: float) -> None:
        rng = random.Random(20261127)
        minute = _floor(now, MINUTE)
        self.rooms = [rng.lognormvariate(3.0, 0.6) for _ in range(1200)]
        self.bookings = [rng.lognormvariate(4.5, 0.5) for _ in range(800)]
        self.old = [5.0] * 100
        rooms = {"cache_hits": 100, "db_queries": 1200, "db_time_ms": 1000.0}
        # (row, the latencies it was built from)
        self.parts = [
            # One minute, two workers: both rows count.
            (minute - 5 * MINUTE, self.rooms[:400], {**rooms, "worker": "host:1"}),
            (minute - 5 * MINUTE, self.rooms[400:800], {**rooms, "worker": "host:2"}),
            # A ten-minute row compacted from older minutes.
            (_floor(now - 30 * MINUTE, 600), self.rooms[800:], {**rooms, "bucket_seconds": 600}),
            (minute - 12 * MINUTE, self.bookings[:760], {"path": BOOKINGS, "method": "POST"}),
            (
                minute - 12 * MINUTE,
                self.bookings[760:],
                {"path": BOOKINGS, "method": "POST", "status_class": 5, "errors": 40},
            ),
            # Two hours ago: in the 24h report, not in the 1h one.
            (_floor(now - 7200, 3600), self.old, {"path": "/api/v1/old", "bucket_seconds": 3600}),
        ]

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [
            _rollup(start, options.pop("path", ROOMS), values, **options)
            for start, values, options in ((s, v, dict(o)) for s, v, o in self.parts)
        ]


async def test_summary_totals_are_exact_and_percentiles_within_one_percent(
    api: httpx.AsyncClient, report_app: FastAPI
) -> None:
    load = Load(time.time())
    await _insert(report_app, ApiMetricRollup, load.rows)

    answer = await api.get(f"{BASE}/report", params={"period": "1h"})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    summary = report["summary"]
    served = load.rooms + load.bookings
    assert report["period"] == "1h"
    assert summary["total_requests"] == 2000
    assert summary["avg_response_time_ms"] == pytest.approx(sum(served) / 2000)
    assert summary["min_response_time_ms"] == pytest.approx(min(served))
    assert summary["max_response_time_ms"] == pytest.approx(max(served))
    for q, name in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
        _within_one_percent(summary[f"{name}_response_time_ms"], served, q)
    assert summary["error_rate"] == pytest.approx(2.0)
    assert summary["cache_hit_rate"] == pytest.approx(15.0)
    assert summary["avg_db_queries_per_request"] == pytest.approx(1.8)
    assert summary["avg_db_time_ms_per_request"] == pytest.approx(1.5)
    assert 2000 / 3600 <= summary["throughput_rps"] <= 2000 / (3600 - 2 * MINUTE)

    slowest = report["top_slow_endpoints"]
    assert [(e["endpoint"], e["method"]) for e in slowest] == [(BOOKINGS, "POST"), (ROOMS, "GET")]
    assert slowest[0]["requests"] == 800
    assert slowest[0]["error_rate"] == pytest.approx(5.0)
    assert slowest[0]["avg_ms"] == pytest.approx(sum(load.bookings) / 800)
    _within_one_percent(slowest[0]["p95_ms"], load.bookings, 0.95)
    _within_one_percent(slowest[1]["p95_ms"], load.rooms, 0.95)

    cache = report["cache_performance"]
    assert (cache["hits"], cache["misses"]) == (300, 1700)
    assert cache["endpoints"][0] == {
        "endpoint": ROOMS,
        "method": "GET",
        "requests": 1200,
        "hits": 300,
        "misses": 900,
        "hit_rate": 25.0,
    }

    day = (await api.get(f"{BASE}/report", params={"period": "24h"})).json()
    assert day["summary"]["total_requests"] == 2100
    assert day["summary"]["avg_response_time_ms"] == pytest.approx((sum(served) + 500) / 2100)


@pytest.mark.parametrize(("period", "step", "points"), [("1h", 60, 60), ("24h", 600, 144)])
async def test_trends_put_each_row_in_the_step_its_bucket_starts_in(
    api: httpx.AsyncClient, report_app: FastAPI, period: str, step: int, points: int
) -> None:
    load = Load(time.time())
    await _insert(report_app, ApiMetricRollup, load.rows)

    report = (await api.get(f"{BASE}/report", params={"period": period})).json()
    assert report["step_seconds"] == step
    expected: dict[float, list[float]] = {}
    start = dt.datetime.fromisoformat(report["window_start"]).timestamp()
    for moment, values, _options in load.parts:
        if moment >= start:
            expected.setdefault(_floor(moment, step), []).extend(values)
    latency = report["response_time_trend"]
    volume = report["request_volume_trend"]
    assert len(latency) == len(volume) == points
    for index, (point, count) in enumerate(zip(latency, volume, strict=True)):
        moment = dt.datetime.fromisoformat(point["t"]).timestamp()
        assert moment == start + index * step
        values = expected.pop(moment, [])
        assert point["requests"] == count["requests"] == len(values)
        assert count["rps"] == pytest.approx(len(values) / step)
        if values:
            assert point["avg_ms"] == pytest.approx(sum(values) / len(values))
            assert point["max_ms"] == pytest.approx(max(values))
            _within_one_percent(point["p95_ms"], values, 0.95)
        else:
            assert point["avg_ms"] is None
    assert expected == {}
    errors = sum(point["errors"] for point in volume)
    assert errors == 40


def _fingerprint(
    start: float,
    query_hash: str,
    endpoint: str,
    *,
    count: int,
    total_ms: float,
    max_ms: float,
    n_plus_one: int = 0,
    query_type: str = "SELECT",
    tables: Sequence[str] = ("rooms",),
    worker: str = "host:1",
) -> dict[str, Any]:
    return {
        "bucket_start": _at(start),
        "bucket_seconds": MINUTE,
        "query_hash": query_hash,
        "endpoint_path": endpoint,
        "query_type": query_type,
        "table_names": list(tables),
        "normalized_text": f"{query_type} ... /* {query_hash} */",
        "execution_count": count,
        "total_time_ms": total_ms,
        "max_time_ms": max_ms,
        "total_rows": count * 2,
        "n_plus_one_requests": n_plus_one,
        "worker": worker,
    }


def _slow_statement(moment: float, query_hash: str, index_usage: Any) -> dict[str, Any]:
    return {
        "query_hash": query_hash,
        "query_type": "SELECT",
        "table_names": ["rooms"],
        "execution_time_ms": 150,
        "query_text": "SELECT ... FROM rooms WHERE id = ?",
        "execution_plan": None,
        "index_usage": index_usage,
        "executed_at": _at(moment),
        "endpoint_path": ROOMS,
    }


async def _insert_fingerprints(app: FastAPI, now: float) -> None:
    minute = _floor(now, MINUTE)
    await _insert(
        app,
        QueryFingerprintRollup,
        [
            _fingerprint(minute - 3 * MINUTE, "fp-rooms", ROOMS, count=100, total_ms=300.0,
                         max_ms=12.0),
            _fingerprint(minute - 3 * MINUTE, "fp-rooms", ROOMS, count=50, total_ms=200.0,
                         max_ms=30.0, worker="host:2"),
            _fingerprint(minute - 8 * MINUTE, "fp-types", BOOKINGS, count=600, total_ms=900.0,
                         max_ms=5.0, n_plus_one=20, tables=("room_types",)),
            _fingerprint(minute - 8 * MINUTE, "fp-types", ROOMS, count=10, total_ms=15.0,
                         max_ms=2.0, tables=("room_types",)),
            _fingerprint(minute - 9 * MINUTE, "fp-update", BOOKINGS, count=40, total_ms=800.0,
                         max_ms=90.0, query_type="UPDATE", tables=("bookings",)),
            _fingerprint(_floor(now - 7200, MINUTE), "fp-old", ROOMS, count=1, total_ms=1.0,
                         max_ms=1.0),
        ],
    )  # fmt: skip
    await _insert(
        app,
        DatabaseQueryPerformance,
        [
            _slow_statement(now - 600, "fp-rooms", [{"table": "rooms", "index": None}]),
            _slow_statement(now - 300, "fp-rooms", [{"table": "rooms", "index": "pk_rooms"}]),
            # A capture without a plan does not hide the last one that had one.
            _slow_statement(now - 60, "fp-rooms", None),
        ],
    )


async def test_database_performance_merges_fingerprints_and_shows_the_latest_plan(
    api: httpx.AsyncClient, report_app: FastAPI
) -> None:
    await _insert_fingerprints(report_app, time.time())

    database = (await api.get(f"{BASE}/report", params={"period": "1h"})).json()[
        "database_performance"
    ]
    assert database["total_queries"] == 800
    assert database["total_time_ms"] == pytest.approx(2215.0)
    slow = database["slow_queries"]
    assert [q["query_hash"] for q in slow] == ["fp-types", "fp-update", "fp-rooms"]
    rooms = slow[2]
    assert rooms["count"] == 150
    assert rooms["avg_ms"] == pytest.approx(500 / 150)
    assert rooms["max_ms"] == 30.0
    assert rooms["tables"] == ["rooms"]
    assert rooms["n_plus_one"] is False
    assert rooms["plan"]["index_usage"] == [{"table": "rooms", "index": "pk_rooms"}]
    assert slow[1]["plan"] is None
    flagged = database["n_plus_one"]
    assert len(flagged) == 1
    assert flagged[0]["query_hash"] == "fp-types"
    assert flagged[0]["endpoints"] == [BOOKINGS, ROOMS]
    assert flagged[0]["n_plus_one_endpoints"] == [BOOKINGS]
    assert flagged[0]["n_plus_one_requests"] == 20


async def test_recommendations_are_the_pending_ones_most_urgent_first(
    api: httpx.AsyncClient, report_app: FastAPI
) -> None:
    assert (await api.get(f"{BASE}/report")).json()["recommendations"] == []
    await _insert(
        report_app,
        PerformanceRecommendation,
        [
            {"recommendation_type": "cache", "priority": priority, "status": status,
             "target_resource": target, "description": f"about {target}"}
            for priority, status, target in (
                ("low", "pending", "GET /a"),
                ("critical", "pending", "GET /b"),
                ("high", "completed", "GET /c"),
                ("medium", "pending", "GET /d"),
            )
        ],
    )  # fmt: skip
    recommendations = (await api.get(f"{BASE}/report")).json()["recommendations"]
    assert [(r["priority"], r["target_resource"]) for r in recommendations] == [
        ("critical", "GET /b"),
        ("medium", "GET /d"),
        ("low", "GET /a"),
    ]


async def _insert_endpoints(app: FastAPI, now: float) -> None:
    start = _floor(now, MINUTE) - 4 * MINUTE
    await _insert(
        app,
        ApiMetricRollup,
        [
            _rollup(start, "/a", [100.0] * 10),
            _rollup(start, "/b", [10.0] * 27),
            _rollup(start, "/b", [10.0] * 3, status_class=5, errors=3),
            _rollup(start, "/c", [1.0] * 19 + [500.0]),
            _rollup(start, "/d", [50.0] * 5, status_class=5, errors=5),
        ],
    )


@pytest.mark.parametrize(
    ("sort", "order", "expected"),
    [
        ("p95", "desc", ["/a", "/d", "/b", "/c"]),
        ("p95", "asc", ["/c", "/b", "/d", "/a"]),
        ("avg", "desc", ["/a", "/d", "/c", "/b"]),
        ("count", "desc", ["/b", "/c", "/a", "/d"]),
        ("errors", "desc", ["/d", "/b", "/a", "/c"]),
    ],
)
async def test_endpoints_sort(
    api: httpx.AsyncClient, report_app: FastAPI, sort: str, order: str, expected: list[str]
) -> None:
    await _insert_endpoints(report_app, time.time())
    page = await api.get(f"{BASE}/endpoints", params={"period": "1h", "sort": sort, "order": order})
    assert page.status_code == 200, page.text
    assert [row["endpoint"] for row in page.json()["data"]] == expected


async def test_endpoints_paginate_in_the_list_envelope(
    api: httpx.AsyncClient, report_app: FastAPI
) -> None:
    await _insert_endpoints(report_app, time.time())
    page = (
        await api.get(f"{BASE}/endpoints", params={"sort": "count", "limit": 2, "offset": 1})
    ).json()
    assert [row["endpoint"] for row in page["data"]] == ["/c", "/a"]
    assert page["meta"] == {"limit": 2, "offset": 1, "count": 2, "total": 4}
    assert page["links"]["next"] == f"{BASE}/endpoints?sort=count&limit=2&offset=3"
    assert page["links"]["prev"] == f"{BASE}/endpoints?sort=count&limit=2&offset=0"
    last = (await api.get(page["links"]["next"])).json()
    assert [row["endpoint"] for row in last["data"]] == ["/d"]
    assert last["links"]["next"] is None
    b = next(
        row
        for row in (await api.get(f"{BASE}/endpoints")).json()["data"]
        if row["endpoint"] == "/b"
    )
    assert (b["requests"], b["errors"], b["error_rate"]) == (30, 3, 10.0)


@pytest.mark.parametrize(
    ("sort", "order", "expected"),
    [
        ("total_time", "desc", ["fp-types", "fp-update", "fp-rooms"]),
        ("avg", "desc", ["fp-update", "fp-rooms", "fp-types"]),
        ("count", "asc", ["fp-update", "fp-rooms", "fp-types"]),
        ("max", "desc", ["fp-update", "fp-rooms", "fp-types"]),
    ],
)
async def test_queries_sort(
    api: httpx.AsyncClient, report_app: FastAPI, sort: str, order: str, expected: list[str]
) -> None:
    await _insert_fingerprints(report_app, time.time())
    page = await api.get(f"{BASE}/queries", params={"period": "1h", "sort": sort, "order": order})
    assert page.status_code == 200, page.text
    assert [row["query_hash"] for row in page.json()["data"]] == expected


async def test_queries_paginate_and_carry_plans(
    api: httpx.AsyncClient, report_app: FastAPI
) -> None:
    await _insert_fingerprints(report_app, time.time())
    page = (await api.get(f"{BASE}/queries", params={"limit": 1, "offset": 2})).json()
    assert page["meta"] == {"limit": 1, "offset": 2, "count": 1, "total": 4}
    assert page["data"][0]["query_hash"] == "fp-rooms"
    assert page["data"][0]["plan"]["index_usage"] == [{"table": "rooms", "index": "pk_rooms"}]


@pytest.mark.parametrize(
    ("path", "params", "parameter", "valid"),
    [
        ("/report", {"period": "2h"}, "period", ["1h", "24h", "7d", "30d", "90d"]),
        ("/report", {"perod": "1h"}, "perod", ["period"]),
        ("/endpoints", {"sort": "slowest"}, "sort", ["p95", "avg", "count", "errors"]),
        ("/endpoints", {"order": "up"}, "order", ["desc", "asc"]),
        ("/queries", {"sort": "p95"}, "sort", ["total_time", "avg", "count", "max"]),
        ("/queries", {"page": "2"}, "page", ["period", "sort", "order", "limit", "offset"]),
        ("/live", {"forever": "1"}, "forever", ["once"]),
    ],
)
async def test_unknown_values_and_parameters_are_400_naming_the_valid_ones(
    api: httpx.AsyncClient, path: str, params: dict[str, str], parameter: str, valid: list[str]
) -> None:
    answer = await api.get(f"{BASE}{path}", params=params)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["parameter"] == parameter
    assert problem["valid_values"] == valid
    for value in valid:
        assert value in problem["detail"]


async def test_malformed_paging_is_a_validation_error(api: httpx.AsyncClient) -> None:
    assert (await api.get(f"{BASE}/endpoints", params={"limit": 0})).status_code == 422


@pytest.mark.parametrize("path", ["/report", "/endpoints", "/queries", "/live?once=true"])
async def test_every_route_needs_a_viewer(api: httpx.AsyncClient, path: str) -> None:
    anonymous = await api.get(f"{BASE}{path}", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    # Access is decided before the parameters are looked at.
    assert (await api.get(f"{BASE}{path}&bogus=1" if "?" in path else f"{BASE}{path}?bogus=1",
                          headers={"Authorization": ""})).status_code == 401  # fmt: skip
    assert (await api.get(f"{BASE}{path}", headers=guest_headers(5))).status_code == 403


async def test_report_reads_what_the_platform_flushed(
    api: httpx.AsyncClient, report_app: FastAPI
) -> None:
    served = create_fastapi_app(report_app.state.settings)
    platform = served.state.platform
    transport = httpx.ASGITransport(app=platform.wrap(served))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for _ in range(5):
            assert (await client.get("/api/v1/properties")).status_code == 200
        assert (await client.get("/api/v1/properties/999999")).status_code == 404
    assert await platform.metrics_flusher.flush()
    await platform.queries.flush()
    await served.state.database.dispose()

    report = (await api.get(f"{BASE}/report", params={"period": "1h"})).json()
    assert report["summary"]["total_requests"] == 6
    assert report["summary"]["avg_db_queries_per_request"] >= 1
    endpoints = {(e["endpoint"], e["method"]): e for e in report["top_slow_endpoints"]}
    assert endpoints[("/api/v1/properties", "GET")]["requests"] == 5
    assert endpoints[("/api/v1/properties/{property_id}", "GET")]["requests"] == 1
    queries = (await api.get(f"{BASE}/queries", params={"period": "1h"})).json()["data"]
    listing = [q for q in queries if q["endpoints"] == ["/api/v1/properties"]]
    assert any(q["count"] == 5 and "properties" in q["tables"] for q in listing), queries


async def test_queries_hold_when_a_fingerprint_is_flushed_between_their_two_reads(
    api: httpx.AsyncClient, report_app: FastAPI
) -> None:
    """The sums and the descriptions are two statements, each with its own snapshot on
    SQLite and PostgreSQL: a fingerprint flushed in between is left for the next report."""
    now = time.time()
    await _insert_fingerprints(report_app, now)
    flushed = _fingerprint(_floor(now, MINUTE), "fp-new", ROOMS, count=1, total_ms=1.0, max_ms=1.0)
    async with report_app.state.database.sessions() as session:
        execute = session.execute
        statements = 0

        async def flush_before_the_second(*args: Any, **kwargs: Any) -> Any:
            nonlocal statements
            statements += 1
            if statements == 2:
                await _insert(report_app, QueryFingerprintRollup, [flushed])
            return await execute(*args, **kwargs)

        session.execute = flush_before_the_second  # type: ignore[method-assign]
        fingerprints = await read_fingerprints(session, Window.ending(PERIODS["1h"], now))

    assert statements == 2
    assert {fingerprint.query_hash for fingerprint in fingerprints} == {
        "fp-rooms",
        "fp-types",
        "fp-update",
    }
    assert all(fingerprint.normalized_text for fingerprint in fingerprints)
    listed = await api.get(f"{BASE}/queries", params={"period": "1h"})
    assert listed.status_code == 200
    assert "fp-new" in {row["query_hash"] for row in listed.json()["data"]}
