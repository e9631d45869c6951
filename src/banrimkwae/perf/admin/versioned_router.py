"""One admin router for any versioned configuration table: CRUD, versions and restore.

Viewers read; operators create, change, delete and restore. Every write goes through
perf.admin.versioned (the one code path the command line and the verifier use too) and is
committed with its version and audit row; `after_change` then runs (the cache announces a
policy reload to every worker). Each resource brings its own pydantic models: the fields as
written, a partial change, and the row as shown.
"""

# No `from __future__ import annotations`: the handlers' parameter types are the resource's
# models, given at run time, and FastAPI reads them from the evaluated annotations.

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, cast

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from banrimkwae.perf.access import RequireRole
from banrimkwae.perf.admin.audit import request_actor
from banrimkwae.perf.admin.auth import client_address
from banrimkwae.perf.admin.config_router import (
    DEFAULT_LIMIT,
    MAX_ID,
    MAX_VERSION,
    LimitParam,
    OffsetParam,
    VersionEntry,
    accepts,
    aware,
    offset_page,
    version_entry,
)
from banrimkwae.perf.admin.schemas import Page
from banrimkwae.perf.admin.versioned import (
    Actor,
    VersionedResource,
    change_item,
    commit,
    create_item,
    current_version,
    delete_item,
    latest_versions,
    read_row,
    restore_item,
)
from banrimkwae.perf.admin.versions import read_versions
from banrimkwae.perf.problems import problem_responses

if TYPE_CHECKING:
    from banrimkwae.perf.platform import Platform


@dataclass(frozen=True, slots=True)
class ResourceApi:
    """How a versioned resource appears in the API."""

    resource: VersionedResource
    prefix: str  # "/api/admin/scaling"
    collection: str  # "/configs", or "" when the prefix is the collection
    tag: str
    id_name: str  # "config_id"
    singular: str  # "config": route names (list_configs, get_config ...)
    plural: str
    fields_model: type[BaseModel]
    change_model: type[BaseModel]
    out_model: type[BaseModel]
    # Columns shown beside the configuration fields, id, version and timestamps.
    extra: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None

    def out(self, row: Mapping[str, Any], version: int) -> BaseModel:
        """The row as shown, given its newest version number."""
        return self.out_model(
            **self.resource.body(row),
            id=row["id"],
            version=version,
            created_at=aware(row["created_at"]),
            updated_at=aware(row["updated_at"]),
            **(self.extra(row) if self.extra is not None else {}),
        )


def _dumped(model: Any, *, exclude_unset: bool = False) -> dict[str, Any]:
    return dict(cast(BaseModel, model).model_dump(exclude_unset=exclude_unset))


def api_actor(request: Request) -> Actor:
    return Actor(request_actor(request), client_address(request))


