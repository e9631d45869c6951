"""One run of the rules: read the period's rollups, then write what they found.

In one transaction: a finding whose target has an open recommendation (pending or
implementing) of these rules updates it with the new measurement; any other finding adds
one, unless the target's recommendation was rejected (an operator said no: the engine does
not ask again). An open recommendation of these rules whose problem is gone is completed
with the measured after-value in its impact analysis, audited as the engine's change; a
target without traffic in the period has no measurement and stays open. Index advice
(perf.db.recommend) has rows of its own and is left alone here.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from decimal import Decimal
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
from banrimkwae.perf.recommend.rules import RULES, Evaluation, Finding, evaluate
from banrimkwae.perf.recommend.workflow import OPEN_STATUSES
from banrimkwae.perf.storage import PerformanceRecommendation

ACTOR = "recommend:engine"
DEFAULT_PERIOD = "7d"
_MAX_VALUE = Decimal("999999999999.999")


@dataclass(slots=True)
class RunResult:
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    skipped_rejected: list[str] = field(default_factory=list)


def _value(number: float) -> Decimal:
    return min(Decimal(f"{number:.3f}"), _MAX_VALUE)


def _values(finding: Finding) -> dict[str, Any]:
    return {
        "recommendation_type": finding.type,
        "priority": finding.priority,
        "target_resource": finding.target[:255],
        "current_metric_value": _value(finding.current),
        "recommended_metric_value": _value(finding.recommended),
        "description": finding.description,
        "implementation_steps": finding.steps,
        "expected_improvement": finding.expected,
        "impact_analysis": {"rule": finding.rule, **finding.impact},
    }


async def evaluate_period(engine: AsyncEngine, period: str, now: float) -> Evaluation:
    window = Window.ending(PERIODS[period], now)
    async with AsyncSession(engine) as session:
        rollups = await read_request_rollups(session, window)
        fingerprints = await read_fingerprints(session, window)
    endpoints = [endpoint_stats(key, agg, window) for key, agg in rollups.endpoints.items()]
    return evaluate(fingerprints, endpoints)


async def run_rules(
    engine: AsyncEngine, *, period: str = DEFAULT_PERIOD, now: float | None = None
) -> RunResult:
    evaluation = await evaluate_period(engine, period, time.time() if now is None else now)
    return await store(engine, evaluation)


async def store(engine: AsyncEngine, evaluation: Evaluation) -> RunResult:
    table = PerformanceRecommendation.__table__
    result = RunResult()
    async with AsyncSession(engine) as session:
        rows = (
            await session.execute(
                select(table.c.id, table.c.target_resource, table.c.status, table.c.impact_analysis)
            )
        ).all()
        mine = [row for row in rows if _rule_of(row.impact_analysis) in RULES]
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
            if target in found or measured is None:
                continue
            await _close(session, row, measured)
            result.closed.append(int(row.id))
        await session.commit()
    return result


async def _close(session: AsyncSession, row: Any, measured: float) -> None:
    now = dt.datetime.now(dt.UTC)
    impact = {
        **(row.impact_analysis or {}),
        "after_value": round(measured, 3),
        "closed_by": "re-evaluation",
    }
    values = {"status": "completed", "implemented_at": now, "impact_analysis": impact}
    await session.execute(
        update(PerformanceRecommendation)
        .where(PerformanceRecommendation.__table__.c.id == row.id)
        .values(values)
    )
    await record_change(
        session,
        actor=ACTOR,
        action="recommendation.resolved",
        target=f"recommendation:{row.id}",
        before={"status": row.status},
        after={"status": "completed", "implemented_at": now, "after_value": round(measured, 3)},
    )


def _rule_of(impact: Any) -> str | None:
    return impact.get("rule") if isinstance(impact, dict) else None
