"""/api/admin/performance/recommendations: read them (viewer), move their status or apply
them (operator).

The list is filtered by status and type and ordered most urgent first, then newest. A status
change follows perf.recommend.workflow; any other is a 409 problem naming the allowed ones.
It is committed with its audit row. Query texts and plans inside a recommendation's impact
analysis are hidden from callers who are not admins (perf.admin.redaction).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from banrimkwae.perf.access import RequireRole
from banrimkwae.perf.admin.audit import record_change, request_actor
from banrimkwae.perf.admin.auth import client_address
from banrimkwae.perf.admin.cache_admin import CACHE_POLICIES, announce_policies
from banrimkwae.perf.admin.config_router import (
    DEFAULT_LIMIT,
    MAX_ID,
    LimitParam,
    OffsetParam,
    accepts,
    aware,
    choice,
    not_found,
    offset_page,
)
from banrimkwae.perf.admin.redaction import for_caller
from banrimkwae.perf.admin.schemas import Page
from banrimkwae.perf.admin.versioned_router import api_actor
from banrimkwae.perf.problems import ProblemError, problem_responses
from banrimkwae.perf.recommend.apply import ApplyOptions, apply_recommendation
from banrimkwae.perf.recommend.workflow import allowed, next_statuses
from banrimkwae.perf.storage import PerformanceRecommendation
from banrimkwae.perf.storage.models import PRIORITIES
from banrimkwae.perf.storage.models import RECOMMENDATION_STATUSES as STATUSES
from banrimkwae.perf.storage.models import RECOMMENDATION_TYPES as TYPES

if TYPE_CHECKING:
    from banrimkwae.perf.platform import Platform

PREFIX = "/api/admin/performance/recommendations"
IdParam = Annotated[int, Path(ge=1, le=MAX_ID, description="The recommendation's id.")]


class RecommendationOut(BaseModel):
    id: int
    type: str
    priority: str
    target_resource: str
    current_metric_value: float | None
    recommended_metric_value: float | None
    description: str
    implementation_steps: Any
    expected_improvement: str | None
    impact_analysis: Any
    status: str
    next_statuses: list[str] = Field(description="The statuses it may move to.")
    created_at: dt.datetime | None
    updated_at: dt.datetime | None
    implemented_at: dt.datetime | None
    applied_change: Any = Field(
        description="What the platform applied (to undo it) and the metric it is judged by."
    )
    applied_at: dt.datetime | None
    verify_after: dt.datetime | None = Field(description="When the change is verified.")
    before_value: float | None = Field(description="The target metric before the change.")
    after_value: float | None = Field(description="The target metric when verified.")
    verification: str | None = Field(description="verified | rolled_back | not_rolled_back")
    verification_note: str | None
    rolled_back_at: dt.datetime | None


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["pending", "implementing", "completed", "rejected"]


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _out(row: Any) -> RecommendationOut:
    return RecommendationOut(
        id=row["id"],
        type=row["recommendation_type"],
        priority=row["priority"],
        target_resource=row["target_resource"],
        current_metric_value=_number(row["current_metric_value"]),
        recommended_metric_value=_number(row["recommended_metric_value"]),
        description=row["description"],
        implementation_steps=row["implementation_steps"],
        expected_improvement=row["expected_improvement"],
        impact_analysis=row["impact_analysis"],
        status=row["status"],
        next_statuses=next_statuses(row["status"]),
        created_at=aware(row["created_at"]),
        updated_at=aware(row["updated_at"]),
        implemented_at=aware(row["implemented_at"]),
        applied_change=row["applied_change"],
        applied_at=aware(row["applied_at"]),
        verify_after=aware(row["verify_after"]),
        before_value=_number(row["before_value"]),
        after_value=_number(row["after_value"]),
        verification=row["verification"],
        verification_note=row["verification_note"],
        rolled_back_at=aware(row["rolled_back_at"]),
    )


def recommendations_router(platform: Platform) -> APIRouter:
    router = APIRouter(
        prefix=PREFIX, tags=["recommendations"], responses=problem_responses(401, 403, 429)
    )
    viewer = [Depends(RequireRole(platform.authorize, "viewer"))]
    operator = [Depends(RequireRole(platform.authorize, "operator"))]
    table = PerformanceRecommendation.__table__

    def session() -> AsyncSession:
        return platform.database.session(primary_only=True)

    @router.get(
        "",
        response_model=Page[RecommendationOut],
        dependencies=[*viewer, accepts("status", "type", "limit", "offset")],
        responses=problem_responses(400, 422),
    )
    async def list_recommendations(
        request: Request,
        status: Annotated[
            str | None,
            Query(
                description="Only this status.",
                json_schema_extra={"enum": list(STATUSES)},
            ),
        ] = None,
        type: Annotated[
            str | None,
            Query(
                description="Only this type.",
                json_schema_extra={"enum": list(TYPES)},
            ),
        ] = None,
        limit: LimitParam = DEFAULT_LIMIT,
        offset: OffsetParam = 0,
    ) -> Page[RecommendationOut]:
        """Recommendations, most urgent first, then newest."""
        conditions: list[ColumnElement[bool]] = []
        if status is not None:
            conditions.append(table.c.status == choice("status", status, STATUSES))
        if type is not None:
            conditions.append(table.c.recommendation_type == choice("type", type, TYPES))
        # Compared as the column's own type: PostgreSQL has no enum = varchar operator.
        urgency = case(
            *((table.c.priority == p, rank) for rank, p in enumerate(reversed(PRIORITIES))),
            else_=len(PRIORITIES),
        )
        async with session() as db:
            total = int(
                await db.scalar(select(func.count()).select_from(table).where(*conditions)) or 0
            )
            rows = (
                await db.execute(
                    select(table)
                    .where(*conditions)
                    .order_by(urgency, table.c.created_at.desc(), table.c.id.desc())
                    .limit(limit)
                    .offset(offset)
                )
            ).mappings()
            data = [_out(row) for row in rows]
        page = offset_page(data, request, limit=limit, offset=offset, total=total)
        return for_caller(request, page)

    @router.get(
        "/{recommendation_id}",
        response_model=RecommendationOut,
        dependencies=viewer,
        responses=problem_responses(404, 422),
    )
    async def get_recommendation(request: Request, recommendation_id: IdParam) -> RecommendationOut:
        async with session() as db:
            row = (
                (await db.execute(select(table).where(table.c.id == recommendation_id)))
                .mappings()
                .first()
            )
        if row is None:
            raise not_found(f"recommendation {recommendation_id}")
        return for_caller(request, _out(row))

    @router.patch(
        "/{recommendation_id}",
        response_model=RecommendationOut,
        dependencies=operator,
        responses=problem_responses(404, 409, 422),
    )
    async def change_status(
        request: Request, recommendation_id: IdParam, change: StatusChange
    ) -> RecommendationOut:
        """Move the recommendation along its workflow; audited."""
        async with session() as db:
            found = (
                (
                    await db.execute(
                        select(table).where(table.c.id == recommendation_id).with_for_update()
                    )
                )
                .mappings()
                .first()
            )
            if found is None:
                raise not_found(f"recommendation {recommendation_id}")
            current = str(found["status"])
            if not allowed(current, change.status):
                raise ProblemError(
                    409,
                    f"a {current} recommendation cannot become {change.status}; "
                    f"allowed: {', '.join(next_statuses(current)) or 'none (final)'}",
                    title="Invalid status transition",
                    status_now=current,
                    valid_values=next_statuses(current),
                )
            values: dict[str, Any] = {"status": change.status}
            if change.status == "completed":
                values["implemented_at"] = dt.datetime.now(dt.UTC)
            await db.execute(
                update(PerformanceRecommendation)
                .where(table.c.id == recommendation_id)
                .values(values)
            )
            await record_change(
                db,
                actor=request_actor(request),
                action="recommendation.status",
                target=f"recommendation:{recommendation_id}",
                before={"status": current},
                after=values,
                address=client_address(request),
            )
            await db.commit()
            row = (
                (await db.execute(select(table).where(table.c.id == recommendation_id)))
                .mappings()
                .first()
            )
        assert row is not None
        return for_caller(request, _out(row))

    async def announce(kind: str) -> None:
        if kind == CACHE_POLICIES.kind:
            await announce_policies(platform)

    @router.post(
        "/{recommendation_id}/apply",
        response_model=RecommendationOut,
        dependencies=operator,
        responses=problem_responses(404, 409, 422),
    )
    async def apply(
        request: Request,
        recommendation_id: IdParam,
        options: Annotated[ApplyOptions | None, Body()] = None,
    ) -> RecommendationOut:
        """Carry out the recommendation (an index, a cache TTL or warming, a scaling setting);
        it becomes implementing and is verified after the configured window, then completed
        or rolled back. Audited; a change the platform cannot make is a 409 problem."""
        row = await apply_recommendation(
            platform.database.engine,
            recommendation_id,
            options or ApplyOptions(),
            api_actor(request),
            verify_seconds=platform.config.recommendation_verify_seconds,
            announce=announce,
        )
        return for_caller(request, _out(row))

    return router
