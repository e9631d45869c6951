"""This worker's memory and CPU, sampled on a timer instead of by a syscall per request.

The latest sample is what raw request rows carry (memory_usage_mb, cpu_usage_percent); every
sample is also queued for the flusher, which writes it to process_samples. The queue is
bounded: when the store is down for long, the oldest samples go first and are counted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import deque
from dataclasses import dataclass

import psutil

logger = logging.getLogger(__name__)

_MB = 1024 * 1024
# An hour of samples at the default five-second interval.
QUEUE_LIMIT = 720


@dataclass(frozen=True, slots=True)
class ProcessSampleRow:
    sampled_at: dt.datetime
    rss_mb: float
    cpu_percent: float


class ResourceSampler:
    """Samples the current process every `interval` seconds in its own task."""

    def __init__(self, interval: float, *, queue_limit: int = QUEUE_LIMIT) -> None:
        self.interval = interval
        self.rss_mb: float | None = None
        self.cpu_percent: float | None = None
        self.pending: deque[ProcessSampleRow] = deque()
        self.queue_limit = queue_limit
        self.dropped = 0
        self._process = psutil.Process()
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> ProcessSampleRow:
        """Read RSS and CPU% now, keep them as the latest values and queue them."""
        rss_mb = self._process.memory_info().rss / _MB
        # CPU time used since the previous call, as a percentage of one core.
        cpu_percent = self._process.cpu_percent(interval=None)
        self.rss_mb, self.cpu_percent = rss_mb, cpu_percent
        row = ProcessSampleRow(dt.datetime.now(dt.UTC), rss_mb, cpu_percent)
        if len(self.pending) >= self.queue_limit:
            self.pending.popleft()
            self.dropped += 1
        self.pending.append(row)
        return row

    def take(self) -> list[ProcessSampleRow]:
        taken = list(self.pending)
        self.pending.clear()
        return taken

    def give_back(self, rows: list[ProcessSampleRow]) -> None:
        """Requeue rows whose write failed ahead of newer ones, within the queue limit."""
        merged = [*rows, *self.pending]
        overflow = max(len(merged) - self.queue_limit, 0)
        self.dropped += overflow
        self.pending = deque(merged[overflow:])

    def start(self) -> None:
        if self._task is None:
            # The first cpu_percent call only sets its baseline, so nothing is queued yet;
            # memory is known at once.
            self._process.cpu_percent(interval=None)
            self.rss_mb = self._process.memory_info().rss / _MB
            self._task = asyncio.create_task(self._run(), name="banrimkwae-resource-sampler")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                self.sample()
            except psutil.Error as exc:  # pragma: no cover - the process reading itself
                logger.warning("resource sample failed: %s", exc)
