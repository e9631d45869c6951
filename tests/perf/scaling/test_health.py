"""Health endpoints: in the real app (platform on and off) and the readiness logic alone."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.app import create_fastapi_app
from banrimkwae.perf.db import create_engine_for_url
from banrimkwae.perf.scaling.health import HEALTH_JSON, HealthSettings, Readiness, drain_marker
from tests.conftest import make_settings

# Nothing listens on port 1: a database that refuses every connection, for real.
UNREACHABLE = "postgresql+asyncpg://postgres@127.0.0.1:1/none"


@pytest.fixture(params=[True, False], ids=["platform", "naive"])
async def http(
    request: pytest.FixtureRequest, module_database_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_fastapi_app(make_settings(module_database_url), with_platform=request.param)
    served = app.state.platform.wrap(app) if app.state.platform is not None else app
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=served)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.mark.parametrize("path", ["/health/live", "/health/ready", "/health/startup"])
async def test_probes_pass_in_health_json(http: httpx.AsyncClient, path: str) -> None:
    response = await http.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == HEALTH_JSON
    assert response.json()["status"] == "pass"
    assert response.headers["cache-control"] == "no-store"


async def test_ready_reports_its_checks(http: httpx.AsyncClient) -> None:
    checks = (await http.get("/health/ready")).json()["checks"]
    assert checks["database:responseTime"][0]["status"] == "pass"
    assert checks["eventLoop:lag"][0]["observedUnit"] == "ms"
    assert "redis:responseTime" not in checks  # no redis_url configured


async def test_draining_worker_is_not_ready(module_database_url: str, tmp_path: Path) -> None:
    os.environ["BANRIMKWAE_DRAIN_DIR"] = str(tmp_path)
    try:
        app = create_fastapi_app(make_settings(module_database_url), with_platform=False)
    finally:
        del os.environ["BANRIMKWAE_DRAIN_DIR"]
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        assert (await client.get("/health/ready")).status_code == 200
        drain_marker(tmp_path, os.getpid()).touch()
        response = await client.get("/health/ready")
        assert response.status_code == 503
        assert response.json() == response.json() | {"status": "fail", "output": "draining"}
        # Liveness is unaffected: the process is fine, it is only leaving the pool.
        assert (await client.get("/health/live")).status_code == 200


@pytest.fixture
async def unreachable() -> AsyncIterator[AsyncEngine]:
    engine = create_engine_for_url(UNREACHABLE)
    yield engine
    await engine.dispose()


async def test_readiness_flips_only_after_consecutive_failures(unreachable: AsyncEngine) -> None:
    readiness = Readiness(
        unreachable, HealthSettings(cache_seconds=0, flip_after=2, drain_dir=None)
    )
    ready, body = await readiness.check()
    assert ready  # one failing check is a warning, not yet out of the pool
    assert body["checks"]["database:responseTime"][0]["status"] == "fail"
    ready, body = await readiness.check()
    assert not ready
    assert body["output"].startswith("database:")
    assert not readiness.started


async def test_readiness_result_is_cached(engine: AsyncEngine) -> None:
    readiness = Readiness(engine, HealthSettings(cache_seconds=60, drain_dir=None))
    _, first = await readiness.check()
    _, second = await readiness.check()
    assert first is second


async def test_redis_is_checked_when_configured(engine: AsyncEngine) -> None:
    readiness = Readiness(
        engine,
        HealthSettings(cache_seconds=0, redis_url="redis://127.0.0.1:6379/0", drain_dir=None),
    )
    ready, body = await readiness.check()
    if body["checks"]["redis:responseTime"][0]["status"] != "pass":
        from tests.conftest import service_missing

        service_missing("redis at 127.0.0.1:6379")
    assert ready
    broken = Readiness(
        engine,
        HealthSettings(
            cache_seconds=0, flip_after=1, redis_url="redis://127.0.0.1:1/0", drain_dir=None
        ),
    )
    ready, body = await broken.check()
    assert not ready and "redis" in body["output"]
