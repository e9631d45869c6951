"""/api/admin/cache/policies: CRUD, versions and restore, audit rows, reload in the workers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select

from banrimkwae.app import create_fastapi_app
from banrimkwae.perf.access import Role
from banrimkwae.perf.storage import ApiCacheConfig, AuditLog, ConfigVersion
from tests.conftest import make_settings
from tests.perf.admin.conftest import key_headers

POLICIES = "/api/admin/cache/policies"
PROBLEM = "application/problem+json"


@pytest.fixture
async def operator(
    admin_app: FastAPI, role_keys: dict[Role, str]
) -> AsyncIterator[httpx.AsyncClient]:
    async with admin_app.state.database.sessions() as session:
        await session.execute(delete(AuditLog))
        await session.execute(delete(ConfigVersion))
        await session.execute(
            delete(ApiCacheConfig).where(ApiCacheConfig.endpoint_pattern.like("/test/%"))
        )
        await session.commit()
    transport = httpx.ASGITransport(app=admin_app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        headers=key_headers(role_keys["operator"]),
    ) as client:
        yield client


async def _audit(app: FastAPI) -> list[dict[str, Any]]:
    async with app.state.database.sessions() as session:
        rows = await session.execute(select(AuditLog.__table__).order_by(AuditLog.id))
        return [dict(row) for row in rows.mappings()]


async def test_a_policy_is_created_changed_deleted_and_restored_with_every_version(
    admin_app: FastAPI, operator: httpx.AsyncClient
) -> None:
    created = await operator.post(
        POLICIES, json={"endpoint_pattern": "/test/rooms", "cache_ttl_seconds": 60}
    )
    assert created.status_code == 201, created.text
    policy = created.json()
    policy_id = policy["id"]
    assert policy["version"] == 1
    assert policy["http_methods"] == ["GET", "HEAD"]

    changed = await operator.patch(f"{POLICIES}/{policy_id}", json={"cache_ttl_seconds": 120})
    assert changed.status_code == 200
    assert (changed.json()["cache_ttl_seconds"], changed.json()["version"]) == (120, 2)
    replaced = await operator.put(
        f"{POLICIES}/{policy_id}",
        json={"endpoint_pattern": "/test/rooms", "cache_strategy": "tagged"},
    )
    assert replaced.json()["cache_ttl_seconds"] == 300  # PUT: left-out fields take defaults
    assert replaced.json()["version"] == 3

    assert (await operator.delete(f"{POLICIES}/{policy_id}")).status_code == 204
    gone = await operator.get(f"{POLICIES}/{policy_id}")
    assert gone.status_code == 404
    assert gone.headers["content-type"] == PROBLEM

    versions = (await operator.get(f"{POLICIES}/{policy_id}/versions")).json()
    assert [v["version"] for v in versions["data"]] == [4, 3, 2, 1]
    assert versions["data"][0]["body"] is None
    assert versions["data"][2]["body"]["cache_ttl_seconds"] == 120
    assert versions["data"][2]["actor"].startswith("apikey:")
    assert versions["meta"]["total"] == 4

    restored = await operator.post(f"{POLICIES}/{policy_id}/versions/2/restore")
    assert restored.status_code == 200, restored.text
    assert restored.json()["id"] == policy_id
    assert restored.json()["cache_ttl_seconds"] == 120
    assert restored.json()["version"] == 5

    audit = await _audit(admin_app)
    assert [row["action"] for row in audit] == [
        "cache_policy.create",
        "cache_policy.update",
        "cache_policy.update",
        "cache_policy.delete",
        "cache_policy.restore",
    ]
    assert {row["target"] for row in audit} == {f"cache_policy:{policy_id}"}
    assert audit[1]["before"]["cache_ttl_seconds"] == 60
    assert audit[1]["after"]["cache_ttl_seconds"] == 120
    assert audit[3]["after"] is None
    assert audit[4]["after"]["restored_version"] == 2


async def test_a_seeded_policy_keeps_its_state_before_the_first_change_as_version_one(
    operator: httpx.AsyncClient,
) -> None:
    listed = (await operator.get(POLICIES, params={"limit": 2})).json()
    assert listed["meta"]["count"] == 2
    assert listed["meta"]["total"] >= 19  # the defaults of migration 0004
    assert listed["links"]["next"] is not None
    seeded = next(p for p in listed["data"] if p["version"] == 0)
    original_ttl = seeded["cache_ttl_seconds"]

    await operator.patch(f"{POLICIES}/{seeded['id']}", json={"cache_ttl_seconds": 7})
    versions = (await operator.get(f"{POLICIES}/{seeded['id']}/versions")).json()["data"]
    assert [(v["version"], v["actor"]) for v in versions][1] == (1, "baseline")
    restored = await operator.post(f"{POLICIES}/{seeded['id']}/versions/1/restore")
    assert restored.json()["cache_ttl_seconds"] == original_ttl


async def test_an_empty_change_stores_nothing(
    admin_app: FastAPI, operator: httpx.AsyncClient
) -> None:
    created = (await operator.post(POLICIES, json={"endpoint_pattern": "/test/empty"})).json()
    same = await operator.patch(f"{POLICIES}/{created['id']}", json={})
    assert same.status_code == 200
    assert same.json()["version"] == 1
    assert len(await _audit(admin_app)) == 1


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (
            {
                "endpoint_pattern": "/test/me",
                "cache_strategy": "hierarchical",
                "cache_key_pattern": "{path}",
            },
            422,
            "{user_id}",
        ),
        ({"endpoint_pattern": "/test/x", "http_methods": ["POST"]}, 422, "GET or HEAD"),
        ({"endpoint_pattern": "/test/x", "cache_ttl_seconds": 0}, 422, None),
        ({"endpoint_pattern": "/test/x", "surprise": 1}, 422, None),
        (
            {
                "endpoint_pattern": "/test/me",
                "cache_strategy": "hierarchical",
                "cache_options": {"invalidation_grace_seconds": 10},
            },
            422,
            "cannot serve invalidated entries",
        ),
        ({"endpoint_pattern": "/api/v1/properties"}, 409, "exists already"),
    ],
)
async def test_a_policy_the_cache_would_refuse_is_a_problem_and_changes_nothing(
    admin_app: FastAPI,
    operator: httpx.AsyncClient,
    body: dict[str, Any],
    status: int,
    detail: str | None,
) -> None:
    answer = await operator.post(POLICIES, json=body)
    assert answer.status_code == status
    assert answer.headers["content-type"] == PROBLEM
    if detail is not None:
        assert detail in answer.json()["detail"]
    assert await _audit(admin_app) == []


async def test_a_required_field_cannot_be_nulled_nor_a_pattern_duplicated(
    operator: httpx.AsyncClient,
) -> None:
    created = (await operator.post(POLICIES, json={"endpoint_pattern": "/test/a"})).json()
    nulled = await operator.patch(f"{POLICIES}/{created['id']}", json={"cache_ttl_seconds": None})
    assert nulled.status_code == 422
    taken = await operator.patch(
        f"{POLICIES}/{created['id']}", json={"endpoint_pattern": "/api/v1/properties"}
    )
    assert taken.status_code == 409
    deleted_version = await operator.delete(f"{POLICIES}/{created['id']}")
    assert deleted_version.status_code == 204
    refused = await operator.post(f"{POLICIES}/{created['id']}/versions/2/restore")
    assert refused.status_code == 409
    missing = await operator.post(f"{POLICIES}/{created['id']}/versions/9/restore")
    assert missing.status_code == 404
    unknown = await operator.get(POLICIES, params={"page": 2})
    assert unknown.status_code == 400
    assert unknown.json()["parameter"] == "page"


async def test_a_viewer_reads_policies_but_cannot_change_them(
    admin_app: FastAPI, role_keys: dict[Role, str]
) -> None:
    transport = httpx.ASGITransport(app=admin_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=key_headers(role_keys["viewer"])
    ) as viewer:
        assert (await viewer.get(POLICIES)).status_code == 200
        refused = await viewer.post(POLICIES, json={"endpoint_pattern": "/test/v"})
        assert refused.status_code == 403
        assert refused.headers["content-type"] == PROBLEM


async def test_a_change_reaches_the_workers_cache_policies(
    module_database_url: str, role_keys: dict[Role, str]
) -> None:
    app = create_fastapi_app(make_settings(module_database_url))
    async with app.router.lifespan_context(app):
        cache = app.state.platform.cache
        transport = httpx.ASGITransport(app=app.state.platform.wrap(app))
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            headers=key_headers(role_keys["operator"]),
        ) as operator:
            created = await operator.post(
                POLICIES, json={"endpoint_pattern": "/test/reloaded", "cache_ttl_seconds": 42}
            )
            assert created.status_code == 201
            # The announcement removed the sentinel: the reloader's next tick reloads.
            assert await cache.reloader.check() is True
            policy = cache.policies.current.match("/test/reloaded")
            assert policy is not None
            assert policy.ttl == 42
            await operator.delete(f"{POLICIES}/{created.json()['id']}")
            assert await cache.reloader.check() is True
            assert cache.policies.current.match("/test/reloaded") is None
    await app.state.database.dispose()
