"""/api/admin/cache/policies: the response cache's policies (api_cache_config), versioned.

Viewers read; operators create, change, delete and restore. A policy is checked by the
compiler the workers use (perf.cache.policies.compile_policy), so a policy the cache would
leave out is a 422 problem here instead. Each change is committed with its version and audit
row, then announced through the response store: every worker reloads its policies.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import CursorResult, func, insert, select, update
from sqlalchemy import delete as sql_delete
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
from banrimkwae.perf.cache.policies import PolicyError, compile_policy
from banrimkwae.perf.cache.policy_loader import announce_change
from banrimkwae.perf.problems import ProblemError, problem_responses
from banrimkwae.perf.storage import ApiCacheConfig, ConfigVersion

if TYPE_CHECKING:
    from banrimkwae.perf.platform import Platform

log = logging.getLogger(__name__)
KIND = "cache_policy"
IdParam = Annotated[int, Path(ge=1, le=MAX_ID, description="The policy's id.")]


class CachePolicyFields(BaseModel):
    """A policy as written: every field, with the table's defaults."""

    model_config = ConfigDict(extra="forbid")

    endpoint_pattern: str = Field(
        min_length=1,
        max_length=255,
        description="Exact path, route template (/a/{id}) or glob (* in a segment, ** across).",
    )
    http_methods: list[str] = Field(default=["GET", "HEAD"], min_length=1)
    cache_ttl_seconds: int = Field(default=300, ge=1, le=30 * 86400)
    cache_strategy: Literal["simple", "tagged", "hierarchical"] = "simple"
    cache_key_pattern: str | None = Field(default=None, max_length=500)
    invalidation_triggers: list[str] | None = Field(
        default=None, description='Extra tags entries carry: "table:<name>" or any tag.'
    )
    cache_warming_enabled: bool = False
    compression_enabled: bool = True
    is_active: bool = True
    stale_while_revalidate_seconds: int = Field(default=0, ge=0, le=86400)
    stale_if_error_seconds: int = Field(default=0, ge=0, le=7 * 86400)
    cache_options: dict[str, Any] | None = Field(
        default=None, description="client_max_age, honour_client_no_cache, warm_requests."
    )


class CachePolicyChange(BaseModel):
    """A partial change: only the fields given are changed."""

    model_config = ConfigDict(extra="forbid")

    endpoint_pattern: str | None = Field(default=None, min_length=1, max_length=255)
    http_methods: list[str] | None = Field(default=None, min_length=1)
    cache_ttl_seconds: int | None = Field(default=None, ge=1, le=30 * 86400)
    cache_strategy: Literal["simple", "tagged", "hierarchical"] | None = None
    cache_key_pattern: str | None = Field(default=None, max_length=500)
    invalidation_triggers: list[str] | None = None
    cache_warming_enabled: bool | None = None
    compression_enabled: bool | None = None
    is_active: bool | None = None
    stale_while_revalidate_seconds: int | None = Field(default=None, ge=0, le=86400)
    stale_if_error_seconds: int | None = Field(default=None, ge=0, le=7 * 86400)
    cache_options: dict[str, Any] | None = None


class CachePolicy(BaseModel):
    """A policy as stored (unconstrained: a row edited in SQL is still shown as it is)."""

    id: int
    endpoint_pattern: str
    http_methods: list[str]
    cache_ttl_seconds: int
    cache_strategy: str
    cache_key_pattern: str | None
    invalidation_triggers: Any
    cache_warming_enabled: bool
    compression_enabled: bool
    is_active: bool
    stale_while_revalidate_seconds: int
    stale_if_error_seconds: int
    cache_options: Any
    version: int = Field(description="The newest stored version; 0 before the first change.")
    created_at: dt.datetime | None
    updated_at: dt.datetime | None


FIELDS = tuple(CachePolicyFields.model_fields)
# Fields the API refuses to set to null (the table's columns are NOT NULL).
_REQUIRED = frozenset(FIELDS) - {"cache_key_pattern", "invalidation_triggers", "cache_options"}


