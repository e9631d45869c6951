"""The background task that keeps this process's tag mirror in step with every other process.

It holds a pub/sub connection to the bump channel (SSUBSCRIBE on a Cluster: redis-py 8's
asyncio ClusterPubSub follows the channel's slot to whichever node owns it, also after a
failover) and, each time it (re)connects, resyncs the mirror: bumps published while it was
away are read back from Redis, so none is lost, only delayed. It also replays bumps queued
while Redis was unreachable. Convergence bound with Redis: one pub/sub delivery while the link
is up; after an outage, the reconnect delay (at most `max_backoff_s`) plus one resync.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time

from banrimkwae.perf.cache.l2 import BumpSubscription, RedisL2
from banrimkwae.perf.cache.remote_tags import RemoteTagVersions

logger = logging.getLogger(__name__)


class BumpListener:
    def __init__(
        self,
        l2: RedisL2,
        versions: RemoteTagVersions,
        *,
        poll_s: float = 1.0,
        max_backoff_s: float = 2.0,
    ) -> None:
        self._l2 = l2
        self._versions = versions
        self._poll_s = poll_s
        self._max_backoff_s = max_backoff_s
        self.connected = asyncio.Event()

    async def run(self) -> None:
        backoff = 0.05
        while True:
            subscription: BumpSubscription | None = None
            try:
                subscription = await self._l2.subscribe()
                # Subscribed first, resynced second: a bump published in between is both
                # received and read back, never neither.
                if not await self._versions.resync():
                    raise ConnectionError("cache tag resync failed")
                await self._versions.replay_pending()
                self._versions.trusted = True
                self.connected.set()
                backoff = 0.05
                await self._listen(subscription)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the link dropped: reconnect
                level = logging.WARNING if self._versions.trusted else logging.DEBUG
                logger.log(level, "cache pub/sub link lost, reconnecting: %r", exc)
            finally:
                self._versions.trusted = False
                self.connected.clear()
                if subscription is not None:
                    await _close_quietly(subscription)
            with contextlib.suppress(Exception):  # still down: the next round tries again
                await asyncio.wait_for(self._l2.refresh_topology(), timeout=self._max_backoff_s)
            await asyncio.sleep(backoff * (1 + random.random()))
            backoff = min(backoff * 2, self._max_backoff_s)

    async def _listen(self, subscription: BumpSubscription) -> None:
        last_replay = 0.0
        while True:
            data = await subscription.next(self._poll_s)
            if data is not None:
                self._versions.on_message(data)
            # Bumps queued while Redis was unreachable: retried once per poll interval.
            now = time.monotonic()
            if self._versions.pending and now - last_replay >= self._poll_s:
                last_replay = now
                await self._versions.replay_pending()


async def _close_quietly(subscription: BumpSubscription) -> None:
    with contextlib.suppress(Exception):  # the connection is already broken
        await asyncio.wait_for(subscription.close(), timeout=1.0)
