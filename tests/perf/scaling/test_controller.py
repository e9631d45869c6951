"""The controller on a real database: lease, config rows, pin, events, cooldowns, failures."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.metrics.histogram import LatencyHistogram
from banrimkwae.perf.scaling import ScalingConfig, ScalingConfigError
from banrimkwae.perf.scaling.controller import Controller
from banrimkwae.perf.scaling.orchestrators import DryRunOrchestrator
from banrimkwae.perf.scaling.store import (
    acquire_lease,
    load_service,
    pin_service,
    recent_events,
    save_service,
)
from banrimkwae.perf.storage.models import ApiMetricRollup, AutoScalingConfig, ScalingEvent

T0 = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)


async def _fresh(engine: AsyncEngine, service: str, **values: object) -> None:
    async with engine.begin() as connection:
        await connection.execute(delete(ScalingEvent).where(ScalingEvent.service_name == service))
        await connection.execute(delete(ApiMetricRollup))
    config = ScalingConfig(service_name=service, **values)  # type: ignore[arg-type]
    await save_service(engine, config, "threshold")


async def _rollup(engine: AsyncEngine, at: dt.datetime, count: int, slow: bool) -> None:
    """One flushed minute of requests: all at 900 ms (slow) or at 20 ms."""
    latency_ms = 900.0 if slow else 20.0
    one = LatencyHistogram()
    one.add(latency_ms)
    histogram = {bucket: count for bucket in one.to_json()}
    async with engine.begin() as connection:
        await connection.execute(
            ApiMetricRollup.__table__.insert().values(
                bucket_start=at.replace(second=0, microsecond=0),
                bucket_seconds=60,
                endpoint_path="/api/v1/properties",
                http_method="GET",
                status_class=2,
                request_count=count,
                error_count=0,
                total_time_ms=count * latency_ms,
                min_time_ms=1,
                max_time_ms=900,
                latency_histogram=histogram,
                db_queries=0,
                db_time_ms=0,
                cache_hits=0,
                request_bytes=0,
                response_bytes=0,
                worker="test",
            )
        )


async def test_config_round_trip_and_validation(engine: AsyncEngine) -> None:
    await _fresh(
        engine, "svc-config", min_instances=2, max_instances=5, scale_down_cooldown_seconds=30
    )
    loaded = await load_service(engine, "svc-config")
    assert loaded is not None
    assert (loaded.config.min_instances, loaded.config.max_instances, loaded.policy) == (
        2,
        5,
        "threshold",
    )
    assert loaded.config.scale_down_cooldown_seconds == 30
    # A row edited behind the CLI's back is refused when read, with the reason.
    async with engine.begin() as connection:
        await connection.execute(
            AutoScalingConfig.__table__.update()
            .where(AutoScalingConfig.service_name == "svc-config")
            .values(min_instances=9)
        )
    with pytest.raises(
        ScalingConfigError, match="min_instances \\(9\\) is greater than max_instances \\(5\\)"
    ):
        await load_service(engine, "svc-config")


async def test_one_leader_at_a_time(engine: AsyncEngine) -> None:
    await _fresh(engine, "svc-lease")
    assert await acquire_lease(engine, "svc-lease", "a", T0, 30)
    assert not await acquire_lease(engine, "svc-lease", "b", T0 + dt.timedelta(seconds=10), 30)
    assert await acquire_lease(engine, "svc-lease", "a", T0 + dt.timedelta(seconds=10), 30)
    # The lease expires when its holder stops renewing it.
    assert await acquire_lease(engine, "svc-lease", "b", T0 + dt.timedelta(seconds=41), 30)
    follower = Controller(engine, DryRunOrchestrator(1), service="svc-lease", holder="a")
    assert not (await follower.cycle(T0 + dt.timedelta(seconds=50))).leader


async def test_overload_scales_up_and_records_real_values(engine: AsyncEngine) -> None:
    await _fresh(
        engine,
        "svc-up",
        min_instances=1,
        max_instances=3,
        scale_up_cooldown_seconds=0,
        scale_up_threshold_count=1,
    )
    orchestrator = DryRunOrchestrator(1)
    controller = Controller(engine, orchestrator, service="svc-up", holder="test")
    await _rollup(engine, T0, 600, slow=True)
    result = await controller.cycle(T0 + dt.timedelta(seconds=30))
    assert result.event == "scale_up"
    assert orchestrator.instances == 2
    events = await recent_events(engine, "svc-up")
    assert [e.event_type for e in reversed(events)] == ["scale_triggered", "scale_up"]
    up = events[0]
    assert (up.from_instances, up.to_instances, up.trigger_metric) == (1, 2, "p95_ms")
    assert float(up.trigger_value) == pytest.approx(900, rel=0.02)
    assert float(up.threshold_value) == 200
    assert up.event_details["verified_instances"] == 2


async def test_pin_wins_over_the_policy_until_it_expires(engine: AsyncEngine) -> None:
    await _fresh(
        engine,
        "svc-pin",
        min_instances=1,
        max_instances=5,
        scale_down_cooldown_seconds=0,
        scale_down_threshold_count=1,
    )
    orchestrator = DryRunOrchestrator(1)
    controller = Controller(engine, orchestrator, service="svc-pin", holder="test")
    assert await pin_service(engine, "svc-pin", 4, T0 + dt.timedelta(minutes=5))
    result = await controller.cycle(T0)
    assert (result.event, orchestrator.instances) == ("scale_up", 4)
    assert result.decision is not None and result.decision.trigger_metric == "manual_pin"
    # The pin holds even though nothing is happening ...
    await _rollup(engine, T0 + dt.timedelta(minutes=2), 10, slow=False)
    assert (await controller.cycle(T0 + dt.timedelta(minutes=2))).event is None
    # ... and after it the policy takes over again (idle: scale down by one).
    await _rollup(engine, T0 + dt.timedelta(minutes=6), 10, slow=False)
    result = await controller.cycle(T0 + dt.timedelta(minutes=6))
    assert (result.event, orchestrator.instances) == ("scale_down", 3)


async def test_a_refused_scaling_is_recorded_as_failed(engine: AsyncEngine) -> None:
    await _fresh(engine, "svc-fail", min_instances=1, max_instances=5, scale_up_cooldown_seconds=0)
    orchestrator = DryRunOrchestrator(1, room=1)  # a cluster with room for one instance
    controller = Controller(engine, orchestrator, service="svc-fail", holder="test")
    await pin_service(engine, "svc-fail", 3, T0 + dt.timedelta(minutes=5))
    result = await controller.cycle(T0)
    assert result.event == "scale_failed"
    events = await recent_events(engine, "svc-fail")
    assert events[0].event_type == "scale_failed"
    assert "room for 1" in events[0].event_details["error"]


async def test_disabled_service_is_left_alone(engine: AsyncEngine) -> None:
    await _fresh(engine, "svc-off")
    await save_service(engine, ScalingConfig(service_name="svc-off"), "slo", enabled=False)
    orchestrator = DryRunOrchestrator(3)
    await pin_service(engine, "svc-off", 5, T0 + dt.timedelta(minutes=5))
    result = await Controller(engine, orchestrator, service="svc-off", holder="t").cycle(T0)
    assert result.decision is None and orchestrator.instances == 3
    async with engine.connect() as connection:
        count = (
            await connection.execute(
                select(ScalingEvent).where(ScalingEvent.service_name == "svc-off")
            )
        ).all()
    assert count == []
