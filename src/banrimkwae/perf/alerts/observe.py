"""The value each rule's metric has now, measured over the rule's window.

Request metrics come from the same rollups the report reads (every worker's requests),
read once per distinct window; scale_failed events from `scaling_events`; replica lag from
the replica router's latest checks (a gauge, so the window does not apply).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from banrimkwae.perf.admin.report import Period, RequestRollups, Window, read_request_rollups
from banrimkwae.perf.alerts.rules import Rule
from banrimkwae.perf.metrics.aggregator import EndpointAggregate
from banrimkwae.perf.storage import ScalingEvent

ReplicaLag = Callable[[], float | None]
# The rollups' finest resolution: windows are read in steps of a minute.
_STEP_SECONDS = 60


def no_replicas() -> float | None:
    return None


async def observe(
    session: AsyncSession,
    rules: Iterable[Rule],
    now: float,
    *,
    replica_lag: ReplicaLag = no_replicas,
) -> dict[int, float | None]:
    """Each rule's current value by rule id; None where the window holds no data."""
    rollups: dict[int, RequestRollups] = {}
    values: dict[int, float | None] = {}
    for rule in rules:
        if rule.metric == "replica_lag_seconds":
            values[rule.id] = replica_lag()
        elif rule.metric == "scale_failed_events":
            values[rule.id] = float(await _scale_failures(session, rule.window_seconds, now))
        else:
            window = rule.window_seconds
            if window not in rollups:
                period = Period(f"{window}s", window, _STEP_SECONDS)
                rollups[window] = await read_request_rollups(session, Window.ending(period, now))
            aggregate = _aggregate(rollups[window], rule.endpoint)
            values[rule.id] = request_metric(rule.metric, aggregate, window)
    return values


def request_metric(metric: str, aggregate: EndpointAggregate, window_seconds: int) -> float | None:
    """A request metric of the report computed from merged rollups; None without requests."""
    count = aggregate.count
    if not count:
        return None
    if metric == "p95_ms":
        return aggregate.histogram.quantile(0.95)
    if metric == "p99_ms":
        return aggregate.histogram.quantile(0.99)
    if metric == "avg_ms":
        return aggregate.total_ms / count
    if metric == "error_rate":
        return 100.0 * aggregate.errors / count
    if metric == "cache_hit_rate":
        return 100.0 * aggregate.cache_hits / count
    if metric == "requests_per_second":
        return count / window_seconds
    if metric == "db_time_ms":
        return aggregate.db_time_ms / count
    raise ValueError(f"{metric!r} is not a request metric")


def _aggregate(rollups: RequestRollups, endpoint: str | None) -> EndpointAggregate:
    if endpoint is None:
        return rollups.total()
    merged = EndpointAggregate()
    for (path, _method), aggregate in rollups.endpoints.items():
        if path == endpoint:
            merged.merge(aggregate)
    return merged


async def _scale_failures(session: AsyncSession, window_seconds: int, now: float) -> int:
    start = datetime.fromtimestamp(now - window_seconds, UTC)
    table = ScalingEvent
    found = await session.scalar(
        select(func.count())
        .select_from(table)
        .where(table.event_type == "scale_failed", table.created_at >= start)
    )
    return int(found or 0)
