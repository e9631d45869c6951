"""`banrimkwae recommend apply` and `banrimkwae recommend verify`, end to end on a real database."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from decimal import Decimal

from sqlalchemy import insert, select

from banrimkwae.perf.db import create_engine_for_url
from banrimkwae.perf.storage import (
    AuditLog,
    PerformanceRecommendation,
    QueryFingerprintRollup,
)
from tests.perf.recommend.rows import recommend_command, statement_rollup


async def test_the_commands_apply_an_index_and_verify_it(module_database_url: str) -> None:
    engine = create_engine_for_url(module_database_url)
    try:
        async with engine.begin() as connection:
            inserted = await connection.execute(
                insert(PerformanceRecommendation).values(
                    recommendation_type="index",
                    priority="high",
                    target_resource="index:rooms(status, floor)",
                    description="test",
                    impact_analysis={
                        "table": "rooms",
                        "columns": ["status", "floor"],
                        "fingerprints": ["fp-rooms"],
                    },
                    current_metric_value=Decimal("40"),
                )
            )
            recommendation_id = int(inserted.inserted_primary_key[0])  # type: ignore[index]

        refused = recommend_command(module_database_url, "apply", "999999")
        assert refused.returncode == 1
        assert refused.stderr.strip() == "error: recommendation 999999 does not exist"

        # A one-second window: the verifier may judge it as soon as it has a measurement.
        window = {"BANRIMKWAE_RECOMMENDATION_VERIFY_SECONDS": "1"}
        applied = recommend_command(module_database_url, "apply", str(recommendation_id), **window)
        assert applied.returncode == 0, applied.stderr
        assert "CREATE INDEX" in applied.stdout and "ix_rooms_status_floor" in applied.stdout

        async with engine.begin() as connection:
            applied_at = (
                await connection.execute(
                    select(PerformanceRecommendation.applied_at).where(
                        PerformanceRecommendation.id == recommendation_id
                    )
                )
            ).scalar_one()
            await connection.execute(
                insert(QueryFingerprintRollup).values(
                    statement_rollup(
                        applied_at.replace(tzinfo=dt.UTC),
                        "fp-rooms",
                        "SELECT * FROM rooms WHERE status = ? AND floor = ?",
                        endpoint="/api/v1/rooms",
                        tables=["rooms"],
                        runs=10,
                        avg_ms=2.0,
                    )
                )
            )
        # Until the one-second window has passed.
        await asyncio.sleep(
            max(applied_at.replace(tzinfo=dt.UTC).timestamp() + 1.5 - time.time(), 0)
        )

        verified = recommend_command(module_database_url, "verify")
        assert verified.returncode == 0, verified.stderr
        assert f"verified: {recommendation_id}" in verified.stdout

        async with engine.begin() as connection:
            row = (
                await connection.execute(
                    select(PerformanceRecommendation.__table__).where(
                        PerformanceRecommendation.id == recommendation_id
                    )
                )
            ).one()
            actors = (
                await connection.execute(
                    select(AuditLog.actor, AuditLog.action).order_by(AuditLog.id)
                )
            ).all()
        assert (row.status, row.verification, float(row.after_value)) == (
            "completed",
            "verified",
            2.0,
        )
        assert [action for _, action in actors][-2:] == [
            "recommendation.apply",
            "recommendation.verified",
        ]
        assert actors[-2][0].startswith("cli:")
    finally:
        await engine.dispose()
