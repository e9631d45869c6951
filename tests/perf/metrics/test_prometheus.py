"""/metrics: exact cumulative values, worker merging, promtool, and the route in the real app."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from sqlalchemy import event

from banrimkwae import migrate
from banrimkwae.app import create_fastapi_app
from banrimkwae.perf.metrics import RequestAggregator, RequestStats
from banrimkwae.perf.metrics.prometheus import MULTIPROCESS_DIR_ENV, PrometheusExporter
from tests.conftest import guest_headers, make_settings, service_missing, staff_headers
from tests.e2e.server import running_server

ROUTE = "/api/v1/rooms/{room_id}"


def _aggregator() -> RequestAggregator:
    return RequestAggregator(buffer_size=10, sample_rate=0.0, slow_request_ms=500.0)


def _record(aggregator: RequestAggregator, durations_ms: list[float], *, status: int = 200) -> None:
    for duration in durations_ms:
        aggregator.record(ROUTE, "GET", status, duration, 0, 10, RequestStats("r"), time.time())


def _samples(exposition: bytes) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(exposition.decode()):
        for sample in family.samples:
            found[_key(sample)] = sample.value
    return found


def _key(sample: Sample) -> tuple[str, frozenset[tuple[str, str]]]:
    return sample.name, frozenset(sample.labels.items())


def _http(name: str, status: str = "2xx", **extra: str) -> tuple[str, frozenset[tuple[str, str]]]:
    labels = {
        "http_route": ROUTE,
        "http_request_method": "GET",
        "http_response_status_code": status,
        **extra,
    }
    return f"http_server_request_duration_seconds{name}", frozenset(labels.items())


def _plain(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


def promtool_check(exposition: bytes) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        service_missing("promtool (Debian package prometheus) is not installed")
        return
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=exposition, capture_output=True, check=False
    )
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()


def test_request_durations_are_cumulative_buckets_by_route_method_and_status_class() -> None:
    aggregator = _aggregator()
    exporter = PrometheusExporter(aggregator)
    _record(aggregator, [3.0, 5.0, 7.0, 30.0, 120.0, 12_000.0])
    _record(aggregator, [40.0], status=503)
    # The flusher taking the window away must not reset what Prometheus sees.
    aggregator.swap()
    _record(aggregator, [9.0])

    samples = _samples(exporter.render())

    assert samples[_http("_bucket", le="0.005")] == 2  # 3 ms and exactly 5 ms
    assert samples[_http("_bucket", le="0.01")] == 4
    assert samples[_http("_bucket", le="0.05")] == 5
    assert samples[_http("_bucket", le="0.25")] == 6
    assert samples[_http("_bucket", le="10.0")] == 6
    assert samples[_http("_bucket", le="+Inf")] == 7
    assert samples[_http("_count")] == 7
    assert samples[_http("_sum")] == pytest.approx(12.174)
    assert samples[_http("_count", status="5xx")] == 1
    assert samples[_http("_bucket", status="5xx", le="0.025")] == 0
    assert samples[_http("_bucket", status="5xx", le="0.05")] == 1


def test_gauges_counters_and_database_operations() -> None:
    aggregator = _aggregator()
    exporter = PrometheusExporter(
        aggregator,
        flush_failures=lambda: {"requests": 3, "queries": 0},
        cache_requests=lambda: {("l1", "hit"): 5, ("l1", "miss"): 2},
    )
    aggregator.active_requests = 4
    aggregator.dropped_samples = 11
    exporter.db_operations.observe("SELECT", 0.4)
    exporter.db_operations.observe("SELECT", 7.0)
    exporter.db_operations.observe("UPDATE", 2_000.0)

    samples = _samples(exporter.render())

    assert samples[_plain("http_server_active_requests")] == 4
    assert samples[_plain("banrimkwae_metrics_dropped_total")] == 11
    failures = "banrimkwae_metrics_flush_failures_total"
    assert samples[_plain(failures, rollup="requests")] == 3
    assert samples[_plain(failures, rollup="queries")] == 0
    assert samples[_plain("banrimkwae_cache_requests_total", layer="l1", result="hit")] == 5
    assert samples[_plain("banrimkwae_cache_requests_total", layer="l1", result="miss")] == 2
    select = {"db_operation_name": "SELECT"}
    bucket = "db_client_operation_duration_seconds_bucket"
    assert samples[_plain(bucket, le="0.001", **select)] == 1
    assert samples[_plain(bucket, le="0.01", **select)] == 2
    assert samples[_plain("db_client_operation_duration_seconds_count", **select)] == 2
    assert samples[
        _plain("db_client_operation_duration_seconds_sum", db_operation_name="UPDATE")
    ] == pytest.approx(2.0)


def test_exposition_passes_promtool() -> None:
    aggregator = _aggregator()
    exporter = PrometheusExporter(aggregator, cache_requests=lambda: {("l2", "miss"): 1})
    _record(aggregator, [1.0, 80.0, 900.0])
    _record(aggregator, [15.0], status=404)
    exporter.db_operations.observe("SELECT", 3.0)
    promtool_check(exporter.render())


_OTHER_WORKER = """
import sys, time
from banrimkwae.perf.metrics import RequestAggregator, RequestStats
from banrimkwae.perf.metrics.prometheus import PrometheusExporter
aggregator = RequestAggregator(buffer_size=10, sample_rate=0.0, slow_request_ms=500.0)
for _ in range(int(sys.argv[2])):
    aggregator.record(sys.argv[3], "GET", 200, 20.0, 0, 0, RequestStats("r"), time.time())
