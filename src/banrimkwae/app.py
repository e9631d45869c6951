"""The ASGI application: the resort API, wrapped by the performance platform when it is on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import ASGIApp

from banrimkwae import __version__
from banrimkwae.config import Settings, load_settings
from banrimkwae.perf.access import Authorizer, Role
from banrimkwae.perf.config import MonitoringConfig
from banrimkwae.perf.db import Database
from banrimkwae.perf.platform import Platform
from banrimkwae.perf.problems import Problem, install_problem_handlers, problem_responses
from banrimkwae.resort.deps import authorize_staff
from banrimkwae.resort.router import router as resort_router


def monitoring_config(settings: Settings) -> MonitoringConfig:
    return MonitoringConfig(
        flush_interval=settings.metrics_flush_interval,
        buffer_size=settings.metrics_buffer_size,
        sample_rate=settings.metrics_sample_rate,
        slow_request_ms=settings.slow_request_ms,
        slow_query_ms=settings.slow_query_ms,
        n_plus_one_threshold=settings.n_plus_one_threshold,
        n_plus_one_strict=settings.n_plus_one_strict,
        resource_sample_interval=settings.resource_sample_interval,
        raw_retention_days=settings.metrics_raw_retention_days,
        rollup_retention_days=settings.metrics_rollup_retention_days,
        metrics_public=settings.metrics_public,
    )


def create_fastapi_app(settings: Settings, *, with_platform: bool | None = None) -> FastAPI:
    """The resort API; with the platform on, its routes, instrumentation and background work.

    The platform object is `app.state.platform` (None when off); `create_app` wraps it around
    this app from the outside.
    """
    enabled = settings.platform_enabled if with_platform is None else with_platform
    # The engine connects lazily, so creating it here costs nothing and every way of running
    # the app (uvicorn, test clients with or without lifespan) finds it; the lifespan disposes.
    database = Database(settings.database_url, echo=settings.database_echo)
    platform: Platform | None = None
    if enabled:
        platform = Platform(monitoring_config(settings), database, _authorize(settings))
        platform.instrument(database.engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if platform is not None:
            await platform.start()
        try:
            yield
        finally:
            if platform is not None:
                await platform.stop()
            await database.dispose()

    app = FastAPI(
        title="Banrimkwae Resort Management API",
        version=__version__,
        lifespan=lifespan,
        # Any route may meet a busy or unreachable database: 503 with Retry-After.
        responses=problem_responses(503),
    )
    app.state.settings = settings
    app.state.database = database
    app.state.platform = platform
    install_problem_handlers(app)
    app.include_router(resort_router)
    if platform is not None:
        app.include_router(platform.router)
    _declare_problem_schema(app)
    return app


def _authorize(settings: Settings) -> Authorizer:
    async def authorize(request: Request, role: Role) -> None:
        # Until API keys with roles exist, the platform's endpoints need a staff token.
        await authorize_staff(request, settings)

    return authorize


def _declare_problem_schema(app: FastAPI) -> None:
    # Routes reference #/components/schemas/Problem for problem+json bodies; make sure it exists.
    original = app.openapi

    def openapi() -> dict[str, object]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault("Problem", Problem.model_json_schema())
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None) -> ASGIApp:
    """The app as served: the platform wraps the FastAPI app from the outside when enabled.

    With `platform_enabled` off the same resort API runs "naive": the baseline of every
    benchmark. The platform's middlewares (metrics now; cache and compression later) wrap
    here, outermost first, as the design brief lays out.
    """
    settings = settings or load_settings()
    app = create_fastapi_app(settings)
    platform: Platform | None = app.state.platform
    return platform.wrap(app) if platform is not None else app
