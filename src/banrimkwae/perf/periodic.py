"""A background step run every `interval` seconds until stopped, never fatal to the process.

The platform's timers (cache policy reload, cache statistics rollup, recommendation runs)
share this loop: a failed step is counted and logged, and the next interval tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


class PeriodicTask:
    def __init__(
        self,
        name: str,
        interval: float,
        step: Callable[[], Awaitable[object]],
        *,
        log: logging.Logger,
        failure: str,
    ) -> None:
        self.name = name
        self.interval = interval
        self.step = step
        self.log = log
        self.failure = failure
        self.failures = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.step()
            except Exception:
                self.failures += 1
                self.log.warning(self.failure, exc_info=True)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
