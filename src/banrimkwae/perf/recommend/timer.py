"""The rules on a timer, in the platform's background: first run one interval after start.

A failed run is logged and counted; the next tick tries again.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.periodic import PeriodicTask
from banrimkwae.perf.recommend.engine import run_rules

log = logging.getLogger(__name__)
DEFAULT_INTERVAL = 3600.0


class RecommendationTimer:
    def __init__(self, engine: AsyncEngine, *, interval: float = DEFAULT_INTERVAL) -> None:
        self.engine = engine
        self.interval = interval
        self.runs = 0
        # Set after each run, failed or not (for whoever waits on the first one).
        self.ran = asyncio.Event()
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
            await run_rules(self.engine)
            self.runs += 1
        finally:
            self.ran.set()

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
