"""ResponseStore: L1 in-process (bounded in bytes) over an optional L2 (Redis or Redis Cluster).

An entry is valid only while every tag it was stamped with still has the stamped version, so
invalidation is a version bump, checked on read; every entry also carries ALL_TAG, which
`clear()` bumps. Versions live in shared memory without Redis (tags.LocalTagVersions: every
worker on the machine sees a bump at its next read) and in Redis with a per-process mirror
kept current over pub/sub when there is one (remote_tags.RemoteTagVersions).

No method raises because of L2: each L2 call runs through a circuit breaker with a deadline
(breaker.L2Guard); on failure the store answers from L1 and the caller from the origin.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from fnmatch import fnmatchcase
from typing import Literal

from banrimkwae.perf.cache.breaker import CircuitBreaker, L2Guard, Unavailable
from banrimkwae.perf.cache.entry import CacheDecodeError, CachedResponse
from banrimkwae.perf.cache.l2 import RedisL2
from banrimkwae.perf.cache.pubsub import BumpListener
from banrimkwae.perf.cache.remote_tags import RemoteTagVersions
from banrimkwae.perf.cache.stats import StoreStats
from banrimkwae.perf.cache.tags import ALL_TAG, LocalTagVersions
from banrimkwae.perf.cache.tinylfu import ByteBoundedTinyLFU

Layer = Literal["l1", "l2"]
_START_WAIT_S = 1.0
logger = logging.getLogger(__name__)


def _cleared_stamp(entry: CachedResponse) -> dict[str, int]:
    """The entry's stamp of ALL_TAG alone: has the whole cache been cleared since?"""
    return {ALL_TAG: entry.tags.get(ALL_TAG, -1)}


