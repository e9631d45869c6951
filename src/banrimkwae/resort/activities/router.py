"""HTTP routes of the activities domain: activities, their sessions and guests' bookings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import AwareDatetime

from banrimkwae.perf.problems import problem_responses
from banrimkwae.perf.responses.expansion import Relation
from banrimkwae.perf.responses.keyset import Ordering, asc, desc
from banrimkwae.resort.activities.models import Activity, ActivityBooking, ActivitySession
from banrimkwae.resort.activities.schemas import (
    ACTIVITY_BOOKING_FIELDS,
    ACTIVITY_FIELDS,
    SESSION_FIELDS,
    ActivityBookingIn,
    ActivityBookingOut,
    ActivityIn,
    ActivityOut,
    ActivityPatch,
    SessionIn,
    SessionOut,
)
from banrimkwae.resort.activities.service import ActivityService
from banrimkwae.resort.deps import GuestId, Session, Staff
from banrimkwae.resort.ids import PathId
from banrimkwae.resort.pagination import PageRequest, list_spec
from banrimkwae.resort.properties.schemas import PROPERTY_FIELDS

router = APIRouter(prefix="/api/v1", tags=["activities"])

READ = problem_responses(404, 422)
LIST = problem_responses(400, 404, 422)
WRITE = problem_responses(401, 403, 404, 409, 422)
# Activities carry no unique constraint: writing one cannot conflict.
EDIT = problem_responses(401, 403, 404, 422)
GUEST_LIST = problem_responses(400, 401, 403, 422)

Category = Annotated[str | None, Query(min_length=1, max_length=40)]

ACTIVITIES = list_spec(
    Ordering("activities", asc("name", Activity.name), asc("id", Activity.id)),
    ACTIVITY_FIELDS,
    {"property": Relation(Activity.property, PROPERTY_FIELDS)},
)
SESSIONS = list_spec(
    Ordering(
        "sessions", asc("starts_at", ActivitySession.starts_at), asc("id", ActivitySession.id)
    ),
    SESSION_FIELDS,
)
MY_ACTIVITY_BOOKINGS = list_spec(
    Ordering(
        "my-activity-bookings",
        desc("created_at", ActivityBooking.created_at),
        desc("id", ActivityBooking.id),
    ),
    ACTIVITY_BOOKING_FIELDS,
)


@router.get(
    "/properties/{property_id}/activities",
    response_model=ACTIVITIES.response_model(),
    responses=LIST,
)
async def list_activities(
    property_id: PathId,
    session: Session,
    page: Annotated[PageRequest, Depends(ACTIVITIES.parameters)],
    category: Category = None,
) -> Response:
    page.bind(property_id=property_id, category=category)
    return page.respond(await ActivityService(session).list(property_id, page, category=category))


@router.post(
    "/properties/{property_id}/activities",
    status_code=201,
    response_model=ActivityOut,
    responses=EDIT,
)
async def create_activity(
    property_id: PathId, body: ActivityIn, session: Session, _staff: Staff
) -> ActivityOut:
    return ActivityOut.model_validate(await ActivityService(session).create(property_id, body))


@router.get("/activities/{activity_id}", response_model=ActivityOut, responses=READ)
async def get_activity(activity_id: PathId, session: Session) -> ActivityOut:
    return ActivityOut.model_validate(await ActivityService(session).get(activity_id))


@router.patch("/activities/{activity_id}", response_model=ActivityOut, responses=EDIT)
async def update_activity(
    activity_id: PathId, body: ActivityPatch, session: Session, _staff: Staff
) -> ActivityOut:
    return ActivityOut.model_validate(await ActivityService(session).update(activity_id, body))


@router.delete("/activities/{activity_id}", status_code=204, responses=WRITE)
async def delete_activity(activity_id: PathId, session: Session, _staff: Staff) -> Response:
    await ActivityService(session).delete(activity_id)
    return Response(status_code=204)


@router.get(
    "/activities/{activity_id}/sessions", response_model=SESSIONS.response_model(), responses=LIST
)
async def list_sessions(
    activity_id: PathId,
    session: Session,
    page: Annotated[PageRequest, Depends(SESSIONS.parameters)],
    starts_from: Annotated[
        AwareDatetime | None,
        Query(alias="from", description="Sessions starting at or after; default now."),
    ] = None,
    starts_before: Annotated[
        AwareDatetime | None,
        Query(alias="to", description="Sessions starting before; default from + 14 days."),
    ] = None,
    available_only: Annotated[bool, Query(description="Only sessions with places left.")] = False,
) -> Response:
    page.bind(
        activity_id=activity_id,
        starts_from=starts_from,
        starts_before=starts_before,
        available_only=available_only,
    )
    rows = await ActivityService(session).list_sessions(
        activity_id,
        starts_from=starts_from,
        starts_before=starts_before,
        available_only=available_only,
        page=page,
    )
    return page.respond(rows)


@router.post(
    "/activities/{activity_id}/sessions",
    status_code=201,
    response_model=SessionOut,
    responses=WRITE,
)
async def create_session(
    activity_id: PathId, body: SessionIn, session: Session, _staff: Staff
) -> SessionOut:
    created = await ActivityService(session).create_session(activity_id, body)
    return SessionOut.model_validate(created)


@router.get("/activity-sessions/{session_id}", response_model=SessionOut, responses=READ)
async def get_session(session_id: PathId, session: Session) -> SessionOut:
    return SessionOut.model_validate(await ActivityService(session).get_session(session_id))


@router.delete("/activity-sessions/{session_id}", status_code=204, responses=WRITE)
async def delete_session(session_id: PathId, session: Session, _staff: Staff) -> Response:
    await ActivityService(session).delete_session(session_id)
    return Response(status_code=204)


@router.post(
    "/activity-sessions/{session_id}/bookings",
    status_code=201,
    response_model=ActivityBookingOut,
    responses=WRITE,
)
async def book_session(
    session_id: PathId, body: ActivityBookingIn, session: Session, guest_id: GuestId
) -> ActivityBookingOut:
    booked = await ActivityService(session).book(session_id, guest_id, body)
    return ActivityBookingOut.model_validate(booked)


@router.get(
    "/guests/me/activity-bookings",
    response_model=MY_ACTIVITY_BOOKINGS.response_model(),
    responses=GUEST_LIST,
)
async def list_my_activity_bookings(
    session: Session,
    page: Annotated[PageRequest, Depends(MY_ACTIVITY_BOOKINGS.parameters)],
    guest_id: GuestId,
) -> Response:
    page.bind(guest_id=guest_id)
    return page.respond(await ActivityService(session).list_guest_bookings(guest_id, page))


@router.post(
    "/activity-bookings/{booking_id}/cancel",
    response_model=ActivityBookingOut,
    responses=WRITE,
)
async def cancel_activity_booking(
    booking_id: PathId, session: Session, guest_id: GuestId
) -> ActivityBookingOut:
    cancelled = await ActivityService(session).cancel(booking_id, guest_id)
    return ActivityBookingOut.model_validate(cancelled)
