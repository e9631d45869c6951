"""Platform tables of the performance specification, plus the admin audit log.

api_performance_metrics and database_query_performance are range-partitioned by month on
PostgreSQL and MariaDB; their partition column then has to be part of the primary key, hence
PRIMARY KEY (id, timestamp) there. SQLite gets plain tables.

``updated_at`` follows every change: ON UPDATE CURRENT_TIMESTAMP on MariaDB, a trigger on
PostgreSQL (so raw SQL updates behave as on MariaDB), the ORM's onupdate on SQLite.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from banrimkwae.perf.storage.partitions import months_from, partitioning_ddl

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The current month and this many after it; `banrimkwae db partitions` keeps them coming.
INITIAL_MONTHS_AHEAD = 3

UnsignedBigId = (
    sa.BigInteger()
    .with_variant(mysql.BIGINT(unsigned=True), "mysql", "mariadb")
    .with_variant(sa.Integer(), "sqlite")
)
UnsignedBigInt = sa.BigInteger().with_variant(mysql.BIGINT(unsigned=True), "mysql", "mariadb")
Timestamp = sa.TIMESTAMP(timezone=True)

ENUM_TYPES = (
    "cache_strategy",
    "query_type",
    "scaling_event_type",
    "recommendation_type",
    "recommendation_priority",
    "recommendation_status",
    "cache_layer",
)
HIT_RATIO = "CASE WHEN total_requests > 0 THEN (cache_hits * 100.0 / total_requests) ELSE 0 END"
TABLES_WITH_UPDATED_AT = ("api_cache_config", "auto_scaling_config", "performance_recommendations")
TABLES = (
    "audit_log",
    "cache_statistics",
    "performance_recommendations",
    "scaling_events",
    "auto_scaling_config",
    "database_query_performance",
    "api_cache_config",
    "api_performance_metrics",
)


def _dialect() -> str:
    return op.get_context().dialect.name


def _is_mariadb() -> bool:
    return _dialect() in ("mysql", "mariadb")


def _partitioned() -> bool:
    return _dialect() == "postgresql" or _is_mariadb()


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, create_constraint=True)


def _id() -> sa.Column[int]:
    return sa.Column("id", UnsignedBigId, autoincrement=True, nullable=False)


def _now(name: str) -> sa.Column[object]:
    return sa.Column(name, Timestamp, server_default=sa.func.current_timestamp(), nullable=True)


def _updated_at() -> sa.Column[object]:
    default = (
        sa.text("CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP")
        if _is_mariadb()
        else sa.func.current_timestamp()
    )
    return sa.Column("updated_at", Timestamp, server_default=default, nullable=True)


def _flag(name: str, default: bool) -> sa.Column[bool]:
    return sa.Column(name, sa.Boolean(), server_default="1" if default else "0", nullable=False)


def _count(name: str, type_: sa.types.TypeEngine[int], default: int) -> sa.Column[int]:
    return sa.Column(name, type_, server_default=str(default), nullable=False)


def _primary_key(table: str, partition_column: str) -> sa.PrimaryKeyConstraint:
    if _partitioned():
        return sa.PrimaryKeyConstraint("id", partition_column, name=f"pk_{table}")
    return sa.PrimaryKeyConstraint("id", name=f"pk_{table}")


def _partition_options(partition_column: str) -> dict[str, Any]:
    if _dialect() == "postgresql":
        return {"postgresql_partition_by": f'RANGE ("{partition_column}")'}
    return {}


def _partition(table: str, column: str) -> None:
    months = months_from(dt.datetime.now(dt.UTC), INITIAL_MONTHS_AHEAD)
    for statement in partitioning_ddl(_dialect(), table, column, months):
        op.execute(statement)


def upgrade() -> None:
    op.create_table(
        "api_performance_metrics",
        _id(),
        sa.Column("endpoint_path", sa.String(255), nullable=False),
        sa.Column("http_method", sa.String(10), nullable=False),
        sa.Column("response_time_ms", sa.Integer(), nullable=False),
        sa.Column("request_size_bytes", sa.Integer(), nullable=True),
        sa.Column("response_size_bytes", sa.Integer(), nullable=True),
        _flag("cache_hit", False),
        _count("database_queries_count", sa.Integer(), 0),
        _count("database_time_ms", sa.Integer(), 0),
        sa.Column("memory_usage_mb", sa.Numeric(10, 2), nullable=True),
        sa.Column("cpu_usage_percent", sa.Numeric(5, 2), nullable=True),
        _now("timestamp"),
        sa.Column("client_id", UnsignedBigInt, nullable=True),
        sa.Column("user_id", UnsignedBigInt, nullable=True),
        _primary_key("api_performance_metrics", "timestamp"),
        **_partition_options("timestamp"),
    )
    op.create_index(
        "idx_endpoint_method", "api_performance_metrics", ["endpoint_path", "http_method"]
    )
    op.create_index("idx_timestamp", "api_performance_metrics", ["timestamp"])
    op.create_index("idx_response_time", "api_performance_metrics", ["response_time_ms"])
    op.create_index("idx_cache_hit", "api_performance_metrics", ["cache_hit"])
    _partition("api_performance_metrics", "timestamp")

    op.create_table(
        "api_cache_config",
        _id(),
        sa.Column("endpoint_pattern", sa.String(255), nullable=False),
        sa.Column("http_methods", sa.JSON(), nullable=False),
        _count("cache_ttl_seconds", sa.Integer(), 300),
        sa.Column(
            "cache_strategy",
            _enum("cache_strategy", "simple", "tagged", "hierarchical"),
            server_default="simple",
            nullable=False,
        ),
        sa.Column("cache_key_pattern", sa.String(500), nullable=True),
        sa.Column("invalidation_triggers", sa.JSON(), nullable=True),
        _flag("cache_warming_enabled", False),
        _flag("compression_enabled", True),
        _flag("is_active", True),
        _now("created_at"),
        _updated_at(),
        sa.PrimaryKeyConstraint("id", name="pk_api_cache_config"),
        sa.UniqueConstraint("endpoint_pattern", name="uk_endpoint_pattern"),
    )
    op.create_index("idx_cache_strategy", "api_cache_config", ["cache_strategy"])
    op.create_index("idx_active", "api_cache_config", ["is_active"])

    op.create_table(
        "database_query_performance",
        _id(),
        sa.Column("query_hash", sa.String(64), nullable=False),
        sa.Column(
            "query_type",
            _enum("query_type", "SELECT", "INSERT", "UPDATE", "DELETE"),
            nullable=False,
        ),
        sa.Column("table_names", sa.JSON(), nullable=False),
        sa.Column("execution_time_ms", sa.Numeric(10, 3), nullable=False),
        sa.Column("rows_examined", sa.Integer(), nullable=True),
        sa.Column("rows_sent", sa.Integer(), nullable=True),
        sa.Column("query_text", sa.Text(), nullable=True),
        sa.Column("execution_plan", sa.JSON(), nullable=True),
        sa.Column("index_usage", sa.JSON(), nullable=True),
        _now("executed_at"),
        sa.Column("endpoint_path", sa.String(255), nullable=True),
        sa.Column("request_id", sa.String(100), nullable=True),
        _primary_key("database_query_performance", "executed_at"),
        **_partition_options("executed_at"),
    )
    op.create_index("idx_query_hash", "database_query_performance", ["query_hash"])
    op.create_index("idx_execution_time", "database_query_performance", ["execution_time_ms"])
    op.create_index("idx_executed_at", "database_query_performance", ["executed_at"])
    op.create_index("idx_endpoint", "database_query_performance", ["endpoint_path"])
    _partition("database_query_performance", "executed_at")

    op.create_table(
        "auto_scaling_config",
        _id(),
        sa.Column("service_name", sa.String(100), nullable=False),
        _count("min_instances", sa.Integer(), 2),
        _count("max_instances", sa.Integer(), 20),
        sa.Column("target_cpu_percent", sa.Numeric(5, 2), server_default="70.00", nullable=False),
        sa.Column(
            "target_memory_percent", sa.Numeric(5, 2), server_default="80.00", nullable=False
        ),
        _count("target_response_time_ms", sa.Integer(), 200),
        _count("scale_up_cooldown_seconds", sa.Integer(), 300),
        _count("scale_down_cooldown_seconds", sa.Integer(), 600),
        _count("scale_up_threshold_count", sa.Integer(), 2),
        _count("scale_down_threshold_count", sa.Integer(), 3),
        _flag("is_enabled", True),
        _now("created_at"),
        _updated_at(),
        sa.PrimaryKeyConstraint("id", name="pk_auto_scaling_config"),
        sa.UniqueConstraint("service_name", name="uk_service_name"),
    )
    op.create_index("idx_enabled", "auto_scaling_config", ["is_enabled"])

    op.create_table(
        "scaling_events",
        _id(),
        sa.Column("service_name", sa.String(100), nullable=False),
        sa.Column(
            "event_type",
            _enum(
                "scaling_event_type", "scale_up", "scale_down", "scale_triggered", "scale_failed"
            ),
            nullable=False,
        ),
        sa.Column("from_instances", sa.Integer(), nullable=False),
        sa.Column("to_instances", sa.Integer(), nullable=False),
        sa.Column("trigger_metric", sa.String(50), nullable=False),
        sa.Column("trigger_value", sa.Numeric(10, 2), nullable=False),
        sa.Column("threshold_value", sa.Numeric(10, 2), nullable=False),
        sa.Column("event_details", sa.JSON(), nullable=True),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_scaling_events"),
    )
    op.create_index("idx_service_event", "scaling_events", ["service_name", "event_type"])
    op.create_index("idx_created_at", "scaling_events", ["created_at"])

    op.create_table(
        "performance_recommendations",
        _id(),
        sa.Column(
            "recommendation_type",
            _enum("recommendation_type", "cache", "index", "query", "scaling", "configuration"),
            nullable=False,
        ),
        sa.Column(
            "priority",
            _enum("recommendation_priority", "low", "medium", "high", "critical"),
            nullable=False,
        ),
        sa.Column("target_resource", sa.String(255), nullable=False),
        sa.Column("current_metric_value", sa.Numeric(15, 3), nullable=True),
        sa.Column("recommended_metric_value", sa.Numeric(15, 3), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("implementation_steps", sa.JSON(), nullable=True),
        sa.Column("expected_improvement", sa.Text(), nullable=True),
        sa.Column("impact_analysis", sa.JSON(), nullable=True),
        sa.Column(
            "status",
            _enum("recommendation_status", "pending", "implementing", "completed", "rejected"),
            server_default="pending",
            nullable=False,
        ),
        _now("created_at"),
        _updated_at(),
        sa.Column("implemented_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_performance_recommendations"),
    )
    op.create_index(
        "idx_type_priority", "performance_recommendations", ["recommendation_type", "priority"]
    )
    op.create_index("idx_status", "performance_recommendations", ["status"])
    # PostgreSQL index names are schema-wide: scaling_events already has idx_created_at.
    op.create_index("idx_recommendations_created_at", "performance_recommendations", ["created_at"])

    op.create_table(
        "cache_statistics",
        _id(),
        sa.Column("cache_key_pattern", sa.String(255), nullable=False),
        sa.Column(
            "cache_layer", _enum("cache_layer", "application", "redis", "cdn"), nullable=False
        ),
        _count("total_requests", sa.BigInteger(), 0),
        _count("cache_hits", sa.BigInteger(), 0),
        _count("cache_misses", sa.BigInteger(), 0),
        sa.Column(
            "hit_ratio",
            sa.Numeric(5, 2),
            sa.Computed(HIT_RATIO, persisted=True),
            nullable=True,
        ),
        sa.Column("avg_response_time_ms", sa.Numeric(10, 3), nullable=True),
        _count("total_bytes_served", sa.BigInteger(), 0),
        _count("evictions_count", sa.BigInteger(), 0),
        sa.Column("date_recorded", sa.Date(), nullable=False),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_cache_statistics"),
        sa.UniqueConstraint(
            "cache_key_pattern", "cache_layer", "date_recorded", name="uk_cache_pattern_layer_date"
        ),
    )
    op.create_index("idx_hit_ratio", "cache_statistics", ["hit_ratio"])
    op.create_index("idx_date", "cache_statistics", ["date_recorded"])

    op.create_table(
        "audit_log",
        _id(),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("address", sa.String(45), nullable=True),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("idx_audit_created_at", "audit_log", ["created_at"])
    op.create_index("idx_audit_target", "audit_log", ["target"])

    if _dialect() == "postgresql":
        _create_updated_at_triggers()


def _create_updated_at_triggers() -> None:
    # Like MariaDB's ON UPDATE CURRENT_TIMESTAMP: set unless the UPDATE sets it itself.
    op.execute(
        """
        CREATE FUNCTION platform_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
                NEW.updated_at := current_timestamp;
            END IF;
            RETURN NEW;
        END
        $$
        """
    )
    for table in TABLES_WITH_UPDATED_AT:
        op.execute(
            f"CREATE TRIGGER {table}_touch_updated_at BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION platform_touch_updated_at()"
        )


def downgrade() -> None:
    # Dropping a table drops its indexes, triggers and (PostgreSQL) partitions with it.
    for table in TABLES:
        op.drop_table(table)
    if _dialect() == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS platform_touch_updated_at()")
        for enum_type in ENUM_TYPES:
            op.execute(f"DROP TYPE IF EXISTS {enum_type}")
