"""The resort app with read replicas: routing, read-your-writes over HTTP, what admins see."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from banrimkwae.app import create_fastapi_app
from banrimkwae.perf.db.local_cluster import LocalCluster
from tests.conftest import make_settings, staff_headers
from tests.perf.metrics.test_prometheus import promtool_check


@pytest.fixture
async def app_client(
    pg_cluster: LocalCluster, replicated_url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    settings = make_settings(
        replicated_url,
        database_replica_urls=pg_cluster.replica_urls,
        replica_algorithm="least_outstanding",
        # One check at start-up; the tests decide when the next one runs.
        replica_check_interval=600,
        cache_enabled=False,
    )
    app = create_fastapi_app(settings)
    async with app.router.lifespan_context(app):
        served = app.state.platform.wrap(app)
        transport = httpx.ASGITransport(app=served)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client, app


def new_property() -> dict[str, str]:
    code = uuid.uuid4().hex[:8].upper()
    return {"code": code, "name": f"Replica {code}", "city": "Chiang Mai", "country": "TH"}


async def test_the_writer_reads_its_property_while_replicas_lag(
    app_client: tuple[httpx.AsyncClient, object], replay_paused: None
) -> None:
    client, _app = app_client
    writer = staff_headers()
    created = await client.post("/api/v1/properties", json=new_property(), headers=writer)
    assert created.status_code == 201
    path = f"/api/v1/properties/{created.json()['id']}"
    # The same client (same credentials): its read follows its write to the primary.
    assert (await client.get(path, headers=writer)).status_code == 200
    # An anonymous client reads a replica that has not replayed the insert yet.
    assert (await client.get(path)).status_code == 404


async def test_admins_see_replicas_pools_and_routing(
    app_client: tuple[httpx.AsyncClient, object],
) -> None:
    client, _app = app_client
    for _ in range(4):
        assert (await client.get("/api/v1/properties")).status_code == 200
    assert (await client.get("/api/admin/database/replicas")).status_code == 401
    shown = (await client.get("/api/admin/database/replicas", headers=staff_headers())).json()
    assert shown["enabled"] is True
    assert shown["algorithm"] == "least_outstanding"
    assert [r["name"] for r in shown["replicas"]] == ["replica1", "replica2"]
    assert {r["status"] for r in shown["replicas"]} == {"healthy"}
    assert set(shown["pools"]) == {"primary", "replica1", "replica2"}
    assert shown["pools"]["primary"]["class"] == "InstrumentedQueuePool"
    reads = {row["target"]: row["count"] for row in shown["routed"] if row["reason"] == "read"}
    assert sum(reads.values()) >= 4 and set(reads) == {"replica1", "replica2"}

    scraped = await client.get("/metrics", headers=staff_headers())
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(scraped.text)
        for sample in family.samples
    }
    assert samples[("banrimkwae_db_replica_in_rotation", (("replica", "replica1"),))] == 1
    assert ("banrimkwae_db_replica_lag_seconds", (("replica", "replica2"),)) in samples
    routed = samples[
        ("banrimkwae_db_routed_statements_total", (("reason", "read"), ("target", "replica1")))
    ]
    assert routed >= 1
    assert (
        "db_client_connections_usage",
        (("pool_name", "replica2"), ("state", "used")),
    ) in samples
    assert ("db_client_connections_timeouts_total", (("pool_name", "replica1"),)) in samples
    promtool_check(scraped.content)
