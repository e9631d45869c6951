"""What the cache rules read: per-policy lookups and hits, per-minute route counts, policies.

`cache_statistics` gives each policy's lookups (the application layer's total) and hits on
any layer (L1 and stale serves in the application row, L2 hits in the redis row) by day;
the request rollups give each GET route's requests and cache hits per bucket.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from banrimkwae.perf.cache.policies import CachePolicy, PolicySet, compile_rows_checked
from banrimkwae.perf.storage.models import ApiCacheConfig, ApiMetricRollup, CacheStatistic


@dataclass(frozen=True, slots=True)
class PolicyUsage:
    """A policy's lookups and hits (any layer, stale serves included) over the period."""

    policy: CachePolicy
    lookups: int
    hits: int

    @property
    def hit_rate(self) -> float:
        return self.hits / self.lookups if self.lookups else 0.0


@dataclass(frozen=True, slots=True)
class MinuteCounts:
    """One endpoint's GET requests and cache hits in one rollup bucket."""

    endpoint: str
    requests: int
    hits: int
    seconds: int


@dataclass(frozen=True, slots=True)
class CacheInputs:
    policies: PolicySet
    usage: list[PolicyUsage]
    minutes: list[MinuteCounts]


async def read_cache_inputs(session: AsyncSession, start: dt.datetime) -> CacheInputs:
    rows = (await session.execute(select(ApiCacheConfig.__table__))).mappings().all()
    compiled, _errors = compile_rows_checked([dict(row) for row in rows])
    policies = PolicySet(compiled)
    statistics = CacheStatistic.__table__
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in await session.execute(
        select(
            statistics.c.cache_key_pattern,
            statistics.c.cache_layer,
            statistics.c.total_requests,
            statistics.c.cache_hits,
        ).where(statistics.c.date_recorded >= start.date())
    ):
        counts = totals[row.cache_key_pattern]
        if row.cache_layer == "application":
            counts[0] += int(row.total_requests)
        if row.cache_layer in ("application", "redis"):
            counts[1] += int(row.cache_hits)
    usage = [
        PolicyUsage(policy, *totals[policy.name])
        for policy in policies.policies
        if policy.name in totals
    ]
    rollups = ApiMetricRollup
    minutes = [
        MinuteCounts(row.endpoint_path, int(row.request_count), int(row.cache_hits), row.seconds)
        for row in await session.execute(
            select(
                rollups.endpoint_path,
                rollups.request_count,
                rollups.cache_hits,
                rollups.bucket_seconds.label("seconds"),
            ).where(
                rollups.bucket_start >= start,
                rollups.http_method == "GET",
                rollups.request_count > 0,
            )
        )
    ]
    return CacheInputs(policies, usage, minutes)
