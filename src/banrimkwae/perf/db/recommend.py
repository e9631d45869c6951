"""Proposals as `index` rows of performance_recommendations, and applying them.

One open recommendation (pending or implementing) per target: advising again updates that
row with the new measurement instead of adding another. Applying builds the index
(`CREATE INDEX CONCURRENTLY` on PostgreSQL, outside any transaction, so writes go on while
it builds; plain CREATE INDEX elsewhere), refreshes the table's statistics, and marks the
recommendation completed.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.db.advice import Proposal, create_statement
from banrimkwae.perf.storage.models import PerformanceRecommendation

OPEN_STATUSES = ("pending", "implementing")
_MAX_VALUE = Decimal("999999999999.999")


def target_of(proposal: Proposal) -> str:
    return f"index:{proposal.candidate.target}"[:255]


def _value(number: float) -> Decimal:
    return min(Decimal(f"{number:.3f}"), _MAX_VALUE)


def _row(proposal: Proposal, dialect: str) -> dict[str, object]:
    candidate = proposal.candidate
    before, after = proposal.current_value, proposal.expected_value
    return {
        "recommendation_type": "index",
        "priority": proposal.priority,
        "target_resource": target_of(proposal),
        "current_metric_value": _value(before),
        "recommended_metric_value": _value(after),
        "description": (
            f"Index {candidate.target} ({candidate.reason}) for {len(proposal.fingerprints)} "
            f"slow statement(s); measured by {proposal.method}."
        ),
        "implementation_steps": [
            create_statement(candidate, dialect),
            "banrimkwae db advise --apply",
        ],
        "expected_improvement": (
            f"{proposal.measure} {before:.3f} -> {after:.3f} ({proposal.improvement:.0%} less)"
        ),
        "impact_analysis": {
            "method": proposal.method,
            "measure": proposal.measure,
            "improvement": round(proposal.improvement, 4),
            "fingerprints": proposal.fingerprints,
            "observed_median_ms": round(proposal.observed_median_ms, 3),
            "cost_before": proposal.before.cost,
            "cost_after": proposal.after.cost,
            "median_ms_before": proposal.before.median_ms,
            "median_ms_after": proposal.after.median_ms,
            "index_name": proposal.index_name,
            "columns": list(candidate.columns),
            "table": candidate.table,
            "write_cost": proposal.write_cost,
        },
    }


async def record(engine: AsyncEngine, proposals: list[Proposal]) -> list[int]:
    """Store the proposals; returns their recommendation ids, in order."""
    table = cast(Table, PerformanceRecommendation.__table__)
    ids: list[int] = []
    async with engine.begin() as connection:
        for proposal in proposals:
            row = _row(proposal, engine.dialect.name)
            found = (
                await connection.execute(
                    select(table.c.id)
                    .where(
                        table.c.recommendation_type == "index",
                        table.c.target_resource == row["target_resource"],
                        table.c.status.in_(OPEN_STATUSES),
                    )
                    .order_by(table.c.id)
                    .limit(1)
                )
            ).scalar()
            if found is not None:
                await connection.execute(update(table).where(table.c.id == found).values(row))
                ids.append(int(found))
            else:
                result = await connection.execute(insert(table).values(row))
                ids.append(int(result.inserted_primary_key[0]))  # type: ignore[index]
    return ids


async def apply(engine: AsyncEngine, proposal: Proposal, recommendation_id: int | None) -> str:
    """Build the proposed index; returns the statement that built it."""
    dialect = engine.dialect.name
    table = cast(Table, PerformanceRecommendation.__table__)
    if recommendation_id is not None:
        async with engine.begin() as connection:
            await connection.execute(
                update(table).where(table.c.id == recommendation_id).values(status="implementing")
            )
    statement = create_statement(proposal.candidate, dialect)
    # CONCURRENTLY refuses to run inside a transaction block.
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.exec_driver_sql(statement)
        analyse = "ANALYZE TABLE" if dialect in {"mysql", "mariadb"} else "ANALYZE"
        await autocommit.exec_driver_sql(f"{analyse} {proposal.candidate.table}")
    if recommendation_id is not None:
        async with engine.begin() as connection:
            await connection.execute(
                update(table)
                .where(table.c.id == recommendation_id)
                .values(status="completed", implemented_at=dt.datetime.now(dt.UTC))
            )
    return statement
