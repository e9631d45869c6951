"""Hot entries re-compressed at the best ratio, once, off the request path.

A miss stores variants made at DYNAMIC_LEVELS (cheap on the request path). An entry that
keeps being served pays BEST_LEVELS once (brotli 11 gave 24x against 14x for gzip 9 on an
11 KB resort list) in a worker thread, and is put back in place of the fast one.

Race-free: the store's snapshot is taken while the entry is still valid (peek returns it);
the upgraded copy is put with that snapshot, so if any of its tags moved meanwhile (a write)
the put is refused and the stale body never comes back as fresh.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from banrimkwae.perf.cache.entry import CachedResponse
from banrimkwae.perf.cache.store import ResponseStore
from banrimkwae.perf.cache.tags import ALL_TAG
from banrimkwae.perf.responses.codecs import BEST_LEVELS, compress

log = logging.getLogger(__name__)
DEFAULT_HOT_HITS = 50
_MAX_REMEMBERED = 65_536


class VariantUpgrader:
    def __init__(self, store: ResponseStore, *, hot_hits: int = DEFAULT_HOT_HITS) -> None:
        self.store = store
        self.hot_hits = hot_hits
        self.upgraded = 0
        self.refused = 0
        self._done: set[bytes] = set()  # etags already at BEST_LEVELS (or being upgraded)
        self._tasks: set[asyncio.Task[None]] = set()

    def consider(self, key: str, entry: CachedResponse, hits: int) -> None:
        """Called on hits; starts the upgrade when `entry` has just become hot."""
        if hits != self.hot_hits or not entry.variants or entry.etag in self._done:
            return
        if len(self._done) >= _MAX_REMEMBERED:
            self._done.clear()
        self._done.add(entry.etag)
        task = asyncio.get_running_loop().create_task(self._upgrade(key, entry))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _upgrade(self, key: str, entry: CachedResponse) -> None:
        snapshot = self.store.snapshot()
        if self.store.peek(key) is not entry:
            return  # replaced or invalidated since: nothing to upgrade
        try:
            variants = await asyncio.to_thread(_best_variants, entry)
        except Exception:
            log.warning("upgrading the variants of %s failed", key, exc_info=True)
            return
        upgraded = dataclasses.replace(entry, variants=variants, tags={})
        tags = [tag for tag in entry.tags if tag != ALL_TAG]
        if await self.store.put(key, upgraded, tags, snapshot):
            self.upgraded += 1
        else:
            self.refused += 1

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _best_variants(entry: CachedResponse) -> dict[str, bytes]:
    variants: dict[str, bytes] = {}
    for coding, fast in entry.variants.items():
        best = compress(entry.body, coding, BEST_LEVELS[coding])
        variants[coding] = best if len(best) < len(fast) else fast
    return variants
