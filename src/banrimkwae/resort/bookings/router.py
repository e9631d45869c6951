"""HTTP routes of the bookings domain: availability, a guest's bookings, staff operations."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request

from banrimkwae.perf.problems import problem_responses
from banrimkwae.resort.bookings.schemas import (
    BOOKING_STATUS_PATTERN,
    BookingIn,
    BookingOut,
    BookingStatusPatch,
    OccupancyReport,
    RoomTypeAvailability,
)
from banrimkwae.resort.bookings.service import BookingService
from banrimkwae.resort.deps import GuestId, Session, Staff
from banrimkwae.resort.ids import OptionalQueryId, PathId
from banrimkwae.resort.pagination import Page, Paging, page_of

router = APIRouter(prefix="/api/v1", tags=["bookings"])

OWN = problem_responses(401, 403, 404, 422)
OWN_CHANGE = problem_responses(401, 403, 404, 409, 422)
STAFF_READ = problem_responses(401, 403, 404, 422)

_day = Annotated[dt.date, Query(description="A date, YYYY-MM-DD.")]


@router.get(
    "/properties/{property_id}/availability",
    response_model=Page[RoomTypeAvailability],
    responses=problem_responses(404, 422),
)
async def availability(
    property_id: PathId,
    request: Request,
    session: Session,
    paging: Paging,
    check_in: _day,
    check_out: Annotated[dt.date, Query(description="The departure date, after check_in.")],
    guests: Annotated[int, Query(ge=1, le=12, description="Adults and children.")] = 1,
    room_type_id: OptionalQueryId = None,
) -> Page[RoomTypeAvailability]:
    rows = await BookingService(session).availability(
        property_id,
        check_in=check_in,
        check_out=check_out,
        guests=guests,
        room_type_id=room_type_id,
        limit=paging.limit + 1,
        offset=paging.offset,
    )
    return page_of(rows, request, paging)


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
    response_model=Page[BookingOut],
    responses=problem_responses(401, 403, 422),
)
async def list_my_bookings(
    request: Request,
    guest_id: GuestId,
    session: Session,
    paging: Paging,
    status: Annotated[str | None, Query(pattern=BOOKING_STATUS_PATTERN)] = None,
) -> Page[BookingOut]:
    rows = await BookingService(session).list_own(
        guest_id, status=status, limit=paging.limit + 1, offset=paging.offset
    )
    return page_of([BookingOut.model_validate(row) for row in rows], request, paging)


@router.patch("/bookings/{booking_id}", response_model=BookingOut, responses=OWN_CHANGE)
async def change_booking_status(
    booking_id: PathId, body: BookingStatusPatch, session: Session, _staff: Staff
) -> BookingOut:
    changed = await BookingService(session).change_status(booking_id, body.status)
    return BookingOut.model_validate(changed)


@router.get(
    "/properties/{property_id}/arrivals", response_model=Page[BookingOut], responses=STAFF_READ
)
async def arrivals(
    property_id: PathId,
    request: Request,
    session: Session,
    paging: Paging,
    _staff: Staff,
    date: _day,
) -> Page[BookingOut]:
    rows = await BookingService(session).arrivals(
        property_id, date, limit=paging.limit + 1, offset=paging.offset
    )
    return page_of([BookingOut.model_validate(row) for row in rows], request, paging)


@router.get(
    "/properties/{property_id}/departures", response_model=Page[BookingOut], responses=STAFF_READ
)
async def departures(
    property_id: PathId,
    request: Request,
    session: Session,
    paging: Paging,
    _staff: Staff,
    date: _day,
) -> Page[BookingOut]:
    rows = await BookingService(session).departures(
        property_id, date, limit=paging.limit + 1, offset=paging.offset
    )
    return page_of([BookingOut.model_validate(row) for row in rows], request, paging)


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