aggregator.active_requests = 2
exporter = PrometheusExporter(aggregator, exchange_dir=sys.argv[1])
for _ in range(int(sys.argv[2])):
    exporter.db_operations.observe("SELECT", 4.0)
exporter.publish()
"""


def test_any_worker_answers_the_totals_of_all_workers(tmp_path: Path) -> None:
    other = [sys.executable, "-c", _OTHER_WORKER, str(tmp_path), "5", ROUTE]
    subprocess.run(other, check=True)
    aggregator = _aggregator()
    exporter = PrometheusExporter(aggregator, exchange_dir=tmp_path)
    _record(aggregator, [20.0, 20.0, 20.0])
    aggregator.active_requests = 1
    exporter.db_operations.observe("SELECT", 0.5)

    samples = _samples(exporter.render())
    assert samples[_http("_count")] == 3 + 5
    assert samples[_http("_bucket", le="0.025")] == 8
    assert samples[_plain("http_server_active_requests")] == 1 + 2
    select = {"db_operation_name": "SELECT"}
    assert samples[_plain("db_client_operation_duration_seconds_count", **select)] == 1 + 5
    assert samples[_plain("db_client_operation_duration_seconds_bucket", le="0.001", **select)] == 1
    assert samples[_plain("db_client_operation_duration_seconds_sum", **select)] == pytest.approx(
        0.0205
    )
    assert len(list(tmp_path.glob("*.json"))) == 2

    # A worker that stopped: its requests still count, its active requests no longer do.
    stopped = next(path for path in tmp_path.glob("*.json") if path != exporter._own_file)
    snapshot = json.loads(stopped.read_text())
    snapshot["written"] -= 600
    stopped.write_text(json.dumps(snapshot))
    samples = _samples(exporter.render())
    assert samples[_http("_count")] == 8
    assert samples[_plain("http_server_active_requests")] == 1


async def test_metrics_route_in_the_app_needs_a_viewer(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/metrics.db"
    await migrate.upgrade(url)
    fastapi_app = create_fastapi_app(make_settings(url, metrics_public=False))
    transport = httpx.ASGITransport(app=fastapi_app.state.platform.wrap(fastapi_app))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for _ in range(3):
            assert (await client.get("/api/v1/properties")).status_code == 200
        denied = await client.get("/metrics")
        assert denied.status_code == 401
        assert denied.headers["content-type"] == "application/problem+json"
        assert (await client.get("/metrics", headers=guest_headers(3))).status_code == 403
        scraped = await client.get("/metrics", headers=staff_headers())
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = _samples(scraped.content)
    properties = {
        "http_route": "/api/v1/properties",
        "http_request_method": "GET",
        "http_response_status_code": "2xx",
    }
    assert samples[_plain("http_server_request_duration_seconds_count", **properties)] == 3
    used = _plain("db_client_connections_usage", pool_name="primary", state="used")
    assert samples[used] == 0
    promtool_check(scraped.content)
    await fastapi_app.state.database.dispose()


async def test_statement_durations_count_every_statement_requests_ran(migrated_url: str) -> None:
    fastapi_app = create_fastapi_app(make_settings(migrated_url, metrics_public=True))
    # Counted apart from the platform, by the statement's first word, as the driver got it.
    executed: Counter[str] = Counter()

    def count(*args: Any) -> None:
        statement: str = args[2]
        executed[statement.split(None, 1)[0].upper()] += 1

    event.listen(fastapi_app.state.database.engine.sync_engine, "after_cursor_execute", count)
    transport = httpx.ASGITransport(app=fastapi_app.state.platform.wrap(fastapi_app))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        code = f"DB-{uuid.uuid4().hex[:8].upper()}"
        created = await client.post(
            "/api/v1/properties",
            json={"code": code, "name": "Counted", "city": "Krabi", "country": "TH"},
            headers=staff_headers(),
        )
        assert created.status_code == 201, created.text
        for _ in range(3):
            assert (await client.get("/api/v1/properties")).status_code == 200
        property_id = created.json()["id"]
        assert (await client.get(f"/api/v1/properties/{property_id}")).status_code == 200
        assert (await client.delete(f"/api/v1/properties/{property_id}")).status_code == 401
        scraped = await client.get("/metrics")
    await fastapi_app.state.database.dispose()

    samples = _samples(scraped.content)
    assert executed["SELECT"] >= 4 and executed["INSERT"] >= 1
    for operation in ("SELECT", "INSERT", "UPDATE", "DELETE"):
        labels = {"db_operation_name": operation}
        count_key = _plain("db_client_operation_duration_seconds_count", **labels)
        assert samples.get(count_key, 0) == executed[operation], operation
        inf_key = _plain("db_client_operation_duration_seconds_bucket", le="+Inf", **labels)
        assert samples.get(inf_key, 0) == executed[operation]
    select_seconds = _plain("db_client_operation_duration_seconds_sum", db_operation_name="SELECT")
    assert samples[select_seconds] > 0
    promtool_check(scraped.content)


async def test_metrics_public_needs_no_token(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/public.db"
    fastapi_app = create_fastapi_app(make_settings(url, metrics_public=True))
    transport = httpx.ASGITransport(app=fastapi_app.state.platform.wrap(fastapi_app))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await client.get("/metrics")).status_code == 200
    await fastapi_app.state.database.dispose()


@pytest.mark.slow
def test_served_with_two_workers_every_scrape_counts_both(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/workers.db"
    asyncio.run(migrate.upgrade(url))
    exchange = tmp_path / "metrics"
    exchange.mkdir()
    env = {
        "BANRIMKWAE_DATABASE_URL": url,
        "BANRIMKWAE_METRICS_PUBLIC": "true",
        MULTIPROCESS_DIR_ENV: str(exchange),
    }
    requests = 40
    with running_server(env, workers=2) as base_url:
        # A new connection per request, so that the kernel spreads them over both workers.
        for _ in range(requests):
            assert httpx.get(f"{base_url}/api/v1/properties").status_code == 200
        time.sleep(1.5)  # every worker publishes at least once a second
        counts = set()
        for _ in range(6):
            samples = _samples(httpx.get(f"{base_url}/metrics").content)
            counts.add(
                samples[
                    _plain(
                        "http_server_request_duration_seconds_count",
                        http_route="/api/v1/properties",
                        http_request_method="GET",
                        http_response_status_code="2xx",
                    )
                ]
            )
        workers = len(list(exchange.glob("*.json")))
    assert workers == 2
    assert counts == {requests}
