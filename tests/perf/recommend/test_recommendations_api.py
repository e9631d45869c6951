"""GET/PATCH /api/admin/performance/recommendations: filters, workflow, audit, redaction."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select

from banrimkwae.perf.access import Role
from banrimkwae.perf.storage import AuditLog, PerformanceRecommendation
from tests.perf.recommend.rows import RECOMMENDATIONS, add_recommendation, admin_client

PROBLEM = "application/problem+json"


@pytest.fixture
async def clean(admin_app: FastAPI) -> AsyncIterator[None]:
    async with admin_app.state.database.sessions() as session:
        await session.execute(delete(PerformanceRecommendation))
        await session.execute(delete(AuditLog))
        await session.commit()
    yield


async def test_the_list_filters_orders_by_urgency_and_hides_query_texts_from_viewers(
    admin_app: FastAPI, role_keys: dict[Role, str], clean: None
) -> None:
    await add_recommendation(admin_app, priority="low", target_resource="query:low")
    await add_recommendation(admin_app, priority="critical", target_resource="query:critical")
    await add_recommendation(
        admin_app, recommendation_type="cache", target_resource="GET /x", status="rejected"
    )
    async with admin_client(admin_app, role_keys["viewer"]) as viewer:
        listed = (await viewer.get(RECOMMENDATIONS, params={"status": "pending"})).json()
        assert [r["target_resource"] for r in listed["data"]] == ["query:critical", "query:low"]
        assert listed["data"][0]["impact_analysis"]["query_text"] == "[redacted]"
        assert listed["data"][0]["next_statuses"] == ["implementing", "rejected"]
        caches = (await viewer.get(RECOMMENDATIONS, params={"type": "cache"})).json()
        assert [r["status"] for r in caches["data"]] == ["rejected"]
        paged = (await viewer.get(RECOMMENDATIONS, params={"limit": 1})).json()
        assert paged["meta"]["total"] == 3
        assert paged["links"]["next"] is not None
        wrong = await viewer.get(RECOMMENDATIONS, params={"status": "done"})
        assert wrong.status_code == 400
        assert wrong.headers["content-type"] == PROBLEM
    async with admin_client(admin_app, role_keys["admin"]) as admin:
        listed = (await admin.get(RECOMMENDATIONS, params={"status": "pending"})).json()
        assert listed["data"][0]["impact_analysis"]["query_text"].startswith("SELECT")


async def test_the_status_follows_the_workflow_and_every_move_is_audited(
    admin_app: FastAPI, role_keys: dict[Role, str], clean: None
) -> None:
    recommendation = await add_recommendation(admin_app)
    url = f"{RECOMMENDATIONS}/{recommendation}"
    async with admin_client(admin_app, role_keys["viewer"]) as viewer:
        refused = await viewer.patch(url, json={"status": "implementing"})
        assert refused.status_code == 403
    async with admin_client(admin_app, role_keys["operator"]) as operator:
        skipped = await operator.patch(url, json={"status": "completed"})
        assert skipped.status_code == 409
        assert skipped.headers["content-type"] == PROBLEM
        assert skipped.json()["valid_values"] == ["implementing", "rejected"]

        started = await operator.patch(url, json={"status": "implementing"})
        assert started.status_code == 200
        assert started.json()["implemented_at"] is None
        done = await operator.patch(url, json={"status": "completed"})
        assert done.json()["status"] == "completed"
        assert done.json()["implemented_at"] is not None
        final = await operator.patch(url, json={"status": "rejected"})
        assert final.status_code == 409
        assert (await operator.patch(url, json={"status": "bogus"})).status_code == 422
        missing = await operator.patch(f"{RECOMMENDATIONS}/999999", json={"status": "rejected"})
        assert missing.status_code == 404

    async with admin_app.state.database.sessions() as session:
        audit = (await session.execute(select(AuditLog).order_by(AuditLog.id))).scalars().all()
    assert [(row.action, row.before, row.after["status"]) for row in audit] == [
        ("recommendation.status", {"status": "pending"}, "implementing"),
        ("recommendation.status", {"status": "implementing"}, "completed"),
    ]
    assert {row.target for row in audit} == {f"recommendation:{recommendation}"}