def versioned_router(
    platform: "Platform",
    api: ResourceApi,
    *,
    after_change: Callable[[], Awaitable[None]] | None = None,
) -> APIRouter:
    resource = api.resource
    noun = resource.noun
    router = APIRouter(
        prefix=api.prefix, tags=[api.tag], responses=problem_responses(401, 403, 429)
    )
    viewer = [Depends(RequireRole(platform.authorize, "viewer"))]
    operator = [Depends(RequireRole(platform.authorize, "operator"))]
    item_path = f"{api.collection}/{{{api.id_name}}}"
    IdParam = Annotated[  # a type built per resource
        int, Path(alias=api.id_name, ge=1, le=MAX_ID, description=f"The {noun}'s id.")
    ]
    VersionParam = Annotated[int, Path(ge=1, le=MAX_VERSION, description="The version to restore.")]
    FieldsModel = api.fields_model
    ChangeModel = api.change_model

    def session() -> AsyncSession:
        # Configuration is read and written on the primary: a change is seen at once.
        return platform.database.session(primary_only=True)

    async def shown(db: AsyncSession, item_id: int) -> BaseModel:
        row = await read_row(db, resource, item_id)
        return api.out(row, await current_version(db, resource, item_id))

    async def changed() -> None:
        if after_change is not None:
            await after_change()

    @router.get(
        api.collection,
        name=f"list_{api.plural}",
        description=f"Every {noun}, by id.",
        response_model=Page[api.out_model],  # type: ignore[name-defined]
        dependencies=[*viewer, accepts("limit", "offset")],
        responses=problem_responses(400, 422),
    )
    async def list_items(
        request: Request, limit: LimitParam = DEFAULT_LIMIT, offset: OffsetParam = 0
    ) -> Any:
        table = resource.table
        async with session() as db:
            total = int(await db.scalar(select(func.count()).select_from(table)) or 0)
            query = select(table).order_by(table.c.id).limit(limit).offset(offset)
            rows = [dict(row) for row in (await db.execute(query)).mappings()]
            latest = await latest_versions(db, resource, [row["id"] for row in rows])
        data = [api.out(row, latest.get(row["id"], 0)) for row in rows]
        return offset_page(data, request, limit=limit, offset=offset, total=total)

    @router.post(
        api.collection,
        name=f"create_{api.singular}",
        description=f"A new {noun}.",
        status_code=201,
        response_model=api.out_model,
        dependencies=operator,
        responses=problem_responses(409, 422),
    )
    async def create(request: Request, fields: FieldsModel) -> Any:  # type: ignore[valid-type]
        async with session() as db:
            item_id = await create_item(db, resource, _dumped(fields), api_actor(request))
            await commit(db, resource.subject(item_id))
            created = await shown(db, item_id)
        await changed()
        return created

    @router.get(
        item_path,
        name=f"get_{api.singular}",
        response_model=api.out_model,
        dependencies=viewer,
        responses=problem_responses(404, 422),
    )
    async def get_item(item_id: IdParam) -> Any:
        async with session() as db:
            return await shown(db, item_id)

    async def change(request: Request, item_id: int, changes: Mapping[str, Any]) -> Any:
        async with session() as db:
            version = await change_item(db, resource, item_id, changes, api_actor(request))
            if version is not None:
                await commit(db, resource.subject(item_id))
            result = await shown(db, item_id)
        if version is not None:
            await changed()
        return result

    @router.put(
        item_path,
        name=f"replace_{api.singular}",
        description="Replace every field (those left out take their defaults).",
        response_model=api.out_model,
        dependencies=operator,
        responses=problem_responses(404, 409, 422),
    )
    async def replace_item(
        request: Request,
        item_id: IdParam,
        fields: FieldsModel,  # type: ignore[valid-type]
    ) -> Any:
        return await change(request, item_id, _dumped(fields))

    @router.patch(
        item_path,
        name=f"update_{api.singular}",
        description="Change the fields given; an empty change stores no version.",
        response_model=api.out_model,
        dependencies=operator,
        responses=problem_responses(404, 409, 422),
    )
    async def update_item(
        request: Request,
        item_id: IdParam,
        changes: ChangeModel,  # type: ignore[valid-type]
    ) -> Any:
        return await change(request, item_id, _dumped(changes, exclude_unset=True))

    @router.delete(
        item_path,
        name=f"delete_{api.singular}",
        description=f"Remove the {noun}; its versions stay, so it can be restored.",
        status_code=204,
        response_class=Response,
        dependencies=operator,
        responses=problem_responses(404, 409),
    )
    async def delete(request: Request, item_id: IdParam) -> Response:
        async with session() as db:
            await delete_item(db, resource, item_id, api_actor(request))
            await commit(db, resource.subject(item_id))
        await changed()
        return Response(status_code=204)

    @router.get(
        f"{item_path}/versions",
        name="list_versions",
        description=f"The {noun}'s stored versions, newest first (also of a deleted one).",
        response_model=Page[VersionEntry],
        dependencies=[*viewer, accepts("limit", "offset")],
        responses=problem_responses(400, 404, 422),
    )
    async def list_versions(
        request: Request,
        item_id: IdParam,
        limit: LimitParam = DEFAULT_LIMIT,
        offset: OffsetParam = 0,
    ) -> Any:
        async with session() as db:
            stored, total = await read_versions(
                db, resource.kind, item_id, limit=limit, offset=offset
            )
            if total == 0:
                await read_row(db, resource, item_id)  # 404 when it never existed
        data = [version_entry(entry) for entry in stored]
        return offset_page(data, request, limit=limit, offset=offset, total=total)

    @router.post(
        f"{item_path}/versions/{{version}}/restore",
        name="restore_version",
        description=(
            f"Make the {noun} what it was at `version` (recreated if deleted since); the "
            "restore is a change of its own: a new version and an audit row."
        ),
        response_model=api.out_model,
        dependencies=operator,
        responses=problem_responses(404, 409, 422),
    )
    async def restore(request: Request, item_id: IdParam, version: VersionParam) -> Any:
        async with session() as db:
            await restore_item(db, resource, item_id, version, api_actor(request))
            await commit(db, resource.subject(item_id))
            restored = await shown(db, item_id)
        await changed()
        return restored

    return router
