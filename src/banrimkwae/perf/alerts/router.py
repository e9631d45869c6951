"""/api/admin/alerts: the current alerts, their events, the rules (versioned), evaluation.

Viewers read the alerts, the events with their webhook delivery, and the rules; operators
create, change, delete and restore rules (each change versioned and audit-logged, through
the same code path as cache policies) and may ask for an evaluation now.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast, get_args

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Table, func, select

from banrimkwae.perf.access import RequireRole
from banrimkwae.perf.admin.config_router import (
    DEFAULT_LIMIT,
    LimitParam,
    OffsetParam,
    accepts,
    aware,
    offset_page,
)
from banrimkwae.perf.admin.report import read_alerts
from banrimkwae.perf.admin.schemas import ActiveAlert, Page
from banrimkwae.perf.admin.versioned import VersionedResource
from banrimkwae.perf.admin.versioned_router import ResourceApi, versioned_router
from banrimkwae.perf.alerts.rules import METRICS, RuleError, check_rule
from banrimkwae.perf.problems import ProblemError, problem_responses
from banrimkwae.perf.storage import AlertEvent, AlertRule

if TYPE_CHECKING:
    from banrimkwae.perf.platform import Platform

PREFIX = "/api/admin/alerts"
MetricName = Literal[
    "p95_ms",
    "p99_ms",
    "avg_ms",
    "error_rate",
    "cache_hit_rate",
    "requests_per_second",
    "db_time_ms",
    "replica_lag_seconds",
    "scale_failed_events",
]
assert set(get_args(MetricName)) == set(METRICS)  # the API offers the whole catalogue
WEEK = 7 * 86400


class AlertRuleFields(BaseModel):
    """A rule as written: every field, with the table's defaults."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    metric: MetricName
    comparison: Literal["above", "below"] = "above"
    threshold: float = Field(allow_inf_nan=False)
    resolve_threshold: float | None = Field(
        default=None,
        allow_inf_nan=False,
        description="A firing alert resolves once the metric is back past this (hysteresis); "
        "null: the threshold.",
    )
    window_seconds: int = Field(default=300, ge=60, le=WEEK)
    for_seconds: int = Field(default=0, ge=0, le=WEEK)
    endpoint: str | None = Field(
        default=None, min_length=1, max_length=255, description="A route template, or all."
    )
    severity: Literal["info", "warning", "critical"] = "warning"
    description: str | None = Field(default=None, max_length=2000)
    is_enabled: bool = True


class AlertRuleChange(BaseModel):
    """A partial change: only the fields given are changed."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$"
    )
    metric: MetricName | None = None
    comparison: Literal["above", "below"] | None = None
    threshold: float | None = Field(default=None, allow_inf_nan=False)
    resolve_threshold: float | None = Field(default=None, allow_inf_nan=False)
    window_seconds: int | None = Field(default=None, ge=60, le=WEEK)
    for_seconds: int | None = Field(default=None, ge=0, le=WEEK)
    endpoint: str | None = Field(default=None, min_length=1, max_length=255)
    severity: Literal["info", "warning", "critical"] | None = None
    description: str | None = Field(default=None, max_length=2000)
    is_enabled: bool | None = None


class AlertRuleOut(BaseModel):
    id: int
    name: str
    metric: str
    comparison: str
    threshold: float
    resolve_threshold: float | None
    window_seconds: int
    for_seconds: int
    endpoint: str | None
    severity: str
    description: str | None
    is_enabled: bool
    version: int = Field(description="The newest stored version; 0 before the first change.")
    created_at: dt.datetime | None
    updated_at: dt.datetime | None


class AlertEventOut(BaseModel):
    id: int
    rule_id: int
    rule_name: str
    status: str = Field(description="firing or resolved.")
    severity: str
    metric: str
    endpoint: str | None
    value: float | None
    threshold: float
    occurred_at: dt.datetime | None
    delivery: str = Field(description="none (no webhook), pending, delivered or failed.")
    delivery_attempts: int
    delivery_error: str | None


class EvaluationOut(BaseModel):
    evaluated_at: dt.datetime
    transitions: list[AlertEventOut] = Field(description="Firings and resolutions recorded.")


FIELDS = tuple(AlertRuleFields.model_fields)


def _checked(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body as the evaluator needs it; a 422 problem otherwise."""
    try:
        check_rule(
            metric=body["metric"],
            comparison=body["comparison"],
            threshold=float(body["threshold"]),
            resolve_threshold=(
                float(body["resolve_threshold"]) if body["resolve_threshold"] is not None else None
            ),
            endpoint=body["endpoint"],
            window_seconds=int(body["window_seconds"]),
        )
    except RuleError as exc:
        raise ProblemError(422, str(exc), title="Invalid alert rule") from None
    return dict(body)


