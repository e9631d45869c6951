"""HTTP routes of the properties domain: properties, room types and rooms."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from banrimkwae.perf.problems import problem_responses
from banrimkwae.perf.responses.expansion import Relation
from banrimkwae.perf.responses.keyset import Ordering, asc
from banrimkwae.resort.deps import Session, Staff
from banrimkwae.resort.ids import OptionalQueryId, PathId
from banrimkwae.resort.pagination import PageRequest, list_spec
from banrimkwae.resort.properties.models import Property, Room, RoomType
from banrimkwae.resort.properties.schemas import (
    PROPERTY_FIELDS,
    ROOM_FIELDS,
    ROOM_TYPE_FIELDS,
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
LIST = problem_responses(400, 404, 422)
WRITE = problem_responses(401, 403, 404, 409, 422)

PROPERTIES = list_spec(
    Ordering("properties", asc("id", Property.id)),
    PROPERTY_FIELDS,
    {"room_types": Relation(Property.room_types, ROOM_TYPE_FIELDS)},
)
ROOM_TYPES = list_spec(
    Ordering("room-types", asc("id", RoomType.id)),
    ROOM_TYPE_FIELDS,
    {"property": Relation(RoomType.property, PROPERTY_FIELDS)},
)
ROOMS = list_spec(
    Ordering("rooms", asc("id", Room.id)),
    ROOM_FIELDS,
    {
        "room_type": Relation(Room.room_type, ROOM_TYPE_FIELDS),
        "property": Relation(Room.property, PROPERTY_FIELDS),
    },
)


@router.get(
    "/properties",
    response_model=PROPERTIES.response_model(),
    responses=problem_responses(400, 422),
)
async def list_properties(
    session: Session,
    page: Annotated[PageRequest, Depends(PROPERTIES.parameters)],
    country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
) -> Response:
    page.bind(country=country)
    return page.respond(await PropertyService(session).list(page, country=country))


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
    "/properties/{property_id}/room-types",
    response_model=ROOM_TYPES.response_model(),
    responses=LIST,
)
async def list_room_types(
    property_id: PathId,
    session: Session,
    page: Annotated[PageRequest, Depends(ROOM_TYPES.parameters)],
) -> Response:
    page.bind(property_id=property_id)
    return page.respond(await PropertyService(session).list_room_types(property_id, page))


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


@router.get(
    "/properties/{property_id}/rooms", response_model=ROOMS.response_model(), responses=LIST
)
async def list_rooms(
    property_id: PathId,
    session: Session,
    page: Annotated[PageRequest, Depends(ROOMS.parameters)],
    room_type_id: OptionalQueryId = None,
    status: Annotated[str | None, Query(pattern=r"^(in_service|out_of_service)$")] = None,
) -> Response:
    page.bind(property_id=property_id, room_type_id=room_type_id, status=status)
    rows = await PropertyService(session).list_rooms(
        property_id, page, room_type_id=room_type_id, status=status
    )
    return page.respond(rows)


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
