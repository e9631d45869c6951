"""Fixtures of the admin API's tests: API keys of every role on the module's database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI

from banrimkwae.app import create_fastapi_app
from banrimkwae.perf.access import ROLES, Role
from banrimkwae.perf.admin.keys import create_key, revoke_key
from banrimkwae.perf.db import create_engine_for_url
from tests.conftest import make_settings


async def make_key(url: str, role: Role, *, actor: str = "test:fixture") -> str:
    """A new key of `role`, created the way the CLI creates one."""
    engine = create_engine_for_url(url)
    try:
        async with engine.begin() as connection:
            return (await create_key(connection, role=role, name="test", actor=actor)).key
    finally:
        await engine.dispose()


async def make_revoked_key(url: str) -> str:
    key = await make_key(url, "admin")
    engine = create_engine_for_url(url)
    try:
        async with engine.begin() as connection:
            await revoke_key(connection, key.split("_")[1], actor="test:fixture")
    finally:
        await engine.dispose()
    return key


def key_headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
async def role_keys(module_database_url: str) -> dict[Role, str]:
    """One key per role on the module's database."""
    return {role: await make_key(module_database_url, role) for role in ROLES}


@pytest.fixture(scope="module")
async def admin_app(module_database_url: str) -> AsyncIterator[FastAPI]:
    """The app on the module's database, without its lifespan (no background writers)."""
    app = create_fastapi_app(make_settings(module_database_url))
    yield app
    await app.state.database.dispose()
