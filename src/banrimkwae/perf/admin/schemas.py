"""Bodies of the performance report API. Times are milliseconds, rates percentages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

# The list envelope is the one every list of the project answers.
from banrimkwae.perf.responses.pagination import Links, Meta, Page


class Summary(BaseModel):
    """The whole API over the period; averages and rates are null when nothing was served."""

    total_requests: int
    avg_response_time_ms: float | None
    min_response_time_ms: float | None
    max_response_time_ms: float | None
    p50_response_time_ms: float | None
    p95_response_time_ms: float | None
    p99_response_time_ms: float | None
    cache_hit_rate: float | None = Field(description="Percent of requests the cache answered.")
    avg_db_queries_per_request: float | None
    avg_db_time_ms_per_request: float | None
    error_rate: float | None = Field(description="Percent of requests answered with 5xx.")
    throughput_rps: float = Field(description="Requests per second over the period.")


class EndpointStats(BaseModel):
    endpoint: str = Field(description="The route template, e.g. /api/v1/rooms/{room_id}.")
    method: str
    requests: int
    errors: int
    error_rate: float
    avg_ms: float
    min_ms: float
    max_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    cache_hit_rate: float
    avg_db_queries: float
    avg_db_time_ms: float
    throughput_rps: float


class ResponseTimePoint(BaseModel):
    t: dt.datetime = Field(description="Start of the step.")
    requests: int
    avg_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None


class VolumePoint(BaseModel):
    t: dt.datetime = Field(description="Start of the step.")
    requests: int
    errors: int
    rps: float


class EndpointCache(BaseModel):
    endpoint: str
    method: str
    requests: int
    hits: int
    misses: int
    hit_rate: float


class CachePerformance(BaseModel):
    hits: int
    misses: int
    hit_rate: float | None
    endpoints: list[EndpointCache] = Field(description="The busiest endpoints first.")


class QueryPlan(BaseModel):
    index_usage: Any
    captured_at: dt.datetime | None


class QueryStats(BaseModel):
    query_hash: str
    query_type: str
    normalized_text: str
    tables: list[str]
    count: int
    total_time_ms: float
    avg_ms: float
    max_ms: float
    avg_rows: float
    n_plus_one: bool = Field(description="Ran more than the N+1 threshold in one request.")
    n_plus_one_requests: int
    endpoints: list[str]
    n_plus_one_endpoints: list[str]
    plan: QueryPlan | None = Field(description="The latest captured plan's index usage.")


class DatabasePerformance(BaseModel):
    total_queries: int
    total_time_ms: float
    slow_queries: list[QueryStats] = Field(
        description="Fingerprints taking the most database time, with their latest plan."
    )
    n_plus_one: list[QueryStats] = Field(description="Fingerprints flagged as N+1.")


class Recommendation(BaseModel):
    id: int
    type: str
    priority: str
    target_resource: str
    description: str
    expected_improvement: str | None
    created_at: dt.datetime | None


class ActiveAlert(BaseModel):
    """An alert rule that is pending, firing, or resolved recently (perf.alerts)."""

    rule_id: int
    name: str
    status: str = Field(description="pending, firing or resolved.")
    severity: str = Field(description="info, warning or critical.")
    metric: str
    endpoint: str | None
    comparison: str
    threshold: float
    resolve_threshold: float | None
    value: float | None = Field(description="The metric at the latest evaluation.")
    since: dt.datetime | None = Field(description="When the alert entered its status.")
    evaluated_at: dt.datetime | None
    description: str | None


class PerformanceReport(BaseModel):
    period: str
    generated_at: dt.datetime
    window_start: dt.datetime
    step_seconds: int
    summary: Summary
    top_slow_endpoints: list[EndpointStats] = Field(description="Slowest p95 first.")
    response_time_trend: list[ResponseTimePoint]
    request_volume_trend: list[VolumePoint]
    cache_performance: CachePerformance
    database_performance: DatabasePerformance
    recommendations: list[Recommendation] = Field(description="Pending, most urgent first.")
    alerts: list[ActiveAlert] = Field(
        default_factory=list,
        description="Firing and pending alerts, most severe first, then those resolved lately.",
    )


__all__ = [
    "ActiveAlert",
    "CachePerformance",
    "DatabasePerformance",
    "EndpointCache",
    "EndpointStats",
    "Links",
    "Meta",
    "Page",
    "PerformanceReport",
    "QueryPlan",
    "QueryStats",
    "Recommendation",
    "ResponseTimePoint",
    "Summary",
    "VolumePoint",
]
