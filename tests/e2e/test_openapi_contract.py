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
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from banrimkwae import migrate
from banrimkwae.resort.auth import issue_token
from banrimkwae.seed import seed_database
from tests.conftest import TEST_SECRET
from tests.e2e.server import running_server

# Generated cases per operation and role: every operation still runs in all three roles.
MAX_EXAMPLES = 10
# What the contract promises: no server error, and every status, content type and body is
# the one documented. (Semantic 422s such as "check_out must be after check_in" cannot be
# written in the schema, so schema-valid-but-rejected requests are not a failure here.)
CONTRACT_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def served_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database = Path(tmp_path_factory.mktemp("contract")) / "contract.db"
    url = f"sqlite+aiosqlite:///{database}"

    async def prepare() -> None:
        await migrate.upgrade(url)
        await seed_database(url, "small", seed=7, progress=False)

    asyncio.run(prepare())
    env = {
        "BANRIMKWAE_DATABASE_URL": url,
        "BANRIMKWAE_TOKEN_SECRET": TEST_SECRET,
        "BANRIMKWAE_N_PLUS_ONE_STRICT": "true",
    }
    with running_server(env) as base_url:
        yield base_url


ROLES = {
    "anonymous": {},
    "guest": {"Authorization": f"Bearer {issue_token(TEST_SECRET, 3, 'guest', 3600)}"},
    "staff": {"Authorization": f"Bearer {issue_token(TEST_SECRET, 1, 'staff', 3600)}"},
}


@pytest.mark.slow
@pytest.mark.parametrize("role", sorted(ROLES))
def test_api_honours_its_openapi_document(served_url: str, role: str) -> None:
    schema = schemathesis.openapi.from_url(f"{served_url}/openapi.json")
    headers = ROLES[role]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def honours_contract(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CONTRACT_CHECKS)

        honours_contract()
