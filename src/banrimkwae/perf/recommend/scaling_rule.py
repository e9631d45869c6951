"""The `scaling` rule: replay the recorded traffic through the simulator, try a few changes.

For each enabled `auto_scaling_config`, the request rate of the period (summed over every
endpoint and worker from the request rollups, a point per rollup bucket) becomes a trace.
The simulator (perf.scaling.simulator) scores the configuration as it is and a handful of
candidates: the other policies, one more minimum instance, a higher maximum when the current
one was reached, a quicker scale-up, a slower scale-down. The candidate with the fewest
SLO-violation minutes wins, if it has fewer than the current configuration and costs no more
instance-hours; ties go to the cheaper one. Less than half an hour of recorded traffic is too
little to judge: the rule then says nothing (no configuration names a trace to fall back on).

Bounded: at most 7 days replayed, at most MAX_CANDIDATES candidates, and a wall-clock budget;
the simulations run in a thread so the worker's event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.recommend.rules import Evaluation, Finding
from banrimkwae.perf.scaling.model import ScalingConfigError
from banrimkwae.perf.scaling.simulator import MEASURED_CAPACITY_RPS, SimulationResult, simulate
from banrimkwae.perf.scaling.store import POLICY_NAMES, ServiceScaling, service_from_row
from banrimkwae.perf.scaling.trace import Trace
from banrimkwae.perf.storage.models import ApiMetricRollup, AutoScalingConfig

RULE = "scaling"
MIN_TRACE_SECONDS = 1800.0
MAX_REPLAY_SECONDS = 7 * 86_400.0
MAX_CANDIDATES = 8
BUDGET_SECONDS = 30.0
_COLUMNS = (
    "policy",
    "min_instances",
    "max_instances",
    "scale_up_cooldown_seconds",
    "scale_down_cooldown_seconds",
    "scale_up_threshold_count",
    "capacity_rps",
)


@dataclass(frozen=True, slots=True)
class Candidate:
    label: str
    change: dict[str, Any]  # auto_scaling_config columns and their new values


@dataclass(frozen=True, slots=True)
class Verdict:
    baseline: SimulationResult
    best: SimulationResult | None
    candidate: Candidate | None
    tried: list[tuple[Candidate, SimulationResult]]


async def recorded_trace(engine: AsyncEngine, start: dt.datetime, end: dt.datetime) -> Trace | None:
    """The fleet's request rate from the rollups: a point per bucket, zero across gaps."""
    start = max(start, end - dt.timedelta(seconds=MAX_REPLAY_SECONDS))
    rollups = ApiMetricRollup
    rates: dict[float, float] = defaultdict(float)
    spans: dict[float, int] = {}
    async with engine.connect() as connection:
        for row in await connection.execute(
            select(rollups.bucket_start, rollups.bucket_seconds, rollups.request_count).where(
                rollups.bucket_start >= start, rollups.bucket_start < end
            )
        ):
            moment = row.bucket_start
            at = (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()
            rates[at] += row.request_count / row.bucket_seconds
            spans[at] = max(spans.get(at, 0), int(row.bucket_seconds))
    if not rates:
        return None
    times: list[float] = []
    values: list[float] = []
    ordered = sorted(rates)
    for index, at in enumerate(ordered):
        times.append(at)
        values.append(rates[at])
        until = at + spans[at]
        following = ordered[index + 1] if index + 1 < len(ordered) else None
        if following is None or following > until:
            times.append(until)
            values.append(0.0)
    covered = sum(spans.values())
    if covered < MIN_TRACE_SECONDS:
        return None
    origin = times[0]
    # The closing zero only marks the end of the last bucket.
    return Trace("recorded", tuple(t - origin for t in times), tuple(values))


def candidates(row: Any, baseline: SimulationResult, capacity: float) -> list[Candidate]:
    found: list[Candidate] = []
    for policy in POLICY_NAMES:
        if policy != row.policy:
            change: dict[str, Any] = {"policy": policy}
            if policy == "slo" and float(row.capacity_rps or 0) <= 0:
                change["capacity_rps"] = round(capacity, 2)
            found.append(Candidate(f"policy {policy}", change))
    if row.min_instances < row.max_instances:
        found.append(
            Candidate("one more minimum instance", {"min_instances": row.min_instances + 1})
        )
    if baseline.max_instances_used >= row.max_instances:
        found.append(
            Candidate("a higher maximum", {"max_instances": max(row.max_instances * 2, 2)})
        )
    if row.scale_up_cooldown_seconds > 0:
        found.append(
            Candidate(
                "a quicker scale-up",
                {"scale_up_cooldown_seconds": int(row.scale_up_cooldown_seconds) // 4},
            )
        )
    if row.scale_up_threshold_count > 1:
        found.append(Candidate("scale up on the first breach", {"scale_up_threshold_count": 1}))
    found.append(
        Candidate(
            "a slower scale-down",
            {"scale_down_cooldown_seconds": max(int(row.scale_down_cooldown_seconds) * 2, 300)},
        )
    )
    return found[:MAX_CANDIDATES]


def judge(
    row: Any,
    trace: Trace,
    *,
    budget_seconds: float = BUDGET_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> Verdict | None:
    """Simulate the configuration and its candidates; None when the row does not validate."""
    try:
        current = service_from_row(row)
    except ScalingConfigError:
        return None
    capacity = current.config.capacity_rps or MEASURED_CAPACITY_RPS
    baseline = _simulate(trace, current, capacity)
    deadline = clock() + budget_seconds
    tried: list[tuple[Candidate, SimulationResult]] = []
    for candidate in candidates(row, baseline, capacity):
        if clock() > deadline:
            break
        changed = SimpleNamespace(**{**_row_values(row), **candidate.change})
        try:
            service = service_from_row(changed)
        except (ScalingConfigError, ValueError):
            continue
        tried.append((candidate, _simulate(trace, service, capacity)))
    better = [
        (result.slo_violation_minutes, result.instance_hours, index)
        for index, (_candidate, result) in enumerate(tried)
        if result.slo_violation_minutes < baseline.slo_violation_minutes
        and result.instance_hours <= baseline.instance_hours
    ]
    if not better:
        return Verdict(baseline, None, None, tried)
    _minutes, _hours, index = min(better)
    candidate, best = tried[index]
    return Verdict(baseline, best, candidate, tried)


async def evaluate_scaling(
    engine: AsyncEngine, start: dt.datetime, end: dt.datetime, into: Evaluation
) -> None:
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(AutoScalingConfig)
                .where(AutoScalingConfig.is_enabled.is_(True))
                .order_by(AutoScalingConfig.service_name)
            )
        ).all()
    if not rows:
        return
    trace = await recorded_trace(engine, start, end)
    if trace is None:
        return
    for row in rows:
        verdict = await asyncio.to_thread(judge, row, trace)
        if verdict is None:
            continue
        target = f"scaling:{row.service_name}"
        into.measured[target] = float(verdict.baseline.slo_violation_minutes)
        if verdict.best is not None and verdict.candidate is not None:
            into.findings.append(_finding(row, target, verdict, verdict.best, verdict.candidate))


def _finding(
    row: Any, target: str, verdict: Verdict, best: SimulationResult, candidate: Candidate
) -> Finding:
    baseline = verdict.baseline
    saved = baseline.slo_violation_minutes - best.slo_violation_minutes
    settings = ", ".join(
        f"{name} {row_value} -> {candidate.change[name]}"
        for name, row_value in ((name, getattr(row, name)) for name in candidate.change)
    )
    body = ", ".join(f'"{name}": {_json(value)}' for name, value in candidate.change.items())
    return Finding(
        rule=RULE,
        type="scaling",
        priority="high" if saved >= 30 else "medium",
        target=target,
        current=float(baseline.slo_violation_minutes),
        recommended=float(best.slo_violation_minutes),
        description=(
            f"Scaling of {row.service_name}: {candidate.label} ({settings}) would have had "
            f"{best.slo_violation_minutes} SLO-violation minutes instead of "
            f"{baseline.slo_violation_minutes} on the recorded traffic, for "
            f"{best.instance_hours:.2f} instance-hours instead of {baseline.instance_hours:.2f}"
        ),
        steps=[
            f"PATCH /api/admin/scaling/configs/{row.id} with {{{body}}}",
            "Or: banrimkwae autoscale configure with the same values",
            "Watch the scaling events and the p95 afterwards (/api/admin/scaling/events)",
        ],
        expected=(
            f"{saved} fewer SLO-violation minutes over {baseline.duration_seconds / 3600:.1f} h "
            "of recorded traffic, without more instance-hours"
        ),
        impact={
            "service": row.service_name,
            "config_id": row.id,
            "trace": {"source": "recorded", "seconds": baseline.duration_seconds},
            "current": _summary(baseline),
            "recommended": _summary(best),
            "candidates": [
                {"label": tried.label, "change": tried.change, **_summary(result)}
                for tried, result in verdict.tried
            ],
            "change": {"kind": "scaling_config", "id": row.id, "set": dict(candidate.change)},
        },
    )


def _simulate(trace: Trace, service: ServiceScaling, capacity: float) -> SimulationResult:
    return simulate(trace, service.policy, service.config, capacity_rps=capacity)


def _row_values(row: Any) -> dict[str, Any]:
    names = (
        "service_name",
        "target_cpu_percent",
        "target_memory_percent",
        "target_response_time_ms",
        "scale_down_threshold_count",
        "is_enabled",
        "pinned_instances",
        "pinned_until",
        *_COLUMNS,
    )
    return {name: getattr(row, name) for name in names}


def _summary(result: SimulationResult) -> dict[str, Any]:
    return {
        "policy": result.policy,
        "slo_violation_minutes": result.slo_violation_minutes,
        "instance_hours": result.instance_hours,
        "accuracy": result.accuracy,
        "scalings": result.scalings,
        "max_instances_used": result.max_instances_used,
    }


def _json(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)
