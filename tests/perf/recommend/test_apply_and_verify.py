"""Applying recommendations, then verifying them: completed when better, rolled back when worse.

The metrics are real rows of the metrics store (request and statement rollups) stamped
before the apply and after it; the verifier runs with a clock past the window.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select

from banrimkwae.perf.access import Role
from banrimkwae.perf.db.indexes import existing_indexes
from banrimkwae.perf.recommend.verification import verify_due
from banrimkwae.perf.storage import (
    ApiCacheConfig,
    ApiMetricRollup,
    AuditLog,
    ConfigVersion,
    PerformanceRecommendation,
    QueryFingerprintRollup,
)
from tests.perf.recommend.rows import (
    RECOMMENDATIONS,
    add_recommendation,
    admin_client,
    insert_rows,
    request_rollup,
    statement_rollup,
)

POLICIES = "/api/admin/cache/policies"
PROBLEM = "application/problem+json"
WINDOW = 900.0  # the default verification window
INDEX = "ix_guests_last_name_first_name"
ENDPOINT = "/test/verified/{id}"


@pytest.fixture
async def operator(
    admin_app: FastAPI, role_keys: dict[Role, str]
) -> AsyncIterator[httpx.AsyncClient]:
    async with admin_app.state.database.sessions() as session:
        for model in (
            PerformanceRecommendation,
            AuditLog,
            ConfigVersion,
            ApiMetricRollup,
            QueryFingerprintRollup,
        ):
            await session.execute(delete(model))
        await session.execute(
            delete(ApiCacheConfig).where(ApiCacheConfig.endpoint_pattern.like("/test/%"))
        )
        await session.commit()
    async with admin_app.state.database.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        on = " ON guests" if connection.dialect.name in {"mysql", "mariadb"} else ""
        await autocommit.exec_driver_sql(f"DROP INDEX IF EXISTS {INDEX}{on}")
    async with admin_client(admin_app, role_keys["operator"]) as client:
        yield client


async def _add(app: FastAPI, **values: Any) -> int:
    measured = {"current_metric_value": Decimal("50"), "recommended_metric_value": Decimal("5")}
    return await add_recommendation(app, priority="high", **{**measured, **values})


async def _add_index_recommendation(app: FastAPI) -> int:
    return await _add(
        app,
        recommendation_type="index",
        target_resource="index:guests(last_name, first_name)",
        impact_analysis={
            "table": "guests",
            "columns": ["last_name", "first_name"],
            "index_name": INDEX,
            "fingerprints": ["fp-guests-by-name"],
        },
    )


def _at(moment: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(moment, dt.UTC)


async def _statements(app: FastAPI, moment: float, *, runs: int, avg_ms: float) -> None:
    statement = "SELECT * FROM guests WHERE last_name = ? AND first_name = ?"
    rollup = statement_rollup(
        _at(moment),
        "fp-guests-by-name",
        statement,
        endpoint="/api/v1/guests",
        tables=["guests"],
        runs=runs,
        avg_ms=avg_ms,
    )
    await insert_rows(app, QueryFingerprintRollup, [rollup])


async def _requests(app: FastAPI, moment: float, *, requests: int, hits: int) -> None:
    rollup = request_rollup(moment, ENDPOINT, requests=requests, hits=hits, latency_ms=10.0)
    await insert_rows(app, ApiMetricRollup, [rollup])


async def _index_names(app: FastAPI) -> set[str]:
    async with app.state.database.engine.connect() as connection:
        return {index.name for index in await existing_indexes(connection)}


async def _audit_actions(app: FastAPI) -> list[tuple[str, str, str]]:
    async with app.state.database.sessions() as session:
        rows = await session.execute(
            select(AuditLog.actor, AuditLog.action, AuditLog.target).order_by(AuditLog.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def _verify(app: FastAPI, *, after: float) -> Any:
    return await verify_due(app.state.database.engine, tolerance=0.1, now=after)


async def test_an_applied_index_that_helped_is_verified_and_completed(
    admin_app: FastAPI, operator: httpx.AsyncClient
) -> None:
    recommendation_id = await _add_index_recommendation(admin_app)
    now = time.time()
    await _statements(admin_app, now - 300, runs=20, avg_ms=50.0)

    applied = await operator.post(f"{RECOMMENDATIONS}/{recommendation_id}/apply")
    assert applied.status_code == 200, applied.text
    body = applied.json()
    assert body["status"] == "implementing"
    assert body["before_value"] == 50.0
    assert body["applied_change"]["index_name"] == INDEX
    assert body["applied_change"]["metric"]["name"] == "query_avg_ms"
    assert INDEX in await _index_names(admin_app)

    # Not due before the window has passed.
    assert (await _verify(admin_app, after=now + 60)).verified == []
    await _statements(admin_app, now + 60, runs=20, avg_ms=5.0)
    result = await _verify(admin_app, after=now + WINDOW + 60)
    assert result.verified == [recommendation_id]

    shown = (await operator.get(f"{RECOMMENDATIONS}/{recommendation_id}")).json()
    assert (shown["status"], shown["verification"]) == ("completed", "verified")
    assert shown["after_value"] == 5.0
    assert shown["implemented_at"] is not None
    assert INDEX in await _index_names(admin_app)
    actions = [action for _, action, _ in await _audit_actions(admin_app)]
    assert actions == ["recommendation.apply", "recommendation.verified"]


async def test_an_applied_index_that_made_things_worse_is_dropped(
    admin_app: FastAPI, operator: httpx.AsyncClient
) -> None:
    recommendation_id = await _add_index_recommendation(admin_app)
    now = time.time()
    await _statements(admin_app, now - 300, runs=20, avg_ms=50.0)
    assert (await operator.post(f"{RECOMMENDATIONS}/{recommendation_id}/apply")).status_code == 200
    await _statements(admin_app, now + 60, runs=20, avg_ms=80.0)

    result = await _verify(admin_app, after=now + WINDOW + 60)

    assert result.rolled_back == [recommendation_id]
    assert INDEX not in await _index_names(admin_app)
    shown = (await operator.get(f"{RECOMMENDATIONS}/{recommendation_id}")).json()
    assert (shown["status"], shown["verification"]) == ("rejected", "rolled_back")
    assert shown["rolled_back_at"] is not None
    assert INDEX in shown["verification_note"]
    audit = await _audit_actions(admin_app)
    assert audit[-1] == (
        "recommend:verifier",
        "recommendation.rolled_back",
        f"recommendation:{recommendation_id}",
    )


async def _policy_and_recommendation(operator: httpx.AsyncClient, app: FastAPI) -> tuple[int, int]:
    created = await operator.post(
        POLICIES, json={"endpoint_pattern": ENDPOINT, "cache_ttl_seconds": 60}
    )
    assert created.status_code == 201, created.text
    recommendation_id = await _add(
        app,
        recommendation_type="cache",
        target_resource=f"cache:GET {ENDPOINT}",
        impact_analysis={"rule": "low_cache_hit_rate"},
    )
    return int(created.json()["id"]), recommendation_id


async def test_a_ttl_change_that_lowered_the_hit_rate_is_rolled_back_to_the_old_version(
    admin_app: FastAPI, operator: httpx.AsyncClient
) -> None:
    policy_id, recommendation_id = await _policy_and_recommendation(operator, admin_app)
    now = time.time()
    await _requests(admin_app, now - 300, requests=100, hits=40)

    applied = await operator.post(
        f"{RECOMMENDATIONS}/{recommendation_id}/apply", json={"cache_ttl_seconds": 600}
    )
    assert applied.status_code == 200, applied.text
    change = applied.json()["applied_change"]
    assert (change["kind"], change["target_id"]) == ("cache_policy", policy_id)
    assert (change["version_before"], change["version_applied"]) == (1, 2)
    assert applied.json()["before_value"] == 40.0
    policy = (await operator.get(f"{POLICIES}/{policy_id}")).json()
    assert (policy["cache_ttl_seconds"], policy["version"]) == (600, 2)

    await _requests(admin_app, now + 60, requests=100, hits=10)
    result = await _verify(admin_app, after=now + WINDOW + 60)

    assert result.rolled_back == [recommendation_id]
    policy = (await operator.get(f"{POLICIES}/{policy_id}")).json()
    assert (policy["cache_ttl_seconds"], policy["version"]) == (60, 3)
    versions = (await operator.get(f"{POLICIES}/{policy_id}/versions")).json()["data"]
    assert versions[0]["actor"] == "recommend:verifier"
    shown = (await operator.get(f"{RECOMMENDATIONS}/{recommendation_id}")).json()
    assert (shown["status"], shown["verification"]) == ("rejected", "rolled_back")
    assert shown["after_value"] == 10.0
    actions = [
        (actor.split(":")[0], action) for actor, action, _ in await _audit_actions(admin_app)
    ]
    assert actions == [
        ("apikey", "cache_policy.create"),
        ("apikey", "cache_policy.update"),
        ("apikey", "recommendation.apply"),
        ("recommend", "cache_policy.restore"),
        ("recommend", "recommendation.rolled_back"),
    ]


async def test_a_config_changed_since_the_apply_is_not_clobbered_by_the_rollback(
    admin_app: FastAPI, operator: httpx.AsyncClient
) -> None:
    policy_id, recommendation_id = await _policy_and_recommendation(operator, admin_app)
    now = time.time()
    await _requests(admin_app, now - 300, requests=100, hits=40)
    assert (await operator.post(f"{RECOMMENDATIONS}/{recommendation_id}/apply")).status_code == 200
    # Someone tunes the policy by hand after the apply.
    tuned = await operator.patch(f"{POLICIES}/{policy_id}", json={"cache_ttl_seconds": 45})
    assert tuned.json()["version"] == 3

    await _requests(admin_app, now + 60, requests=100, hits=10)
    result = await _verify(admin_app, after=now + WINDOW + 60)

    assert result.not_rolled_back == [recommendation_id]
    policy = (await operator.get(f"{POLICIES}/{policy_id}")).json()
    assert (policy["cache_ttl_seconds"], policy["version"]) == (45, 3)
    shown = (await operator.get(f"{RECOMMENDATIONS}/{recommendation_id}")).json()
    assert shown["verification"] == "not_rolled_back"
    assert shown["verification_note"].startswith("not rolled back: changed since by apikey:")


async def test_no_traffic_since_the_apply_leaves_it_waiting(
    admin_app: FastAPI, operator: httpx.AsyncClient
) -> None:
    _, recommendation_id = await _policy_and_recommendation(operator, admin_app)
    assert (await operator.post(f"{RECOMMENDATIONS}/{recommendation_id}/apply")).status_code == 200
    # The default action doubles the TTL.
    shown = (await operator.get(f"{RECOMMENDATIONS}/{recommendation_id}")).json()
    assert shown["applied_change"]["changes"] == {"cache_ttl_seconds": 120}
    assert shown["before_value"] is None

    result = await _verify(admin_app, after=time.time() + WINDOW + 60)
    assert result.waiting == [recommendation_id]
    shown = (await operator.get(f"{RECOMMENDATIONS}/{recommendation_id}")).json()
    assert (shown["status"], shown["verification"]) == ("implementing", None)


async def test_what_the_platform_cannot_carry_out_is_a_409_problem(
    admin_app: FastAPI, operator: httpx.AsyncClient, role_keys: dict[Role, str]
) -> None:
    query = await _add(admin_app, recommendation_type="query", target_resource="query:abc")
    refused = await operator.post(f"{RECOMMENDATIONS}/{query}/apply")
    assert refused.status_code == 409
    assert refused.headers["content-type"] == PROBLEM
    assert "cannot carry out a query recommendation" in refused.json()["detail"]

    index = await _add_index_recommendation(admin_app)
    assert (await operator.post(f"{RECOMMENDATIONS}/{index}/apply")).status_code == 200
    again = await operator.post(f"{RECOMMENDATIONS}/{index}/apply")
    assert again.status_code == 409
    assert "applied already" in again.json()["detail"]

    missing = await operator.post(f"{RECOMMENDATIONS}/999999/apply")
    assert missing.status_code == 404
    async with admin_client(admin_app, role_keys["viewer"]) as viewer:
        assert (await viewer.post(f"{RECOMMENDATIONS}/{index}/apply")).status_code == 403
