"""/api/admin/alerts: rules CRUD (versioned, audited), current alerts, the report's `alerts`."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select

from banrimkwae.perf.access import Role
from banrimkwae.perf.storage import AlertRule, ApiMetricRollup, AuditLog
from tests.perf.admin.conftest import key_headers
from tests.perf.alerts.conftest import clear_alerts, insert_rows, rollup

ALERTS = "/api/admin/alerts"
RULES = f"{ALERTS}/rules"
PROBLEM = "application/problem+json"
ROOMS = "/api/v1/rooms/{room_id}"


def client(app: FastAPI, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers=key_headers(key),
    )


@pytest.fixture
async def operator(
    admin_app: FastAPI, role_keys: dict[Role, str]
) -> AsyncIterator[httpx.AsyncClient]:
    async with client(admin_app, role_keys["operator"]) as api:
        yield api


@pytest.fixture
async def viewer(
    admin_app: FastAPI, role_keys: dict[Role, str]
) -> AsyncIterator[httpx.AsyncClient]:
    async with client(admin_app, role_keys["viewer"]) as api:
        yield api


async def test_the_migration_installs_the_default_rules(viewer: httpx.AsyncClient) -> None:
    answer = await viewer.get(RULES)
    assert answer.status_code == 200, answer.text
    rules = {rule["name"]: rule for rule in answer.json()["data"]}
    assert {
        "p95_above_target",
        "error_rate_high",
        "cache_hit_rate_low",
        "replica_lag_high",
        "scale_failed",
    } <= set(rules)
    assert (rules["error_rate_high"]["metric"], rules["error_rate_high"]["threshold"]) == (
        "error_rate",
        5.0,
    )
    assert rules["cache_hit_rate_low"]["comparison"] == "below"
    assert rules["scale_failed"]["window_seconds"] == 600


async def test_a_rule_is_created_changed_deleted_and_restored_with_audit_rows(
    admin_app: FastAPI, operator: httpx.AsyncClient
) -> None:
    async with admin_app.state.database.sessions() as session:
        await session.execute(delete(AlertRule).where(AlertRule.name.like("test_%")))
        await session.execute(delete(AuditLog))
        await session.commit()
    created = await operator.post(
        RULES,
        json={
            "name": "test_rooms_slow",
            "metric": "p95_ms",
            "threshold": 250,
            "resolve_threshold": 200,
            "endpoint": ROOMS,
            "window_seconds": 600,
            "for_seconds": 120,
            "severity": "critical",
        },
    )
    assert created.status_code == 201, created.text
    rule = created.json()
    assert (rule["version"], rule["comparison"], rule["is_enabled"]) == (1, "above", True)

    changed = await operator.patch(f"{RULES}/{rule['id']}", json={"threshold": 300})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["threshold"], changed.json()["version"]) == (300.0, 2)

    deleted = await operator.delete(f"{RULES}/{rule['id']}")
    assert deleted.status_code == 204
    assert (await operator.get(f"{RULES}/{rule['id']}")).status_code == 404

    restored = await operator.post(f"{RULES}/{rule['id']}/versions/1/restore")
    assert restored.status_code == 200, restored.text
    assert (restored.json()["threshold"], restored.json()["version"]) == (250.0, 4)

    async with admin_app.state.database.sessions() as session:
        actions = list(await session.scalars(select(AuditLog.action).order_by(AuditLog.id)))
    assert actions == [
        "alert_rule.create",
        "alert_rule.update",
        "alert_rule.delete",
        "alert_rule.restore",
    ]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"name": "test_x", "metric": "p50_ms", "threshold": 1}, "metric"),
        ({"name": "test_x", "metric": "p95_ms", "threshold": 200, "resolve_threshold": 300},
         "resolve_threshold must be at or below the threshold"),
        ({"name": "test_x", "metric": "replica_lag_seconds", "threshold": 5, "endpoint": ROOMS},
         "not measured per endpoint"),
        ({"name": "test_x", "metric": "p95_ms", "threshold": 200, "window_seconds": 10}, "60"),
        ({"name": "p95_above_target", "metric": "p95_ms", "threshold": 1}, "exists already"),
    ],
)  # fmt: skip
async def test_a_rule_that_cannot_be_evaluated_is_a_problem(
    operator: httpx.AsyncClient, body: dict[str, Any], detail: str
) -> None:
    answer = await operator.post(RULES, json=body)
    assert answer.status_code in (409, 422), answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert detail in answer.text


async def test_a_viewer_reads_rules_but_may_not_change_them(viewer: httpx.AsyncClient) -> None:
    answer = await viewer.post(RULES, json={"name": "test_v", "metric": "p95_ms", "threshold": 1})
    assert answer.status_code == 403
    assert answer.headers["content-type"] == PROBLEM
    refused = await viewer.post(f"{ALERTS}/evaluate")
    assert refused.status_code == 403


async def test_a_firing_alert_is_listed_and_in_the_report(
    admin_app: FastAPI, operator: httpx.AsyncClient, viewer: httpx.AsyncClient
) -> None:
    await clear_alerts(admin_app)
    for name, threshold in (("test_rooms_slow", 100), ("test_rooms_very_slow", 10_000)):
        created = await operator.post(
            RULES,
            json={"name": name, "metric": "p95_ms", "threshold": threshold, "endpoint": ROOMS},
        )
        assert created.status_code == 201, created.text
    await insert_rows(admin_app, ApiMetricRollup, [rollup(time.time(), ROOMS, [400.0] * 10)])

    evaluated = await operator.post(f"{ALERTS}/evaluate")
    assert evaluated.status_code == 200, evaluated.text
    [event] = evaluated.json()["transitions"]
    assert (event["rule_name"], event["status"], event["delivery"]) == (
        "test_rooms_slow",
        "firing",
        "none",
    )

    listed = await viewer.get(ALERTS)
    assert listed.status_code == 200, listed.text
    [alert] = listed.json()["data"]
    assert (alert["name"], alert["status"], alert["threshold"]) == (
        "test_rooms_slow",
        "firing",
        100,
    )
    assert alert["value"] >= 380 and alert["since"] is not None

    report = await viewer.get("/api/admin/performance/report", params={"period": "1h"})
    assert report.status_code == 200, report.text
    assert [a["name"] for a in report.json()["alerts"]] == ["test_rooms_slow"]

    history = await viewer.get(f"{ALERTS}/events")
    assert [e["status"] for e in history.json()["data"]] == ["firing"]
    assert (await viewer.get(ALERTS, params={"bogus": "1"})).status_code == 400
