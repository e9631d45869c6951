"""Every route under /api/admin, found in the app itself, tried with every kind of caller.

Each route declares its role with a `RequireRole` dependency; this test reads it back, so a
route added later is covered without editing the test, and a route that declares no role
fails it. Callers: nobody, a wrong key, a revoked key, a guest token, a staff token (a viewer
by default) and a key of each role. The app runs as served, lifespan and middlewares included.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from banrimkwae.app import create_fastapi_app
from banrimkwae.perf.access import ROLES, RequireRole, Role, allows
from banrimkwae.perf.admin.auth import ApiKeyAuthorizer
from banrimkwae.perf.admin.ratelimit import FailureLimiter
from tests.conftest import guest_headers, make_settings, staff_headers
from tests.perf.admin.conftest import key_headers, make_revoked_key

PREFIX = "/api/admin"
# Query strings some routes need to answer at all (the live feed streams until told once).
QUERIES = {"/api/admin/performance/live": {"once": "true"}}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class Call:
    method: str
    template: str
    role: Role

    @property
    def path(self) -> str:
        return re.sub(r"\{[^}]+\}", "1", self.template)

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def _declared_roles(dependant: Dependant) -> list[Role]:
    found: list[Role] = []
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, RequireRole):
            found.append(dependency.call.role)
        found.extend(_declared_roles(dependency))
    return found


def admin_calls(app: FastAPI) -> list[Call]:
    calls: list[Call] = []
    # The routes as served, included routers resolved (their prefixes and dependencies).
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        if not path.startswith(PREFIX):
            continue
        assert isinstance(route.original_route, APIRoute), f"{path}: access unchecked"
        roles = _declared_roles(route.dependant)
        assert len(roles) == 1, f"{path} must declare exactly one role (RequireRole): {roles}"
        for method in sorted((route.methods or set()) - {"HEAD"}):
            calls.append(Call(method, path, roles[0]))
    return calls


@pytest.fixture(scope="module")
async def served(module_database_url: str) -> AsyncIterator[tuple[FastAPI, Any]]:
    app = create_fastapi_app(make_settings(module_database_url))
    async with app.router.lifespan_context(app):
        yield app, app.state.platform.wrap(app)
    await app.state.database.dispose()


@pytest.fixture(scope="module")
async def callers(
    module_database_url: str, role_keys: dict[Role, str]
) -> dict[str, dict[str, str]]:
    return {
        "nobody": {},
        "wrong key": key_headers("bkw_0123456789ab_" + "x" * 43),
        "revoked key": key_headers(await make_revoked_key(module_database_url)),
        "guest token": guest_headers(3),
        "staff token": staff_headers(),
        **{f"{role} key": key_headers(role_keys[role]) for role in ROLES},
    }


def _expected(caller: str, needed: Role) -> str:
    if caller in ("nobody", "wrong key", "revoked key"):
        return "401"
    if caller == "guest token":
        return "403"
    granted = cast(Role, "viewer" if caller == "staff token" else caller.removesuffix(" key"))
    return "allowed" if allows(granted, needed) else "403"


def test_the_admin_api_has_routes_of_every_kind() -> None:
    app = create_fastapi_app(make_settings("sqlite+aiosqlite:///:memory:"))
    calls = admin_calls(app)
    paths = {call.template for call in calls}
    assert {"/api/admin/audit", "/api/admin/performance/report"} <= paths
    assert {call.role for call in calls} >= {"viewer", "admin"}


async def test_every_admin_route_answers_each_caller_by_its_role(
    served: tuple[FastAPI, Any], callers: dict[str, dict[str, str]]
) -> None:
    app, asgi = served
    # Many deliberate failures from one address: keep the limiter out of this test's way.
    cast(ApiKeyAuthorizer, app.state.platform.authorize).limiter = FailureLimiter(capacity=10_000)
    transport = httpx.ASGITransport(app=asgi)
    mismatches: list[str] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for call in admin_calls(app):
            for caller, headers in callers.items():
                answer = await client.request(
                    call.method,
                    call.path,
                    params=QUERIES.get(call.template),
                    headers=headers,
                    json={} if call.method in WRITES else None,
                )
                expected = _expected(caller, call.role)
                status = answer.status_code
                if expected == "allowed":
                    # Reads without path parameters must succeed; a write with an empty body
                    # or an id that does not exist may be refused, but not for access.
                    plain_read = call.method == "GET" and "{" not in call.template
                    ok = 200 <= status < 300 if plain_read else status not in (401, 403, 429)
                    ok = ok and status < 500
                else:
                    ok = str(status) == expected
                    is_problem = answer.headers.get("content-type") == "application/problem+json"
                    ok = ok and is_problem
                if not ok:
                    mismatches.append(f"{call} as {caller}: {status}, expected {expected}")
    assert not mismatches, "\n".join(mismatches)
