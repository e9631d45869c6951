"""Stampede control: one origin computation per key at a time, early and stale refreshes.

- `Flights`: single-flight per key inside the process. The first miss of a key leads; the
  misses that arrive while it computes wait for its result (coalesced waiters) instead of
  running the same handler and queries again.
- `refresh_early`: XFetch (Vattani et al., "Optimal Probabilistic Cache Stampede
  Prevention"): a fresh entry is recomputed ahead of its expiry with a probability that grows
  as expiry nears, scaled by how long it took to compute (`compute_ms`, stored with it). Hot,
  expensive keys refresh before they expire; cheap or cold ones effectively never early.
- `Refresher`: runs refreshes (early, stale-while-revalidate, post-invalidation warming) in
  background tasks, one per key, a bounded number at once, so they never starve live
  traffic; each refresh joins the key's flight so live misses coalesce onto it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Awaitable, Callable

from banrimkwae.perf.cache.entry import CachedResponse

log = logging.getLogger(__name__)
XFETCH_BETA = 1.0
_random = random.random


class Flights:
    """In-flight origin computations by key."""

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Future[CachedResponse | None]] = {}
        self.coalesced = 0

    def __len__(self) -> int:
        return len(self._running)

    def __contains__(self, key: str) -> bool:
        return key in self._running

    def join(self, key: str) -> asyncio.Future[CachedResponse | None] | None:
        """The running computation of `key` to wait for, or None: the caller leads."""
        future = self._running.get(key)
        if future is not None:
            self.coalesced += 1
        return future

    def lead(self, key: str) -> asyncio.Future[CachedResponse | None]:
        future: asyncio.Future[CachedResponse | None] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        return future

    def land(
        self,
        key: str,
        future: asyncio.Future[CachedResponse | None],
        entry: CachedResponse | None,
    ) -> None:
        """The leader finished: waiters get `entry` (None: compute it yourselves)."""
        if self._running.get(key) is future:
            del self._running[key]
        if not future.done():
            future.set_result(entry)


def refresh_early(entry: CachedResponse, now: float, beta: float = XFETCH_BETA) -> bool:
    """XFetch's test: recompute now, before `entry` expires?"""
    delta = entry.compute_ms / 1000.0
    if delta <= 0.0:
        return False
    # -log(U) for U in (0, 1]: an exponential variate; 1 - random() is never 0.
    return now + delta * beta * -math.log(1.0 - _random()) >= entry.stored_at + entry.ttl


class Refresher:
    """Background refreshes, deduplicated by key and bounded in concurrency."""

    def __init__(self, flights: Flights, *, concurrency: int = 4) -> None:
        self.flights = flights
        self._limit = asyncio.Semaphore(concurrency)
        self._pending: dict[str, asyncio.Task[None]] = {}
        self.started = 0
        self.failed = 0

    def __len__(self) -> int:
        return len(self._pending)

    def schedule(self, key: str, refresh: Callable[[], Awaitable[object]]) -> bool:
        """Run `refresh()` in the background unless `key` is already being computed."""
        if key in self._pending or key in self.flights:
            return False
        self.started += 1
        task = asyncio.get_running_loop().create_task(self._run(key, refresh))
        self._pending[key] = task
        return True

    async def _run(self, key: str, refresh: Callable[[], Awaitable[object]]) -> None:
        try:
            async with self._limit:
                await refresh()
        except Exception:
            self.failed += 1
            log.warning("cache refresh of %s failed", key, exc_info=True)
        finally:
            self._pending.pop(key, None)

    async def drain(self) -> None:
        """Wait for the refreshes running now (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*self._pending.values(), return_exceptions=True)

    async def stop(self) -> None:
        tasks = list(self._pending.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._pending.clear()
