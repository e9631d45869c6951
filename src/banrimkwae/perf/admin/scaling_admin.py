"""/api/admin/scaling/configs: the auto-scaling configurations (auto_scaling_config), versioned.

Viewers read; operators create, change, delete and restore configurations. A configuration
is validated by the scaling model itself (perf.scaling.store.service_from_row builds the
ScalingConfig the controller would run), so what the controller would refuse is a 422
problem here. The controller reads its row every cycle: a committed change is what its next
cycle runs. The manual pin and the leader lease are the controller's, not configuration:
they are shown, never written, here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from types import SimpleNamespace
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import CursorResult, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from banrimkwae.perf.access import RequireRole
from banrimkwae.perf.admin.config_router import (
    DEFAULT_LIMIT,
    MAX_ID,
    MAX_VERSION,
    LimitParam,
    OffsetParam,
    VersionEntry,
    accepts,
    aware,
    commit_change,
    not_found,
    offset_page,
    version_entry,
)
from banrimkwae.perf.admin.schemas import Page
from banrimkwae.perf.admin.versions import read_version, read_versions
from banrimkwae.perf.problems import ProblemError, problem_responses
from banrimkwae.perf.scaling.model import ScalingConfigError
from banrimkwae.perf.scaling.store import service_from_row
from banrimkwae.perf.storage import AutoScalingConfig, ConfigVersion

if TYPE_CHECKING:
    from banrimkwae.perf.platform import Platform

KIND = "scaling_config"
IdParam = Annotated[int, Path(ge=1, le=MAX_ID, description="The configuration's id.")]
PolicyName = Literal["threshold", "hpa", "slo"]


class ScalingConfigFields(BaseModel):
    """A configuration as written: every field, with the table's defaults."""

    model_config = ConfigDict(extra="forbid")

    service_name: str = Field(min_length=1, max_length=100)
    min_instances: int = Field(default=2, ge=1, le=10_000)
    max_instances: int = Field(default=20, ge=1, le=10_000)
    target_cpu_percent: float = Field(default=70.0, gt=0, le=100)
    target_memory_percent: float = Field(default=80.0, gt=0, le=100)
    target_response_time_ms: int = Field(default=200, ge=1, le=600_000)
    scale_up_cooldown_seconds: int = Field(default=300, ge=0, le=86_400)
    scale_down_cooldown_seconds: int = Field(default=600, ge=0, le=86_400)
    scale_up_threshold_count: int = Field(default=2, ge=1, le=1000)
    scale_down_threshold_count: int = Field(default=3, ge=1, le=1000)
    is_enabled: bool = True
    policy: PolicyName = "slo"
    capacity_rps: float = Field(
        default=0.0, ge=0, le=99_999_999, description="Req/s one instance serves; 0: estimate."
    )


class ScalingConfigChange(BaseModel):
    """A partial change: only the fields given are changed (none may be null)."""

    model_config = ConfigDict(extra="forbid")

    service_name: str | None = Field(default=None, min_length=1, max_length=100)
    min_instances: int | None = Field(default=None, ge=1, le=10_000)
    max_instances: int | None = Field(default=None, ge=1, le=10_000)
    target_cpu_percent: float | None = Field(default=None, gt=0, le=100)
    target_memory_percent: float | None = Field(default=None, gt=0, le=100)
    target_response_time_ms: int | None = Field(default=None, ge=1, le=600_000)
    scale_up_cooldown_seconds: int | None = Field(default=None, ge=0, le=86_400)
    scale_down_cooldown_seconds: int | None = Field(default=None, ge=0, le=86_400)
    scale_up_threshold_count: int | None = Field(default=None, ge=1, le=1000)
    scale_down_threshold_count: int | None = Field(default=None, ge=1, le=1000)
    is_enabled: bool | None = None
    policy: PolicyName | None = None
    capacity_rps: float | None = Field(default=None, ge=0, le=99_999_999)


class ScalingConfigOut(BaseModel):
    """A configuration as stored (unconstrained: a row edited in SQL is shown as it is)."""

    id: int
    service_name: str
    min_instances: int
    max_instances: int
    target_cpu_percent: float
    target_memory_percent: float
    target_response_time_ms: int
    scale_up_cooldown_seconds: int
    scale_down_cooldown_seconds: int
    scale_up_threshold_count: int
    scale_down_threshold_count: int
    is_enabled: bool
    policy: str
    capacity_rps: float
    version: int = Field(description="The newest stored version; 0 before the first change.")
    pinned_instances: int | None = Field(description="A manual pin held until pinned_until.")
    pinned_until: dt.datetime | None
    created_at: dt.datetime | None
    updated_at: dt.datetime | None


