"""/api/admin/scaling/{events,instances}: what the controller did, and where it left things.

Both read `scaling_events` (written by perf.scaling.controller): events of a period, newest
first, and each service's count after its latest event, with its configured bounds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from banrimkwae.perf.access import RequireRole
from banrimkwae.perf.admin.config_router import (
    DEFAULT_LIMIT,
    LimitParam,
    OffsetParam,
    accepts,
    aware,
    offset_page,
)
from banrimkwae.perf.admin.schemas import Page
from banrimkwae.perf.problems import ProblemError, problem_responses
from banrimkwae.perf.storage import AutoScalingConfig, ScalingEvent

if TYPE_CHECKING:
    from banrimkwae.perf.platform import Platform

EVENT_PERIODS = {"1h": 3600, "24h": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400}


class ScalingEventOut(BaseModel):
    id: int
    service_name: str
    event_type: str
    from_instances: int
    to_instances: int
    trigger_metric: str
    trigger_value: float
    threshold_value: float
    event_details: Any
    created_at: dt.datetime | None


class ServiceInstances(BaseModel):
    service_name: str
    instances: int | None = Field(description="The count after the latest event; null: none.")
    pending_target: int | None = Field(
        description="The count a scaling in progress (scale_triggered) aims at."
    )
    last_event: str | None
    last_event_at: dt.datetime | None
    min_instances: int | None = Field(description="From the configuration, if there is one.")
    max_instances: int | None


def _instances(event: Mapping[str, Any] | None) -> tuple[int | None, int | None]:
    """(current count, pending target) after `event` (see perf.scaling.controller)."""
    if event is None:
        return None, None
    kind, details = event["event_type"], event["event_details"] or {}
    if kind == "scale_triggered":
        return int(event["from_instances"]), int(event["to_instances"])
    if kind == "scale_failed" and isinstance(details, Mapping) and "error" in details:
        # The orchestrator refused: nothing moved. Otherwise to_instances is what it verified.
        return int(event["from_instances"]), None
    return int(event["to_instances"]), None


async def _latest_events(db: AsyncSession) -> dict[str, dict[str, Any]]:
    """The newest event of each service."""
    table = ScalingEvent.__table__
    newest = select(func.max(table.c.id).label("id")).group_by(table.c.service_name).subquery()
    rows = await db.execute(select(table).join(newest, table.c.id == newest.c.id))
    return {row["service_name"]: dict(row) for row in rows.mappings()}


async def _bounds(db: AsyncSession) -> dict[str, dict[str, Any]]:
    table = AutoScalingConfig.__table__.c
    rows = await db.execute(select(table.service_name, table.min_instances, table.max_instances))
    return {row["service_name"]: dict(row) for row in rows.mappings()}


def scaling_status_router(platform: Platform) -> APIRouter:
    router = APIRouter(
        prefix="/api/admin/scaling",
        tags=["scaling"],
        dependencies=[Depends(RequireRole(platform.authorize, "viewer"))],
        responses=problem_responses(401, 403, 429),
    )

    def session() -> AsyncSession:
        return platform.database.session(primary_only=True)

    @router.get(
        "/events",
        response_model=Page[ScalingEventOut],
        dependencies=[accepts("period", "service", "limit", "offset")],
        responses=problem_responses(400, 422),
    )
    async def events(
        request: Request,
        period: Annotated[
            str,
            Query(description="How far back.", json_schema_extra={"enum": list(EVENT_PERIODS)}),
        ] = "24h",
        service: Annotated[str | None, Query(max_length=100, description="One service.")] = None,
        limit: LimitParam = DEFAULT_LIMIT,
        offset: OffsetParam = 0,
    ) -> Page[ScalingEventOut]:
        """Scaling events of the period, newest first."""
        if period not in EVENT_PERIODS:
            raise ProblemError(
                400,
                f"period {period!r} is not one of: {', '.join(EVENT_PERIODS)}",
                title="Invalid parameter value",
                parameter="period",
                valid_values=list(EVENT_PERIODS),
            )
        table = ScalingEvent.__table__
        since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=EVENT_PERIODS[period])
        conditions = [table.c.created_at >= since]
        if service is not None:
            conditions.append(table.c.service_name == service)
        async with session() as db:
            total = int(
                await db.scalar(select(func.count()).select_from(table).where(*conditions)) or 0
            )
            query = (
                select(table)
                .where(*conditions)
                .order_by(table.c.created_at.desc(), table.c.id.desc())
                .limit(limit)
                .offset(offset)
            )
            rows = [dict(row) for row in (await db.execute(query)).mappings()]
        data = [
            ScalingEventOut(
                **{
                    **row,
                    "trigger_value": float(row["trigger_value"]),
                    "threshold_value": float(row["threshold_value"]),
                    "created_at": aware(row["created_at"]),
                }
            )
            for row in rows
        ]
        return offset_page(data, request, limit=limit, offset=offset, total=total)

    @router.get(
        "/instances",
        response_model=Page[ServiceInstances],
        dependencies=[accepts("limit", "offset")],
        responses=problem_responses(400, 422),
    )
    async def instances(
        request: Request, limit: LimitParam = DEFAULT_LIMIT, offset: OffsetParam = 0
    ) -> Page[ServiceInstances]:
        """Each service's instance count as its latest scaling event left it."""
        async with session() as db:
            latest, bounds = await _latest_events(db), await _bounds(db)
        services = sorted(set(latest) | set(bounds))
        rows: list[ServiceInstances] = []
        for name in services:
            event, config = latest.get(name), bounds.get(name)
            count, pending = _instances(event)
            rows.append(
                ServiceInstances(
                    service_name=name,
                    instances=count,
                    pending_target=pending,
                    last_event=event["event_type"] if event else None,
                    last_event_at=aware(event["created_at"]) if event else None,
                    min_instances=config["min_instances"] if config else None,
                    max_instances=config["max_instances"] if config else None,
                )
            )
        page = rows[offset : offset + limit]
        return offset_page(page, request, limit=limit, offset=offset, total=len(rows))

    return router
