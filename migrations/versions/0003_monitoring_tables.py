"""Monitoring storage: request and statement rollups, process samples, raw-row weights.

api_performance_metrics gains its status code and the sample rate that scales a sampled row
back to counts. The rollup tables are insert-only; readers merge rows of one bucket.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UnsignedBigId = (
    sa.BigInteger()
    .with_variant(mysql.BIGINT(unsigned=True), "mysql", "mariadb")
    .with_variant(sa.Integer(), "sqlite")
)
Timestamp = sa.TIMESTAMP(timezone=True)


def _id(table: str) -> list[sa.SchemaItem]:
    return [
        sa.Column("id", UnsignedBigId, autoincrement=True, nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
    ]


def _bucket() -> list[sa.Column[object]]:
    return [
        sa.Column("bucket_start", Timestamp, nullable=False),
        sa.Column("bucket_seconds", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    op.add_column("api_performance_metrics", sa.Column("status_code", sa.SmallInteger()))
    op.add_column(
        "api_performance_metrics",
        sa.Column("sample_rate", sa.Numeric(9, 6), server_default="1", nullable=False),
    )
    op.create_table(
        "api_metric_rollups",
        *_id("api_metric_rollups"),
        *_bucket(),
        sa.Column("endpoint_path", sa.String(255), nullable=False),
        sa.Column("http_method", sa.String(10), nullable=False),
        sa.Column("status_class", sa.SmallInteger(), nullable=False),
        sa.Column("request_count", sa.BigInteger(), nullable=False),
        sa.Column("error_count", sa.BigInteger(), nullable=False),
        sa.Column("total_time_ms", sa.Double(), nullable=False),
        sa.Column("min_time_ms", sa.Double(), nullable=False),
        sa.Column("max_time_ms", sa.Double(), nullable=False),
        sa.Column("latency_histogram", sa.JSON(), nullable=False),
        sa.Column("db_queries", sa.BigInteger(), nullable=False),
        sa.Column("db_time_ms", sa.Double(), nullable=False),
        sa.Column("cache_hits", sa.BigInteger(), nullable=False),
        sa.Column("request_bytes", sa.BigInteger(), nullable=False),
        sa.Column("response_bytes", sa.BigInteger(), nullable=False),
        sa.Column("worker", sa.String(64), nullable=False),
    )
    op.create_index("idx_rollups_bucket", "api_metric_rollups", ["bucket_seconds", "bucket_start"])
    op.create_index("idx_rollups_endpoint", "api_metric_rollups", ["endpoint_path", "http_method"])
    op.create_table(
        "query_fingerprint_rollups",
        *_id("query_fingerprint_rollups"),
        *_bucket(),
        sa.Column("query_hash", sa.String(64), nullable=False),
        sa.Column("endpoint_path", sa.String(255), nullable=False),
        sa.Column("query_type", sa.String(16), nullable=False),
        sa.Column("table_names", sa.JSON(), nullable=False),
        sa.Column("normalized_text", sa.Text(), nullable=False),
        sa.Column("execution_count", sa.BigInteger(), nullable=False),
        sa.Column("total_time_ms", sa.Double(), nullable=False),
        sa.Column("max_time_ms", sa.Double(), nullable=False),
        sa.Column("total_rows", sa.BigInteger(), nullable=False),
        sa.Column("n_plus_one_requests", sa.BigInteger(), nullable=False),
        sa.Column("worker", sa.String(64), nullable=False),
    )
    op.create_index(
        "idx_query_rollups_bucket",
        "query_fingerprint_rollups",
        ["bucket_seconds", "bucket_start"],
    )
    op.create_index("idx_query_rollups_hash", "query_fingerprint_rollups", ["query_hash"])
    op.create_table(
        "process_samples",
        *_id("process_samples"),
        sa.Column("sampled_at", Timestamp, nullable=False),
        sa.Column("worker", sa.String(64), nullable=False),
        sa.Column("rss_mb", sa.Double(), nullable=False),
        sa.Column("cpu_percent", sa.Double(), nullable=False),
    )
    op.create_index("idx_process_samples_at", "process_samples", ["sampled_at"])


def downgrade() -> None:
    op.drop_table("process_samples")
    op.drop_table("query_fingerprint_rollups")
    op.drop_table("api_metric_rollups")
    op.drop_column("api_performance_metrics", "sample_rate")
    op.drop_column("api_performance_metrics", "status_code")
