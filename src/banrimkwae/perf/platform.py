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
from banrimkwae.perf.admin.audit_router import audit_router
from banrimkwae.perf.admin.cache_admin import announce_policies, cache_admin_router
from banrimkwae.perf.admin.router import performance_router
from banrimkwae.perf.admin.scaling_admin import scaling_admin_router
from banrimkwae.perf.admin.scaling_status import scaling_status_router
from banrimkwae.perf.alerts import AlertEvaluator, WebhookSender, alerts_router
from banrimkwae.perf.cache.middleware import Identify
from banrimkwae.perf.cache.response_cache import ResponseCache
from banrimkwae.perf.config import AlertConfig, CacheConfig, MonitoringConfig
from banrimkwae.perf.dashboard import dashboard_router
from banrimkwae.perf.db import Database
from banrimkwae.perf.db.replicas_router import database_router
from banrimkwae.perf.metrics.aggregator import RequestAggregator
from banrimkwae.perf.metrics.middleware import MetricsMiddleware
from banrimkwae.perf.metrics.prometheus import PrometheusExporter, metrics_router, multiprocess_dir
from banrimkwae.perf.metrics.resources import ResourceSampler
from banrimkwae.perf.metrics.store import MetricsFlusher, MetricsStore
from banrimkwae.perf.queries import QueryTracker
from banrimkwae.perf.recommend import recommendations_router
from banrimkwae.perf.recommend.timer import RecommendationTimer
from banrimkwae.perf.recommend.verification import RecommendationVerifier
from banrimkwae.perf.responses.compression import CompressionMiddleware


class Platform:
    def __init__(
        self,
        config: MonitoringConfig,
        database: Database,
        authorize: Authorizer,
        *,
        cache: CacheConfig | None = None,
        identify: Identify | None = None,
        alerts: AlertConfig | None = None,
    ) -> None:
        self.config = config
        self.database = database
        self.authorize = authorize
        # The response cache: `identify` verifies a caller's credentials for user-scoped
        # policies (the host app's token check; perf/ knows no tokens).
        self.cache: ResponseCache | None = None
        if cache is not None and cache.enabled:
            self.cache = ResponseCache(cache, database.engine, identify=identify)
        self.requests = RequestAggregator(
            buffer_size=config.buffer_size,
            sample_rate=config.sample_rate,
            slow_request_ms=config.slow_request_ms,
        )
        self.resources = ResourceSampler(config.resource_sample_interval)
        self.metrics_flusher = MetricsFlusher(
            self.requests,
            self.resources,
            MetricsStore(
                database.engine,
                config.worker,
                timeout=min(max(config.flush_interval, 5.0), 60.0),
            ),
            config,
        )
        # Query tracking: statement fingerprints, rollups, slow-query plans, N+1 flags.
        self.queries = QueryTracker(config, database)
        self.prometheus = PrometheusExporter(
            self.requests,
            pools=database.pools,
            replicas=database.router.metrics if database.router is not None else dict,
            exchange_dir=multiprocess_dir(),
            db_operations=self.queries.durations,
            flush_failures=lambda: {
                "requests": self.metrics_flusher.flush_failures,
                "queries": self.queries.flush_failures,
            },
            cache_requests=(self.cache.statistics.layer_counts if self.cache is not None else dict),
        )
        # The recommendation rules, hourly (also on demand: `banrimkwae recommend`), once per
        # interval across workers; it samples the pools for the pool-sizing rule.
        self.recommender = RecommendationTimer(database.engine, pools=database.pools)
        # Applied recommendations verified once their window passed (or rolled back).
        self.verifier = RecommendationVerifier(
            database.engine,
            tolerance=config.recommendation_tolerance,
            interval=config.recommendation_verify_interval,
            announce=self._announce_change,
        )
        # Alert rules on a timer; firings and resolutions go to the configured webhooks.
        alert_config = alerts if alerts is not None else AlertConfig()
        self.alerts = AlertEvaluator(
            database.engine,
            webhooks=WebhookSender(
                alert_config.webhooks,
                database.engine,
                attempts=alert_config.webhook_attempts,
                backoff=alert_config.webhook_backoff,
                timeout=alert_config.webhook_timeout,
            ),
            replica_lag=self._replica_lag,
            interval=alert_config.evaluation_interval,
        )
        self.router = APIRouter()
        self.router.include_router(
            metrics_router(self.prometheus, authorize, public=config.metrics_public)
        )
        self.router.include_router(performance_router(self))
        self.router.include_router(database_router(database, authorize))
        self.router.include_router(audit_router(self))
        self.router.include_router(cache_admin_router(self))
        self.router.include_router(scaling_admin_router(self))
        self.router.include_router(scaling_status_router(self))
        self.router.include_router(recommendations_router(self))
        self.router.include_router(alerts_router(self))
        # The dashboard page at /admin/performance; it reads the routes above with a key.
        self.router.include_router(dashboard_router())

    def _replica_lag(self) -> float | None:
        """The largest lag of the read replicas at their last checks; None without any."""
        router = self.database.router
        lags = list(router.metrics()["lag"].values()) if router is not None else []
        return max(lags) if lags else None

    async def _announce_change(self, kind: str) -> None:
        if kind == "cache_policy":
            await announce_policies(self)

    def instrument(self, engine: AsyncEngine) -> None:
        """Track every statement `engine` runs for a request."""
        self.queries.instrument(engine)

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """The platform's middlewares around `app`, outermost first."""
        if self.config.compression_enabled:
            app = CompressionMiddleware(app, min_size=self.config.compression_min_size)
        answer_early = None
        if self.cache is not None:
            cached = self.cache.wrap(app)
            # An L1 hit is answered by the metrics middleware's one call (see MetricsMiddleware).
            answer_early = cached.answer_from_memory
            app = cached
        return MetricsMiddleware(
            app,
            self.requests,
            finish_request=self.queries.finish_request,
            answer_early=answer_early,
        )

    async def start(self) -> None:
        """Start the background work: flusher, resource sampler, plan capture."""
        self.resources.start()
        self.metrics_flusher.start()
        # Query tracking: fingerprint rollup flusher and plan-capture worker.
        self.queries.start()
        self.recommender.start()
        self.verifier.start()
        self.alerts.start()
        # Response cache: store (pub/sub listener), policies and their reloader.
        if self.cache is not None:
            await self.cache.start()

    async def stop(self) -> None:
        """Stop the background work and flush what is left."""
        await self.resources.stop()
        await self.metrics_flusher.stop()
        # Query tracking: capture queued plans, flush the last fingerprint window.
        await self.queries.stop()
        await self.recommender.stop()
        await self.verifier.stop()
        await self.alerts.stop()
        if self.cache is not None:
            await self.cache.stop()
