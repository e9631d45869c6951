"""The ASGI application: the resort API, wrapped by the performance platform when it is on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp

from banrimkwae import __version__
from banrimkwae.config import Settings, load_settings
from banrimkwae.perf.access import Authorizer
from banrimkwae.perf.admin.auth import ApiKeyAuthorizer, Principal, TokenCheck
from banrimkwae.perf.balancing import HealthPolicy
from banrimkwae.perf.config import AlertConfig, CacheConfig, MonitoringConfig
from banrimkwae.perf.db import Database, PoolSettings, ReplicaConfig
from banrimkwae.perf.platform import Platform
from banrimkwae.perf.problems import Problem, install_problem_handlers, problem_responses
from banrimkwae.perf.scaling.health import HealthSettings, health_router
from banrimkwae.resort.auth import TokenError, decode_token
from banrimkwae.resort.cache_identity import bearer_identity
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
        compression_enabled=settings.compression_enabled,
        compression_min_size=settings.compression_min_size,
        recommendation_verify_seconds=settings.recommendation_verify_seconds,
        recommendation_tolerance=settings.recommendation_tolerance,
        recommendation_verify_interval=settings.recommendation_verify_interval,
    )


def cache_config(settings: Settings) -> CacheConfig:
    return CacheConfig(
        enabled=settings.cache_enabled,
        redis_url=settings.redis_url,
        l1_max_bytes=settings.cache_l1_max_bytes,
        tag_file=settings.cache_tag_file,
    )


def alert_config(settings: Settings) -> AlertConfig:
    return AlertConfig(
        evaluation_interval=settings.alert_evaluation_interval,
        webhooks=tuple(settings.alert_webhooks),
        webhook_attempts=settings.alert_webhook_attempts,
        webhook_backoff=settings.alert_webhook_backoff,
        webhook_timeout=settings.alert_webhook_timeout,
    )


def database_from_settings(settings: Settings) -> Database:
    """The primary engine, its pool settings and its read replicas (if any)."""
    pool = PoolSettings(
        size=settings.database_pool_size,
        max_overflow=settings.database_pool_max_overflow,
        timeout=settings.database_pool_timeout,
        recycle=settings.database_pool_recycle,
        pre_ping=settings.database_pool_pre_ping,
        use_lifo=settings.database_pool_use_lifo,
    )
    replicas = ReplicaConfig(
        algorithm=settings.replica_algorithm,
        weights=tuple(settings.replica_weights),
        max_lag_seconds=settings.replica_max_lag_seconds,
        check_interval=settings.replica_check_interval,
        read_your_writes_seconds=settings.replica_read_your_writes_seconds,
        health=HealthPolicy(panic_threshold=settings.replica_panic_threshold),
    )
    return Database(
        settings.database_url,
        echo=settings.database_echo,
        pool=pool,
        replica_urls=settings.database_replica_urls,
        replicas=replicas,
        shard_urls=settings.database_shards,
        shard_cache_seconds=settings.shard_cache_seconds,
    )


def create_fastapi_app(settings: Settings, *, with_platform: bool | None = None) -> FastAPI:
    """The resort API; with the platform on, its routes, instrumentation and background work.

    The platform object is `app.state.platform` (None when off); `create_app` wraps it around
    this app from the outside.
    """
    enabled = settings.platform_enabled if with_platform is None else with_platform
    # The engine connects lazily, so creating it here costs nothing and every way of running
    # the app (uvicorn, test clients with or without lifespan) finds it; the lifespan disposes.
    database = database_from_settings(settings)
    platform: Platform | None = None
    if enabled:
        platform = Platform(
            monitoring_config(settings),
            database,
            _authorize(settings, database),
            cache=cache_config(settings),
            identify=bearer_identity(settings),
            alerts=alert_config(settings),
        )
        for engine in database.pools.values():  # the primary and each read replica
            platform.instrument(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await database.start()
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
    # Health probes with the platform on or off: whatever runs the app needs them.
    app.include_router(
        health_router(
            database.engine, HealthSettings(version=__version__, redis_url=settings.redis_url)
        )
    )
    if platform is not None:
        app.include_router(platform.router)
    _declare_problem_schema(app)
    return app


def _authorize(settings: Settings, database: Database) -> Authorizer:
    """API keys by role; a staff bearer token counts as `staff_token_platform_role`."""
    return ApiKeyAuthorizer(database.engine, other_tokens=_resort_tokens(settings))


def _resort_tokens(settings: Settings) -> TokenCheck:
    def check(token: str) -> Principal | None:
        try:
            identity = decode_token(token, settings.resolved_token_secret())
        except TokenError:
            return None
        # A valid token of the resort: known, so a missing role is a 403, not a 401.
        role = settings.staff_token_platform_role
        if identity.role == "staff" and role != "none":
            return Principal(f"staff:{identity.subject}", role)
        return Principal(f"{identity.role}:{identity.subject}", None)

    return check


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
