"""Cache statistics: per-policy counters rolled up daily into cache_statistics, per layer,
added to by every worker; and the counts Prometheus exports."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.cache.rollup import StatisticsRollup
from banrimkwae.perf.cache.statistics import CacheStatistics
from banrimkwae.perf.storage.models import CacheStatistic

DAY = dt.date(2031, 1, 2)


async def _rows(engine: AsyncEngine) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    async with engine.connect() as connection:
        result = await connection.execute(
            select(CacheStatistic).where(CacheStatistic.date_recorded == DAY)
        )
        return {
            (r.cache_key_pattern, r.cache_layer): (
                r.total_requests,
                r.cache_hits,
                r.cache_misses,
                r.total_bytes_served,
            )
            for r in result
        }


async def test_two_workers_add_to_one_daily_row_per_policy_and_layer(
    engine: AsyncEngine,
) -> None:
    workers = [CacheStatistics(), CacheStatistics()]
    for stats in workers:
        counters = stats.of("/rollup-test")
        counters.hits_l1, counters.hits_l2, counters.stale, counters.misses = 6, 2, 1, 1
        counters.bytes_served = 1000
    rollups = [StatisticsRollup(stats, engine, with_l2=True) for stats in workers]
    for rollup in rollups:
        assert await rollup.flush(DAY) == 2
    workers[0].of("/rollup-test").hits_l1 += 10  # only the growth is added next time
    assert await rollups[0].flush(DAY) == 1
    assert await rollups[1].flush(DAY) == 0

    rows = await _rows(engine)
    assert rows[("/rollup-test", "application")] == (30, 24, 6, 2000)
    assert rows[("/rollup-test", "redis")] == (6, 4, 2, 0)
    async with engine.connect() as connection:
        ratio = await connection.scalar(
            select(CacheStatistic.hit_ratio).where(
                CacheStatistic.cache_key_pattern == "/rollup-test",
                CacheStatistic.cache_layer == "application",
            )
        )
    assert float(ratio) == 80.0


def test_layer_counts_for_prometheus() -> None:
    stats = CacheStatistics()
    stats.of("a").hits_l1 = 3
    stats.of("b").hits_l1 = 2
    stats.of("b").misses = 4
    assert stats.layer_counts() == {
        ("l1", "hit"): 5,
        ("l2", "hit"): 0,
        ("stale", "hit"): 0,
        ("origin", "miss"): 4,
    }
