"""One run of the rules: read the period's rollups, then write what they found.

In one transaction: a finding whose target has an open recommendation (pending or
implementing) of these rules updates it with the new measurement; any other finding adds
one, unless the target's recommendation was rejected (an operator said no: the engine does
not ask again). An open recommendation of these rules whose problem is gone is completed
with the measured after-value in its impact analysis, audited as the engine's change; a
target without traffic in the period has no measurement and stays open. A recommendation
the platform applied (perf.recommend.apply) is not closed here: until the verifier has
judged it against its before-value, it stays open (still updated with new measurements),
and the verifier completes it or rolls it back. Index advice (perf.db.recommend) has rows
of its own and is left alone here.

The rules: the request and statement rules (rules.py), the cache TTL, warming and policy
rules (cache_rules.py), scaling from the simulator (scaling_rule.py) and, when the caller
has pool observations (the platform's timer does), pool sizing (pool_rule.py).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from banrimkwae.perf.admin.audit import record_change
from banrimkwae.perf.admin.report import (
    PERIODS,
    Window,
    endpoint_stats,
    read_fingerprints,
    read_request_rollups,
)
from banrimkwae.perf.recommend.apply import decimal
from banrimkwae.perf.recommend.cache_inputs import read_cache_inputs
from banrimkwae.perf.recommend.cache_rules import CACHE_RULES, evaluate_cache
from banrimkwae.perf.recommend.pool_rule import RULE as POOL_RULE
from banrimkwae.perf.recommend.pool_rule import PoolSource, evaluate_pools
from banrimkwae.perf.recommend.rules import RULES, Evaluation, Finding, evaluate
from banrimkwae.perf.recommend.scaling_rule import RULE as SCALING_RULE
from banrimkwae.perf.recommend.scaling_rule import evaluate_scaling
from banrimkwae.perf.recommend.workflow import OPEN_STATUSES
from banrimkwae.perf.storage import PerformanceRecommendation

ACTOR = "recommend:engine"
DEFAULT_PERIOD = "7d"
ENGINE_RULES = (*RULES, *CACHE_RULES, POOL_RULE, SCALING_RULE)


@dataclass(slots=True)
class RunResult:
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    skipped_rejected: list[str] = field(default_factory=list)


def _values(finding: Finding) -> dict[str, Any]:
    return {
        "recommendation_type": finding.type,
        "priority": finding.priority,
        "target_resource": finding.target[:255],
        "current_metric_value": decimal(finding.current),
        "recommended_metric_value": decimal(finding.recommended),
        "description": finding.description,
        "implementation_steps": finding.steps,
        "expected_improvement": finding.expected,
        "impact_analysis": {"rule": finding.rule, **finding.impact},
    }


async def evaluate_period(
    engine: AsyncEngine,
    period: str,
    now: float,
    *,
    pools: PoolSource | None = None,
    workers: int = 1,
) -> Evaluation:
    window = Window.ending(PERIODS[period], now)
    start = dt.datetime.fromtimestamp(window.start, dt.UTC)
    async with AsyncSession(engine) as session:
        rollups = await read_request_rollups(session, window)
        fingerprints = await read_fingerprints(session, window)
        cache_inputs = await read_cache_inputs(session, start)
    endpoints = [endpoint_stats(key, agg, window) for key, agg in rollups.endpoints.items()]
    evaluation = evaluate(fingerprints, endpoints)
    evaluate_cache(cache_inputs, endpoints, window.elapsed, evaluation)
    await evaluate_scaling(engine, start, dt.datetime.fromtimestamp(window.end, dt.UTC), evaluation)
    if pools is not None:
        await evaluate_pools(engine, pools, evaluation, workers=workers)
    return evaluation


async def run_rules(
    engine: AsyncEngine,
    *,
    period: str = DEFAULT_PERIOD,
    now: float | None = None,
    pools: PoolSource | None = None,
    workers: int = 1,
) -> RunResult:
    """Evaluate every rule over the period and store what they found.

    `pools`: this process's pool observations (perf.db.pool_sizing.PoolSampler); without
    them the pool rule does not run. `workers`: the worker count configured, if known (the
    live count from process_samples is used when larger)."""
    moment = time.time() if now is None else now
    evaluation = await evaluate_period(engine, period, moment, pools=pools, workers=workers)
    return await store(engine, evaluation)


async def store(engine: AsyncEngine, evaluation: Evaluation) -> RunResult:
    table = PerformanceRecommendation.__table__
    result = RunResult()
    async with AsyncSession(engine) as session:
        rows = (
            await session.execute(
                select(
                    table.c.id,
                    table.c.target_resource,
                    table.c.status,
                    table.c.impact_analysis,
                    table.c.applied_change,
                )
            )
        ).all()
        mine = [row for row in rows if _rule_of(row.impact_analysis) in ENGINE_RULES]
        open_by_target = {row.target_resource: row for row in mine if row.status in OPEN_STATUSES}
        rejected = {row.target_resource for row in mine if row.status == "rejected"}
        found = {finding.target[:255] for finding in evaluation.findings}

        for finding in evaluation.findings:
            values = _values(finding)
            existing = open_by_target.get(values["target_resource"])
            if existing is not None:
                await session.execute(
                    update(PerformanceRecommendation)
                    .where(table.c.id == existing.id)
                    .values(values)
                )
                result.updated.append(int(existing.id))
            elif values["target_resource"] in rejected:
                result.skipped_rejected.append(values["target_resource"])
            else:
                inserted = cast(
                    CursorResult[Any],
                    await session.execute(insert(PerformanceRecommendation).values(values)),
                )
                assert inserted.inserted_primary_key is not None
                result.created.append(int(inserted.inserted_primary_key[0]))

        for target, row in open_by_target.items():
            measured = evaluation.measured.get(target)
            if target in found or measured is None or row.applied_change is not None:
                continue  # an applied change is the verifier's to judge
            if await _close(session, row, measured):
                result.closed.append(int(row.id))
        await session.commit()
    return result


async def _close(session: AsyncSession, row: Any, measured: float) -> bool:
    """Complete the recommendation, unless it was applied or moved on since it was read."""
    now = dt.datetime.now(dt.UTC)
    impact = {
        **(row.impact_analysis or {}),
        "after_value": round(measured, 3),
        "closed_by": "re-evaluation",
    }
    values = {"status": "completed", "implemented_at": now, "impact_analysis": impact}
    table = PerformanceRecommendation.__table__
    closed = cast(
        CursorResult[Any],
        await session.execute(
            update(PerformanceRecommendation)
            .where(
                table.c.id == row.id,
                table.c.status == row.status,
                table.c.applied_change.is_(None),
            )
            .values(values)
        ),
    )
    if closed.rowcount != 1:
        return False
    await record_change(
        session,
        actor=ACTOR,
        action="recommendation.resolved",
        target=f"recommendation:{row.id}",
        before={"status": row.status},
        after={"status": "completed", "implemented_at": now, "after_value": round(measured, 3)},
    )
    return True


def _rule_of(impact: Any) -> str | None:
    return impact.get("rule") if isinstance(impact, dict) else None
