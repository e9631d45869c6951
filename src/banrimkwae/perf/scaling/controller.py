"""The control loop: one leader per service observes, decides, enforces, executes, records.

Each cycle: take or renew the leader lease (perf.scaling.leader: in Redis or on the service's
row; followers do nothing; the lease is kept renewed while a scaling is being verified),
read the configuration (a pin wins over the policy), observe (rate and p95 from the metrics
store, CPU and memory of the instances from the orchestrator), decide with the configured
policy, enforce min/max and cooldowns, and when the count changes record `scale_triggered`,
execute, and record `scale_up`/`scale_down` with the verified count or `scale_failed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.metrics.histogram import LatencyHistogram
from banrimkwae.perf.metrics.store import ROLLUP_SECONDS, read_rollups
from banrimkwae.perf.scaling.enforce import enforce
from banrimkwae.perf.scaling.leader import DatabaseLease, Lease
from banrimkwae.perf.scaling.model import (
    Decision,
    History,
    Observation,
    ScaleRecord,
    decision_to,
)
from banrimkwae.perf.scaling.orchestrators import Orchestrator, OrchestratorError
from banrimkwae.perf.scaling.policies import POLICIES
from banrimkwae.perf.scaling.store import load_service, record_event
from banrimkwae.perf.storage.models import ApiMetricRollup

logger = logging.getLogger(__name__)


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def observe_store(
    engine: AsyncEngine, now: dt.datetime, window_seconds: float
) -> tuple[float | None, float | None]:
    """(rate in req/s, p95 in ms) over about the last `window_seconds`, from the rollups."""
    since = now - dt.timedelta(seconds=window_seconds)
    # Rollups are per-minute buckets: start at the bucket holding `since`.
    bucket = since.replace(second=0, microsecond=0)
    merged = await read_rollups(engine, bucket, now + dt.timedelta(seconds=1), ROLLUP_SECONDS)
    if not merged:
        return 0.0, None
    count = sum(aggregate.count for aggregate in merged.values())
    histogram = LatencyHistogram.merged(aggregate.histogram for aggregate in merged.values())
    span = max((now - bucket).total_seconds(), 1.0)
    return count / span, histogram.quantile(0.95)


async def rate_history(
    engine: AsyncEngine, now: dt.datetime, days: float = 8.0
) -> list[Observation]:
    """Per-minute request rates of the last `days`, as observations for the seasonal forecast."""
    since = now - dt.timedelta(days=days)
    query = select(
        ApiMetricRollup.bucket_start, ApiMetricRollup.bucket_seconds, ApiMetricRollup.request_count
    ).where(ApiMetricRollup.bucket_start >= since)
    totals: dict[float, float] = {}
    async with engine.connect() as connection:
        for start, seconds, count in (await connection.execute(query)).all():
            moment = start if start.tzinfo else start.replace(tzinfo=dt.UTC)
            at = moment.timestamp() + seconds
            totals[at] = totals.get(at, 0.0) + count / seconds
    return [
        Observation(at=at, instances=0, desired=0, rps=rate) for at, rate in sorted(totals.items())
    ]


@dataclass
class CycleResult:
    leader: bool
    decision: Decision | None = None
    event: str | None = None
    instances: int | None = None


@dataclass
class Controller:
    engine: AsyncEngine
    orchestrator: Orchestrator
    service: str = "api"
    interval: float = 15.0
    window_seconds: float = 60.0
    lease_seconds: float = 45.0
    holder: str = field(default_factory=_holder)
    lease: Lease | None = None
    observations: list[Observation] = field(default_factory=list)
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    scalings: list[ScaleRecord] = field(default_factory=list)
    _history_loaded: bool = False

    def __post_init__(self) -> None:
        if self.lease is None:
            self.lease = DatabaseLease(self.engine, self.service, self.holder, self.lease_seconds)
        else:
            self.holder = self.lease.holder

    @property
    def leader_lease(self) -> Lease:
        assert self.lease is not None  # set by __post_init__
        return self.lease

    async def cycle(self, now: dt.datetime | None = None) -> CycleResult:
        now = now or dt.datetime.now(dt.UTC)
        if not await self.leader_lease.acquire(now):
            return CycleResult(leader=False)
        service = await load_service(self.engine, self.service)
        if service is None or not service.enabled:
            return CycleResult(leader=True)
        if not self._history_loaded:
            self.observations[:0] = await rate_history(self.engine, now)
            self._history_loaded = True
        config, stamp = service.config, now.timestamp()
        instances = await self.orchestrator.current()
        rate, p95 = await observe_store(self.engine, now, self.window_seconds)
        usage = getattr(self.orchestrator, "usage", None)
        cpu, memory = usage() if usage is not None else (None, None)
        observation = Observation(stamp, instances, instances, cpu, memory, p95, rate)
        history = History(self.observations, self.recommendations, self.scalings)
        pinned = service.pin_at(now)
        if pinned is not None:
            # An operator's pin: obeyed as given, neither policy nor cooldown applies.
            until = service.pinned_until.isoformat() if service.pinned_until else ""
            decision = decision_to(
                instances,
                pinned,
                (f"pinned to {pinned} until {until}",),
                "manual_pin",
                float(pinned),
                float(pinned),
                pinned,
            )
        else:
            raw = POLICIES[service.policy](observation, history, config, stamp)
            decision = enforce(raw, history, config, stamp, instances)
        self.observations.append(observation)
        self.recommendations.append((stamp, decision.recommended))
        del self.recommendations[:-2048]
        if len(self.observations) > 60_000:
            del self.observations[:10_000]
        if decision.target == instances:
            return CycleResult(True, decision, None, instances)
        details: dict[str, Any] = {
            "policy": "pin" if pinned is not None else service.policy,
            "orchestrator": self.orchestrator.name,
            "observation": {
                "cpu_percent": cpu,
                "memory_percent": memory,
                "p95_ms": p95,
                "rps": rate,
            },
        }
        await record_event(
            self.engine,
            self.service,
            "scale_triggered",
            instances,
            decision.target,
            decision,
            details,
        )
        try:
            async with self._keeping_the_lease():
                verified = await self.orchestrator.scale_to(decision.target)
        except OrchestratorError as exc:
            await record_event(
                self.engine,
                self.service,
                "scale_failed",
                instances,
                decision.target,
                decision,
                {**details, "error": str(exc)},
            )
            return CycleResult(True, decision, "scale_failed", await self.orchestrator.current())
        event = "scale_up" if verified > instances else "scale_down"
        if verified != decision.target:
            event = "scale_failed"
        await record_event(
            self.engine,
            self.service,
            event,
            instances,
            verified,
            decision,
            {**details, "verified_instances": verified},
        )
        self.scalings.append(ScaleRecord(stamp, instances, verified))
        return CycleResult(True, decision, event, verified)

    @contextlib.asynccontextmanager
    async def _keeping_the_lease(self) -> AsyncIterator[None]:
        # Verifying a scaling can outlast the lease (pods start slowly): renew meanwhile, so
        # that no other instance takes over and scales at the same time.
        async def renew() -> None:
            while True:
                await asyncio.sleep(self.lease_seconds / 3)
                with contextlib.suppress(Exception):
                    await self.leader_lease.renew(dt.datetime.now(dt.UTC))

        renewing = asyncio.create_task(renew())
        try:
            yield
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing

    async def run(self, stop: asyncio.Event) -> None:
        """Cycle every `interval` seconds until `stop` is set; a failing cycle is logged."""
        try:
            while not stop.is_set():
                try:
                    result = await self.cycle()
                    if result.event:
                        logger.info(
                            "autoscale %s: %s -> %s (%s)",
                            self.service,
                            result.event,
                            result.instances,
                            "; ".join(result.decision.reasons) if result.decision else "",
                        )
                except Exception:  # the loop must survive a database hiccup
                    logger.exception("autoscale cycle failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.interval)
        finally:
            try:
                await self.leader_lease.release()
            except Exception:
                logger.warning("could not release the autoscale lease", exc_info=True)
