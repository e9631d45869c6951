"""The performance report: rollup rows of a period read back and merged.

Rollup rows are only ever inserted, by several workers, several flushes of one bucket and
several resolutions (minute rows compacted into ten-minute and hour rows as they age). Every
row whose bucket starts inside the window counts once: sums add, minima and maxima combine
and latency histograms merge, so a percentile is over every request of the period, whichever
worker served it. Trends put each row in the step its bucket starts in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from banrimkwae.perf.admin.schemas import (
    ActiveAlert,
    CachePerformance,
    DatabasePerformance,
    EndpointCache,
    EndpointStats,
    PerformanceReport,
    QueryPlan,
    QueryStats,
    Recommendation,
    ResponseTimePoint,
    Summary,
    VolumePoint,
)
from banrimkwae.perf.metrics.aggregator import EndpointAggregate
from banrimkwae.perf.metrics.histogram import LatencyHistogram
from banrimkwae.perf.storage.alert_models import AlertRule, AlertState
from banrimkwae.perf.storage.models import (
    PRIORITIES,
    ApiMetricRollup,
    DatabaseQueryPerformance,
    PerformanceRecommendation,
    QueryFingerprintRollup,
)

EndpointId = tuple[str, str]  # (route template, method)


@dataclass(frozen=True, slots=True)
class Period:
    name: str
    seconds: int
    # The trend resolution that suits the period: about 60 to 168 points.
    step_seconds: int


PERIODS: dict[str, Period] = {
    period.name: period
    for period in (
        Period("1h", 3600, 60),
        Period("24h", 86_400, 600),
        Period("7d", 7 * 86_400, 3600),
        Period("30d", 30 * 86_400, 6 * 3600),
        Period("90d", 90 * 86_400, 86_400),
    )
}


@dataclass(frozen=True, slots=True)
class Window:
    """The steps of a period ending now: aligned to the step, the last one holding `now`."""

    period: Period
    start: float
    now: float

    @classmethod
    def ending(cls, period: Period, now: float) -> Window:
        step = period.step_seconds
        last_step = now - now % step
        return cls(period, last_step - (period.seconds // step - 1) * step, now)

    @property
    def steps(self) -> int:
        return self.period.seconds // self.period.step_seconds

    @property
    def end(self) -> float:
        """The end of the last step (rows stamped a little ahead of `now` still count)."""
        return self.start + self.steps * self.period.step_seconds

    @property
    def elapsed(self) -> float:
        return max(self.now - self.start, 1.0)

    def step_of(self, moment: float) -> int:
        return int((moment - self.start) // self.period.step_seconds)

    def step_start(self, index: int) -> dt.datetime:
        return _utc(self.start + index * self.period.step_seconds)


@dataclass(slots=True)
class RequestRollups:
    """The request rollups of a window, merged per endpoint and per trend step."""

    endpoints: dict[EndpointId, EndpointAggregate]
    steps: list[EndpointAggregate]

    def total(self) -> EndpointAggregate:
        total = EndpointAggregate()
        for aggregate in self.endpoints.values():
            total.merge(aggregate)
        return total


async def read_request_rollups(session: AsyncSession, window: Window) -> RequestRollups:
    table = ApiMetricRollup
    rows = await session.execute(
        select(
            table.bucket_start,
            table.endpoint_path,
            table.http_method,
            table.request_count,
            table.error_count,
            table.total_time_ms,
            table.min_time_ms,
            table.max_time_ms,
            table.latency_histogram,
            table.db_queries,
            table.db_time_ms,
            table.cache_hits,
            table.request_bytes,
            table.response_bytes,
        ).where(
            table.bucket_start >= _utc(window.start),
            table.bucket_start < _utc(window.end),
            table.request_count > 0,
        )
    )
    endpoints: dict[EndpointId, EndpointAggregate] = {}
    steps = [EndpointAggregate() for _ in range(window.steps)]
    for row in rows:
        aggregate = EndpointAggregate(
            count=row.request_count,
            errors=row.error_count,
            total_ms=row.total_time_ms,
            min_ms=row.min_time_ms,
            max_ms=row.max_time_ms,
            histogram=LatencyHistogram.from_json(row.latency_histogram),
            db_queries=row.db_queries,
            db_time_ms=row.db_time_ms,
            cache_hits=row.cache_hits,
            request_bytes=row.request_bytes,
            response_bytes=row.response_bytes,
        )
        key = (row.endpoint_path, row.http_method)
        merged = endpoints.get(key)
        if merged is None:
            merged = endpoints[key] = EndpointAggregate()
        merged.merge(aggregate)
        steps[window.step_of(_epoch(row.bucket_start))].merge(aggregate)
    return RequestRollups(endpoints, steps)


@dataclass(slots=True)
class Fingerprint:
    """One normalised statement over a window, merged across endpoints and workers."""

    query_hash: str
    query_type: str = ""
    normalized_text: str = ""
    tables: list[str] = field(default_factory=list)
    count: int = 0
    total_time_ms: float = 0.0
    max_time_ms: float = 0.0
    total_rows: int = 0
    n_plus_one_requests: int = 0
    endpoints: set[str] = field(default_factory=set)
    n_plus_one_endpoints: set[str] = field(default_factory=set)
    index_usage: Any = None
    plan_captured_at: dt.datetime | None = None

    @property
    def avg_time_ms(self) -> float:
        return self.total_time_ms / self.count if self.count else 0.0


async def read_fingerprints(session: AsyncSession, window: Window) -> list[Fingerprint]:
    table = QueryFingerprintRollup
    in_window = (
        table.bucket_start >= _utc(window.start),
        table.bucket_start < _utc(window.end),
    )
    # Numbers summed by the database per fingerprint and endpoint; descriptions read once.
    sums = await session.execute(
        select(
            table.query_hash,
            table.endpoint_path,
            func.sum(table.execution_count).label("executions"),
            func.sum(table.total_time_ms).label("total_time_ms"),
            func.max(table.max_time_ms).label("max_time_ms"),
            func.sum(table.total_rows).label("total_rows"),
            func.sum(table.n_plus_one_requests).label("n_plus_one_requests"),
        )
        .where(*in_window)
        .group_by(table.query_hash, table.endpoint_path)
    )
    fingerprints: dict[str, Fingerprint] = {}
    for row in sums:
        fingerprint = fingerprints.get(row.query_hash)
        if fingerprint is None:
            fingerprint = fingerprints[row.query_hash] = Fingerprint(row.query_hash)
        fingerprint.count += int(row.executions or 0)
        fingerprint.total_time_ms += float(row.total_time_ms or 0.0)
        fingerprint.max_time_ms = max(fingerprint.max_time_ms, float(row.max_time_ms or 0.0))
        fingerprint.total_rows += int(row.total_rows or 0)
        fingerprint.n_plus_one_requests += int(row.n_plus_one_requests or 0)
        fingerprint.endpoints.add(row.endpoint_path)
        if row.n_plus_one_requests:
            fingerprint.n_plus_one_endpoints.add(row.endpoint_path)
    if not fingerprints:
        return []
    latest = select(func.max(table.id)).where(*in_window).group_by(table.query_hash)
    described = await session.execute(
        select(table.query_hash, table.query_type, table.normalized_text, table.table_names).where(
            table.id.in_(latest)
        )
    )
    for description in described:
        # Each statement reads its own snapshot (READ COMMITTED; SQLite runs a lone SELECT
        # outside a transaction): a fingerprint flushed since the sums were read is not in them.
        fingerprint = fingerprints.get(description.query_hash)
        if fingerprint is None:
            continue
        fingerprint.query_type = description.query_type
        fingerprint.normalized_text = description.normalized_text
        fingerprint.tables = list(description.table_names or [])
    return list(fingerprints.values())


async def attach_plans(session: AsyncSession, fingerprints: Sequence[Fingerprint]) -> None:
    """Give each fingerprint the index usage of its latest captured plan, if any."""
    if not fingerprints:
        return
    table = DatabaseQueryPerformance
    by_hash = {fingerprint.query_hash: fingerprint for fingerprint in fingerprints}
    # A JSON column may hold the JSON value null as well as SQL NULL: neither is a plan.
    latest = (
        select(func.max(table.id))
        .where(
            table.query_hash.in_(by_hash),
            table.index_usage.is_not(None),
            cast(table.index_usage, String) != "null",
        )
        .group_by(table.query_hash)
    )
    rows = await session.execute(
        select(table.query_hash, table.index_usage, table.executed_at).where(table.id.in_(latest))
    )
    for row in rows:
        fingerprint = by_hash[row.query_hash]
        fingerprint.index_usage = row.index_usage
        fingerprint.plan_captured_at = _aware(row.executed_at) if row.executed_at else None


async def read_pending_recommendations(
    session: AsyncSession, limit: int
) -> list[PerformanceRecommendation]:
    table = PerformanceRecommendation
    # Compared as the column's own type: PostgreSQL has no enum = varchar operator.
    urgency = case(
        *((table.priority == priority, rank) for rank, priority in enumerate(reversed(PRIORITIES))),
        else_=len(PRIORITIES),
    )
    rows = await session.scalars(
        select(table)
        .where(table.status == "pending")
        .order_by(urgency, table.created_at.desc(), table.id.desc())
        .limit(limit)
    )
    return list(rows)


# Resolved alerts stay in the report (and on the dashboard) this long.
RESOLVED_SHOWN_SECONDS = 3600
_SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
_STATUS_RANK = {"firing": 0, "pending": 1, "resolved": 2}


async def read_alerts(
    session: AsyncSession, now: float, *, resolved_within: float = RESOLVED_SHOWN_SECONDS
) -> list[ActiveAlert]:
    """Alerts firing or pending, most severe first, then those resolved within the time."""
    rules, states = AlertRule.__table__.c, AlertState.__table__.c
    rows = await session.execute(
        select(
            rules.id,
            rules.name,
            rules.severity,
            rules.metric,
            rules.endpoint,
            rules.comparison,
            rules.threshold,
            rules.resolve_threshold,
            rules.description,
            states.status,
            states.value,
            states.since,
            states.evaluated_at,
        )
        .join(AlertState, states.rule_id == rules.id)
        .where(states.status.in_(("pending", "firing", "resolved")))
    )
    alerts: list[ActiveAlert] = []
    for row in rows.mappings():
        since = _aware(row["since"]) if row["since"] is not None else None
        if row["status"] == "resolved" and (
            since is None or since.timestamp() < now - resolved_within
        ):
            continue
        evaluated = row["evaluated_at"]
        alerts.append(
            ActiveAlert(
                rule_id=row["id"],
                name=row["name"],
                status=row["status"],
                severity=row["severity"],
                metric=row["metric"],
                endpoint=row["endpoint"],
                comparison=row["comparison"],
                threshold=row["threshold"],
                resolve_threshold=row["resolve_threshold"],
                value=row["value"],
                since=since,
                evaluated_at=_aware(evaluated) if evaluated is not None else None,
                description=row["description"],
            )
        )
    alerts.sort(key=lambda alert: -(alert.since.timestamp() if alert.since else 0.0))
    alerts.sort(
        key=lambda alert: (_STATUS_RANK.get(alert.status, 3), _SEVERITY_RANK.get(alert.severity, 3))
    )
    return alerts


def sort_fingerprints(
    fingerprints: Iterable[Fingerprint], sort: str, *, descending: bool
) -> list[Fingerprint]:
    keys = {
        "total_time": lambda f: f.total_time_ms,
        "avg": lambda f: f.avg_time_ms,
        "count": lambda f: float(f.count),
        "max": lambda f: f.max_time_ms,
    }
    metric = keys[sort]
    # Ties in a stable order, so that pages do not overlap.
    ordered = sorted(fingerprints, key=lambda f: f.query_hash)
    return sorted(ordered, key=metric, reverse=descending)


def _utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite and MariaDB hand back naive datetimes; the platform writes UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _epoch(moment: dt.datetime) -> float:
    return _aware(moment).timestamp()


SLOW_ENDPOINTS = 10
REPORT_QUERIES = 10
CACHE_ENDPOINTS = 20
RECOMMENDATIONS = 20
ENDPOINT_SORTS = ("p95", "avg", "count", "errors")
QUERY_SORTS = ("total_time", "avg", "count", "max")


async def build_report(session: AsyncSession, window: Window) -> PerformanceReport:
    requests = await read_request_rollups(session, window)
    fingerprints = await read_fingerprints(session, window)
    slow = sort_fingerprints(fingerprints, "total_time", descending=True)[:REPORT_QUERIES]
    flagged = sorted(
        (f for f in fingerprints if f.n_plus_one_requests),
        key=lambda f: (-f.n_plus_one_requests, f.query_hash),
    )[:REPORT_QUERIES]
    await attach_plans(session, [*slow, *flagged])
    recommendations = await read_pending_recommendations(session, RECOMMENDATIONS)
    alerts = await read_alerts(session, window.now)
    endpoints = [endpoint_stats(key, agg, window) for key, agg in requests.endpoints.items()]
    total = requests.total()
    return PerformanceReport(
        period=window.period.name,
        generated_at=_utc(window.now),
        window_start=_utc(window.start),
        step_seconds=window.period.step_seconds,
        summary=summary(total, window),
        top_slow_endpoints=sort_endpoints(endpoints, "p95", descending=True)[:SLOW_ENDPOINTS],
        response_time_trend=[
            ResponseTimePoint(
                t=window.step_start(index),
                requests=step.count,
                avg_ms=step.total_ms / step.count if step.count else None,
                p50_ms=step.histogram.quantile(0.5),
                p95_ms=step.histogram.quantile(0.95),
                max_ms=step.max_ms if step.count else None,
            )
            for index, step in enumerate(requests.steps)
        ],
        request_volume_trend=[
            VolumePoint(
                t=window.step_start(index),
                requests=step.count,
                errors=step.errors,
                rps=step.count / window.period.step_seconds,
            )
            for index, step in enumerate(requests.steps)
        ],
        cache_performance=cache_performance(requests.endpoints, total),
        database_performance=DatabasePerformance(
            total_queries=sum(f.count for f in fingerprints),
            total_time_ms=sum(f.total_time_ms for f in fingerprints),
            slow_queries=[query_stats(f) for f in slow],
            n_plus_one=[query_stats(f) for f in flagged],
        ),
        recommendations=[
            Recommendation(
                id=row.id,
                type=row.recommendation_type,
                priority=row.priority,
                target_resource=row.target_resource,
                description=row.description,
                expected_improvement=row.expected_improvement,
                created_at=_aware(row.created_at) if row.created_at else None,
            )
            for row in recommendations
        ],
        alerts=alerts,
    )


def summary(total: EndpointAggregate, window: Window) -> Summary:
    count = total.count
    if not count:
        return Summary(
            total_requests=0,
            avg_response_time_ms=None,
            min_response_time_ms=None,
            max_response_time_ms=None,
            p50_response_time_ms=None,
            p95_response_time_ms=None,
            p99_response_time_ms=None,
            cache_hit_rate=None,
            avg_db_queries_per_request=None,
            avg_db_time_ms_per_request=None,
            error_rate=None,
            throughput_rps=0.0,
        )
    return Summary(
        total_requests=count,
        avg_response_time_ms=total.total_ms / count,
        min_response_time_ms=total.min_ms,
        max_response_time_ms=total.max_ms,
        p50_response_time_ms=total.histogram.quantile(0.5),
        p95_response_time_ms=total.histogram.quantile(0.95),
        p99_response_time_ms=total.histogram.quantile(0.99),
        cache_hit_rate=100.0 * total.cache_hits / count,
        avg_db_queries_per_request=total.db_queries / count,
        avg_db_time_ms_per_request=total.db_time_ms / count,
        error_rate=100.0 * total.errors / count,
        throughput_rps=count / window.elapsed,
    )


def endpoint_stats(key: EndpointId, aggregate: EndpointAggregate, window: Window) -> EndpointStats:
    count = aggregate.count
    histogram = aggregate.histogram
    return EndpointStats(
        endpoint=key[0],
        method=key[1],
        requests=count,
        errors=aggregate.errors,
        error_rate=100.0 * aggregate.errors / count,
        avg_ms=aggregate.total_ms / count,
        min_ms=aggregate.min_ms,
        max_ms=aggregate.max_ms,
        p50_ms=histogram.quantile(0.5) or 0.0,
        p95_ms=histogram.quantile(0.95) or 0.0,
        p99_ms=histogram.quantile(0.99) or 0.0,
        cache_hit_rate=100.0 * aggregate.cache_hits / count,
        avg_db_queries=aggregate.db_queries / count,
        avg_db_time_ms=aggregate.db_time_ms / count,
        throughput_rps=count / window.elapsed,
    )


def sort_endpoints(
    stats: Iterable[EndpointStats], sort: str, *, descending: bool
) -> list[EndpointStats]:
    keys = {
        "p95": lambda s: s.p95_ms,
        "avg": lambda s: s.avg_ms,
        "count": lambda s: float(s.requests),
        "errors": lambda s: float(s.errors),
    }
    metric = keys[sort]
    # Ties in a stable order, so that pages do not overlap.
    ordered = sorted(stats, key=lambda s: (s.endpoint, s.method))
    return sorted(ordered, key=metric, reverse=descending)


def cache_performance(
    endpoints: dict[EndpointId, EndpointAggregate], total: EndpointAggregate
) -> CachePerformance:
    busiest = sorted(endpoints.items(), key=lambda item: (-item[1].count, item[0]))
    return CachePerformance(
        hits=total.cache_hits,
        misses=total.count - total.cache_hits,
        hit_rate=100.0 * total.cache_hits / total.count if total.count else None,
        endpoints=[
            EndpointCache(
                endpoint=path,
                method=method,
                requests=aggregate.count,
                hits=aggregate.cache_hits,
                misses=aggregate.count - aggregate.cache_hits,
                hit_rate=100.0 * aggregate.cache_hits / aggregate.count,
            )
            for (path, method), aggregate in busiest[:CACHE_ENDPOINTS]
        ],
    )


def query_stats(fingerprint: Fingerprint) -> QueryStats:
    plan = (
        QueryPlan(index_usage=fingerprint.index_usage, captured_at=fingerprint.plan_captured_at)
        if fingerprint.index_usage is not None
        else None
    )
    return QueryStats(
        query_hash=fingerprint.query_hash,
        query_type=fingerprint.query_type,
        normalized_text=fingerprint.normalized_text,
        tables=fingerprint.tables,
        count=fingerprint.count,
        total_time_ms=fingerprint.total_time_ms,
        avg_ms=fingerprint.avg_time_ms,
        max_ms=fingerprint.max_time_ms,
        avg_rows=fingerprint.total_rows / fingerprint.count if fingerprint.count else 0.0,
        n_plus_one=fingerprint.n_plus_one_requests > 0,
        n_plus_one_requests=fingerprint.n_plus_one_requests,
        endpoints=sorted(fingerprint.endpoints),
        n_plus_one_endpoints=sorted(fingerprint.n_plus_one_endpoints),
        plan=plan,
    )