class ResponseStore:
    """L1 in-process (bounded in bytes) over an optional L2 (Redis / Redis Cluster by URL),
    with versioned tags: an entry is valid only while every tag it was stamped with still has
    the stamped version."""

    def __init__(
        self,
        *,
        l1_max_bytes: int,
        redis_url: str | None = None,
        cluster: bool | None = None,
        namespace: str = "",
        tag_file: str | None = None,
        l2_timeout_s: float = 0.25,
        breaker_failures: int = 3,
        breaker_reset_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`redis_url`: None for memory only; redis:// standalone; redis+cluster:// (or
        cluster=True) a Cluster. `namespace` separates stores sharing one Redis (bk:c:<ns>:).
        `tag_file`: without Redis, a file every worker of the machine maps to share tag
        versions (None: versions private to this process). `l2_timeout_s` bounds each L2 call;
        `breaker_failures` consecutive failures open the breaker for `breaker_reset_s`."""
        self._stats = StoreStats()
        self._clock = clock
        self._l1 = ByteBoundedTinyLFU(l1_max_bytes, self._stats.l1)
        self._l2: RedisL2 | None = None
        self._guard: L2Guard | None = None
        self._remote: RemoteTagVersions | None = None
        self._local: LocalTagVersions | None = None
        self._listener: BumpListener | None = None
        self._listener_task: asyncio.Task[None] | None = None
        self._missed: str | None = None  # the key of the last peek that found nothing
        if redis_url is None:
            self._local = LocalTagVersions(tag_file)
            self._versions: LocalTagVersions | RemoteTagVersions = self._local
            self._stats.breaker_state = "none"
        else:
            self._l2 = RedisL2(
                redis_url, namespace=namespace, cluster=cluster, socket_timeout_s=l2_timeout_s
            )
            breaker = CircuitBreaker(
                failure_threshold=breaker_failures, reset_timeout_s=breaker_reset_s
            )
            self._guard = L2Guard(breaker, self._stats.l2, timeout_s=l2_timeout_s)
            self._remote = RemoteTagVersions(self._l2, self._guard, self._stats)
            self._versions = self._remote
            self._listener = BumpListener(self._l2, self._remote)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start the pub/sub listener (needed for other processes' bumps to reach this L1)
        and give it a moment to connect and read the versions, so the first stores of a
        fresh process are not refused for want of a known sequence. Never fails: without
        Redis it returns after that moment, and the listener keeps trying."""
        if self._listener is not None and self._listener_task is None:
            self._listener_task = asyncio.create_task(
                self._listener.run(), name="banrimkwae-cache-bumps"
            )
            await self.wait_synced(_START_WAIT_S)

    async def stop(self) -> None:
        if self._listener_task is not None:
            self._listener_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener_task
            self._listener_task = None
        if self._l2 is not None:
            await self._l2.close()
        if self._local is not None:
            self._local.close()

    async def wait_synced(self, timeout_s: float = 5.0) -> bool:
        """Until the pub/sub link is up and the mirror resynced (tests, warm start)."""
        if self._listener is None:
            return True
        try:
            await asyncio.wait_for(self._listener.connected.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    @property
    def stats(self) -> StoreStats:
        """Counters per layer, breaker state and openings (live object; copy with as_dict)."""
        self._refresh_breaker_stats()
        return self._stats

    @property
    def l2_state(self) -> str:
        if self._guard is None:
            return "none"
        return self._guard.breaker.state.value

    def _refresh_breaker_stats(self) -> None:
        if self._guard is not None:
            self._stats.breaker_state = self._guard.breaker.state.value
            self._stats.breaker_opened = self._guard.breaker.opened_count

    # -- reads ---------------------------------------------------------------------------

    def snapshot(self) -> int:
        return self._versions.snapshot()

    def peek(self, key: str) -> CachedResponse | None:
        entry = self._l1.get(key)
        stats = self._stats.l1
        if entry is not None:
            if not self._versions.is_current(entry.tags):
                if self._in_grace(entry) and self._versions.is_current(_cleared_stamp(entry)):
                    if not entry.invalidated:
                        entry = self._mark_invalidated(entry)
                        self._l1.update(key, entry)
                    stats.hits += 1
                    return entry
                self._l1.discard(key)
                stats.invalidated += 1
            elif self._clock() > entry.stored_at + entry.ttl + entry.stale_ttl:
                self._l1.discard(key)
                stats.expired += 1
            else:
                stats.hits += 1
                return entry
        stats.misses += 1
        self._missed = key
        return None

    async def get(self, key: str) -> tuple[CachedResponse, Layer] | None:
        if self._missed != key:
            entry = self.peek(key)
            if entry is not None:
                return entry, "l1"
        # else the caller peeked this key in vain just now (the middleware's pattern: peek,
        # then get): L1 is not asked, nor its miss counted, twice.
        self._missed = None
        if self._l2 is None or self._guard is None or self._remote is None:
            return None
        l2 = self._l2
        data = await self._guard.run(lambda: l2.get(key))
        self._refresh_breaker_stats()
        stats = self._stats.l2
        if isinstance(data, Unavailable) or data is None:
            stats.misses += 1
            return None
        try:
            entry = CachedResponse.decode(data)
        except CacheDecodeError:
            stats.errors += 1
            stats.misses += 1
            return None
        if self._clock() > entry.stored_at + entry.ttl + entry.stale_ttl:
            stats.expired += 1
            stats.misses += 1
            return None
        if not await self._remote.verify(entry.tags):
            if not (self._in_grace(entry) and await self._remote.verify(_cleared_stamp(entry))):
                stats.invalidated += 1
                stats.misses += 1
                return None
            entry = self._mark_invalidated(entry)
        stats.hits += 1
        self._l1.set(key, entry)
        return entry, "l2"

    def _in_grace(self, entry: CachedResponse) -> bool:
        """May this invalidated entry still be answered (STALE)? While it is younger than its
        grace (CachePolicy.invalidation_grace) and not expired. The caller also checks that
        `clear()` (ALL_TAG) has not ended it."""
        if not entry.grace:
            return False
        age = self._clock() - entry.stored_at
        return age < entry.grace and age <= entry.ttl + entry.stale_ttl

    def _mark_invalidated(self, entry: CachedResponse) -> CachedResponse:
        self._stats.soft_invalidated += 1
        return dataclasses.replace(entry, invalidated=True)

    # -- writes --------------------------------------------------------------------------

    async def put(
        self, key: str, entry: CachedResponse, tags: Collection[str], snapshot: int
    ) -> bool:
        wanted = {ALL_TAG, *tags}
        if self._local is not None:
            stamped = self._local.stamp(wanted, snapshot)
        else:
            assert self._remote is not None
            stamped = await self._remote.stamp(wanted, snapshot)
        if stamped is None:
            self._stats.refused_stores += 1
            return False
        entry = dataclasses.replace(entry, tags=stamped)
        if self._missed == key:
            self._missed = None
        if self._l1.set(key, entry):
            self._stats.l1.stores += 1
        if self._l2 is not None and self._guard is not None:
            lifetime_ms = int((entry.ttl + entry.stale_ttl) * 1000)
            if lifetime_ms > 0:
                l2, data = self._l2, entry.encode()
                written = await self._guard.run(lambda: l2.set(key, data, lifetime_ms))
                if not isinstance(written, Unavailable):
                    self._stats.l2.stores += 1
                    self._stats.l2.bytes += len(data)
            self._refresh_breaker_stats()
        return True

    async def invalidate(self, tags: Collection[str]) -> None:
        tags = list(dict.fromkeys(tags))
        if not tags:
            return
        self._stats.invalidations += len(tags)
        if self._local is not None:
            self._local.bump(tags)
        else:
            assert self._remote is not None
            await self._remote.bump(tags)
            self._refresh_breaker_stats()

    async def delete_matching(self, pattern: str) -> int:
        """Delete entries whose key matches the glob `pattern`, in L1 and L2; the count of
        distinct keys removed (L2 keys longer than 512 characters are stored hashed and are
        not matched)."""
        local = [key for key in self._l1 if fnmatchcase(key, pattern)]
        for key in local:
            self._l1.discard(key)
        if self._l2 is None or self._guard is None:
            return len(local)
        l2 = self._l2
        removed = await self._guard.run(lambda: l2.delete_matching(pattern))
        self._refresh_breaker_stats()
        return len(local) if isinstance(removed, Unavailable) else max(removed, len(local))

    async def clear(self) -> None:
        """Drop everything: this L1 now, every other process's L1 through ALL_TAG, L2 keys."""
        self._l1.clear()
        await self.invalidate([ALL_TAG])
        if self._l2 is not None and self._guard is not None:
            l2 = self._l2
            await self._guard.run(lambda: l2.delete_matching("*"))

    # -- cross-instance lock -------------------------------------------------------------

    def lock(self, key: str, ttl_s: float) -> AbstractAsyncContextManager[bool]:
        return self._lock(key, ttl_s)

    @asynccontextmanager
    async def _lock(self, key: str, ttl_s: float) -> AsyncIterator[bool]:
        if self._l2 is None or self._guard is None:
            yield True
            return
        l2, token, ttl_ms = self._l2, uuid.uuid4().hex, max(1, int(ttl_s * 1000))
        acquired = await self._guard.run(lambda: l2.acquire(key, token, ttl_ms))
        if isinstance(acquired, Unavailable):
            yield True  # no Redis to coordinate with: behave as a lone instance
            return
        if not acquired:
            self._stats.locks_contended += 1
            yield False
            return
        self._stats.locks_acquired += 1
        try:
            yield True
        finally:
            await self._guard.run(lambda: l2.release(key, token))
