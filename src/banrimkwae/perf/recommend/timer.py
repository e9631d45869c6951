"""The rules on a timer, in the platform's background: first run one interval after start.

Every worker has this timer, but the rules run once per interval for the installation: each
tick first claims the run in the database (perf.storage.run_claims), and only the worker
whose claim succeeds runs them; the others count a skip. The claims are at least
`CLAIM_GAP` of an interval apart, so a worker that stopped is replaced within an interval.
With `pools`, the timer also samples this worker's connection pools (perf.db.pool_sizing)
every second for the pool rule. A failed run is logged and counted; the next tick tries again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.db.pool_sizing import PoolSampler
from banrimkwae.perf.periodic import PeriodicTask
from banrimkwae.perf.recommend.engine import run_rules
from banrimkwae.perf.storage.run_claims import claim_run

log = logging.getLogger(__name__)
DEFAULT_INTERVAL = 3600.0
JOB = "recommendations"
# A claim is refused while the last one is younger than this share of the interval: the
# timers' ticks drift a little, and the next tick of the worker that ran must still win.
CLAIM_GAP = 0.9


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class RecommendationTimer:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        interval: float = DEFAULT_INTERVAL,
        pools: Mapping[str, AsyncEngine] | None = None,
        workers: int = 1,
        holder: str | None = None,
    ) -> None:
        self.engine = engine
        self.interval = interval
        self.workers = workers
        self.holder = holder or _holder()
        self.runs = 0
        self.skipped = 0
        # Set after each tick, failed or not (for whoever waits on the first one).
        self.ran = asyncio.Event()
        # The pool rule's observations: this worker's pools, over one interval.
        self.pools = PoolSampler(pools, window=interval) if pools else None
        self._periodic = PeriodicTask(
            "recommendation-timer",
            interval,
            self._step,
            log=log,
            failure="recommendation run failed; retrying next interval",
        )

    @property
    def failures(self) -> int:
        return self._periodic.failures

    async def _step(self) -> None:
        try:
            await self.tick()
        finally:
            self.ran.set()

    async def tick(self, now: float | None = None) -> bool:
        """Run the rules if this worker wins the interval's claim; whether it ran them."""
        moment = time.time() if now is None else now
        if not await claim_run(self.engine, JOB, self.holder, moment, self.interval * CLAIM_GAP):
            self.skipped += 1
            return False
        await run_rules(self.engine, now=moment, pools=self.pools, workers=self.workers)
        self.runs += 1
        return True

    def start(self) -> None:
        if self.pools is not None:
            self.pools.start()
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
        if self.pools is not None:
            await self.pools.stop()
