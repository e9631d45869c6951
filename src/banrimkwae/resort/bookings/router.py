"""HTTP routes of the bookings domain: availability, a guest's bookings, staff operations."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from banrimkwae.perf.problems import problem_responses
from banrimkwae.perf.responses.expansion import Relation
from banrimkwae.perf.responses.keyset import Ordering, asc, desc
from banrimkwae.resort.bookings.models import Booking
from banrimkwae.resort.bookings.schemas import (
    AVAILABILITY_FIELDS,
    BOOKING_FIELDS,
    BOOKING_STATUS_PATTERN,
    BookingIn,
    BookingOut,
    BookingStatusPatch,
    OccupancyReport,
)
from banrimkwae.resort.bookings.service import BookingService
from banrimkwae.resort.deps import GuestId, Session, Staff
from banrimkwae.resort.ids import OptionalQueryId, PathId
from banrimkwae.resort.pagination import PageRequest, list_spec
from banrimkwae.resort.properties.models import Room, RoomType
from banrimkwae.resort.properties.schemas import PROPERTY_FIELDS, ROOM_FIELDS, ROOM_TYPE_FIELDS

router = APIRouter(prefix="/api/v1", tags=["bookings"])

OWN = problem_responses(401, 403, 404, 422)
OWN_CHANGE = problem_responses(401, 403, 404, 409, 422)
STAFF_READ = problem_responses(401, 403, 404, 422)
STAFF_LIST = problem_responses(400, 401, 403, 404, 422)

_day = Annotated[dt.date, Query(description="A date, YYYY-MM-DD.")]
_status = Annotated[str | None, Query(pattern=BOOKING_STATUS_PATTERN)]

# The relations every booking list can embed: the property, the room and its type.
BOOKING_RELATIONS = {
    "property": Relation(Booking.property, PROPERTY_FIELDS),
    "room": Relation(
        Booking.room,
        ROOM_FIELDS,
        {"room_type": Relation(Room.room_type, ROOM_TYPE_FIELDS)},
    ),
}
AVAILABILITY = list_spec(Ordering("availability", asc("id", RoomType.id)), AVAILABILITY_FIELDS)
MY_BOOKINGS = list_spec(
    Ordering("my-bookings", desc("check_in", Booking.check_in), desc("id", Booking.id)),
    BOOKING_FIELDS,
    BOOKING_RELATIONS,
)
ALL_BOOKINGS = list_spec(
    Ordering("bookings", desc("id", Booking.id)), BOOKING_FIELDS, BOOKING_RELATIONS
)
ARRIVALS = list_spec(Ordering("arrivals", asc("id", Booking.id)), BOOKING_FIELDS, BOOKING_RELATIONS)
DEPARTURES = list_spec(
    Ordering("departures", asc("id", Booking.id)), BOOKING_FIELDS, BOOKING_RELATIONS
)


@router.get(
    "/properties/{property_id}/availability",
    response_model=AVAILABILITY.response_model(),
    responses=problem_responses(400, 404, 422),
)
async def availability(
    property_id: PathId,
    session: Session,
    page: Annotated[PageRequest, Depends(AVAILABILITY.parameters)],
    check_in: _day,
    check_out: Annotated[dt.date, Query(description="The departure date, after check_in.")],
    guests: Annotated[int, Query(ge=1, le=12, description="Adults and children.")] = 1,
    room_type_id: OptionalQueryId = None,
) -> Response:
    page.bind(
        property_id=property_id,
        check_in=check_in,
        check_out=check_out,
        guests=guests,
        room_type_id=room_type_id,
    )
    rows = await BookingService(session).availability(
        property_id,
        check_in=check_in,
        check_out=check_out,
        guests=guests,
        room_type_id=room_type_id,
        page=page,
    )
    return page.respond(rows)


@router.post(
    "/bookings",
    status_code=201,
    response_model=BookingOut,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_booking(body: BookingIn, guest_id: GuestId, session: Session) -> BookingOut:
    return BookingOut.model_validate(await BookingService(session).create(guest_id, body))


@router.get("/bookings/{booking_id}", response_model=BookingOut, responses=OWN)
async def get_booking(booking_id: PathId, guest_id: GuestId, session: Session) -> BookingOut:
    return BookingOut.model_validate(await BookingService(session).get_own(guest_id, booking_id))


@router.post("/bookings/{booking_id}/cancel", response_model=BookingOut, responses=OWN_CHANGE)
async def cancel_booking(booking_id: PathId, guest_id: GuestId, session: Session) -> BookingOut:
    cancelled = await BookingService(session).cancel_own(guest_id, booking_id)
    return BookingOut.model_validate(cancelled)


@router.get(
    "/guests/me/bookings",
    response_model=MY_BOOKINGS.response_model(),
    responses=problem_responses(400, 401, 403, 422),
)
async def list_my_bookings(
    guest_id: GuestId,
    session: Session,
    page: Annotated[PageRequest, Depends(MY_BOOKINGS.parameters)],
    status: _status = None,
) -> Response:
    # The guest is part of the filters: a cursor never carries over to another guest's list.
    page.bind(guest_id=guest_id, status=status)
    return page.respond(await BookingService(session).list_own(guest_id, page, status=status))


@router.get(
    "/bookings",
    response_model=ALL_BOOKINGS.response_model(),
    responses=problem_responses(400, 401, 403, 422),
)
async def list_bookings(
    session: Session,
    page: Annotated[PageRequest, Depends(ALL_BOOKINGS.parameters)],
    _staff: Staff,
    property_id: OptionalQueryId = None,
    guest_id: OptionalQueryId = None,
    status: _status = None,
) -> Response:
    """Every booking, newest first (staff only)."""
    page.bind(property_id=property_id, guest_id=guest_id, status=status)
    rows = await BookingService(session).list_all(
        page, property_id=property_id, guest_id=guest_id, status=status
    )
    return page.respond(rows)


@router.patch("/bookings/{booking_id}", response_model=BookingOut, responses=OWN_CHANGE)
async def change_booking_status(
    booking_id: PathId, body: BookingStatusPatch, session: Session, _staff: Staff
) -> BookingOut:
    changed = await BookingService(session).change_status(booking_id, body.status)
    return BookingOut.model_validate(changed)


@router.get(
    "/properties/{property_id}/arrivals",
    response_model=ARRIVALS.response_model(),
    responses=STAFF_LIST,
)
async def arrivals(
    property_id: PathId,
    session: Session,
    page: Annotated[PageRequest, Depends(ARRIVALS.parameters)],
    _staff: Staff,
    date: _day,
) -> Response:
    page.bind(property_id=property_id, date=date)
    return page.respond(await BookingService(session).arrivals(property_id, date, page))


@router.get(
    "/properties/{property_id}/departures",
    response_model=DEPARTURES.response_model(),
    responses=STAFF_LIST,
)
async def departures(
    property_id: PathId,
    session: Session,
    page: Annotated[PageRequest, Depends(DEPARTURES.parameters)],
    _staff: Staff,
    date: _day,
) -> Response:
    page.bind(property_id=property_id, date=date)
    return page.respond(await BookingService(session).departures(property_id, date, page))


@router.get(
    "/properties/{property_id}/occupancy", response_model=OccupancyReport, responses=STAFF_READ
)
async def occupancy(
    property_id: PathId,
    session: Session,
    _staff: Staff,
    start: Annotated[dt.date, Query(description="The first night, YYYY-MM-DD.")],
    end: Annotated[dt.date, Query(description="The last night, included; at most 366 days.")],
) -> OccupancyReport:
    return await BookingService(session).occupancy(property_id, start, end)
