"""The cache's daily statistics: per-policy counters folded into `cache_statistics`.

Every `interval` seconds (and at shutdown) the counters' growth since the last flush is
added to today's row of each policy and layer: `application` (the in-process L1: hits,
stale serves, and misses that went further), `redis` (L2 lookups, when there is an L2).
The CDN layer is not observable from here; its rows stay for a CDN's own logs.
Several workers add to one row: UPDATE ... SET n = n + delta, INSERT when there is none
(and UPDATE again if another worker inserted it first).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from dataclasses import asdict
from typing import Any, cast

from sqlalchemy import Table, and_, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.cache.statistics import CacheStatistics
from banrimkwae.perf.periodic import PeriodicTask
from banrimkwae.perf.storage.models import CacheStatistic

log = logging.getLogger(__name__)
_COUNTS = ("total_requests", "cache_hits", "cache_misses", "total_bytes_served")


def layer_rows(delta: dict[str, dict[str, Any]], *, with_l2: bool) -> list[dict[str, Any]]:
    """Rows (pattern, layer, counts, avg ms) from per-policy counter deltas."""
    rows: list[dict[str, Any]] = []
    for policy, c in delta.items():
        lookups = c["hits_l1"] + c["hits_l2"] + c["stale"] + c["misses"]
        if lookups:
            hits = c["hits_l1"] + c["stale"]
            rows.append(
                {
                    "cache_key_pattern": policy[:255],
                    "cache_layer": "application",
                    "total_requests": lookups,
                    "cache_hits": hits,
                    "cache_misses": lookups - hits,
                    "total_bytes_served": c["bytes_served"],
                    "avg_response_time_ms": c["compute_ms"] / c["misses"] if c["misses"] else None,
                }
            )
        reached_l2 = c["hits_l2"] + c["misses"]
        if with_l2 and reached_l2:
            rows.append(
                {
                    "cache_key_pattern": policy[:255],
                    "cache_layer": "redis",
                    "total_requests": reached_l2,
                    "cache_hits": c["hits_l2"],
                    "cache_misses": c["misses"],
                    "total_bytes_served": 0,
                    "avg_response_time_ms": None,
                }
            )
    return rows


class StatisticsRollup:
    def __init__(
        self,
        statistics: CacheStatistics,
        engine: AsyncEngine,
        *,
        with_l2: bool,
        interval: float = 60.0,
    ) -> None:
        self.statistics = statistics
        self.engine = engine
        self.with_l2 = with_l2
        self.interval = interval
        self._flushed: dict[str, dict[str, Any]] = {}
        self._periodic = PeriodicTask(
            "cache-statistics-rollup",
            interval,
            self.flush,
            log=log,
            failure="cache statistics flush failed",
        )

    def _delta(self) -> dict[str, dict[str, Any]]:
        delta: dict[str, dict[str, Any]] = {}
        for name, counters in list(self.statistics.policies.items()):
            now = asdict(counters)
            before = self._flushed.get(name, {})
            delta[name] = {key: value - before.get(key, 0) for key, value in now.items()}
            self._flushed[name] = now
        return delta

    async def flush(self, today: dt.date | None = None) -> int:
        """Add the growth since the last flush to today's rows; the rows written."""
        day = today or dt.datetime.now(dt.UTC).date()
        rows = layer_rows(self._delta(), with_l2=self.with_l2)
        table = cast(Table, CacheStatistic.__table__)
        for row in rows:
            where = and_(
                table.c.cache_key_pattern == row["cache_key_pattern"],
                table.c.cache_layer == row["cache_layer"],
                table.c.date_recorded == day,
            )
            increments: dict[str, Any] = {name: table.c[name] + row[name] for name in _COUNTS}
            if row["avg_response_time_ms"] is not None:
                increments["avg_response_time_ms"] = row["avg_response_time_ms"]
            for _attempt in range(2):
                async with self.engine.begin() as connection:
                    changed = await connection.execute(
                        update(table).where(where).values(increments)
                    )
                    if changed.rowcount:
                        break
                try:
                    async with self.engine.begin() as connection:
                        await connection.execute(insert(table).values(**row, date_recorded=day))
                    break
                except IntegrityError:
                    continue  # another worker inserted it: add to theirs
        return len(rows)

    @property
    def failures(self) -> int:
        return self._periodic.failures

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
        with contextlib.suppress(Exception):
            await self.flush()
