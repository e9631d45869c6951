"""Pool sizing: observed concurrency per pool, the server's connection limit, a recommended size.

A `PoolSampler` reads each pool every second or so (never per request): connections checked
out plus callers waiting for one is the pool's demand at that moment; the pool's own counters
(perf.db.pools) add the waits, time waited and timeouts between the first and last sample.
`size_pool` turns one observation into a recommendation, keeping every worker's pools within
the server's `max_connections` minus a headroom (superuser slots are already taken out):

- waits or timeouts: grow to the observed peak demand plus a quarter, within the budget;
- workers x (size + overflow) over the server's usable connections: shrink to the budget;
- no waits and a peak demand under half the pool, over a long enough window: shrink the
  idle part (fewer connections held open on the server, each costing it memory);
- SQLite: not applicable (one writer at a time, and no server with a connection limit).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import distinct, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.db.pools import pool_stats
from banrimkwae.perf.periodic import PeriodicTask
from banrimkwae.perf.storage.models import ProcessSample

log = logging.getLogger(__name__)

Action = Literal["grow", "shrink", "keep", "not_applicable"]
SAMPLE_INTERVAL = 1.0
DEFAULT_WINDOW = 3600.0
# Connections left free on the server for migrations, consoles and monitoring.
HEADROOM_SHARE = 0.1
MIN_HEADROOM = 5
GROWTH = 1.25  # recommended capacity over the peak demand seen
# An idle pool is only called oversized after this much observation.
MIN_SECONDS_FOR_SHRINK = 600.0
MIN_POOL_SIZE = 2


@dataclass(frozen=True, slots=True)
class PoolObservation:
    """One pool over a window: its settings, the demand sampled and its counters' growth."""

    name: str
    dialect: str
    size: int
    max_overflow: int
    timeout: float
    peak_demand: int = 0
    p95_demand: int = 0
    samples: int = 0
    seconds: float = 0.0
    waits: int = 0
    wait_seconds: float = 0.0
    timeouts: int = 0

    @property
    def limit(self) -> int:
        return self.size + self.max_overflow


@dataclass(frozen=True, slots=True)
class PoolSizing:
    """What `size_pool` recommends for one pool, and why."""

    observation: PoolObservation
    action: Action
    workers: int
    server_limit: int | None
    budget: int | None  # connections each worker's pool may hold
    size: int
    max_overflow: int
    reasons: tuple[str, ...] = ()

    @property
    def limit(self) -> int:
        return self.size + self.max_overflow


@dataclass(slots=True)
class _Series:
    # (monotonic time, demand, waits, wait_seconds, timeouts) per sample, oldest first.
    samples: deque[tuple[float, int, int, float, int]] = field(default_factory=deque)


class PoolSampler:
    """Samples every queue pool of `pools` on a timer; `observations()` reads the window."""

    def __init__(
        self,
        pools: Mapping[str, AsyncEngine],
        *,
        interval: float = SAMPLE_INTERVAL,
        window: float = DEFAULT_WINDOW,
    ) -> None:
        self.pools = dict(pools)
        self.window = window
        self._series = {name: _Series() for name in self.pools}
        self._periodic = PeriodicTask(
            "pool-sampler", interval, self._step, log=log, failure="pool sampling failed"
        )

    async def _step(self) -> None:
        self.sample()

    def sample(self, now: float | None = None) -> None:
        moment = time.monotonic() if now is None else now
        for name, engine in self.pools.items():
            pool: Any = engine.pool
            stats = pool_stats(pool)
            if stats is None or not hasattr(pool, "checkedout"):
                continue  # only the platform's instrumented pools (not SQLite's) are sized
            series = self._series[name].samples
            demand = int(pool.checkedout()) + stats.waiting
            series.append((moment, demand, stats.waits, stats.wait_seconds, stats.timeouts))
            while series and series[0][0] < moment - self.window:
                series.popleft()

    def observations(self) -> list[PoolObservation]:
        return [self._observe(name, engine) for name, engine in self.pools.items()]

    def _observe(self, name: str, engine: AsyncEngine) -> PoolObservation:
        pool: Any = engine.pool
        settings = PoolObservation(
            name=name,
            dialect=engine.dialect.name,
            size=int(pool.size()) if hasattr(pool, "size") else 0,
            max_overflow=max(int(getattr(pool, "_max_overflow", 0)), 0),
            timeout=float(getattr(pool, "_timeout", 0.0)),
        )
        series = list(self._series[name].samples)
        if not series:
            return settings
        demands = sorted(sample[1] for sample in series)
        first, last = series[0], series[-1]
        return PoolObservation(
            name=name,
            dialect=settings.dialect,
            size=settings.size,
            max_overflow=settings.max_overflow,
            timeout=settings.timeout,
            peak_demand=demands[-1],
            p95_demand=demands[min(len(demands) - 1, math.ceil(0.95 * len(demands)) - 1)],
            samples=len(series),
            seconds=last[0] - first[0],
            waits=last[2] - first[2],
            wait_seconds=last[3] - first[3],
            timeouts=last[4] - first[4],
        )

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()


