"""Alert rules and their states: alert_rules, alert_states, alert_events, default rules.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UnsignedBigId = (
    sa.BigInteger()
    .with_variant(mysql.BIGINT(unsigned=True), "mysql", "mariadb")
    .with_variant(sa.Integer(), "sqlite")
)
UnsignedBigInt = sa.BigInteger().with_variant(mysql.BIGINT(unsigned=True), "mysql", "mariadb")
Timestamp = sa.TIMESTAMP(timezone=True)

# (name, metric, comparison, threshold, resolve_threshold, window, for, severity, description)
DEFAULT_RULES = (
    (
        "p95_above_target",
        "p95_ms",
        "above",
        200.0,
        180.0,
        300,
        120,
        "warning",
        "p95 response time above the 200 ms target.",
    ),
    (
        "error_rate_high",
        "error_rate",
        "above",
        5.0,
        4.0,
        300,
        60,
        "critical",
        "More than 5% of requests answered with a server error.",
    ),
    (
        "cache_hit_rate_low",
        "cache_hit_rate",
        "below",
        80.0,
        85.0,
        900,
        300,
        "warning",
        "Fewer than 80% of requests answered from the response cache.",
    ),
    (
        "replica_lag_high",
        "replica_lag_seconds",
        "above",
        10.0,
        5.0,
        60,
        60,
        "warning",
        "A read replica lags the primary by more than 10 s.",
    ),
    (
        "scale_failed",
        "scale_failed_events",
        "above",
        0.0,
        0.0,
        600,
        0,
        "critical",
        "A scaling action failed in the last 10 minutes.",
    ),
)


def upgrade() -> None:
    rules = op.create_table(
        "alert_rules",
        sa.Column("id", UnsignedBigId, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("metric", sa.String(40), nullable=False),
        sa.Column("comparison", sa.String(10), nullable=False),
        sa.Column("threshold", sa.Double(), nullable=False),
        sa.Column("resolve_threshold", sa.Double(), nullable=True),
        sa.Column("window_seconds", sa.Integer(), nullable=False),
        sa.Column("for_seconds", sa.Integer(), server_default="0", nullable=False),
        sa.Column("endpoint", sa.String(255), nullable=True),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_enabled", sa.Boolean(), server_default="1", nullable=False),
        sa.Column(
            "created_at", Timestamp, server_default=sa.func.current_timestamp(), nullable=True
        ),
        sa.Column(
            "updated_at", Timestamp, server_default=sa.func.current_timestamp(), nullable=True
        ),
        sa.PrimaryKeyConstraint("id", name="pk_alert_rules"),
        sa.UniqueConstraint("name", name="uk_alert_rules_name"),
    )
    op.create_table(
        "alert_states",
        sa.Column("rule_id", UnsignedBigInt, autoincrement=False, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("since", Timestamp, nullable=True),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("evaluated_at", Timestamp, nullable=True),
        sa.Column("revision", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("rule_id", name="pk_alert_states"),
    )
    op.create_table(
        "alert_events",
        sa.Column("id", UnsignedBigId, autoincrement=True, nullable=False),
        sa.Column("rule_id", UnsignedBigInt, nullable=False),
        sa.Column("rule_name", sa.String(100), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("metric", sa.String(40), nullable=False),
        sa.Column("endpoint", sa.String(255), nullable=True),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("threshold", sa.Double(), nullable=False),
        sa.Column("occurred_at", Timestamp, nullable=False),
        sa.Column("delivery", sa.String(10), server_default="none", nullable=False),
        sa.Column("delivery_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("delivery_error", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alert_events"),
    )
    op.create_index("idx_alert_events_occurred", "alert_events", ["occurred_at"])
    op.bulk_insert(
        rules,
        [
            {
                "name": name,
                "metric": metric,
                "comparison": comparison,
                "threshold": threshold,
                "resolve_threshold": resolve,
                "window_seconds": window,
                "for_seconds": for_seconds,
                "severity": severity,
                "description": description,
                "is_enabled": True,
            }
            for (
                name,
                metric,
                comparison,
                threshold,
                resolve,
                window,
                for_seconds,
                severity,
                description,
            ) in DEFAULT_RULES
        ],
    )


def downgrade() -> None:
    op.drop_index("idx_alert_events_occurred", table_name="alert_events")
    op.drop_table("alert_events")
    op.drop_table("alert_states")
    op.drop_table("alert_rules")