def _body(row: Mapping[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in FIELDS}


def _checked(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body validated as the cache would compile it; a 422 problem otherwise."""
    try:
        compile_policy(body)
    except PolicyError as exc:
        raise ProblemError(422, str(exc), title="Invalid cache policy") from None
    return dict(body)


async def _row(session: AsyncSession, policy_id: int, *, lock: bool = False) -> dict[str, Any]:
    query = select(ApiCacheConfig.__table__).where(ApiCacheConfig.__table__.c.id == policy_id)
    if lock:
        query = query.with_for_update()
    found = (await session.execute(query)).mappings().first()
    if found is None:
        raise not_found(f"cache policy {policy_id}")
    return dict(found)


async def _latest(session: AsyncSession, ids: list[int]) -> dict[int, int]:
    table = ConfigVersion.__table__.c
    rows = await session.execute(
        select(table.target_id, func.max(table.version))
        .where(table.kind == KIND, table.target_id.in_(ids))
        .group_by(table.target_id)
    )
    return {int(target): int(version) for target, version in rows}


def _out(row: Mapping[str, Any], version: int) -> CachePolicy:
    return CachePolicy(
        **_body(row),
        id=row["id"],
        version=version,
        created_at=aware(row["created_at"]),
        updated_at=aware(row["updated_at"]),
    )


async def _pattern_taken(session: AsyncSession, pattern: str, policy_id: int | None) -> None:
    table = ApiCacheConfig.__table__.c
    query = select(table.id).where(table.endpoint_pattern == pattern)
    if policy_id is not None:
        query = query.where(table.id != policy_id)
    if await session.scalar(query) is not None:
        raise ProblemError(
            409, f"a policy for {pattern!r} exists already", title="Conflict", pattern=pattern
        )


def cache_admin_router(platform: Platform) -> APIRouter:
    router = APIRouter(
        prefix="/api/admin/cache/policies",
        tags=["cache"],
        responses=problem_responses(401, 403, 429),
    )
    viewer = [Depends(RequireRole(platform.authorize, "viewer"))]
    operator = [Depends(RequireRole(platform.authorize, "operator"))]

    def session() -> AsyncSession:
        # Configuration is read and written on the primary: a change is seen at once.
        return platform.database.session(primary_only=True)

    async def announce() -> None:
        if platform.cache is None:
            return
        try:
            await announce_change(platform.cache.store)
        except Exception:
            # Committed already: the reloaders' full check (every 30 s) still finds it.
            log.warning("cache policy change not announced", exc_info=True)

    async def get_out(db: AsyncSession, policy_id: int) -> CachePolicy:
        row = await _row(db, policy_id)
        return _out(row, (await _latest(db, [policy_id])).get(policy_id, 0))

    @router.get(
        "",
        response_model=Page[CachePolicy],
        dependencies=[*viewer, accepts("limit", "offset")],
        responses=problem_responses(400, 422),
    )
    async def list_policies(
        request: Request, limit: LimitParam = DEFAULT_LIMIT, offset: OffsetParam = 0
    ) -> Page[CachePolicy]:
        """Every policy, by id."""
        table = ApiCacheConfig.__table__
        async with session() as db:
            total = int(await db.scalar(select(func.count()).select_from(table)) or 0)
            rows = [
                dict(row)
                for row in (
                    await db.execute(select(table).order_by(table.c.id).limit(limit).offset(offset))
                ).mappings()
            ]
            latest = await _latest(db, [row["id"] for row in rows])
        data = [_out(row, latest.get(row["id"], 0)) for row in rows]
        return offset_page(data, request, limit=limit, offset=offset, total=total)

    @router.post(
        "",
        status_code=201,
        response_model=CachePolicy,
        dependencies=operator,
        responses=problem_responses(409, 422),
    )
    async def create_policy(request: Request, fields: CachePolicyFields) -> CachePolicy:
        """A new policy; every worker applies it within a second."""
        body = _checked(fields.model_dump())
        async with session() as db:
            await _pattern_taken(db, body["endpoint_pattern"], None)
            result = cast(CursorResult[Any], await db.execute(insert(ApiCacheConfig).values(body)))
            assert result.inserted_primary_key is not None
            policy_id = int(result.inserted_primary_key[0])
            await commit_change(
                db,
                request,
                kind=KIND,
                target_id=policy_id,
                action="cache_policy.create",
                before=None,
                after=body,
            )
            created = await get_out(db, policy_id)
        await announce()
        return created

    @router.get(
        "/{policy_id}",
        response_model=CachePolicy,
        dependencies=viewer,
        responses=problem_responses(404, 422),
    )
    async def get_policy(policy_id: IdParam) -> CachePolicy:
        async with session() as db:
            return await get_out(db, policy_id)

    async def change(request: Request, policy_id: int, changes: Mapping[str, Any]) -> CachePolicy:
        nulled = sorted(name for name in _REQUIRED if name in changes and changes[name] is None)
        if nulled:
            raise ProblemError(422, f"{nulled[0]} may not be null", title="Invalid cache policy")
        async with session() as db:
            before = _body(await _row(db, policy_id, lock=True))
            after = _checked({**before, **changes})
            if after != before:
                await _pattern_taken(db, after["endpoint_pattern"], policy_id)
                await db.execute(
                    update(ApiCacheConfig)
                    .where(ApiCacheConfig.__table__.c.id == policy_id)
                    .values(after)
                )
                await commit_change(
                    db,
                    request,
                    kind=KIND,
                    target_id=policy_id,
                    action="cache_policy.update",
                    before=before,
                    after=after,
                )
            changed = await get_out(db, policy_id)
        if after != before:
            await announce()
        return changed

    @router.put(
        "/{policy_id}",
        response_model=CachePolicy,
        dependencies=operator,
        responses=problem_responses(404, 409, 422),
    )
    async def replace_policy(
        request: Request, policy_id: IdParam, fields: CachePolicyFields
    ) -> CachePolicy:
        """Replace every field (those left out take their defaults)."""
        return await change(request, policy_id, fields.model_dump())

    @router.patch(
        "/{policy_id}",
        response_model=CachePolicy,
        dependencies=operator,
        responses=problem_responses(404, 409, 422),
    )
    async def update_policy(
        request: Request, policy_id: IdParam, changes: CachePolicyChange
    ) -> CachePolicy:
        """Change the fields given; an empty change stores no version."""
        return await change(request, policy_id, changes.model_dump(exclude_unset=True))

    @router.delete(
        "/{policy_id}",
        status_code=204,
        response_class=Response,
        dependencies=operator,
        responses=problem_responses(404, 409),
    )
    async def delete_policy(request: Request, policy_id: IdParam) -> Response:
        """Remove the policy; its versions stay, so it can be restored."""
        async with session() as db:
            before = _body(await _row(db, policy_id, lock=True))
            await db.execute(
                sql_delete(ApiCacheConfig).where(ApiCacheConfig.__table__.c.id == policy_id)
            )
            await commit_change(
                db,
                request,
                kind=KIND,
                target_id=policy_id,
                action="cache_policy.delete",
                before=before,
                after=None,
            )
        await announce()
        return Response(status_code=204)

    @router.get(
        "/{policy_id}/versions",
        response_model=Page[VersionEntry],
        dependencies=[*viewer, accepts("limit", "offset")],
        responses=problem_responses(400, 404, 422),
    )
    async def list_versions(
        request: Request,
        policy_id: IdParam,
        limit: LimitParam = DEFAULT_LIMIT,
        offset: OffsetParam = 0,
    ) -> Page[VersionEntry]:
        """The policy's stored versions, newest first (also of a deleted policy)."""
        async with session() as db:
            stored, total = await read_versions(db, KIND, policy_id, limit=limit, offset=offset)
            if total == 0:
                await _row(db, policy_id)  # 404 when the policy never existed
        data = [version_entry(entry) for entry in stored]
        return offset_page(data, request, limit=limit, offset=offset, total=total)

    @router.post(
        "/{policy_id}/versions/{version}/restore",
        response_model=CachePolicy,
        dependencies=operator,
        responses=problem_responses(404, 409, 422),
    )
    async def restore_version(
        request: Request,
        policy_id: IdParam,
        version: Annotated[int, Path(ge=1, le=MAX_VERSION, description="The version to restore.")],
    ) -> CachePolicy:
        """Make the policy what it was at `version` (recreated if deleted since); the
        restore is a change of its own: a new version and an audit row."""
        async with session() as db:
            stored = await read_version(db, KIND, policy_id, version)
            if stored is None:
                raise not_found(f"version {version} of cache policy {policy_id}")
            if stored.body is None:
                raise ProblemError(
                    409,
                    f"version {version} records the policy's deletion; restore another one",
                    title="Nothing to restore",
                )
            target = _checked({name: stored.body.get(name) for name in FIELDS})
            table = ApiCacheConfig.__table__
            current = (
                (await db.execute(select(table).where(table.c.id == policy_id).with_for_update()))
                .mappings()
                .first()
            )
            before = _body(dict(current)) if current is not None else None
            await _pattern_taken(db, target["endpoint_pattern"], policy_id)
            if current is None:
                await db.execute(insert(ApiCacheConfig).values({"id": policy_id, **target}))
            else:
                await db.execute(
                    update(ApiCacheConfig).where(table.c.id == policy_id).values(target)
                )
            await commit_change(
                db,
                request,
                kind=KIND,
                target_id=policy_id,
                action="cache_policy.restore",
                before=before,
                after=target,
                audit_after={"restored_version": version, **target},
            )
            restored = await get_out(db, policy_id)
        await announce()
        return restored

    return router
