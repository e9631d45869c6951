"""Verify applied changes once their window has passed; roll back those that made it worse.

A recommendation applied by the platform (perf.recommend.apply) is due at `verify_after`.
Its target metric is measured again over the time since it was applied and compared with
its before-value:
- better, or worse by no more than the tolerance: completed, with `implemented_at`, the
  after-value and verification "verified" (also when there was no before-value to compare);
- worse beyond the tolerance: rolled back (the index dropped; the configuration version
  current before the change restored, through the versioned path, so the restore has its
  own version and audit row), status rejected, verification "rolled_back";
- worse, but the configuration was changed again since the apply (its newest version is no
  longer the one the apply made): left as it is, status rejected, verification
  "not_rolled_back" and a note naming who changed it.
No traffic since the apply measures nothing: the recommendation waits for the next run.
Each outcome is written with an audit row by the verifier ("recommend:verifier").
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from banrimkwae.perf.admin.audit import record_change
from banrimkwae.perf.admin.cache_admin import CACHE_POLICIES
from banrimkwae.perf.admin.config_router import aware
from banrimkwae.perf.admin.scaling_admin import SCALING_CONFIGS
from banrimkwae.perf.admin.versioned import Actor, commit, current_version, restore_item
from banrimkwae.perf.admin.versions import read_version
from banrimkwae.perf.periodic import PeriodicTask
from banrimkwae.perf.recommend.apply import decimal, drop_index, read_recommendation
from banrimkwae.perf.recommend.measures import TargetMetric, measure, worse_beyond
from banrimkwae.perf.storage import PerformanceRecommendation

log = logging.getLogger(__name__)
VERIFIER = Actor("recommend:verifier")
RESOURCES = {resource.kind: resource for resource in (CACHE_POLICIES, SCALING_CONFIGS)}
Announce = Callable[[str], Awaitable[None]]


@dataclass(slots=True)
class VerifyResult:
    verified: list[int] = field(default_factory=list)
    rolled_back: list[int] = field(default_factory=list)
    not_rolled_back: list[int] = field(default_factory=list)
    # Due, but no traffic since the apply: nothing measured yet.
    waiting: list[int] = field(default_factory=list)


def _table() -> Table:
    return cast(Table, PerformanceRecommendation.__table__)


async def due(engine: AsyncEngine, now: float) -> list[int]:
    """Applied recommendations whose window has passed and that are not verified yet."""
    table = _table()
    async with AsyncSession(engine) as db:
        rows = await db.execute(
            select(table.c.id)
            .where(
                table.c.status == "implementing",
                table.c.verification.is_(None),
                table.c.verify_after <= dt.datetime.fromtimestamp(now, dt.UTC),
            )
            .order_by(table.c.verify_after, table.c.id)
        )
        return [int(found) for found in rows.scalars()]


async def verify_due(
    engine: AsyncEngine,
    *,
    tolerance: float,
    now: float | None = None,
    announce: Announce | None = None,
) -> VerifyResult:
    """Verify every due recommendation (see the module's description)."""
    now = time.time() if now is None else now
    result = VerifyResult()
    for recommendation_id in await due(engine, now):
        outcome = await verify_one(
            engine, recommendation_id, tolerance=tolerance, now=now, announce=announce
        )
        getattr(result, outcome).append(recommendation_id)
    return result


async def verify_one(
    engine: AsyncEngine,
    recommendation_id: int,
    *,
    tolerance: float,
    now: float,
    announce: Announce | None = None,
) -> str:
    """Verify one applied recommendation; the outcome (a VerifyResult field name)."""
    async with AsyncSession(engine) as db:
        row = await read_recommendation(db, recommendation_id)
        change: Mapping[str, Any] = row["applied_change"] or {}
        metric = TargetMetric.from_json(change["metric"])
        applied_at = aware(row["applied_at"])
        assert applied_at is not None
        after = await measure(db, metric, applied_at.timestamp(), now)
    if after is None:
        return "waiting"
    before = None if row["before_value"] is None else float(row["before_value"])
    if before is None or not worse_beyond(metric, before, after, tolerance):
        await _conclude(engine, row, after, now, verification="verified")
        return "verified"
    if change.get("action") == "index":
        statement = await drop_index(engine, change["table"], change["index_name"])
        await _conclude(
            engine, row, after, now, verification="rolled_back", note=f"dropped: {statement}"
        )
        return "rolled_back"
    outcome = await _restore_config(engine, row, change, after, now)
    if outcome == "rolled_back" and announce is not None:
        await announce(str(change["kind"]))
    return outcome


async def _restore_config(
    engine: AsyncEngine, row: Mapping[str, Any], change: Mapping[str, Any], after: float, now: float
) -> str:
    """Restore the version before the change, unless someone changed it since."""
    resource = RESOURCES[str(change["kind"])]
    item_id, applied = int(change["target_id"]), int(change["version_applied"])
    async with AsyncSession(engine) as db:
        # The recommendation is locked first: two verifiers never both restore.
        locked = await read_recommendation(db, int(row["id"]), lock=True)
        if locked["verification"] is not None:
            return "waiting"
        newest = await current_version(db, resource, item_id)
        if newest != applied:
            stored = await read_version(db, resource.kind, item_id, newest)
            who = stored.actor if stored is not None else "unknown"
            note = f"not rolled back: changed since by {who} (version {newest})"
            await _record(db, row, after, now, verification="not_rolled_back", note=note)
            await commit(db, f"recommendation {row['id']}")
            return "not_rolled_back"
        restored = await restore_item(
            db, resource, item_id, int(change["version_before"]), VERIFIER
        )
        note = f"restored {resource.kind} {item_id} version {change['version_before']}"
        await _record(
            db, row, after, now, verification="rolled_back", note=f"{note} as version {restored}"
        )
        await commit(db, f"recommendation {row['id']}")
    return "rolled_back"


async def _conclude(
    engine: AsyncEngine,
    row: Mapping[str, Any],
    after: float,
    now: float,
    *,
    verification: str,
    note: str | None = None,
) -> None:
    async with AsyncSession(engine) as db:
        locked = await read_recommendation(db, int(row["id"]), lock=True)
        if locked["verification"] is not None:
            return
        await _record(db, row, after, now, verification=verification, note=note)
        await commit(db, f"recommendation {row['id']}")


async def _record(
    db: AsyncSession,
    row: Mapping[str, Any],
    after: float,
    now: float,
    *,
    verification: str,
    note: str | None,
) -> None:
    moment = dt.datetime.fromtimestamp(now, dt.UTC)
    values: dict[str, Any] = {
        "after_value": decimal(after),
        "verification": verification,
        "verification_note": note,
    }
    if verification == "verified":
        values |= {"status": "completed", "implemented_at": moment}
    else:
        values["status"] = "rejected"
    if verification == "rolled_back":
        values["rolled_back_at"] = moment
    await db.execute(update(_table()).where(_table().c.id == row["id"]).values(values))
    before = None if row["before_value"] is None else float(row["before_value"])
    await record_change(
        db,
        actor=VERIFIER.name,
        action=f"recommendation.{verification}",
        target=f"recommendation:{row['id']}",
        before={"status": row["status"], "before_value": before},
        after={**values, "after_value": after},
    )


class RecommendationVerifier:
    """`verify_due` on the platform's periodic loop."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        tolerance: float,
        interval: float,
        announce: Announce | None = None,
    ) -> None:
        self.engine = engine
        self.tolerance = tolerance
        self.announce = announce
        self.last: VerifyResult | None = None
        # Set after each run, failed or not (for whoever waits on one).
        self.ran = asyncio.Event()
        self._periodic = PeriodicTask(
            "recommendation-verifier",
            interval,
            self._step,
            log=log,
            failure="recommendation verification failed; retrying next interval",
        )

    @property
    def failures(self) -> int:
        return self._periodic.failures

    async def _step(self) -> None:
        try:
            self.last = await verify_due(
                self.engine, tolerance=self.tolerance, announce=self.announce
            )
        finally:
            self.ran.set()

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
