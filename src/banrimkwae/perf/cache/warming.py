"""Cache warming: refill what will be asked for, throttled so live traffic goes first.

Targets of a policy with `cache_warming_enabled` (never a user-scoped one: there is no
caller to warm for):
- its declared parameter sets (`cache_options.warm_requests`: {"path", "query"}), and its
  pattern itself when that is an exact path;
- the hottest keys it served (hits counted per entry by the middleware), top N per policy.
On start-up the declared targets are fetched; after an invalidation, the hot keys that the
bump made invalid are fetched again, after a short debounce so a burst of writes costs one
pass. Each fetch runs the origin in the background with no client attached, one or two at a
time with a pause between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from banrimkwae.perf.cache.middleware import ResponseCacheMiddleware
from banrimkwae.perf.cache.policies import CachePolicy, PolicySet
from banrimkwae.perf.cache.request_view import Target

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WarmingConfig:
    top_n: int = 20
    concurrency: int = 2
    pause_s: float = 0.005
    debounce_s: float = 0.5


def declared_targets(policies: PolicySet) -> list[Target]:
    """What warming-enabled policies name: exact paths and declared parameter sets."""
    targets: dict[Target, None] = {}
    for policy in policies.policies:
        if not policy.warming or policy.user_scoped:
            continue
        if "{" not in policy.name and "*" not in policy.name:
            targets[Target(policy.name, b"")] = None
        for request in policy.warm_requests:
            path = str(request.get("path", ""))
            if path and policies.match(path) is policy:
                targets[Target(path, str(request.get("query", "")).encode("latin-1"))] = None
    return list(targets)


class Warmer:
    def __init__(self, cache: ResponseCacheMiddleware, config: WarmingConfig | None = None) -> None:
        self.cache = cache
        self.config = config or WarmingConfig()
        self.warmed = 0
        self.failed = 0
        self._pending: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def warm(self, targets: Iterable[Target]) -> int:
        """Fetch every target not already fresh in the cache; the number fetched."""
        limit = asyncio.Semaphore(self.config.concurrency)
        fetched = 0

        async def one(target: Target) -> None:
            nonlocal fetched
            async with limit:
                try:
                    if await self.cache.warm(target):
                        fetched += 1
                except Exception:
                    self.failed += 1
                    log.warning("warming %s failed", target.path, exc_info=True)
                await asyncio.sleep(self.config.pause_s)

        await asyncio.gather(*(one(target) for target in targets))
        self.warmed += fetched
        return fetched

    def hot_targets(self) -> list[Target]:
        return self.cache.hot_targets(self.config.top_n, _warming(self.cache))

    def after_invalidation(self) -> None:
        """Schedule one re-warm of the hot keys, debounced."""
        if self._pending is not None and not self._pending.done():
            return
        self._pending = asyncio.get_running_loop().create_task(self._rewarm())

    async def _rewarm(self) -> None:
        await asyncio.sleep(self.config.debounce_s)
        await self.warm(self.hot_targets())

    def start(self, policies: PolicySet) -> None:
        task = asyncio.get_running_loop().create_task(self._warm_declared(policies))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _warm_declared(self, policies: PolicySet) -> None:
        await self.warm(declared_targets(policies))

    async def stop(self) -> None:
        tasks = [*self._tasks, *([self._pending] if self._pending is not None else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _warming(cache: ResponseCacheMiddleware) -> set[str]:
    return {p.name for p in cache.policies.current.policies if _warmable(p)}


def _warmable(policy: CachePolicy) -> bool:
    return policy.warming and not policy.user_scoped
