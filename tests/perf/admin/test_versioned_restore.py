"""Restoring a configuration version: through the API and `banrimkwae config restore`, audited.

Both go through one restore (perf.admin.versioned.restore_item): the same new version, the
same audit action, only the actor differs ("apikey:<id>" or "cli:<user>").
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select

from banrimkwae.perf.access import Role
from banrimkwae.perf.storage import ApiCacheConfig, AuditLog, AutoScalingConfig, ConfigVersion
from tests.perf.admin.conftest import key_headers

BANRIMKWAE = str(Path(sys.executable).with_name("banrimkwae"))
POLICIES = "/api/admin/cache/policies"
CONFIGS = "/api/admin/scaling/configs"


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
        await session.execute(
            delete(AutoScalingConfig).where(AutoScalingConfig.service_name.like("test-%"))
        )
        await session.commit()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=admin_app),
        base_url="http://testserver",
        headers=key_headers(role_keys["operator"]),
    ) as client:
        yield client


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "BANRIMKWAE_DATABASE_URL": url}
    return subprocess.run(
        [BANRIMKWAE, "config", *args], capture_output=True, text=True, env=env, timeout=120
    )


async def _audit(app: FastAPI) -> list[dict[str, Any]]:
    async with app.state.database.sessions() as session:
        rows = await session.execute(select(AuditLog.__table__).order_by(AuditLog.id))
        return [dict(row) for row in rows.mappings()]


async def test_the_cli_restores_a_policy_version_with_an_audit_row(
    admin_app: FastAPI, operator: httpx.AsyncClient, module_database_url: str
) -> None:
    created = await operator.post(
        POLICIES, json={"endpoint_pattern": "/test/restore", "cache_ttl_seconds": 60}
    )
    policy_id = created.json()["id"]
    await operator.patch(f"{POLICIES}/{policy_id}", json={"cache_ttl_seconds": 600})

    listed = _cli(module_database_url, "versions", "cache-policy", str(policy_id))
    assert listed.returncode == 0, listed.stderr
    assert "cache_ttl_seconds=600" in listed.stdout
    assert "cache_ttl_seconds=60," in listed.stdout

    done = _cli(module_database_url, "restore", "cache-policy", str(policy_id), "1")
    assert done.returncode == 0, done.stderr
    assert "now version 3" in done.stdout

    policy = (await operator.get(f"{POLICIES}/{policy_id}")).json()
    assert (policy["cache_ttl_seconds"], policy["version"]) == (60, 3)
    restore = (await _audit(admin_app))[-1]
    assert restore["action"] == "cache_policy.restore"
    assert restore["actor"].startswith("cli:")
    assert restore["target"] == f"cache_policy:{policy_id}"
    assert restore["before"]["cache_ttl_seconds"] == 600
    assert restore["after"]["restored_version"] == 1
    versions = (await operator.get(f"{POLICIES}/{policy_id}/versions")).json()["data"]
    assert versions[0]["actor"] == restore["actor"]


async def test_the_cli_restores_a_scaling_configuration(
    operator: httpx.AsyncClient, module_database_url: str
) -> None:
    created = await operator.post(CONFIGS, json={"service_name": "test-api", "max_instances": 4})
    config_id = created.json()["id"]
    await operator.patch(f"{CONFIGS}/{config_id}", json={"max_instances": 8})

    done = _cli(module_database_url, "restore", "scaling-config", str(config_id), "1")

    assert done.returncode == 0, done.stderr
    config = (await operator.get(f"{CONFIGS}/{config_id}")).json()
    assert (config["max_instances"], config["version"]) == (4, 3)


async def test_an_unknown_version_is_a_404_problem_and_a_one_line_cli_failure(
    admin_app: FastAPI, operator: httpx.AsyncClient, module_database_url: str
) -> None:
    created = await operator.post(POLICIES, json={"endpoint_pattern": "/test/unknown"})
    policy_id = created.json()["id"]
    audit_before = len(await _audit(admin_app))

    answer = await operator.post(f"{POLICIES}/{policy_id}/versions/99/restore")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == f"version 99 of cache policy {policy_id} does not exist"

    done = _cli(module_database_url, "restore", "cache-policy", str(policy_id), "99")
    assert done.returncode != 0
    assert done.stderr.strip() == (f"error: version 99 of cache policy {policy_id} does not exist")
    missing = _cli(module_database_url, "versions", "scaling-config", "999999")
    assert missing.returncode != 0
    assert missing.stderr.strip() == "error: scaling configuration 999999 does not exist"
    wrong_kind = _cli(module_database_url, "restore", "policy", str(policy_id), "1")
    assert wrong_kind.returncode == 2
    assert len(await _audit(admin_app)) == audit_before
