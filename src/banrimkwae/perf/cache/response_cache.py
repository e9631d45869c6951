"""The response cache assembled: store, policies and their reloader, middleware, warming.

cache = ResponseCache(config, engine, identify=...)
served = cache.wrap(app)        # ResponseCacheMiddleware around the compression layer
# lifespan: await cache.start() ... await cache.stop()
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp

from banrimkwae.perf.cache.middleware import Identify, ResponseCacheMiddleware
from banrimkwae.perf.cache.policies import PolicyHolder
from banrimkwae.perf.cache.policy_loader import PolicyReloader
from banrimkwae.perf.cache.rollup import StatisticsRollup
from banrimkwae.perf.cache.statistics import CacheStatistics
from banrimkwae.perf.cache.store import ResponseStore
from banrimkwae.perf.cache.warming import Warmer
from banrimkwae.perf.config import CacheConfig

log = logging.getLogger(__name__)


class ResponseCache:
    def __init__(
        self, config: CacheConfig, engine: AsyncEngine, *, identify: Identify | None = None
    ) -> None:
        self.config = config
        self.engine = engine
        self.identify = identify
        self.store = ResponseStore(
            l1_max_bytes=config.l1_max_bytes,
            redis_url=config.redis_url,
            namespace=config.namespace,
            tag_file=config.tag_file,
        )
        self.policies = PolicyHolder()
        self.statistics = CacheStatistics()
        self.reloader = PolicyReloader(
            self.policies, engine, self.store, interval=config.policy_check_interval
        )
        self.rollup = StatisticsRollup(
            self.statistics, engine, with_l2=config.redis_url is not None
        )
        self.middleware: ResponseCacheMiddleware | None = None
        self.warmer: Warmer | None = None

    def wrap(self, app: ASGIApp) -> ResponseCacheMiddleware:
        self.middleware = ResponseCacheMiddleware(
            app,
            self.store,
            self.policies,
            identify=self.identify,
            statistics=self.statistics,
            max_body=self.config.max_body,
        )
        self.warmer = Warmer(self.middleware)
        self.middleware.on_invalidate = self.warmer.after_invalidation
        return self.middleware

    async def start(self) -> None:
        await self.store.start()
        try:
            await self.reloader.reload()
        except Exception:
            # No policies until the database answers: everything passes through meanwhile,
            # and the reloader retries (its sentinel was never armed).
            log.warning("cache policies could not be loaded; retrying", exc_info=True)
        self.reloader.start()
        self.rollup.start()
        if self.warmer is not None:
            self.warmer.start(self.policies.current)

    async def stop(self) -> None:
        await self.reloader.stop()
        await self.rollup.stop()
        if self.warmer is not None:
            await self.warmer.stop()
        if self.middleware is not None:
            await self.middleware.refresher.stop()
        await self.store.stop()
