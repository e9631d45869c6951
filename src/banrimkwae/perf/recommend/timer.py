"""The rules on a timer, in the platform's background: first run one interval after start.

A failed run is logged and counted; the next tick tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.recommend.engine import run_rules

log = logging.getLogger(__name__)
DEFAULT_INTERVAL = 3600.0


class RecommendationTimer:
    def __init__(self, engine: AsyncEngine, *, interval: float = DEFAULT_INTERVAL) -> None:
        self.engine = engine
        self.interval = interval
        self.runs = 0
        self.failures = 0
        # Set after each run, failed or not (for whoever waits on the first one).
        self.ran = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await run_rules(self.engine)
                self.runs += 1
            except Exception:
                self.failures += 1
                log.warning("recommendation run failed; retrying next interval", exc_info=True)
            self.ran.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="recommendation-timer")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
