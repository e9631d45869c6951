"""The ASGI application: the resort API, wrapped by the performance platform when it is on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp

from banrimkwae import __version__
from banrimkwae.config import Settings, load_settings
from banrimkwae.perf.db import Database
from banrimkwae.perf.problems import Problem, install_problem_handlers
from banrimkwae.resort.router import router as resort_router


def create_fastapi_app(settings: Settings) -> FastAPI:
    """The resort API itself, with no platform around it."""

    # The engine connects lazily, so creating it here costs nothing and every way of running
    # the app (uvicorn, test clients with or without lifespan) finds it; the lifespan disposes.
    database = Database(settings.database_url, echo=settings.database_echo)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await database.dispose()

    app = FastAPI(
        title="Banrimkwae Resort Management API",
        version=__version__,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = database
    install_problem_handlers(app)
    app.include_router(resort_router)
    _declare_problem_schema(app)
    return app


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
    benchmark. The platform's middlewares (metrics, cache, compression) wrap here, outermost
    first, as the design brief lays out.
    """
    settings = settings or load_settings()
    fastapi_app = create_fastapi_app(settings)
    if not settings.platform_enabled:
        return fastapi_app
    return fastapi_app
