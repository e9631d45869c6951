"""The platform tables of the specification, portable across SQLite, PostgreSQL and MariaDB.

Types follow the specification: BIGINT UNSIGNED keys (plain BIGINT on PostgreSQL, INTEGER on
SQLite so it auto-increments), ENUMs (native on PostgreSQL and MariaDB, CHECK on SQLite), JSON,
DECIMAL and TIMESTAMP. The two monthly-partitioned tables carry a composite primary key on
PostgreSQL and MariaDB (the partition column must be part of it); the migration creates that.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    Double,
    Enum,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TIMESTAMP

PLATFORM_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

UnsignedBigId = (
    BigInteger()
    .with_variant(mysql.BIGINT(unsigned=True), "mysql", "mariadb")
    .with_variant(Integer(), "sqlite")
)
UnsignedBigInt = BigInteger().with_variant(mysql.BIGINT(unsigned=True), "mysql", "mariadb")
Timestamp = TIMESTAMP(timezone=True)

QUERY_TYPES = ("SELECT", "INSERT", "UPDATE", "DELETE")
CACHE_STRATEGIES = ("simple", "tagged", "hierarchical")
SCALING_EVENT_TYPES = ("scale_up", "scale_down", "scale_triggered", "scale_failed")
RECOMMENDATION_TYPES = ("cache", "index", "query", "scaling", "configuration")
PRIORITIES = ("low", "medium", "high", "critical")
RECOMMENDATION_STATUSES = ("pending", "implementing", "completed", "rejected")
CACHE_LAYERS = ("application", "redis", "cdn")


def _enum(name: str, values: tuple[str, ...]) -> Enum:
    return Enum(*values, name=name, create_constraint=True)


def _id() -> Mapped[int]:
    return mapped_column(UnsignedBigId, primary_key=True, autoincrement=True)


def _now(*, on_update: bool = False) -> Any:
    if on_update:
        return mapped_column(
            Timestamp, server_default=func.current_timestamp(), onupdate=func.current_timestamp()
        )
    return mapped_column(Timestamp, server_default=func.current_timestamp())


class PlatformBase(DeclarativeBase):
    metadata = MetaData(naming_convention=PLATFORM_NAMING)


class ApiPerformanceMetric(PlatformBase):
    __tablename__ = "api_performance_metrics"
    __table_args__ = (
        Index("idx_endpoint_method", "endpoint_path", "http_method"),
        Index("idx_timestamp", "timestamp"),
        Index("idx_response_time", "response_time_ms"),
        Index("idx_cache_hit", "cache_hit"),
    )

    id: Mapped[int] = _id()
    endpoint_path: Mapped[str] = mapped_column(String(255))
    http_method: Mapped[str] = mapped_column(String(10))
    response_time_ms: Mapped[int] = mapped_column(Integer)
    request_size_bytes: Mapped[int | None] = mapped_column(Integer)
    response_size_bytes: Mapped[int | None] = mapped_column(Integer)
    cache_hit: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    database_queries_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    database_time_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    memory_usage_mb: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    cpu_usage_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    timestamp: Mapped[dt.datetime | None] = _now()
    client_id: Mapped[int | None] = mapped_column(UnsignedBigInt)
    user_id: Mapped[int | None] = mapped_column(UnsignedBigInt)
    # Beyond the specification: the status, and the weight that scales a sample back to
    # counts (1 for slow requests, which are all kept; 1/rate for the sampled rest).
    status_code: Mapped[int | None] = mapped_column(SmallInteger)
    sample_rate: Mapped[Decimal] = mapped_column(
        Numeric(9, 6), default=Decimal(1), server_default="1"
    )


class ApiCacheConfig(PlatformBase):
    __tablename__ = "api_cache_config"
    __table_args__ = (
        UniqueConstraint("endpoint_pattern", name="uk_endpoint_pattern"),
        Index("idx_cache_strategy", "cache_strategy"),
        Index("idx_active", "is_active"),
    )

    id: Mapped[int] = _id()
    endpoint_pattern: Mapped[str] = mapped_column(String(255))
    http_methods: Mapped[list[str]] = mapped_column(JSON)
    cache_ttl_seconds: Mapped[int] = mapped_column(Integer, default=300, server_default="300")
    cache_strategy: Mapped[str] = mapped_column(
        _enum("cache_strategy", CACHE_STRATEGIES), default="simple", server_default="simple"
    )
    cache_key_pattern: Mapped[str | None] = mapped_column(String(500))
    invalidation_triggers: Mapped[Any | None] = mapped_column(JSON)
    cache_warming_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    compression_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    created_at: Mapped[dt.datetime | None] = _now()
    updated_at: Mapped[dt.datetime | None] = _now(on_update=True)
    # Beyond the specification (migration 0004): the response cache's stale windows, and
    # options (client_max_age, honour_client_no_cache, warm_requests).
    stale_while_revalidate_seconds: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0"
    )
    stale_if_error_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cache_options: Mapped[Any | None] = mapped_column(JSON)


class DatabaseQueryPerformance(PlatformBase):
    __tablename__ = "database_query_performance"
    __table_args__ = (
        Index("idx_query_hash", "query_hash"),
        Index("idx_execution_time", "execution_time_ms"),
        Index("idx_executed_at", "executed_at"),
        Index("idx_endpoint", "endpoint_path"),
    )

    id: Mapped[int] = _id()
    query_hash: Mapped[str] = mapped_column(String(64))
    query_type: Mapped[str] = mapped_column(_enum("query_type", QUERY_TYPES))
    table_names: Mapped[list[str]] = mapped_column(JSON)
    execution_time_ms: Mapped[Decimal] = mapped_column(Numeric(10, 3))
    rows_examined: Mapped[int | None] = mapped_column(Integer)
    rows_sent: Mapped[int | None] = mapped_column(Integer)
    query_text: Mapped[str | None] = mapped_column(Text)
    execution_plan: Mapped[Any | None] = mapped_column(JSON)
    index_usage: Mapped[Any | None] = mapped_column(JSON)
    executed_at: Mapped[dt.datetime | None] = _now()
    endpoint_path: Mapped[str | None] = mapped_column(String(255))
    request_id: Mapped[str | None] = mapped_column(String(100))


class AutoScalingConfig(PlatformBase):
    __tablename__ = "auto_scaling_config"
    __table_args__ = (
        UniqueConstraint("service_name", name="uk_service_name"),
        Index("idx_enabled", "is_enabled"),
    )

    id: Mapped[int] = _id()
    service_name: Mapped[str] = mapped_column(String(100))
    min_instances: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    max_instances: Mapped[int] = mapped_column(Integer, default=20, server_default="20")
    target_cpu_percent: Mapped[Decimal] = mapped_column(
        Numeric(5, 2), default=Decimal("70.00"), server_default="70.00"
    )
    target_memory_percent: Mapped[Decimal] = mapped_column(
        Numeric(5, 2), default=Decimal("80.00"), server_default="80.00"
    )
    target_response_time_ms: Mapped[int] = mapped_column(Integer, default=200, server_default="200")
    scale_up_cooldown_seconds: Mapped[int] = mapped_column(
        Integer, default=300, server_default="300"
    )
    scale_down_cooldown_seconds: Mapped[int] = mapped_column(
        Integer, default=600, server_default="600"
    )
    scale_up_threshold_count: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    scale_down_threshold_count: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    created_at: Mapped[dt.datetime | None] = _now()
    updated_at: Mapped[dt.datetime | None] = _now(on_update=True)
    # Migration 0006: the policy the controller runs; a manual pin held until pinned_until.
    policy: Mapped[str] = mapped_column(String(20), default="slo", server_default="slo")
    capacity_rps: Mapped[Decimal] = mapped_column(
        Numeric(10, 2), default=Decimal("0"), server_default="0"
    )
    pinned_instances: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pinned_until: Mapped[dt.datetime | None] = mapped_column(Timestamp, nullable=True)
    leader_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    leader_until: Mapped[dt.datetime | None] = mapped_column(Timestamp, nullable=True)


class ScalingEvent(PlatformBase):
    __tablename__ = "scaling_events"
    __table_args__ = (
        Index("idx_service_event", "service_name", "event_type"),
        Index("idx_created_at", "created_at"),
    )

    id: Mapped[int] = _id()
    service_name: Mapped[str] = mapped_column(String(100))
    event_type: Mapped[str] = mapped_column(_enum("scaling_event_type", SCALING_EVENT_TYPES))
    from_instances: Mapped[int] = mapped_column(Integer)
    to_instances: Mapped[int] = mapped_column(Integer)
    trigger_metric: Mapped[str] = mapped_column(String(50))
    trigger_value: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    threshold_value: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    event_details: Mapped[Any | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime | None] = _now()


class PerformanceRecommendation(PlatformBase):
    __tablename__ = "performance_recommendations"
    __table_args__ = (
        Index("idx_type_priority", "recommendation_type", "priority"),
        Index("idx_status", "status"),
        Index("idx_recommendations_created_at", "created_at"),
        Index("idx_recommendations_verify_after", "verify_after"),
    )

    id: Mapped[int] = _id()
    recommendation_type: Mapped[str] = mapped_column(
        _enum("recommendation_type", RECOMMENDATION_TYPES)
    )
    priority: Mapped[str] = mapped_column(_enum("recommendation_priority", PRIORITIES))
    target_resource: Mapped[str] = mapped_column(String(255))
    current_metric_value: Mapped[Decimal | None] = mapped_column(Numeric(15, 3))
    recommended_metric_value: Mapped[Decimal | None] = mapped_column(Numeric(15, 3))
    description: Mapped[str] = mapped_column(Text)
    implementation_steps: Mapped[Any | None] = mapped_column(JSON)
    expected_improvement: Mapped[str | None] = mapped_column(Text)
    impact_analysis: Mapped[Any | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(
        _enum("recommendation_status", RECOMMENDATION_STATUSES),
        default="pending",
        server_default="pending",
    )
    created_at: Mapped[dt.datetime | None] = _now()
    updated_at: Mapped[dt.datetime | None] = _now(on_update=True)
    implemented_at: Mapped[dt.datetime | None] = mapped_column(Timestamp, nullable=True)
    # A change the platform applied (perf.recommend.apply) and its verification: what was
    # done (enough to undo it), the target metric before and after, and the outcome.
    applied_change: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    applied_at: Mapped[dt.datetime | None] = mapped_column(Timestamp, nullable=True)
    verify_after: Mapped[dt.datetime | None] = mapped_column(Timestamp, nullable=True)
    before_value: Mapped[Decimal | None] = mapped_column(Numeric(15, 3), nullable=True)
    after_value: Mapped[Decimal | None] = mapped_column(Numeric(15, 3), nullable=True)
    # verified | rolled_back | not_rolled_back; null until verified.
    verification: Mapped[str | None] = mapped_column(String(20), nullable=True)
    verification_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    rolled_back_at: Mapped[dt.datetime | None] = mapped_column(Timestamp, nullable=True)


class CacheStatistic(PlatformBase):
    __tablename__ = "cache_statistics"
    __table_args__ = (
        UniqueConstraint(
            "cache_key_pattern",
            "cache_layer",
            "date_recorded",
            name="uk_cache_pattern_layer_date",
        ),
        Index("idx_hit_ratio", "hit_ratio"),
        Index("idx_date", "date_recorded"),
    )

    id: Mapped[int] = _id()
    cache_key_pattern: Mapped[str] = mapped_column(String(255))
    cache_layer: Mapped[str] = mapped_column(_enum("cache_layer", CACHE_LAYERS))
    total_requests: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    cache_hits: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    cache_misses: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    hit_ratio: Mapped[Decimal | None] = mapped_column(
        Numeric(5, 2),
        Computed(
            "CASE WHEN total_requests > 0 THEN (cache_hits * 100.0 / total_requests) ELSE 0 END",
            persisted=True,
        ),
    )
    avg_response_time_ms: Mapped[Decimal | None] = mapped_column(Numeric(10, 3))
    total_bytes_served: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    evictions_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    date_recorded: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime | None] = _now()


class AuditLog(PlatformBase):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("idx_audit_created_at", "created_at"),
        Index("idx_audit_target", "target"),
    )

    id: Mapped[int] = _id()
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(255))
    before: Mapped[Any | None] = mapped_column(JSON)
    after: Mapped[Any | None] = mapped_column(JSON)
    address: Mapped[str | None] = mapped_column(String(45))
    created_at: Mapped[dt.datetime | None] = _now()


class ApiMetricRollup(PlatformBase):
    """Request aggregates of one worker's flush for one time bucket and endpoint.

    Rows are only inserted, never updated: several workers and several flushes of one bucket
    each add their own row, and readers merge them (sums, min/max, histogram counts).
    Compaction merges 1-minute rows into 10-minute and 1-hour rows as they age.
    """

    __tablename__ = "api_metric_rollups"
    __table_args__ = (
        Index("idx_rollups_bucket", "bucket_seconds", "bucket_start"),
        Index("idx_rollups_endpoint", "endpoint_path", "http_method"),
    )

    id: Mapped[int] = _id()
    bucket_start: Mapped[dt.datetime] = mapped_column(Timestamp)
    bucket_seconds: Mapped[int] = mapped_column(Integer)
    endpoint_path: Mapped[str] = mapped_column(String(255))
    http_method: Mapped[str] = mapped_column(String(10))
    status_class: Mapped[int] = mapped_column(SmallInteger)
    request_count: Mapped[int] = mapped_column(BigInteger)
    error_count: Mapped[int] = mapped_column(BigInteger)
    total_time_ms: Mapped[float] = mapped_column(Double)
    min_time_ms: Mapped[float] = mapped_column(Double)
    max_time_ms: Mapped[float] = mapped_column(Double)
    latency_histogram: Mapped[dict[str, int]] = mapped_column(JSON)
    db_queries: Mapped[int] = mapped_column(BigInteger)
    db_time_ms: Mapped[float] = mapped_column(Double)
    cache_hits: Mapped[int] = mapped_column(BigInteger)
    request_bytes: Mapped[int] = mapped_column(BigInteger)
    response_bytes: Mapped[int] = mapped_column(BigInteger)
    worker: Mapped[str] = mapped_column(String(64))


class QueryFingerprintRollup(PlatformBase):
    """Statement aggregates per fingerprint and endpoint, bucketed like the request rollups."""

    __tablename__ = "query_fingerprint_rollups"
    __table_args__ = (
        Index("idx_query_rollups_bucket", "bucket_seconds", "bucket_start"),
        Index("idx_query_rollups_hash", "query_hash"),
    )

    id: Mapped[int] = _id()
    bucket_start: Mapped[dt.datetime] = mapped_column(Timestamp)
    bucket_seconds: Mapped[int] = mapped_column(Integer)
    query_hash: Mapped[str] = mapped_column(String(64))
    endpoint_path: Mapped[str] = mapped_column(String(255))
    query_type: Mapped[str] = mapped_column(String(16))
    table_names: Mapped[list[str]] = mapped_column(JSON)
    normalized_text: Mapped[str] = mapped_column(Text)
    execution_count: Mapped[int] = mapped_column(BigInteger)
    total_time_ms: Mapped[float] = mapped_column(Double)
    max_time_ms: Mapped[float] = mapped_column(Double)
    total_rows: Mapped[int] = mapped_column(BigInteger)
    # Requests in which this fingerprint ran more than the N+1 threshold.
    n_plus_one_requests: Mapped[int] = mapped_column(BigInteger)
    worker: Mapped[str] = mapped_column(String(64))


class ProcessSample(PlatformBase):
    """A worker's memory and CPU, sampled on a timer (never per request)."""

    __tablename__ = "process_samples"
    __table_args__ = (Index("idx_process_samples_at", "sampled_at"),)

    id: Mapped[int] = _id()
    sampled_at: Mapped[dt.datetime] = mapped_column(Timestamp)
    worker: Mapped[str] = mapped_column(String(64))
    rss_mb: Mapped[float] = mapped_column(Double)
    cpu_percent: Mapped[float] = mapped_column(Double)


