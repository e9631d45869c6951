"""GET /api/admin/audit: the audit log, newest first, for admins only.

Filters: actor, action and target (exact), and the time either as a `period` back from now
(the report's periods) or as `since`/`until` (ISO 8601). Offset pages in the project's list
envelope. Unknown parameters and malformed values are 400 problems naming what is valid.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, func, select

from banrimkwae.perf.access import RequireRole
from banrimkwae.perf.admin.config_router import aware, offset_page
from banrimkwae.perf.admin.report import PERIODS
from banrimkwae.perf.admin.schemas import Page
from banrimkwae.perf.problems import ProblemError, problem_responses
from banrimkwae.perf.storage import AuditLog

if TYPE_CHECKING:
    from banrimkwae.perf.platform import Platform

PARAMETERS = ("actor", "action", "target", "period", "since", "until", "limit", "offset")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_OFFSET = 100_000


class AuditEntry(BaseModel):
    id: int
    actor: str = Field(description='Who acted: "apikey:<key id>", "cli:<user>", ...')
    action: str = Field(description='What was done, e.g. "apikey.create".')
    target: str = Field(description='What it was done to, e.g. "apikey:<key id>".')
    before: Any = Field(description="The target before the change; null when it was created.")
    after: Any = Field(description="The target after the change; null when it was removed.")
    address: str | None = Field(description="The client address of the change, if any.")
    created_at: dt.datetime


def _only_known_parameters(request: Request) -> None:
    unknown = sorted(set(request.query_params) - set(PARAMETERS))
    if unknown:
        raise ProblemError(
            400,
            f"unknown query parameter {unknown[0]!r}; valid parameters: {', '.join(PARAMETERS)}",
            title="Unknown query parameter",
            parameter=unknown[0],
            valid_values=list(PARAMETERS),
        )


def _moment(parameter: str, value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ProblemError(
            400,
            f"{parameter} {value!r} is not an ISO 8601 date-time, e.g. 2026-11-27T12:00:00Z",
            title="Invalid parameter value",
            parameter=parameter,
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _conditions(
    actor: str | None,
    action: str | None,
    target: str | None,
    period: str | None,
    since: str | None,
    until: str | None,
) -> list[ColumnElement[bool]]:
    if period is not None and period not in PERIODS:
        raise ProblemError(
            400,
            f"period {period!r} is not one of: {', '.join(PERIODS)}",
            title="Invalid parameter value",
            parameter="period",
            valid_values=list(PERIODS),
        )
    if period is not None and since is not None:
        raise ProblemError(
            400, "give either period or since, not both", title="Conflicting parameters"
        )
    start = _moment("since", since)
    end = _moment("until", until)
    if period is not None:
        start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=PERIODS[period].seconds)
    if start is not None and end is not None and end < start:
        raise ProblemError(400, "until is before since", title="Invalid period", parameter="until")
    table = AuditLog.__table__.c
    conditions: list[ColumnElement[bool]] = []
    for column, value in ((table.actor, actor), (table.action, action), (table.target, target)):
        if value is not None:
            conditions.append(column == value)
    if start is not None:
        conditions.append(table.created_at >= start)
    if end is not None:
        conditions.append(table.created_at < end)
    return conditions


def audit_router(platform: Platform) -> APIRouter:
    router = APIRouter(
        prefix="/api/admin",
        tags=["audit"],
        dependencies=[Depends(RequireRole(platform.authorize, "admin"))],
    )
    sessions = platform.database.sessions

    @router.get(
        "/audit",
        response_model=Page[AuditEntry],
        responses=problem_responses(400, 401, 403, 422, 429),
        dependencies=[Depends(_only_known_parameters)],
    )
    async def audit(
        request: Request,
        actor: Annotated[str | None, Query(max_length=100, description="Exact actor.")] = None,
        action: Annotated[str | None, Query(max_length=100, description="Exact action.")] = None,
        target: Annotated[str | None, Query(max_length=255, description="Exact target.")] = None,
        period: Annotated[
            str | None,
            Query(
                description="Only the last hour, day, ...",
                json_schema_extra={"enum": list(PERIODS)},
            ),
        ] = None,
        since: Annotated[str | None, Query(description="From this moment (ISO 8601).")] = None,
        until: Annotated[str | None, Query(description="Before this moment (ISO 8601).")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = (
            DEFAULT_LIMIT
        ),
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")] = 0,
    ) -> Page[AuditEntry]:
        """Changes to configuration, keys, recommendation status and scaling: who, what, when."""
        conditions = _conditions(actor, action, target, period, since, until)
        table = AuditLog.__table__
        async with sessions() as session:
            total = (
                await session.execute(select(func.count()).select_from(table).where(*conditions))
            ).scalar_one()
            rows = (
                await session.execute(
                    select(table)
                    .where(*conditions)
                    .order_by(table.c.created_at.desc(), table.c.id.desc())
                    .limit(limit)
                    .offset(offset)
                )
            ).mappings()
            data = [AuditEntry(**{**row, "created_at": aware(row["created_at"])}) for row in rows]
        return offset_page(data, request, limit=limit, offset=offset, total=total)

    return router
