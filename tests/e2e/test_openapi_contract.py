"""Schemathesis against the served OpenAPI document: no server errors, nothing undocumented.

Runs the real server on a seeded SQLite database, once anonymously, once as a guest and once
as staff, so that public, guest-scoped and management operations are all exercised.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from banrimkwae import migrate
from banrimkwae.resort.auth import issue_token
from banrimkwae.seed import seed_database
from tests.conftest import TEST_SECRET
from tests.e2e.server import running_server

MAX_EXAMPLES = 20


@pytest.fixture(scope="module")
def served_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database = Path(tmp_path_factory.mktemp("contract")) / "contract.db"
    url = f"sqlite+aiosqlite:///{database}"

    async def prepare() -> None:
        await migrate.upgrade(url)
        await seed_database(url, "small", seed=7, progress=False)

    asyncio.run(prepare())
    env = {"BANRIMKWAE_DATABASE_URL": url, "BANRIMKWAE_TOKEN_SECRET": TEST_SECRET}
    with running_server(env) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def api_schema(served_url: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{served_url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")

ROLES = {
    "anonymous": {},
    "guest": {"Authorization": f"Bearer {issue_token(TEST_SECRET, 3, 'guest', 3600)}"},
    "staff": {"Authorization": f"Bearer {issue_token(TEST_SECRET, 1, 'staff', 3600)}"},
}


@pytest.mark.slow
@pytest.mark.parametrize("role", sorted(ROLES))
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_honours_its_openapi_document(case: schemathesis.Case, role: str) -> None:
    case.call_and_validate(headers=ROLES[role])