API_KEY_ROLES = ("viewer", "operator", "admin")


class ApiKey(PlatformBase):
    """An API key for the platform's endpoints (migration 0005). Only its SHA-256 is kept.

    `key_id` is the public part of the key (`bkw_<key_id>_<secret>`): it finds the row, names
    the key in lists and the audit log, and is what `apikey revoke` takes.
    """

    __tablename__ = "api_keys"
    __table_args__ = (
        UniqueConstraint("key_id", name="uk_api_keys_key_id"),
        CheckConstraint("role IN ('viewer', 'operator', 'admin')", name="role"),
    )

    id: Mapped[int] = _id()
    key_id: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(
        Timestamp, server_default=func.current_timestamp()
    )
    created_by: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)


class ConfigVersion(PlatformBase):
    """One stored version of a configuration row (migration 0007): every change adds one.

    `kind` names the table ("cache_policy", "scaling_config"), `target_id` the row's id;
    `body` is the row's configuration after the change, null when the change deleted it.
    """

    __tablename__ = "config_versions"
    __table_args__ = (
        UniqueConstraint("kind", "target_id", "version", name="uk_config_versions_version"),
    )

    id: Mapped[int] = _id()
    kind: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[int] = mapped_column(UnsignedBigInt)
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[Any | None] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime | None] = _now()


class JobRun(PlatformBase):
    """When each installation-wide periodic job last ran, and which worker ran it (0011).

    perf.storage.run_claims claims a run with a compare-and-set on the job's row.
    """

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_run_at: Mapped[dt.datetime | None] = mapped_column(Timestamp, nullable=True)
    holder: Mapped[str | None] = mapped_column(String(100), nullable=True)