ALERT_RULES = VersionedResource(
    kind="alert_rule",
    noun="alert rule",
    table=cast(Table, AlertRule.__table__),
    fields=FIELDS,
    nullable=frozenset({"resolve_threshold", "endpoint", "description"}),
    check=_checked,
    unique_field="name",
    unique_noun="rule",
    unique_label="name",
)


ALERT_RULES_API = ResourceApi(
    resource=ALERT_RULES,
    prefix=PREFIX,
    collection="/rules",
    tag="alerts",
    id_name="rule_id",
    singular="rule",
    plural="rules",
    fields_model=AlertRuleFields,
    change_model=AlertRuleChange,
    out_model=AlertRuleOut,
)


def event_out(row: Mapping[str, Any]) -> AlertEventOut:
    return AlertEventOut(**{**row, "occurred_at": aware(row["occurred_at"])})


def alerts_router(platform: Platform) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["alerts"], responses=problem_responses(401, 403, 429))
    viewer = [Depends(RequireRole(platform.authorize, "viewer"))]
    operator = [Depends(RequireRole(platform.authorize, "operator"))]

    @router.get(
        "",
        response_model=Page[ActiveAlert],
        dependencies=[*viewer, accepts("limit", "offset")],
        responses=problem_responses(400, 422),
    )
    async def current_alerts(
        request: Request, limit: LimitParam = DEFAULT_LIMIT, offset: OffsetParam = 0
    ) -> Page[ActiveAlert]:
        """Alerts firing or pending, most severe first, then those resolved in the last hour."""
        async with platform.database.session(primary_only=True) as db:
            alerts = await read_alerts(db, time.time())
        shown = alerts[offset : offset + limit]
        return offset_page(shown, request, limit=limit, offset=offset, total=len(alerts))

    @router.get(
        "/events",
        response_model=Page[AlertEventOut],
        dependencies=[*viewer, accepts("limit", "offset", "rule_id")],
        responses=problem_responses(400, 422),
    )
    async def events(
        request: Request,
        limit: LimitParam = DEFAULT_LIMIT,
        offset: OffsetParam = 0,
        rule_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    ) -> Page[AlertEventOut]:
        """Every firing and resolution, newest first, with its webhook delivery."""
        table = AlertEvent.__table__
        where = [table.c.rule_id == rule_id] if rule_id is not None else []
        async with platform.database.session(primary_only=True) as db:
            total = int(await db.scalar(select(func.count()).select_from(table).where(*where)) or 0)
            rows = await db.execute(
                select(table)
                .where(*where)
                .order_by(table.c.occurred_at.desc(), table.c.id.desc())
                .limit(limit)
                .offset(offset)
            )
            data = [event_out(dict(row)) for row in rows.mappings()]
        return offset_page(data, request, limit=limit, offset=offset, total=total)

    @router.post(
        "/evaluate",
        response_model=EvaluationOut,
        dependencies=[*operator, accepts()],
    )
    async def evaluate_now() -> EvaluationOut:
        """Evaluate every rule now (the platform also does on its timer)."""
        now = time.time()
        transitions = await platform.alerts.evaluate_once(now)
        event_ids = [transition.event_id for transition in transitions]
        table = AlertEvent.__table__
        async with platform.database.session(primary_only=True) as db:
            rows = await db.execute(
                select(table).where(table.c.id.in_(event_ids)).order_by(table.c.id)
            )
            data = [event_out(dict(row)) for row in rows.mappings()]
        return EvaluationOut(evaluated_at=dt.datetime.fromtimestamp(now, dt.UTC), transitions=data)

    combined = APIRouter()
    combined.include_router(router)
    combined.include_router(versioned_router(platform, ALERT_RULES_API))
    return combined
