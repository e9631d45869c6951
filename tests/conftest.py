"""Fixtures shared by the suite: real databases on every dialect, the app, tokens.

PostgreSQL and MariaDB are the servers already running on this machine; each test session
creates its own database on them (so concurrent runs do not collide) and drops it after.
A server that cannot be reached skips its tests locally and fails them under CI=true.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from banrimkwae import migrate
from banrimkwae.app import create_fastapi_app
from banrimkwae.config import Settings
from banrimkwae.resort.auth import issue_token

POSTGRES_ADMIN_URL = os.environ.get(
    "BANRIMKWAE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
MARIADB_ADMIN_URL = os.environ.get(
    "BANRIMKWAE_TEST_MARIADB_URL", "mysql+asyncmy://root@127.0.0.1:3306/test"
)
DIALECTS = tuple(
    name.strip()
    for name in os.environ.get("BANRIMKWAE_TEST_DIALECTS", "sqlite,postgresql,mariadb").split(",")
    if name.strip()
)
IN_CI = os.environ.get("CI", "").lower() == "true"
TEST_SECRET = "test-secret-for-banrimkwae-suite-0123456789"


def service_missing(reason: str) -> None:
    """Skip locally, fail under CI: a missing service must never pass silently there."""
    if IN_CI:
        pytest.fail(f"required service unavailable under CI: {reason}")
    pytest.skip(reason)


@dataclass
class ScratchDatabases:
    """Creates throwaway databases on the servers and drops them at the end of the session."""

    tmp_dir: str
    created: list[tuple[str, str]]

    async def create(self, dialect: str) -> str:
        name = f"bk_{uuid.uuid4().hex[:12]}"
        if dialect == "sqlite":
            return f"sqlite+aiosqlite:///{self.tmp_dir}/{name}.db"
        admin_url = POSTGRES_ADMIN_URL if dialect == "postgresql" else MARIADB_ADMIN_URL
        engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                await connection.execute(text(f"CREATE DATABASE {name}"))
        except OSError as exc:
            service_missing(f"{dialect} at {admin_url}: {exc}")
        finally:
            await engine.dispose()
        self.created.append((admin_url, name))
        return admin_url.rsplit("/", 1)[0] + f"/{name}"

    async def drop_all(self) -> None:
        for admin_url, name in self.created:
            engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
            try:
                async with engine.connect() as connection:
                    if admin_url.startswith("postgresql"):
                        await connection.execute(
                            text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                        )
                    else:
                        await connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            finally:
                await engine.dispose()


@pytest.fixture(scope="session")
async def scratch_databases(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ScratchDatabases]:
    databases = ScratchDatabases(str(tmp_path_factory.mktemp("sqlite")), [])
    yield databases
    await databases.drop_all()


@pytest.fixture(scope="session", params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
async def migrated_url(dialect: str, scratch_databases: ScratchDatabases) -> str:
    """A database of `dialect` at the head revision, empty, shared by the session."""
    url = await scratch_databases.create(dialect)
    await migrate.upgrade(url)
    return url


@pytest.fixture(scope="module")
async def module_database_url(dialect: str, scratch_databases: ScratchDatabases) -> str:
    """A migrated database of `dialect` for one test module alone: rows it reads are its own."""
    url = await scratch_databases.create(dialect)
    await migrate.upgrade(url)
    return url


def make_settings(url: str, **overrides: object) -> Settings:
    # Strict N+1 detection: a statement repeated per row fails the test that caused it.
    values: dict[str, object] = {
        "database_url": url,
        "token_secret": TEST_SECRET,
        "n_plus_one_strict": True,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def settings(migrated_url: str) -> Settings:
    return make_settings(migrated_url)


@pytest.fixture(scope="session")
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the real app (lifespan included) over ASGI."""
    app = create_fastapi_app(settings)
    # Served as in production: the platform (when on) wraps the app from the outside.
    served = app.state.platform.wrap(app) if app.state.platform is not None else app
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=served)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


# Session-scoped fixtures hold these tokens for the whole run: they must outlive it.
TEST_TOKEN_TTL_SECONDS = 6 * 3600


def guest_headers(guest_id: int, *, ttl_seconds: int = TEST_TOKEN_TTL_SECONDS) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(TEST_SECRET, guest_id, 'guest', ttl_seconds)}"}


def staff_headers() -> dict[str, str]:
    token = issue_token(TEST_SECRET, 1, "staff", TEST_TOKEN_TTL_SECONDS)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def staff() -> Iterator[dict[str, str]]:
    yield staff_headers()
