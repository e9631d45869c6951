"""Who may call the platform's endpoints: API keys by role, 401/403/429, staff tokens, /metrics.

The app runs on the module's own database of every dialect, without its lifespan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import cast

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from banrimkwae.app import create_fastapi_app
from banrimkwae.perf.access import Role
from banrimkwae.perf.admin.auth import ApiKeyAuthorizer
from banrimkwae.perf.admin.keys import key_id_of
from banrimkwae.perf.admin.ratelimit import FailureLimiter
from banrimkwae.perf.storage import ApiKey
from tests.conftest import guest_headers, make_settings, staff_headers
from tests.perf.admin.conftest import key_headers, make_revoked_key

REPORT = "/api/admin/performance/report"
AUDIT = "/api/admin/audit"


def _authorizer(app: FastAPI) -> ApiKeyAuthorizer:
    return cast(ApiKeyAuthorizer, app.state.platform.authorize)


def _client(app: FastAPI, address: str = "192.0.2.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def api(admin_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # A fresh limiter per test: failures of one test do not block the next.
    _authorizer(admin_app).limiter = FailureLimiter()
    async with _client(admin_app) as client:
        yield client


async def test_a_key_is_accepted_as_bearer_and_as_x_api_key(
    api: httpx.AsyncClient, role_keys: dict[Role, str]
) -> None:
    key = role_keys["viewer"]
    assert (await api.get(REPORT, headers=key_headers(key))).status_code == 200
    assert (await api.get(REPORT, headers={"X-API-Key": key})).status_code == 200


async def test_no_credential_is_401_with_a_challenge(api: httpx.AsyncClient) -> None:
    answer = await api.get(REPORT)
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["www-authenticate"].startswith("Bearer ")
    assert "invalid_token" not in answer.headers["www-authenticate"]
    assert answer.json()["status"] == 401


@pytest.mark.parametrize(
    "credential",
    [
        "bkw_0123456789ab_not-a-real-secret",
        "bkw_garbage",
        "not-a-key-nor-a-token",
    ],
)
async def test_a_wrong_credential_is_401_invalid_token(
    api: httpx.AsyncClient, credential: str
) -> None:
    for headers in (key_headers(credential), {"X-API-Key": credential}):
        answer = await api.get(REPORT, headers=headers)
        assert answer.status_code == 401
        assert 'error="invalid_token"' in answer.headers["www-authenticate"]
        assert answer.headers["content-type"] == "application/problem+json"


async def test_a_revoked_key_is_401(api: httpx.AsyncClient, module_database_url: str) -> None:
    key = await make_revoked_key(module_database_url)
    assert (await api.get(REPORT, headers=key_headers(key))).status_code == 401


async def test_a_wrong_key_of_a_real_key_id_is_401(
    api: httpx.AsyncClient, role_keys: dict[Role, str]
) -> None:
    real = role_keys["admin"]
    forged = real[: real.rindex("_") + 1] + "x" * 43
    assert (await api.get(REPORT, headers=key_headers(forged))).status_code == 401


async def test_a_role_too_low_is_403_naming_the_role(
    api: httpx.AsyncClient, role_keys: dict[Role, str]
) -> None:
    for role in ("viewer", "operator"):
        answer = await api.get(AUDIT, headers=key_headers(role_keys[role]))
        assert answer.status_code == 403
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["required_role"] == "admin"
    assert (await api.get(AUDIT, headers=key_headers(role_keys["admin"]))).status_code == 200


async def test_staff_tokens_count_as_viewer_and_guest_tokens_as_nobody(
    api: httpx.AsyncClient,
) -> None:
    assert (await api.get(REPORT, headers=staff_headers())).status_code == 200
    assert (await api.get(AUDIT, headers=staff_headers())).status_code == 403
    assert (await api.get(REPORT, headers=guest_headers(7))).status_code == 403


async def test_staff_tokens_can_be_turned_off(module_database_url: str) -> None:
    app = create_fastapi_app(make_settings(module_database_url, staff_token_platform_role="none"))
    try:
        async with _client(app) as client:
            assert (await client.get(REPORT, headers=staff_headers())).status_code == 403
    finally:
        await app.state.database.dispose()


async def test_failed_attempts_are_limited_per_address(
    admin_app: FastAPI, role_keys: dict[Role, str]
) -> None:
    _authorizer(admin_app).limiter = FailureLimiter(capacity=3, refill_seconds=60)
    wrong = key_headers("bkw_0123456789ab_wrong")
    async with _client(admin_app, "198.51.100.7") as attacker, _client(admin_app) as other:
        for _ in range(3):
            assert (await attacker.get(REPORT, headers=wrong)).status_code == 401
        blocked = await attacker.get(REPORT, headers=wrong)
        assert blocked.status_code == 429
        assert blocked.headers["content-type"] == "application/problem+json"
        assert 1 <= int(blocked.headers["retry-after"]) <= 60
        # While blocked even a valid key is refused: no attempt from there is looked at.
        valid = key_headers(role_keys["admin"])
        assert (await attacker.get(REPORT, headers=valid)).status_code == 429
        # Other addresses are not affected, and successes and 403s spend nothing.
        for _ in range(5):
            assert (await other.get(REPORT, headers=valid)).status_code == 200
            viewer = key_headers(role_keys["viewer"])
            assert (await other.get(AUDIT, headers=viewer)).status_code == 403
        # Requests without any credential are not guesses either.
        for _ in range(5):
            assert (await other.get(REPORT)).status_code == 401
        assert (await other.get(REPORT, headers=valid)).status_code == 200


def test_the_bucket_refills_one_attempt_per_interval() -> None:
    now = [1000.0]
    limiter = FailureLimiter(capacity=2, refill_seconds=10, clock=lambda: now[0])
    assert limiter.retry_after("a") is None
    limiter.record_failure("a")
    limiter.record_failure("a")
    assert limiter.retry_after("a") == 10
    now[0] += 4
    assert limiter.retry_after("a") == 6
    now[0] += 6
    assert limiter.retry_after("a") is None
    limiter.record_failure("a")
    assert limiter.retry_after("a") == 10
    assert limiter.retry_after("b") is None


def test_the_limiter_forgets_addresses_before_it_grows_past_its_bound() -> None:
    now = [0.0]
    limiter = FailureLimiter(capacity=1, refill_seconds=10, max_addresses=3, clock=lambda: now[0])
    for address in ("a", "b", "c"):
        limiter.record_failure(address)
        now[0] += 1
    limiter.record_failure("d")  # the bound is reached: the longest untouched goes
    assert limiter.retry_after("a") is None
    assert all(limiter.retry_after(address) is not None for address in ("b", "c", "d"))


async def test_last_use_is_recorded_but_not_on_every_request(
    api: httpx.AsyncClient, admin_app: FastAPI, module_database_url: str
) -> None:
    from tests.perf.admin.conftest import make_key

    key = await make_key(module_database_url, "viewer")
    key_id = key_id_of(key)

    async def last_used() -> dt.datetime | None:
        async with admin_app.state.database.sessions() as session:
            value: dt.datetime | None = await session.scalar(
                select(ApiKey.last_used_at).where(ApiKey.key_id == key_id)
            )
            return value

    assert await last_used() is None
    assert (await api.get(REPORT, headers=key_headers(key))).status_code == 200
    first = await last_used()
    assert first is not None
    for _ in range(3):
        assert (await api.get(REPORT, headers=key_headers(key))).status_code == 200
    assert await last_used() == first


@pytest.mark.parametrize("public", [False, True])
async def test_metrics_needs_a_viewer_unless_public(
    module_database_url: str, role_keys: dict[Role, str], public: bool
) -> None:
    app = create_fastapi_app(make_settings(module_database_url, metrics_public=public))
    try:
        async with _client(app) as client:
            anonymous = await client.get("/metrics")
            assert anonymous.status_code == (200 if public else 401)
            keyed = await client.get("/metrics", headers=key_headers(role_keys["viewer"]))
            assert keyed.status_code == 200
    finally:
        await app.state.database.dispose()
