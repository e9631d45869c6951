"""Pool settings per engine and the pool's own counters: waits, time waited, timeouts.

SQLAlchemy's pool events tell of checkouts and checkins but not of a caller that had to
wait for a connection; a QueuePool subclass times the one place where that wait happens.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry, Pool, QueuePool


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """One engine's pool: size, overflow beyond it, checkout timeout, recycle age, pre-ping."""

    size: int = 10
    max_overflow: int = 10
    timeout: float = 30.0
    recycle: float = 1800.0
    pre_ping: bool = True
    # LIFO keeps the same few connections busy, so idle ones can time out server-side.
    use_lifo: bool = False

    def engine_options(self) -> dict[str, Any]:
        return {
            "poolclass": InstrumentedQueuePool,
            "pool_size": self.size,
            "max_overflow": self.max_overflow,
            "pool_timeout": self.timeout,
            "pool_recycle": self.recycle,
            "pool_pre_ping": self.pre_ping,
            "pool_use_lifo": self.use_lifo,
        }


@dataclass(slots=True)
class PoolStats:
    waits: int = 0
    wait_seconds: float = 0.0
    timeouts: int = 0
    waiting: int = 0  # callers waiting right now (sampled for the pool-sizing rule)


class InstrumentedQueuePool(AsyncAdaptedQueuePool):
    """The asyncio queue pool, counting the checkouts that found it exhausted."""

    stats: PoolStats

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stats = PoolStats()

    def _do_get(self) -> ConnectionPoolEntry:
        exhausted = (
            self._max_overflow > -1 and self._overflow >= self._max_overflow and self._pool.empty()
        )
        if not exhausted:
            return super()._do_get()
        started = time.perf_counter()
        self.stats.waits += 1
        self.stats.waiting += 1
        try:
            return super()._do_get()
        except exc.TimeoutError:
            self.stats.timeouts += 1
            raise
        finally:
            self.stats.waiting -= 1
            self.stats.wait_seconds += time.perf_counter() - started

    def recreate(self) -> QueuePool:
        # dispose() builds a fresh pool; the counters are cumulative and carry over.
        fresh = super().recreate()
        if isinstance(fresh, InstrumentedQueuePool):
            fresh.stats = self.stats
        return fresh


def pool_stats(pool: Pool) -> PoolStats | None:
    stats = getattr(pool, "stats", None)
    return stats if isinstance(stats, PoolStats) else None
