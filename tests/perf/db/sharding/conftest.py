"""A sharded deployment for the tests: a home database and two shards, each a real database.

On SQLite the three are files; on PostgreSQL and MariaDB three scratch databases on the
shared server.
Every module gets its own set, migrated (the shards as shards: see migration 0010).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from banrimkwae import migrate
from banrimkwae.app import create_fastapi_app
from banrimkwae.perf.db import Database
from banrimkwae.perf.db.sharding import ShardSet
from tests.conftest import DIALECTS, ScratchDatabases, make_settings

SHARD_DIALECTS = [name for name in ("sqlite", "postgresql", "mariadb") if name in DIALECTS]
SHARD_NAMES = ("east", "west")
# Directory entries are cached this long in the tests: a move's grace period is as short.
CACHE_SECONDS = 0.05


@dataclass
class Deployment:
    dialect: str
    home: str
    shards: dict[str, str]


@pytest.fixture(scope="module", params=SHARD_DIALECTS)
async def deployment(
    request: pytest.FixtureRequest, scratch_databases: ScratchDatabases
) -> Deployment:
    dialect = str(request.param)
    home = await scratch_databases.create(dialect)
    await migrate.upgrade(home)
    shards = {}
    for name in SHARD_NAMES:
        shards[name] = await scratch_databases.create(dialect)
        await migrate.upgrade(shards[name], shard=True)
    return Deployment(dialect, home, shards)


@pytest.fixture
async def database(deployment: Deployment) -> AsyncIterator[Database]:
    found = Database(
        deployment.home, shard_urls=deployment.shards, shard_cache_seconds=CACHE_SECONDS
    )
    try:
        yield found
    finally:
        await found.dispose()


@pytest.fixture
def shards(database: Database) -> ShardSet:
    assert database.shards is not None
    return database.shards


@pytest.fixture(scope="module")
async def sharded_client(deployment: Deployment) -> AsyncIterator[httpx.AsyncClient]:
    """The real app over the deployment (the response cache off: the tests read shards)."""
    settings = make_settings(
        deployment.home,
        database_shards=deployment.shards,
        shard_cache_seconds=CACHE_SECONDS,
        cache_enabled=False,
    )
    app = create_fastapi_app(settings)
    served = app.state.platform.wrap(app) if app.state.platform is not None else app
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=served)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            http.app_state = app.state  # type: ignore[attr-defined]
            yield http
