"""The audit log: written in the caller's transaction, read through GET /api/admin/audit."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, func, select, update
from starlette.requests import Request

from banrimkwae.perf.access import Role, grant
from banrimkwae.perf.admin.audit import record_change, request_actor
from banrimkwae.perf.storage import AuditLog
from tests.perf.admin.conftest import key_headers

AUDIT = "/api/admin/audit"


@pytest.fixture
async def api(admin_app: FastAPI, role_keys: dict[Role, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with admin_app.state.database.sessions() as session:
        await session.execute(delete(AuditLog))
        await session.commit()
    transport = httpx.ASGITransport(app=admin_app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        headers=key_headers(role_keys["admin"]),
    ) as client:
        yield client


async def test_a_change_and_its_audit_row_commit_or_roll_back_together(
    admin_app: FastAPI, api: httpx.AsyncClient
) -> None:
    sessions = admin_app.state.database.sessions
    async with sessions() as session:
        await record_change(
            session,
            actor="apikey:abc",
            action="cache_policy.update",
            target="cache_policy:/api/v1/rooms",
            before={"ttl": 60},
            after={"ttl": 120, "at": dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)},
            address="203.0.113.5",
        )
        await session.rollback()
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AuditLog)) == 0

        await record_change(
            session,
            actor="cli:ops",
            action="scaling.manual",
            target="scaling:api",
            before=None,
            after={"instances": 3},
        )
        await session.commit()

    [entry] = (await api.get(AUDIT)).json()["data"]
    assert entry["actor"] == "cli:ops"
    assert entry["action"] == "scaling.manual"
    assert entry["target"] == "scaling:api"
    assert entry["before"] is None
    assert entry["after"] == {"instances": 3}
    assert entry["address"] is None
    created = dt.datetime.fromisoformat(entry["created_at"])
    assert abs(created - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


async def test_values_that_are_not_json_are_stored_as_json(admin_app: FastAPI) -> None:
    async with admin_app.state.database.sessions() as session:
        await record_change(
            session,
            actor="a" * 300,
            action="x.y",
            target="t",
            after={"when": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "tags": ("a", "b")},
        )
        await session.commit()
        row = (
            (await session.execute(select(AuditLog).where(AuditLog.action == "x.y")))
            .scalars()
            .one()
        )
    assert row.after == {"when": "2026-01-02T03:04:05Z", "tags": ["a", "b"]}
    assert row.actor == "a" * 100


async def _entries(admin_app: FastAPI) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    rows = [
        ("cli:ann", "apikey.create", "apikey:1", now - dt.timedelta(days=3)),
        ("cli:ann", "apikey.revoke", "apikey:1", now - dt.timedelta(hours=5)),
        ("apikey:9", "cache_policy.update", "cache_policy:/a", now - dt.timedelta(minutes=30)),
        ("apikey:9", "cache_policy.update", "cache_policy:/b", now - dt.timedelta(minutes=20)),
        ("apikey:9", "scaling.manual", "scaling:api", now - dt.timedelta(minutes=10)),
    ]
    async with admin_app.state.database.sessions() as session:
        for actor, action, target, moment in rows:
            await record_change(session, actor=actor, action=action, target=target)
            # The moment of a past change, set afterwards (record_change stamps "now").
            await session.execute(
                update(AuditLog)
                .where(AuditLog.target == target, AuditLog.action == action)
                .values(created_at=moment)
            )
        await session.commit()


async def test_filters_and_newest_first(admin_app: FastAPI, api: httpx.AsyncClient) -> None:
    await _entries(admin_app)

    async def targets(**params: str) -> list[str]:
        answer = await api.get(AUDIT, params=params)
        assert answer.status_code == 200, answer.text
        return [entry["target"] for entry in answer.json()["data"]]

    assert await targets() == [
        "scaling:api", "cache_policy:/b", "cache_policy:/a", "apikey:1", "apikey:1",
    ]  # fmt: skip
    assert await targets(actor="cli:ann") == ["apikey:1", "apikey:1"]
    assert await targets(action="cache_policy.update") == ["cache_policy:/b", "cache_policy:/a"]
    assert await targets(target="scaling:api") == ["scaling:api"]
    assert await targets(period="1h") == ["scaling:api", "cache_policy:/b", "cache_policy:/a"]
    assert len(await targets(period="24h")) == 4
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=25)).isoformat()
    until = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=15)).isoformat()
    assert await targets(since=since, until=until) == ["cache_policy:/b"]
    assert await targets(actor="apikey:9", action="scaling.manual") == ["scaling:api"]
    assert await targets(actor="nobody") == []


async def test_pages_carry_links_and_totals(admin_app: FastAPI, api: httpx.AsyncClient) -> None:
    await _entries(admin_app)
    first = (await api.get(AUDIT, params={"limit": 2})).json()
    assert first["meta"] == {"limit": 2, "offset": 0, "count": 2, "total": 5}
    assert first["links"]["prev"] is None
    second = (await api.get(first["links"]["next"])).json()
    assert second["meta"]["offset"] == 2
    last = (await api.get(second["links"]["next"])).json()
    assert last["meta"]["count"] == 1 and last["links"]["next"] is None
    seen = [e["id"] for page in (first, second, last) for e in page["data"]]
    assert len(set(seen)) == 5


@pytest.mark.parametrize(
    ("params", "status", "parameter"),
    [
        ({"page": "2"}, 400, "page"),
        ({"period": "2h"}, 400, "period"),
        ({"since": "yesterday"}, 400, "since"),
        ({"until": "2026-13-01"}, 400, "until"),
        ({"since": "2026-11-27T12:00:00Z", "until": "2026-11-27T11:00:00Z"}, 400, "until"),
        ({"period": "1h", "since": "2026-11-27T12:00:00Z"}, 400, None),
        ({"limit": "0"}, 422, None),
        ({"offset": "-1"}, 422, None),
    ],
)
async def test_bad_input_is_a_problem(
    api: httpx.AsyncClient, params: dict[str, str], status: int, parameter: str | None
) -> None:
    answer = await api.get(AUDIT, params=params)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    if parameter is not None:
        assert answer.json()["parameter"] == parameter


async def test_access_is_decided_before_the_parameters(
    api: httpx.AsyncClient, role_keys: dict[Role, str]
) -> None:
    viewer = key_headers(role_keys["viewer"])
    assert (await api.get(AUDIT, params={"bogus": "1"}, headers=viewer)).status_code == 403
    assert (
        await api.get(AUDIT, params={"limit": "0"}, headers={"Authorization": ""})
    ).status_code == 401


def test_the_actor_of_a_request_is_whom_the_authorizer_let_in() -> None:
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": [], "state": {}})
    assert request_actor(request) == "unknown"
    grant(request, "apikey:0123456789ab", "operator")
    assert request_actor(request) == "apikey:0123456789ab"