async def server_connection_limit(engine: AsyncEngine) -> int | None:
    """Connections the server lets ordinary users open; None where that is no concern (SQLite)."""
    dialect = engine.dialect.name
    async with engine.connect() as connection:
        if dialect == "postgresql":
            total = int((await connection.execute(text("SHOW max_connections"))).scalar_one())
            reserved = (
                await connection.execute(
                    text(
                        "SELECT coalesce(current_setting('superuser_reserved_connections', true),"
                        " '0')::int + coalesce(current_setting('reserved_connections', true),"
                        " '0')::int"
                    )
                )
            ).scalar_one()
            return total - int(reserved)
        if dialect == "mysql":
            return int((await connection.execute(text("SELECT @@max_connections"))).scalar_one())
    return None


async def live_worker_count(engine: AsyncEngine, *, within_seconds: float = 120.0) -> int:
    """Workers that sampled their resources lately (process_samples): the live fleet's size."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=within_seconds)
    async with engine.connect() as connection:
        count = await connection.scalar(
            select(func.count(distinct(ProcessSample.worker))).where(
                ProcessSample.sampled_at >= since
            )
        )
    return int(count or 0)


def usable_connections(server_limit: int) -> int:
    return server_limit - max(MIN_HEADROOM, math.ceil(server_limit * HEADROOM_SHARE))


def size_pool(
    observation: PoolObservation, *, workers: int, server_limit: int | None
) -> PoolSizing:
    """The size and overflow that make waits disappear within the server's connection budget."""
    workers = max(workers, 1)
    current = observation
    if current.dialect == "sqlite":
        return PoolSizing(
            current,
            "not_applicable",
            workers,
            None,
            None,
            current.size,
            current.max_overflow,
            ("SQLite has one writer at a time and no connection limit: no pool to size",),
        )
    budget = None if server_limit is None else max(usable_connections(server_limit) // workers, 1)
    reasons: list[str] = []
    size, overflow = current.size, current.max_overflow
    saturated = current.waits > 0 or current.timeouts > 0
    if saturated:
        peak = max(current.peak_demand, current.limit + 1)
        wanted = math.ceil(peak * GROWTH)
        size = max(size, math.ceil(current.p95_demand * GROWTH))
        overflow = max(wanted - size, overflow)
        reasons.append(
            f"{current.waits} checkout(s) waited {current.wait_seconds:.2f} s in all"
            f" ({current.timeouts} timed out); peak demand {current.peak_demand}"
            f" against {current.limit} connections"
        )
    elif (
        current.seconds >= MIN_SECONDS_FOR_SHRINK
        and current.size > MIN_POOL_SIZE * 2
        and current.peak_demand * 2 <= current.size
    ):
        size = max(MIN_POOL_SIZE, math.ceil(current.peak_demand * GROWTH))
        reasons.append(
            f"no waits in {current.seconds / 60:.0f} min and a peak demand of"
            f" {current.peak_demand} for a pool of {current.size}"
        )
    if budget is not None and size + overflow > budget:
        assert server_limit is not None
        reasons.append(
            f"{workers} worker(s) x {size + overflow} connections would exceed the"
            f" {usable_connections(server_limit)} the server can give"
            f" (max_connections {server_limit} less headroom)"
        )
        size = min(size, budget)
        overflow = budget - size
    action: Action = "keep"
    if size + overflow > current.limit:
        action = "grow"
    elif size + overflow < current.limit:
        action = "shrink"
    else:
        size, overflow = current.size, current.max_overflow  # same capacity: nothing to change
    return PoolSizing(
        current, action, workers, server_limit, budget, size, overflow, tuple(reasons)
    )


async def size_pools(
    engines: Mapping[str, AsyncEngine],
    observations: Sequence[PoolObservation],
    *,
    workers: int,
) -> list[PoolSizing]:
    """`size_pool` for every observation, asking each pool's own server for its limit.

    A server that does not answer (a replica down) leaves its pool out: sized without its
    limit, the advice could overrun it."""
    sizings = []
    for observation in observations:
        engine = engines.get(observation.name)
        limit = None
        if engine is not None and observation.dialect != "sqlite":
            try:
                limit = await server_connection_limit(engine)
            except Exception:
                log.warning("no connection limit from pool %s", observation.name, exc_info=True)
                continue
        sizings.append(size_pool(observation, workers=workers, server_limit=limit))
    return sizings
