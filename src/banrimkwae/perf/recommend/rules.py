"""The recommendation rules: measurements in, findings out (pure functions, no database).

The specification's three rules over the last days of traffic, with its thresholds:
- slow queries: a statement fingerprint averaging over 1000 ms (high priority over 2000 ms);
- low cache hit rate: a GET endpoint served from the cache less than half the time (high
  under 30 %), once it has enough requests to tell;
- slow endpoints: an endpoint averaging over 500 ms (high over 1000 ms).
Plus N+1: a fingerprint the query tracker flagged as repeated per row in some requests.

Every rule also *measures* each target it looks at, problem or not: re-evaluation reads the
measurement of a target whose problem is gone as the recommendation's after-value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from banrimkwae.perf.admin.report import Fingerprint
from banrimkwae.perf.admin.schemas import EndpointStats

SLOW_QUERY_MS = 1000.0
SLOW_QUERY_HIGH_MS = 2000.0
LOW_HIT_RATE = 50.0
LOW_HIT_RATE_HIGH = 30.0
MIN_REQUESTS_FOR_HIT_RATE = 100
SLOW_ENDPOINT_MS = 500.0
SLOW_ENDPOINT_HIGH_MS = 1000.0
RULES = ("slow_query", "low_cache_hit_rate", "slow_endpoint", "n_plus_one")


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    type: str
    priority: str
    target: str
    current: float
    recommended: float
    description: str
    steps: list[str]
    expected: str
    impact: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Evaluation:
    """What the rules found, and what they measured on every target they looked at."""

    findings: list[Finding] = field(default_factory=list)
    measured: dict[str, float] = field(default_factory=dict)


def slow_queries(fingerprints: Iterable[Fingerprint], into: Evaluation) -> None:
    for fingerprint in fingerprints:
        target = f"query:{fingerprint.query_hash}"
        average = fingerprint.avg_time_ms
        into.measured[target] = average
        if average <= SLOW_QUERY_MS:
            continue
        into.findings.append(
            Finding(
                rule="slow_query",
                type="query",
                priority="high" if average > SLOW_QUERY_HIGH_MS else "medium",
                target=target,
                current=average,
                recommended=min(average * 0.3, 100.0),
                description=f"Slow query: {average:.0f} ms on average, {fingerprint.count} runs",
                steps=[
                    "Analyse the execution plan (banrimkwae db advise)",
                    "Add the indexes it needs",
                    "Rewrite the query or cache its result",
                ],
                expected="Reduce the query's execution time by 70 %",
                impact=_query_impact(fingerprint),
            )
        )


def n_plus_one(fingerprints: Iterable[Fingerprint], into: Evaluation) -> None:
    for fingerprint in fingerprints:
        target = f"n+1:{fingerprint.query_hash}"
        into.measured[target] = float(fingerprint.n_plus_one_requests)
        if fingerprint.n_plus_one_requests <= 0:
            continue
        endpoints = sorted(fingerprint.n_plus_one_endpoints)
        into.findings.append(
            Finding(
                rule="n_plus_one",
                type="query",
                priority="high" if fingerprint.n_plus_one_requests >= 100 else "medium",
                target=target,
                current=float(fingerprint.n_plus_one_requests),
                recommended=0.0,
                description=(
                    f"N+1: one statement repeated per row in {fingerprint.n_plus_one_requests} "
                    f"request(s) of {', '.join(endpoints) or 'some endpoint'}"
                ),
                steps=[
                    "Load the related rows with the parent query (a join or selectinload)",
                    "Or fetch them in one IN (...) query per request",
                ],
                expected="One statement per request instead of one per row",
                impact={**_query_impact(fingerprint), "endpoints": endpoints},
            )
        )


def low_cache_hit_rate(endpoints: Iterable[EndpointStats], into: Evaluation) -> None:
    for stats in endpoints:
        if stats.method != "GET" or stats.requests < MIN_REQUESTS_FOR_HIT_RATE:
            continue  # only reads are cached, and a few requests tell nothing
        target = f"cache:GET {stats.endpoint}"
        into.measured[target] = stats.cache_hit_rate
        if stats.cache_hit_rate >= LOW_HIT_RATE:
            continue
        into.findings.append(
            Finding(
                rule="low_cache_hit_rate",
                type="cache",
                priority="high" if stats.cache_hit_rate < LOW_HIT_RATE_HIGH else "medium",
                target=target,
                current=stats.cache_hit_rate,
                recommended=80.0,
                description=(
                    f"Low cache hit rate: {stats.cache_hit_rate:.1f} % on GET {stats.endpoint}"
                ),
                steps=[
                    "Review the endpoint's cache policy (/api/admin/cache/policies)",
                    "Increase its TTL",
                    "Enable cache warming",
                    "Invalidate by tags rather than by expiry",
                ],
                expected="Increase the cache hit rate to 80 % or more",
                impact=_endpoint_impact(stats),
            )
        )


def slow_endpoints(endpoints: Iterable[EndpointStats], into: Evaluation) -> None:
    for stats in endpoints:
        target = f"endpoint:{stats.method} {stats.endpoint}"
        into.measured[target] = stats.avg_ms
        if stats.avg_ms <= SLOW_ENDPOINT_MS:
            continue
        database_share = stats.avg_db_time_ms / stats.avg_ms if stats.avg_ms else 0.0
        into.findings.append(
            Finding(
                rule="slow_endpoint",
                # Mostly database time: the queries are what to fix.
                type="query" if database_share >= 0.5 else "configuration",
                priority="high" if stats.avg_ms > SLOW_ENDPOINT_HIGH_MS else "medium",
                target=target,
                current=stats.avg_ms,
                recommended=min(stats.avg_ms * 0.5, 200.0),
                description=(
                    f"Slow endpoint: {stats.method} {stats.endpoint} averages "
                    f"{stats.avg_ms:.0f} ms ({database_share:.0%} in the database)"
                ),
                steps=[
                    "Look at its queries (/api/admin/performance/queries)",
                    "Cache its response if it is a read",
                    "Move slow work out of the request",
                ],
                expected="Halve the endpoint's average response time",
                impact=_endpoint_impact(stats),
            )
        )


def evaluate(fingerprints: list[Fingerprint], endpoints: list[EndpointStats]) -> Evaluation:
    evaluation = Evaluation()
    slow_queries(fingerprints, evaluation)
    low_cache_hit_rate(endpoints, evaluation)
    slow_endpoints(endpoints, evaluation)
    n_plus_one(fingerprints, evaluation)
    return evaluation


def _query_impact(fingerprint: Fingerprint) -> dict[str, Any]:
    # "query_text" is a sensitive field: only admins see it (perf.admin.redaction).
    return {
        "query_hash": fingerprint.query_hash,
        "query_text": fingerprint.normalized_text,
        "executions": fingerprint.count,
        "total_time_ms": round(fingerprint.total_time_ms, 3),
        "max_time_ms": round(fingerprint.max_time_ms, 3),
        "tables": list(fingerprint.tables),
    }


def _endpoint_impact(stats: EndpointStats) -> dict[str, Any]:
    return {
        "requests": stats.requests,
        "avg_ms": round(stats.avg_ms, 3),
        "p95_ms": round(stats.p95_ms, 3),
        "cache_hit_rate": round(stats.cache_hit_rate, 2),
        "avg_db_time_ms": round(stats.avg_db_time_ms, 3),
    }
