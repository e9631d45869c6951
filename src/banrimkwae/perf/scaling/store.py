"""The scaling tables: configurations (with pin and leader lease) and the event log.

Every moment is UTC; SQLite hands datetimes back naive, so they are read as UTC.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.scaling.model import Decision, ScalingConfig, ScalingConfigError
from banrimkwae.perf.storage.models import AutoScalingConfig, ScalingEvent

POLICY_NAMES = ("threshold", "hpa", "slo")


@dataclass(frozen=True, slots=True)
class ServiceScaling:
    """One `auto_scaling_config` row, validated."""

    config: ScalingConfig
    policy: str
    enabled: bool
    pinned_instances: int | None
    pinned_until: dt.datetime | None

    def pin_at(self, now: dt.datetime) -> int | None:
        if self.pinned_instances is None or self.pinned_until is None or self.pinned_until <= now:
            return None
        return self.pinned_instances


def utc(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.UTC)


def _finite(value: Any) -> float:
    return float(value) if value is not None else 0.0


def service_from_row(row: Any, **overrides: Any) -> ServiceScaling:
    """The row as a validated configuration; ScalingConfigError names what is wrong."""
    policy = row.policy or "slo"
    if policy not in POLICY_NAMES:
        raise ScalingConfigError(f"policy must be one of {', '.join(POLICY_NAMES)}, not {policy!r}")
    values: dict[str, Any] = dict(
        service_name=row.service_name,
        min_instances=int(row.min_instances),
        max_instances=int(row.max_instances),
        target_cpu_percent=_finite(row.target_cpu_percent),
        target_memory_percent=_finite(row.target_memory_percent),
        target_response_time_ms=_finite(row.target_response_time_ms),
        scale_up_cooldown_seconds=_finite(row.scale_up_cooldown_seconds),
        scale_down_cooldown_seconds=_finite(row.scale_down_cooldown_seconds),
        scale_up_threshold_count=int(row.scale_up_threshold_count),
        scale_down_threshold_count=int(row.scale_down_threshold_count),
        capacity_rps=_finite(row.capacity_rps),
    )
    # The row's scale-down cooldown is also how long hpa and slo wait for demand to stay low.
    values.update(
        hpa_down_stabilisation_seconds=values["scale_down_cooldown_seconds"],
        slo_down_stabilisation_seconds=values["scale_down_cooldown_seconds"],
    )
    values.update(overrides)
    return ServiceScaling(
        ScalingConfig(**values),
        policy,
        bool(row.is_enabled),
        row.pinned_instances,
        utc(row.pinned_until),
    )


_COLUMNS = (
    "min_instances",
    "max_instances",
    "target_cpu_percent",
    "target_memory_percent",
    "target_response_time_ms",
    "scale_up_cooldown_seconds",
    "scale_down_cooldown_seconds",
    "scale_up_threshold_count",
    "scale_down_threshold_count",
    "capacity_rps",
)


async def load_service(
    engine: AsyncEngine, service: str, **overrides: Any
) -> ServiceScaling | None:
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(AutoScalingConfig).where(AutoScalingConfig.service_name == service)
            )
        ).first()
    return None if row is None else service_from_row(row, **overrides)


async def list_services(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as connection:
        return list(
            (
                await connection.execute(
                    select(AutoScalingConfig).order_by(AutoScalingConfig.service_name)
                )
            ).all()
        )


async def save_service(
    engine: AsyncEngine, config: ScalingConfig, policy: str, *, enabled: bool = True
) -> None:
    """Create or replace the service's row (validated already: ScalingConfig refuses nonsense)."""
    if policy not in POLICY_NAMES:
        raise ScalingConfigError(f"policy must be one of {', '.join(POLICY_NAMES)}, not {policy!r}")
    values: dict[str, Any] = {name: getattr(config, name) for name in _COLUMNS}
    for name in ("target_cpu_percent", "target_memory_percent", "capacity_rps"):
        values[name] = Decimal(str(round(values[name], 2)))
    for name in (
        "target_response_time_ms",
        "scale_up_cooldown_seconds",
        "scale_down_cooldown_seconds",
    ):
        values[name] = round(values[name])
    values.update(policy=policy, is_enabled=enabled)
    async with engine.begin() as connection:
        changed = await connection.execute(
            update(AutoScalingConfig)
            .where(AutoScalingConfig.service_name == config.service_name)
            .values(**values)
        )
        if changed.rowcount == 0:
            await connection.execute(
                insert(AutoScalingConfig).values(service_name=config.service_name, **values)
            )


async def pin_service(
    engine: AsyncEngine, service: str, count: int | None, until: dt.datetime | None
) -> bool:
    """Hold `count` instances until `until` (None clears the pin); False if no such service."""
    async with engine.begin() as connection:
        changed = await connection.execute(
            update(AutoScalingConfig)
            .where(AutoScalingConfig.service_name == service)
            .values(pinned_instances=count, pinned_until=until)
        )
    return bool(changed.rowcount)


async def acquire_lease(
    engine: AsyncEngine, service: str, holder: str, now: dt.datetime, ttl_seconds: float
) -> bool:
    """Take or renew the controller lease of `service`: a compare-and-set on its row."""
    until = now + dt.timedelta(seconds=ttl_seconds)
    async with engine.begin() as connection:
        changed = await connection.execute(
            update(AutoScalingConfig)
            .where(
                AutoScalingConfig.service_name == service,
                or_(
                    AutoScalingConfig.leader_id.is_(None),
                    AutoScalingConfig.leader_id == holder,
                    AutoScalingConfig.leader_until < now,
                ),
            )
            .values(leader_id=holder, leader_until=until)
        )
    return bool(changed.rowcount)


async def release_lease(engine: AsyncEngine, service: str, holder: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            update(AutoScalingConfig)
            .where(AutoScalingConfig.service_name == service, AutoScalingConfig.leader_id == holder)
            .values(leader_id=None, leader_until=None)
        )


def _clip(value: float) -> Decimal:
    # NUMERIC(10, 2): keep within range so an absurd reading cannot fail the insert.
    return Decimal(str(round(max(min(value, 99_999_999.0), -99_999_999.0), 2)))


async def record_event(
    engine: AsyncEngine,
    service: str,
    event_type: str,
    from_instances: int,
    to_instances: int,
    decision: Decision,
    details: dict[str, Any] | None = None,
) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            insert(ScalingEvent).values(
                service_name=service,
                event_type=event_type,
                from_instances=from_instances,
                to_instances=to_instances,
                trigger_metric=decision.trigger_metric[:50],
                trigger_value=_clip(decision.trigger_value),
                threshold_value=_clip(decision.threshold_value),
                event_details={"reasons": list(decision.reasons), **(details or {})},
            )
        )


async def recent_events(engine: AsyncEngine, service: str, limit: int = 50) -> list[Any]:
    async with engine.connect() as connection:
        return list(
            (
                await connection.execute(
                    select(ScalingEvent)
                    .where(ScalingEvent.service_name == service)
                    .order_by(ScalingEvent.id.desc())
                    .limit(limit)
                )
            ).all()
        )
