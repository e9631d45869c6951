"""The platform assembled: what the host app creates once, wraps around itself and starts.

platform = Platform(config, database, authorize)
platform.instrument(database.engine)        # query tracking on the app's engine
fastapi_app.include_router(platform.router) # /metrics and /api/admin/performance/*
served = platform.wrap(fastapi_app)         # Metrics(...) outermost, from the outside
# lifespan: await platform.start() ... await platform.stop()
"""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp

from banrimkwae.perf.access import Authorizer
from banrimkwae.perf.config import MonitoringConfig
from banrimkwae.perf.db import Database
from banrimkwae.perf.metrics.aggregator import RequestAggregator


class Platform:
    def __init__(self, config: MonitoringConfig, database: Database, authorize: Authorizer) -> None:
        self.config = config
        self.database = database
        self.authorize = authorize
        self.requests = RequestAggregator(
            buffer_size=config.buffer_size,
            sample_rate=config.sample_rate,
            slow_request_ms=config.slow_request_ms,
        )
        self.router = APIRouter()

    def instrument(self, engine: AsyncEngine) -> None:
        """Track every statement `engine` runs for a request."""

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """The platform's middlewares around `app`, outermost first."""
        return app

    async def start(self) -> None:
        """Start the background work: flusher, resource sampler, plan capture."""

    async def stop(self) -> None:
        """Stop the background work and flush what is left."""
