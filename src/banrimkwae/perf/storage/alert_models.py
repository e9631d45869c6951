"""The alert tables (migration 0008): rules, the current state of each, and their events.

`alert_states` holds one row per rule, changed only by a compare-and-set on `revision`, so
that of several workers evaluating together exactly one records a transition and notifies.
`alert_events` keeps every firing and resolution with the outcome of its webhook delivery.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Double, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from banrimkwae.perf.storage.models import (
    PlatformBase,
    Timestamp,
    UnsignedBigId,
    UnsignedBigInt,
    _now,
)


class AlertRule(PlatformBase):
    """A threshold on one report metric over a window, optionally for one endpoint."""

    __tablename__ = "alert_rules"
    __table_args__ = (UniqueConstraint("name", name="uk_alert_rules_name"),)

    id: Mapped[int] = mapped_column(UnsignedBigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    metric: Mapped[str] = mapped_column(String(40))
    comparison: Mapped[str] = mapped_column(String(10))
    threshold: Mapped[float] = mapped_column(Double)
    # The value the metric must come back past before a firing alert resolves (hysteresis);
    # null: the threshold itself.
    resolve_threshold: Mapped[float | None] = mapped_column(Double, nullable=True)
    window_seconds: Mapped[int] = mapped_column(Integer)
    for_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    endpoint: Mapped[str | None] = mapped_column(String(255), nullable=True)
    severity: Mapped[str] = mapped_column(String(10))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    created_at: Mapped[dt.datetime | None] = _now()
    updated_at: Mapped[dt.datetime | None] = _now(on_update=True)


class AlertState(PlatformBase):
    """Where a rule stands now: inactive, pending, firing or resolved, and since when."""

    __tablename__ = "alert_states"

    rule_id: Mapped[int] = mapped_column(UnsignedBigInt, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(10))
    since: Mapped[dt.datetime | None] = mapped_column(Timestamp, nullable=True)
    value: Mapped[float | None] = mapped_column(Double, nullable=True)
    evaluated_at: Mapped[dt.datetime | None] = mapped_column(Timestamp, nullable=True)
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class AlertEvent(PlatformBase):
    """A rule that fired or resolved, and what became of its webhook notifications."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("idx_alert_events_occurred", "occurred_at"),)

    id: Mapped[int] = mapped_column(UnsignedBigId, primary_key=True, autoincrement=True)
    rule_id: Mapped[int] = mapped_column(UnsignedBigInt)
    rule_name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10))
    severity: Mapped[str] = mapped_column(String(10))
    metric: Mapped[str] = mapped_column(String(40))
    endpoint: Mapped[str | None] = mapped_column(String(255), nullable=True)
    value: Mapped[float | None] = mapped_column(Double, nullable=True)
    threshold: Mapped[float] = mapped_column(Double)
    occurred_at: Mapped[dt.datetime] = mapped_column(Timestamp)
    # none (no webhook configured), pending, delivered or failed.
    delivery: Mapped[str] = mapped_column(String(10), default="none", server_default="none")
    delivery_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    delivery_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
