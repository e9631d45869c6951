"""Health endpoints in `application/health+json` (draft-inadarei-api-health-check).

- /health/live: the process answers; nothing else is checked (a restart cannot fix a
  database outage, so liveness must not depend on one).
- /health/ready: the database answers `SELECT 1`, Redis answers PING when configured, the
  event loop is not overloaded (the time a just-scheduled callback waits to run), and this
  worker is not draining. The result is cached for `cache_seconds`, and the answer flips only
  after `flip_after` consecutive checks agree (hysteresis: one slow probe does not take a
  worker out of the pool, one good probe does not put a struggling one back).
- /health/startup: passes once the database has answered once; then it stays passed.

Draining: before the uvicorn orchestrator retires a worker it creates a marker file named
after the worker's pid in the drain directory (BANRIMKWAE_DRAIN_DIR); that worker's readiness
then fails with "draining" so a load balancer stops sending before the process exits.

The router is included by the app whether the platform is on or off: probes are needed by
whatever runs the app, and the routes add no middleware to the request path.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import Response

HEALTH_JSON = "application/health+json"
DRAIN_DIR_ENV = "BANRIMKWAE_DRAIN_DIR"


def drain_marker(directory: Path, pid: int) -> Path:
    return directory / f"draining-{pid}"


@dataclass
class HealthSettings:
    service_id: str = "banrimkwae"
    version: str = ""
    redis_url: str | None = None
    check_timeout: float = 1.0
    cache_seconds: float = 1.0
    flip_after: int = 2
    # The event loop is overloaded when a callback scheduled now waits longer than this.
    max_loop_lag_ms: float = 250.0
    drain_dir: Path | None = field(
        default_factory=lambda: (
            Path(os.environ[DRAIN_DIR_ENV]) if os.environ.get(DRAIN_DIR_ENV) else None
        )
    )


def _check(
    value: float | None, unit: str, status: str, kind: str, output: str = ""
) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {
        "componentType": kind,
        "observedValue": None if value is None else round(value, 3),
        "observedUnit": unit,
        "status": status,
        "time": dt.datetime.now(dt.UTC).isoformat(),
    }
    if output:
        entry["output"] = output
    return [entry]


class Readiness:
    """The cached, hysteretic readiness of this worker."""

    def __init__(self, engine: AsyncEngine, settings: HealthSettings) -> None:
        self.engine = engine
        self.settings = settings
        self.ready = True
        self._streak = 0
        self._checked_at = -float("inf")
        self._body: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        self.started = False
        self.draining = False

    def is_draining(self) -> bool:
        directory = self.settings.drain_dir
        return self.draining or (
            directory is not None and drain_marker(directory, os.getpid()).exists()
        )

    async def _timed(self, probe: Any) -> tuple[float | None, str]:
        start = time.perf_counter()
        try:
            async with asyncio.timeout(self.settings.check_timeout):
                await probe()
        except Exception as exc:  # any failure of a dependency is "not ready", with its reason
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            return None, f"{type(exc).__name__}: {first_line}"
        return (time.perf_counter() - start) * 1000.0, ""

    async def _database(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def _redis(self) -> None:
        from redis.asyncio import Redis

        client: Any = Redis.from_url(self.settings.redis_url or "")
        try:
            await client.ping()
        finally:
            await client.aclose()

    async def check(self) -> tuple[bool, dict[str, Any]]:
        """(ready, health+json body), from the cache when fresh."""
        now = time.monotonic()
        if now - self._checked_at < self.settings.cache_seconds and self._body:
            return self.ready, self._body
        async with self._lock:
            if time.monotonic() - self._checked_at < self.settings.cache_seconds and self._body:
                return self.ready, self._body
            body = await self._probe()
            self._checked_at = time.monotonic()
        return self.ready, body

    async def _probe(self) -> dict[str, Any]:
        checks: dict[str, list[dict[str, Any]]] = {}
        failures: list[str] = []
        loop = asyncio.get_running_loop()
        scheduled = loop.time()
        await asyncio.sleep(0)
        lag_ms = (loop.time() - scheduled) * 1000.0
        database_ms, error = await self._timed(self._database)
        checks["database:responseTime"] = _check(
            database_ms, "ms", "pass" if database_ms is not None else "fail", "datastore", error
        )
        if database_ms is None:
            failures.append(f"database: {error}")
        else:
            self.started = True
        if self.settings.redis_url:
            redis_ms, error = await self._timed(self._redis)
            checks["redis:responseTime"] = _check(
                redis_ms, "ms", "pass" if redis_ms is not None else "fail", "datastore", error
            )
            if redis_ms is None:
                failures.append(f"redis: {error}")
        overloaded = lag_ms > self.settings.max_loop_lag_ms
        checks["eventLoop:lag"] = _check(lag_ms, "ms", "fail" if overloaded else "pass", "system")
        if overloaded:
            failures.append(f"overloaded: event loop lag {lag_ms:.0f} ms")
        passing = not failures
        # Hysteresis: the reported state changes after `flip_after` checks that agree.
        if passing == self.ready:
            self._streak = 0
        else:
            self._streak += 1
            if self._streak >= self.settings.flip_after:
                self.ready, self._streak = passing, 0
        body: dict[str, Any] = {"checks": checks}
        if failures:
            body["output"] = "; ".join(failures)
        self._body = body
        return body


def _respond(status: str, body: dict[str, Any], settings: HealthSettings) -> Response:
    document = {
        "status": status,
        "serviceId": settings.service_id,
        "version": settings.version,
        "releaseId": settings.version,
        "pid": os.getpid(),
        **body,
    }
    code = 503 if status == "fail" else 200
    return Response(
        orjson.dumps(document),
        status_code=code,
        media_type=HEALTH_JSON,
        headers={"cache-control": "no-store"},
    )


def health_router(engine: AsyncEngine, settings: HealthSettings | None = None) -> APIRouter:
    config = settings or HealthSettings()
    readiness = Readiness(engine, config)
    router = APIRouter(prefix="/health", tags=["health"])
    router.readiness = readiness  # type: ignore[attr-defined]

    @router.get("/live", response_class=Response, summary="The process answers")
    async def live() -> Response:
        return _respond("pass", {}, config)

    @router.get("/ready", response_class=Response, summary="Ready for traffic")
    async def ready() -> Response:
        if readiness.is_draining():
            return _respond("fail", {"output": "draining"}, config)
        is_ready, body = await readiness.check()
        if is_ready and "output" in body:
            return _respond("warn", body, config)  # failing, but not for long enough yet
        return _respond("pass" if is_ready else "fail", body, config)

    @router.get("/startup", response_class=Response, summary="Started")
    async def startup() -> Response:
        if not readiness.started:
            await readiness.check()
        return _respond("pass" if readiness.started else "fail", {}, config)

    return router
