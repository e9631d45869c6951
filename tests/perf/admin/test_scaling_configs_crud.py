"""/api/admin/scaling: configurations with versions and audit, events and instance counts."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, insert, select

from banrimkwae.perf.access import Role
from banrimkwae.perf.scaling.store import load_service
from banrimkwae.perf.storage import AuditLog, AutoScalingConfig, ConfigVersion, ScalingEvent
from tests.perf.admin.conftest import key_headers

CONFIGS = "/api/admin/scaling/configs"
PROBLEM = "application/problem+json"


@pytest.fixture
async def operator(
    admin_app: FastAPI, role_keys: dict[Role, str]
) -> AsyncIterator[httpx.AsyncClient]:
    async with admin_app.state.database.sessions() as session:
        for table in (AuditLog, ConfigVersion, AutoScalingConfig, ScalingEvent):
            await session.execute(delete(table))
        await session.commit()
    transport = httpx.ASGITransport(app=admin_app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        headers=key_headers(role_keys["operator"]),
    ) as client:
        yield client


async def _actions(app: FastAPI) -> list[str]:
    async with app.state.database.sessions() as session:
        return list((await session.scalars(select(AuditLog.action).order_by(AuditLog.id))).all())


async def test_a_configuration_is_versioned_audited_and_read_by_the_controller(
    admin_app: FastAPI, operator: httpx.AsyncClient
) -> None:
    created = await operator.post(
        CONFIGS, json={"service_name": "api", "min_instances": 2, "max_instances": 6}
    )
    assert created.status_code == 201, created.text
    config_id = created.json()["id"]
    assert created.json()["policy"] == "slo"
    assert created.json()["version"] == 1

    changed = await operator.patch(
        f"{CONFIGS}/{config_id}", json={"max_instances": 9, "target_cpu_percent": 55.5}
    )
    assert changed.status_code == 200
    assert changed.json()["version"] == 2
    # What the controller loads on its next cycle.
    service = await load_service(admin_app.state.database.engine, "api")
    assert service is not None
    assert (service.config.max_instances, service.config.target_cpu_percent) == (9, 55.5)

    assert (await operator.delete(f"{CONFIGS}/{config_id}")).status_code == 204
    assert await load_service(admin_app.state.database.engine, "api") is None
    restored = await operator.post(f"{CONFIGS}/{config_id}/versions/1/restore")
    assert restored.status_code == 200, restored.text
    assert restored.json()["max_instances"] == 6
    versions = (await operator.get(f"{CONFIGS}/{config_id}/versions")).json()
    assert [v["version"] for v in versions["data"]] == [4, 3, 2, 1]
    assert versions["data"][1]["body"] is None
    assert await _actions(admin_app) == [
        "scaling_config.create",
        "scaling_config.update",
        "scaling_config.delete",
        "scaling_config.restore",
    ]
    listed = (await operator.get(CONFIGS)).json()
    assert [c["service_name"] for c in listed["data"]] == ["api"]
    assert listed["meta"] == {"limit": 50, "offset": 0, "count": 1, "total": 1}


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"service_name": "api", "min_instances": 5, "max_instances": 3}, "greater than"),
        ({"service_name": "api", "policy": "random"}, None),
        ({"service_name": "api", "target_cpu_percent": 0}, None),
        ({"service_name": "api", "leader_id": "me"}, None),
    ],
)
async def test_a_configuration_the_controller_would_refuse_is_a_422_problem(
    admin_app: FastAPI, operator: httpx.AsyncClient, body: dict[str, Any], detail: str | None
) -> None:
    answer = await operator.post(CONFIGS, json=body)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM
    if detail is not None:
        assert detail in answer.json()["detail"]
    assert await _actions(admin_app) == []


async def test_a_change_breaking_the_bounds_or_a_unique_name_changes_nothing(
    admin_app: FastAPI, operator: httpx.AsyncClient
) -> None:
    first = (await operator.post(CONFIGS, json={"service_name": "api"})).json()
    await operator.post(CONFIGS, json={"service_name": "worker"})
    bounds = await operator.patch(f"{CONFIGS}/{first['id']}", json={"min_instances": 50})
    assert bounds.status_code == 422
    assert "max_instances" in bounds.json()["detail"]
    taken = await operator.patch(f"{CONFIGS}/{first['id']}", json={"service_name": "worker"})
    assert taken.status_code == 409
    assert (await operator.get(f"{CONFIGS}/{first['id']}")).json()["version"] == 1
    assert await _actions(admin_app) == ["scaling_config.create", "scaling_config.create"]


async def _event(
    app: FastAPI,
    service: str,
    kind: str,
    before: int,
    after: int,
    age: dt.timedelta,
    **details: Any,
) -> None:
    async with app.state.database.sessions() as session:
        await session.execute(
            insert(ScalingEvent).values(
                service_name=service,
                event_type=kind,
                from_instances=before,
                to_instances=after,
                trigger_metric="p95_ms",
                trigger_value=Decimal("250.5"),
                threshold_value=Decimal("200"),
                event_details={"reasons": ["test"], **details},
                created_at=dt.datetime.now(dt.UTC) - age,
            )
        )
        await session.commit()


async def test_events_of_a_period_and_the_counts_they_left(
    admin_app: FastAPI, operator: httpx.AsyncClient
) -> None:
    await operator.post(CONFIGS, json={"service_name": "api", "min_instances": 1})
    await _event(admin_app, "api", "scale_up", 1, 3, dt.timedelta(days=3))
    await _event(admin_app, "api", "scale_triggered", 3, 4, dt.timedelta(minutes=20))
    await _event(admin_app, "api", "scale_up", 3, 4, dt.timedelta(minutes=19))
    await _event(admin_app, "worker", "scale_triggered", 2, 5, dt.timedelta(minutes=5))
    await _event(admin_app, "worker", "scale_failed", 2, 5, dt.timedelta(minutes=4), error="no")
    await _event(admin_app, "batch", "scale_triggered", 1, 2, dt.timedelta(minutes=1))

    hour = (await operator.get("/api/admin/scaling/events", params={"period": "1h"})).json()
    assert [e["event_type"] for e in hour["data"]] == [
        "scale_triggered",
        "scale_failed",
        "scale_triggered",
        "scale_up",
        "scale_triggered",
    ]
    assert hour["data"][0]["trigger_value"] == 250.5
    week = await operator.get(
        "/api/admin/scaling/events", params={"period": "7d", "service": "api", "limit": 2}
    )
    assert week.json()["meta"]["total"] == 3
    assert week.json()["links"]["next"] is not None
    wrong = await operator.get("/api/admin/scaling/events", params={"period": "2h"})
    assert wrong.status_code == 400
    assert wrong.json()["valid_values"] == ["1h", "24h", "7d", "30d"]

    counts = (await operator.get("/api/admin/scaling/instances")).json()["data"]
    by_service = {row["service_name"]: row for row in counts}
    assert by_service["api"]["instances"] == 4
    assert by_service["api"]["min_instances"] == 1
    assert by_service["worker"]["instances"] == 2  # the failed scaling moved nothing
    assert (by_service["batch"]["instances"], by_service["batch"]["pending_target"]) == (1, 2)
    assert by_service["batch"]["max_instances"] is None
