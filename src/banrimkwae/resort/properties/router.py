"""HTTP routes of the properties domain: properties, room types and rooms."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from banrimkwae.perf.problems import problem_responses
from banrimkwae.resort.deps import Session, Staff
from banrimkwae.resort.ids import OptionalQueryId, PathId
from banrimkwae.resort.pagination import Page, Paging, page_of
from banrimkwae.resort.properties.schemas import (
    PropertyIn,
    PropertyOut,
    PropertyPatch,
    RoomIn,
    RoomOut,
    RoomPatch,
    RoomTypeIn,
    RoomTypeOut,
    RoomTypePatch,
)
from banrimkwae.resort.properties.service import PropertyService

router = APIRouter(prefix="/api/v1", tags=["properties"])

READ = problem_responses(404, 422)
WRITE = problem_responses(401, 403, 404, 409, 422)


@router.get("/properties", response_model=Page[PropertyOut], responses=problem_responses(422))
async def list_properties(
    request: Request,
    session: Session,
    paging: Paging,
    country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
) -> Page[PropertyOut]:
    rows = await PropertyService(session).list(
        limit=paging.limit + 1, offset=paging.offset, country=country
    )
    return page_of([PropertyOut.model_validate(row) for row in rows], request, paging)


@router.post("/properties", status_code=201, response_model=PropertyOut, responses=WRITE)
async def create_property(body: PropertyIn, session: Session, _staff: Staff) -> PropertyOut:
    return PropertyOut.model_validate(await PropertyService(session).create(body))


@router.get("/properties/{property_id}", response_model=PropertyOut, responses=READ)
async def get_property(property_id: PathId, session: Session) -> PropertyOut:
    return PropertyOut.model_validate(await PropertyService(session).get(property_id))


@router.patch("/properties/{property_id}", response_model=PropertyOut, responses=WRITE)
async def update_property(
    property_id: PathId, body: PropertyPatch, session: Session, _staff: Staff
) -> PropertyOut:
    return PropertyOut.model_validate(await PropertyService(session).update(property_id, body))


@router.delete("/properties/{property_id}", status_code=204, responses=WRITE)
async def delete_property(property_id: PathId, session: Session, _staff: Staff) -> Response:
    await PropertyService(session).delete(property_id)
    return Response(status_code=204)


@router.get(
    "/properties/{property_id}/room-types", response_model=Page[RoomTypeOut], responses=READ
)
async def list_room_types(
    property_id: PathId, request: Request, session: Session, paging: Paging
) -> Page[RoomTypeOut]:
    rows = await PropertyService(session).list_room_types(
        property_id, limit=paging.limit + 1, offset=paging.offset
    )
    return page_of([RoomTypeOut.model_validate(row) for row in rows], request, paging)


@router.post(
    "/properties/{property_id}/room-types",
    status_code=201,
    response_model=RoomTypeOut,
    responses=WRITE,
)
async def create_room_type(
    property_id: PathId, body: RoomTypeIn, session: Session, _staff: Staff
) -> RoomTypeOut:
    created = await PropertyService(session).create_room_type(property_id, body)
    return RoomTypeOut.model_validate(created)


@router.get("/room-types/{room_type_id}", response_model=RoomTypeOut, responses=READ)
async def get_room_type(room_type_id: PathId, session: Session) -> RoomTypeOut:
    return RoomTypeOut.model_validate(await PropertyService(session).get_room_type(room_type_id))


@router.patch("/room-types/{room_type_id}", response_model=RoomTypeOut, responses=WRITE)
async def update_room_type(
    room_type_id: PathId, body: RoomTypePatch, session: Session, _staff: Staff
) -> RoomTypeOut:
    updated = await PropertyService(session).update_room_type(room_type_id, body)
    return RoomTypeOut.model_validate(updated)


@router.delete("/room-types/{room_type_id}", status_code=204, responses=WRITE)
async def delete_room_type(room_type_id: PathId, session: Session, _staff: Staff) -> Response:
    await PropertyService(session).delete_room_type(room_type_id)
    return Response(status_code=204)


@router.get("/properties/{property_id}/rooms", response_model=Page[RoomOut], responses=READ)
async def list_rooms(
    property_id: PathId,
    request: Request,
    session: Session,
    paging: Paging,
    room_type_id: OptionalQueryId = None,
    status: Annotated[str | None, Query(pattern=r"^(in_service|out_of_service)$")] = None,
) -> Page[RoomOut]:
    rows = await PropertyService(session).list_rooms(
        property_id,
        limit=paging.limit + 1,
        offset=paging.offset,
        room_type_id=room_type_id,
        status=status,
    )
    return page_of([RoomOut.model_validate(row) for row in rows], request, paging)


@router.post(
    "/properties/{property_id}/rooms", status_code=201, response_model=RoomOut, responses=WRITE
)
async def create_room(
    property_id: PathId, body: RoomIn, session: Session, _staff: Staff
) -> RoomOut:
    return RoomOut.model_validate(await PropertyService(session).create_room(property_id, body))


@router.get("/rooms/{room_id}", response_model=RoomOut, responses=READ)
async def get_room(room_id: PathId, session: Session) -> RoomOut:
    return RoomOut.model_validate(await PropertyService(session).get_room(room_id))


@router.patch("/rooms/{room_id}", response_model=RoomOut, responses=WRITE)
async def update_room(room_id: PathId, body: RoomPatch, session: Session, _staff: Staff) -> RoomOut:
    return RoomOut.model_validate(await PropertyService(session).update_room(room_id, body))


@router.delete("/rooms/{room_id}", status_code=204, responses=WRITE)
async def delete_room(room_id: PathId, session: Session, _staff: Staff) -> Response:
    await PropertyService(session).delete_room(room_id)
    return Response(status_code=204)
