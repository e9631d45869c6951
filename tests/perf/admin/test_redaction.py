"""Sensitive fields (user and client ids, query texts and plans) are for admins only."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, insert
from starlette.requests import Request

from banrimkwae.perf.access import Role, grant
from banrimkwae.perf.admin.redaction import REDACTED, payload_for_caller, redact, redact_model
from banrimkwae.perf.admin.schemas import QueryPlan, QueryStats
from banrimkwae.perf.storage import DatabaseQueryPerformance, QueryFingerprintRollup
from tests.conftest import staff_headers
from tests.perf.admin.conftest import key_headers

BASE = "/api/admin/performance"
TEXT = "SELECT * FROM guests WHERE email = ?"


def test_sensitive_fields_are_hidden_at_any_depth() -> None:
    payload = {
        "user_id": 42,
        "client_id": None,
        "series": [{"client_address": "203.0.113.9", "count": 3}],
        "query": {"normalized_text": TEXT, "plan": {"index_usage": []}, "tables": ["guests"]},
        "endpoint": "/api/v1/guests/{guest_id}",
    }
    assert redact(payload) == {
        "user_id": None,
        "client_id": None,
        "series": [{"client_address": REDACTED, "count": 3}],
        "query": {"normalized_text": REDACTED, "plan": None, "tables": ["guests"]},
        "endpoint": "/api/v1/guests/{guest_id}",
    }
    assert payload["query"]["normalized_text"] == TEXT  # the input is left alone


def test_a_redacted_model_still_validates() -> None:
    stats = QueryStats(
        query_hash="h", query_type="SELECT", normalized_text=TEXT, tables=["guests"], count=1,
        total_time_ms=1.0, avg_ms=1.0, max_ms=1.0, avg_rows=1.0, n_plus_one=False,
        n_plus_one_requests=0, endpoints=[], n_plus_one_endpoints=[],
        plan=QueryPlan(index_usage=[{"table": "guests", "index": None}], captured_at=None),
    )  # fmt: skip
    hidden = redact_model(stats)
    assert (hidden.normalized_text, hidden.plan) == (REDACTED, None)
    assert hidden.query_hash == "h" and hidden.tables == ["guests"]


@pytest.fixture
async def with_queries(admin_app: FastAPI) -> AsyncIterator[FastAPI]:
    now = time.time()
    minute = dt.datetime.fromtimestamp(now - now % 60 - 120, dt.UTC)
    sessions = admin_app.state.database.sessions
    async with sessions() as session:
        await session.execute(delete(QueryFingerprintRollup))
        await session.execute(delete(DatabaseQueryPerformance))
        await session.execute(
            insert(QueryFingerprintRollup),
            [
                {
                    "bucket_start": minute, "bucket_seconds": 60, "query_hash": "fp-guests",
                    "endpoint_path": "/api/v1/guests/me", "query_type": "SELECT",
                    "table_names": ["guests"], "normalized_text": TEXT, "execution_count": 30,
                    "total_time_ms": 900.0, "max_time_ms": 80.0, "total_rows": 30,
                    "n_plus_one_requests": 0, "worker": "host:1",
                }
            ],
        )  # fmt: skip
        await session.execute(
            insert(DatabaseQueryPerformance),
            [
                {
                    "query_hash": "fp-guests", "query_type": "SELECT", "table_names": ["guests"],
                    "execution_time_ms": 80, "query_text": TEXT, "execution_plan": None,
                    "index_usage": [{"table": "guests", "index": None}],
                    "executed_at": minute, "endpoint_path": "/api/v1/guests/me",
                }
            ],
        )  # fmt: skip
        await session.commit()
    yield admin_app


async def _get(app: FastAPI, path: str, headers: dict[str, str]) -> Any:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        answer = await client.get(path, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer


@pytest.mark.parametrize("role", ["viewer", "operator", "staff"])
async def test_below_admin_query_texts_and_plans_are_redacted(
    with_queries: FastAPI, role_keys: dict[Role, str], role: str
) -> None:
    headers = staff_headers() if role == "staff" else key_headers(role_keys[role])  # type: ignore[index]
    report = (await _get(with_queries, f"{BASE}/report?period=1h", headers)).json()
    [slow] = report["database_performance"]["slow_queries"]
    assert (slow["query_hash"], slow["count"]) == ("fp-guests", 30)
    assert (slow["normalized_text"], slow["plan"]) == (REDACTED, None)

    page = (await _get(with_queries, f"{BASE}/queries?period=1h", headers)).json()
    [query] = page["data"]
    assert (query["normalized_text"], query["plan"]) == (REDACTED, None)
    assert query["tables"] == ["guests"]
    assert TEXT not in json.dumps(report) + json.dumps(page)


async def test_an_admin_sees_query_texts_and_plans(
    with_queries: FastAPI, role_keys: dict[Role, str]
) -> None:
    headers = key_headers(role_keys["admin"])
    [query] = (await _get(with_queries, f"{BASE}/queries?period=1h", headers)).json()["data"]
    assert query["normalized_text"] == TEXT
    assert query["plan"]["index_usage"] == [{"table": "guests", "index": None}]
    report = (await _get(with_queries, f"{BASE}/report?period=1h", headers)).json()
    assert report["database_performance"]["slow_queries"][0]["normalized_text"] == TEXT


def _request(role: Role | None) -> Request:
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": [], "state": {}})
    if role is not None:
        grant(request, "test", role)
    return request


@pytest.mark.parametrize(("role", "hidden"), [(None, True), ("viewer", True),
                                               ("operator", True), ("admin", False)])  # fmt: skip
def test_payloads_such_as_live_events_are_redacted_by_the_granted_role(
    role: Role | None, hidden: bool
) -> None:
    payload = {"worker": "w", "series": [{"t": 1, "user_id": 5}]}
    shown = payload_for_caller(_request(role), payload)
    assert shown["series"][0]["user_id"] == (None if hidden else 5)
