"""Request metrics through the real app and the real store, on every dialect."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from banrimkwae.app import create_fastapi_app
from banrimkwae.perf.config import MonitoringConfig
from banrimkwae.perf.db import create_engine_for_url
from banrimkwae.perf.metrics import (
    UNMATCHED_ROUTE,
    MetricsFlusher,
    MetricsStore,
    RequestAggregator,
    RequestStats,
    ResourceSampler,
    read_rollups,
)
from banrimkwae.perf.platform import Platform
from banrimkwae.perf.storage import ApiPerformanceMetric, ProcessSample
from tests.conftest import guest_headers, make_settings, staff_headers

PROPERTY = "/api/v1/properties/{property_id}"
PROPERTIES = "/api/v1/properties"
MY_BOOKINGS = "/api/v1/guests/me/activity-bookings"


@pytest.fixture
async def platform_app(
    module_database_url: str,
) -> AsyncIterator[tuple[httpx.AsyncClient, Platform]]:
    """The app as served (wrapped), every request sampled; flushes are called by the test."""
    app = create_fastapi_app(
        make_settings(module_database_url, metrics_flush_interval=3600, metrics_sample_rate=1.0)
    )
    platform: Platform = app.state.platform
    transport = httpx.ASGITransport(app=platform.wrap(app))
    # Identity encoding: the sizes compared below are the bytes on the wire.
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"accept-encoding": "identity"}
    ) as client:
        yield client, platform
    await app.state.database.dispose()


def _window_around(moment: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    return moment - dt.timedelta(minutes=2), moment + dt.timedelta(minutes=2)


async def test_counts_and_sizes_reach_the_rollups_exactly(
    platform_app: tuple[httpx.AsyncClient, Platform],
) -> None:
    client, platform = platform_app
    started = dt.datetime.now(dt.UTC)
    created = await client.post(
        PROPERTIES,
        json={"code": "MET-1", "name": "Metrics Bay", "city": "Krabi", "country": "TH"},
        headers=staff_headers(),
    )
    assert created.status_code == 201, created.text
    responses = [created]
    responses += [await client.get(f"{PROPERTIES}/{created.json()['id']}") for _ in range(25)]
    responses += [await client.get(f"{PROPERTIES}/99999{n}") for n in range(5)]
    responses += [await client.get(f"/nowhere/{n}") for n in range(7)]
    responses += [
        await client.post(PROPERTIES, json={"code": n}, headers=staff_headers()) for n in range(3)
    ]
    platform.resources.sample()

    assert await platform.metrics_flusher.flush()

    engine = platform.database.engine
    merged = await read_rollups(engine, *_window_around(started), bucket_seconds=60)
    assert {key: aggregate.count for key, aggregate in merged.items()} == {
        (PROPERTIES, "POST", 2): 1,
        (PROPERTY, "GET", 2): 25,
        (PROPERTY, "GET", 4): 5,
        (UNMATCHED_ROUTE, "GET", 4): 7,
        (PROPERTIES, "POST", 4): 3,
    }
    posts = [response for response in responses if response.request.method == "POST"]
    created_row = merged[(PROPERTIES, "POST", 2)]
    assert created_row.request_bytes == len(created.request.content)
    assert created_row.response_bytes == len(created.content)
    rejected = merged[(PROPERTIES, "POST", 4)]
    assert rejected.request_bytes == sum(len(post.request.content) for post in posts[1:])
    reads = merged[(PROPERTY, "GET", 2)]
    assert reads.response_bytes == 25 * len(responses[1].content)
    assert all(aggregate.errors == 0 for aggregate in merged.values())

    # Every request was sampled: one raw row each, with its status and the process sample.
    async with engine.connect() as connection:
        raw = (
            await connection.execute(
                select(
                    ApiPerformanceMetric.status_code,
                    ApiPerformanceMetric.memory_usage_mb,
                    ApiPerformanceMetric.sample_rate,
                )
            )
        ).all()
        processes = await connection.scalar(select(func.count()).select_from(ProcessSample))
    assert Counter(row.status_code for row in raw) == Counter(
        response.status_code for response in responses
    )
    assert all(row.memory_usage_mb > 0 and row.sample_rate == 1 for row in raw)
    assert processes == 1


async def test_percentiles_of_a_known_load_survive_flushes_and_workers(
    module_database_url: str,
) -> None:
    route = "/synthetic/{item_id}"
    rng = random.Random(20261127)
    durations = [rng.lognormvariate(3.5, 0.8) for _ in range(3000)]
    engine = create_engine_for_url(module_database_url)
    started = dt.datetime.now(dt.UTC)
    try:
        # Two workers, three flushes each: the reader merges six rows per key.
        for worker, share in (("worker-a", durations[:1700]), ("worker-b", durations[1700:])):
            aggregator = RequestAggregator(buffer_size=10, sample_rate=0, slow_request_ms=1e9)
            flusher = MetricsFlusher(
                aggregator,
                ResourceSampler(60),
                MetricsStore(engine, worker),
                MonitoringConfig(worker=worker),
            )
            for chunk in (share[0::3], share[1::3], share[2::3]):
                for duration in chunk:
                    aggregator.record(route, "GET", 200, duration, 0, 100, _stats(), 0.0)
                assert await flusher.flush()
        merged = await read_rollups(engine, *_window_around(started))
    finally:
        await engine.dispose()

    aggregate = merged[(route, "GET", 2)]
    assert aggregate.count == len(durations)
    assert aggregate.histogram.count == len(durations)
    assert aggregate.response_bytes == 100 * len(durations)
    assert aggregate.total_ms == pytest.approx(sum(durations), rel=1e-6)
    assert aggregate.min_ms == pytest.approx(min(durations), rel=1e-6)
    assert aggregate.max_ms == pytest.approx(max(durations), rel=1e-6)
    ordered = sorted(durations)
    for q in (0.5, 0.95, 0.99):
        exact = ordered[int(q * (len(ordered) - 1))]
        estimate = aggregate.histogram.quantile(q)
        assert estimate == pytest.approx(exact, rel=0.05), q


async def test_concurrent_requests_are_each_attributed_to_their_own_caller(
    platform_app: tuple[httpx.AsyncClient, Platform],
) -> None:
    client, platform = platform_app
    platform.requests.take_samples()
    platform.requests.window.clear()

    async def one(guest_id: int) -> httpx.Response:
        return await client.get(
            MY_BOOKINGS,
            headers={
                **guest_headers(guest_id),
                "x-request-id": f"req-{guest_id}",
                "x-client-id": str(guest_id * 10),
            },
        )

    responses = await asyncio.gather(*(one(guest_id) for guest_id in range(1, 61)))

    assert [response.status_code for response in responses] == [200] * 60
    assert [response.headers["x-request-id"] for response in responses] == [
        f"req-{guest_id}" for guest_id in range(1, 61)
    ]
    aggregate = platform.requests.window[(MY_BOOKINGS, "GET", 2)]
    assert aggregate.count == 60
    assert aggregate.response_bytes == sum(len(response.content) for response in responses)
    assert platform.requests.active_requests == 0
    # The guest id is learnt mid-request by the auth dependency; the client id at the edge.
    # Interleaved as they were, every request kept its own pair.
    pairs = {(sample.user_id, sample.client_id) for sample in platform.requests.samples}
    assert pairs == {(guest_id, guest_id * 10) for guest_id in range(1, 61)}
    # Each request ran the same statements; none saw another's (counted by the query tracker).
    query_counts = {sample.database_queries_count for sample in platform.requests.samples}
    assert len(query_counts) == 1 and query_counts.pop() > 0


def _stats() -> RequestStats:
    return RequestStats("synthetic")