FIELDS = tuple(ScalingConfigFields.model_fields)


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _body(row: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _plain(row[name]) for name in FIELDS}


def _checked(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body validated as the controller would load it; a 422 problem otherwise."""
    try:
        service_from_row(SimpleNamespace(**body, pinned_instances=None, pinned_until=None))
    except (ScalingConfigError, TypeError, ValueError) as exc:
        raise ProblemError(422, str(exc), title="Invalid scaling configuration") from None
    return dict(body)


async def _row(db: AsyncSession, config_id: int, *, lock: bool = False) -> dict[str, Any]:
    table = AutoScalingConfig.__table__
    query = select(table).where(table.c.id == config_id)
    if lock:
        query = query.with_for_update()
    found = (await db.execute(query)).mappings().first()
    if found is None:
        raise not_found(f"scaling configuration {config_id}")
    return dict(found)


async def _latest(db: AsyncSession, ids: list[int]) -> dict[int, int]:
    table = ConfigVersion.__table__.c
    rows = await db.execute(
        select(table.target_id, func.max(table.version))
        .where(table.kind == KIND, table.target_id.in_(ids))
        .group_by(table.target_id)
    )
    return {int(target): int(version) for target, version in rows}


def _out(row: Mapping[str, Any], version: int) -> ScalingConfigOut:
    return ScalingConfigOut(
        **_body(row),
        id=row["id"],
        version=version,
        pinned_instances=row["pinned_instances"],
        pinned_until=aware(row["pinned_until"]),
        created_at=aware(row["created_at"]),
        updated_at=aware(row["updated_at"]),
    )


async def _name_taken(db: AsyncSession, name: str, config_id: int | None) -> None:
    table = AutoScalingConfig.__table__.c
    query = select(table.id).where(table.service_name == name)
    if config_id is not None:
        query = query.where(table.id != config_id)
    if await db.scalar(query) is not None:
        raise ProblemError(
            409, f"a configuration for {name!r} exists already", title="Conflict", service=name
        )


def scaling_admin_router(platform: Platform) -> APIRouter:
    router = APIRouter(
        prefix="/api/admin/scaling", tags=["scaling"], responses=problem_responses(401, 403, 429)
    )
    viewer = [Depends(RequireRole(platform.authorize, "viewer"))]
    operator = [Depends(RequireRole(platform.authorize, "operator"))]

    def session() -> AsyncSession:
        return platform.database.session(primary_only=True)

    async def get_out(db: AsyncSession, config_id: int) -> ScalingConfigOut:
        row = await _row(db, config_id)
        return _out(row, (await _latest(db, [config_id])).get(config_id, 0))

    @router.get(
        "/configs",
        response_model=Page[ScalingConfigOut],
        dependencies=[*viewer, accepts("limit", "offset")],
        responses=problem_responses(400, 422),
    )
    async def list_configs(
        request: Request, limit: LimitParam = DEFAULT_LIMIT, offset: OffsetParam = 0
    ) -> Page[ScalingConfigOut]:
        """Every service's configuration, by id."""
        table = AutoScalingConfig.__table__
        async with session() as db:
            total = int(await db.scalar(select(func.count()).select_from(table)) or 0)
            query = select(table).order_by(table.c.id).limit(limit).offset(offset)
            rows = [dict(row) for row in (await db.execute(query)).mappings()]
            latest = await _latest(db, [row["id"] for row in rows])
        data = [_out(row, latest.get(row["id"], 0)) for row in rows]
        return offset_page(data, request, limit=limit, offset=offset, total=total)

    @router.post(
        "/configs",
        status_code=201,
        response_model=ScalingConfigOut,
        dependencies=operator,
        responses=problem_responses(409, 422),
    )
    async def create_config(request: Request, fields: ScalingConfigFields) -> ScalingConfigOut:
        body = _checked(fields.model_dump())
        async with session() as db:
            await _name_taken(db, body["service_name"], None)
            result = cast(
                CursorResult[Any], await db.execute(insert(AutoScalingConfig).values(body))
            )
            assert result.inserted_primary_key is not None
            config_id = int(result.inserted_primary_key[0])
            await commit_change(
                db,
                request,
                kind=KIND,
                target_id=config_id,
                action="scaling_config.create",
                before=None,
                after=body,
            )
            return await get_out(db, config_id)

    @router.get(
        "/configs/{config_id}",
        response_model=ScalingConfigOut,
        dependencies=viewer,
        responses=problem_responses(404, 422),
    )
    async def get_config(config_id: IdParam) -> ScalingConfigOut:
        async with session() as db:
            return await get_out(db, config_id)

    async def change(
        request: Request, config_id: int, changes: Mapping[str, Any]
    ) -> ScalingConfigOut:
        nulled = sorted(name for name, value in changes.items() if value is None)
        if nulled:
            raise ProblemError(
                422, f"{nulled[0]} may not be null", title="Invalid scaling configuration"
            )
        async with session() as db:
            before = _body(await _row(db, config_id, lock=True))
            after = _checked({**before, **changes})
            if after != before:
                await _name_taken(db, after["service_name"], config_id)
                await db.execute(
                    update(AutoScalingConfig)
                    .where(AutoScalingConfig.__table__.c.id == config_id)
                    .values(after)
                )
                await commit_change(
                    db,
                    request,
                    kind=KIND,
                    target_id=config_id,
                    action="scaling_config.update",
                    before=before,
                    after=after,
                )
            return await get_out(db, config_id)

    @router.put(
        "/configs/{config_id}",
        response_model=ScalingConfigOut,
        dependencies=operator,
        responses=problem_responses(404, 409, 422),
    )
    async def replace_config(
        request: Request, config_id: IdParam, fields: ScalingConfigFields
    ) -> ScalingConfigOut:
        """Replace every field (those left out take their defaults)."""
        return await change(request, config_id, fields.model_dump())

    @router.patch(
        "/configs/{config_id}",
        response_model=ScalingConfigOut,
        dependencies=operator,
        responses=problem_responses(404, 409, 422),
    )
    async def update_config(
        request: Request, config_id: IdParam, changes: ScalingConfigChange
    ) -> ScalingConfigOut:
        """Change the fields given; an empty change stores no version."""
        return await change(request, config_id, changes.model_dump(exclude_unset=True))

    @router.delete(
        "/configs/{config_id}",
        status_code=204,
        response_class=Response,
        dependencies=operator,
        responses=problem_responses(404, 409),
    )
    async def delete_config(request: Request, config_id: IdParam) -> Response:
        """Remove the configuration (the controller then leaves the service alone)."""
        async with session() as db:
            before = _body(await _row(db, config_id, lock=True))
            await db.execute(
                delete(AutoScalingConfig).where(AutoScalingConfig.__table__.c.id == config_id)
            )
            await commit_change(
                db,
                request,
                kind=KIND,
                target_id=config_id,
                action="scaling_config.delete",
                before=before,
                after=None,
            )
        return Response(status_code=204)

    @router.get(
        "/configs/{config_id}/versions",
        response_model=Page[VersionEntry],
        dependencies=[*viewer, accepts("limit", "offset")],
        responses=problem_responses(400, 404, 422),
    )
    async def list_versions(
        request: Request,
        config_id: IdParam,
        limit: LimitParam = DEFAULT_LIMIT,
        offset: OffsetParam = 0,
    ) -> Page[VersionEntry]:
        """The configuration's stored versions, newest first (also of a deleted one)."""
        async with session() as db:
            stored, total = await read_versions(db, KIND, config_id, limit=limit, offset=offset)
            if total == 0:
                await _row(db, config_id)
        data = [version_entry(entry) for entry in stored]
        return offset_page(data, request, limit=limit, offset=offset, total=total)

    @router.post(
        "/configs/{config_id}/versions/{version}/restore",
        response_model=ScalingConfigOut,
        dependencies=operator,
        responses=problem_responses(404, 409, 422),
    )
    async def restore_version(
        request: Request,
        config_id: IdParam,
        version: Annotated[int, Path(ge=1, le=MAX_VERSION, description="The version to restore.")],
    ) -> ScalingConfigOut:
        """Make the configuration what it was at `version` (recreated if deleted since)."""
        async with session() as db:
            stored = await read_version(db, KIND, config_id, version)
            if stored is None:
                raise not_found(f"version {version} of scaling configuration {config_id}")
            if stored.body is None:
                raise ProblemError(
                    409,
                    f"version {version} records the configuration's deletion",
                    title="Nothing to restore",
                )
            target = _checked({name: stored.body.get(name) for name in FIELDS})
            table = AutoScalingConfig.__table__
            current = (
                (await db.execute(select(table).where(table.c.id == config_id).with_for_update()))
                .mappings()
                .first()
            )
            before = _body(dict(current)) if current is not None else None
            await _name_taken(db, target["service_name"], config_id)
            if current is None:
                await db.execute(insert(AutoScalingConfig).values({"id": config_id, **target}))
            else:
                await db.execute(
                    update(AutoScalingConfig).where(table.c.id == config_id).values(target)
                )
            await commit_change(
                db,
                request,
                kind=KIND,
                target_id=config_id,
                action="scaling_config.restore",
                before=before,
                after=target,
                audit_after={"restored_version": version, **target},
            )
            return await get_out(db, config_id)

    return router
