"""Business rules of the activities domain: catalogue, sessions and guests' bookings."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from banrimkwae.perf.problems import ProblemError
from banrimkwae.resort.activities.models import Activity, ActivityBooking, ActivitySession
from banrimkwae.resort.activities.repository import (
    BOOKED,
    CANCELLED,
    ActivityRepository,
    BookingView,
    SessionAvailability,
)
from banrimkwae.resort.activities.schemas import (
    ActivityBookingIn,
    ActivityIn,
    ActivityPatch,
    SessionIn,
)
from banrimkwae.resort.errors import conflict_on_integrity, not_found
from banrimkwae.resort.pagination import PageRequest, Slice
from banrimkwae.resort.properties.service import PropertyService
from banrimkwae.resort.timestamps import as_utc

DEFAULT_WINDOW = dt.timedelta(days=14)
MAX_WINDOW = dt.timedelta(days=92)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def session_window(
    starts_from: dt.datetime | None, starts_before: dt.datetime | None, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """The [from, to) window of a session listing: defaults to the next 14 days, 92 at most."""
    start = as_utc(starts_from) if starts_from is not None else now
    end = as_utc(starts_before) if starts_before is not None else start + DEFAULT_WINDOW
    if end <= start:
        raise ProblemError(422, "`to` must be later than `from`")
    if end - start > MAX_WINDOW:
        raise ProblemError(422, f"the window may span at most {MAX_WINDOW.days} days")
    return start, end


class ActivityService:
    def __init__(self, session: AsyncSession) -> None:
        self.repository = ActivityRepository(session)
        self.properties = PropertyService(session)

    # Activities

    async def list(
        self, property_id: int, page: PageRequest, *, category: str | None
    ) -> Slice[Activity]:
        await self.properties.get(property_id)
        return await self.repository.list_activities(property_id, page, category=category)

    async def get(self, activity_id: int) -> Activity:
        found = await self.repository.get_activity(activity_id)
        if found is None:
            raise not_found("activity", activity_id)
        return found

    async def create(self, property_id: int, body: ActivityIn) -> Activity:
        await self.properties.get(property_id)
        created = Activity(property_id=property_id, **body.model_dump())
        await self.repository.add(created)
        return created

    async def update(self, activity_id: int, patch: ActivityPatch) -> Activity:
        found = await self.get(activity_id)
        for name, value in patch.model_dump(exclude_unset=True, exclude_none=True).items():
            setattr(found, name, value)
        await self.repository.add(found)
        return found

    async def delete(self, activity_id: int) -> None:
        await self.get(activity_id)
        if await self.repository.has_upcoming_bookings(activity_id=activity_id, now=_now()):
            raise ProblemError(409, f"activity {activity_id} has guests booked on coming sessions")
        await self.repository.delete_activity(activity_id)

    # Sessions

    async def list_sessions(
        self,
        activity_id: int,
        *,
        starts_from: dt.datetime | None,
        starts_before: dt.datetime | None,
        available_only: bool,
        page: PageRequest,
    ) -> Slice[SessionAvailability]:
        start, end = session_window(starts_from, starts_before, _now())
        await self.get(activity_id)
        return await self.repository.list_sessions(
            activity_id,
            starts_from=start,
            starts_before=end,
            available_only=available_only,
            page=page,
        )

    async def get_session(self, session_id: int) -> SessionAvailability:
        found = await self.repository.session_availability(session_id)
        if found is None:
            raise not_found("activity session", session_id)
        return found

    async def create_session(self, activity_id: int, body: SessionIn) -> SessionAvailability:
        activity = await self.get(activity_id)
        created = ActivitySession(
            activity_id=activity_id,
            starts_at=body.starts_at,
            capacity=body.capacity if body.capacity is not None else activity.capacity,
        )
        detail = f"activity {activity_id} already has a session at {body.starts_at.isoformat()}"
        async with conflict_on_integrity(detail):
            await self.repository.add(created)
        return await self.get_session(created.id)

    async def delete_session(self, session_id: int) -> None:
        if await self.repository.get_session(session_id) is None:
            raise not_found("activity session", session_id)
        if await self.repository.has_upcoming_bookings(session_id=session_id, now=_now()):
            raise ProblemError(409, f"activity session {session_id} has guests booked")
        await self.repository.delete_session(session_id)

    # Guests' bookings

    async def book(self, session_id: int, guest_id: int, body: ActivityBookingIn) -> BookingView:
        """Book places for a guest; a cancelled booking of the same session is re-activated.

        The session lock is the transaction's first read on purpose: under MariaDB's
        REPEATABLE READ the snapshot of the count below starts after the lock is held.
        """
        activity_session = await self.repository.lock_session(session_id)
        if activity_session is None:
            raise not_found("activity session", session_id)
        if as_utc(activity_session.starts_at) <= _now():
            raise ProblemError(422, f"activity session {session_id} has already started")
        already_booked = f"you are already booked on activity session {session_id}"
        existing = await self.repository.find_booking(session_id, guest_id)
        if existing is not None and existing.status == BOOKED:
            raise ProblemError(409, already_booked)
        booked = await self.repository.booked_participants(session_id)
        remaining = activity_session.capacity - booked
        if body.participants > remaining:
            raise ProblemError(
                409,
                f"activity session {session_id} has {max(remaining, 0)} places left",
                remaining=max(remaining, 0),
            )
        booking = existing or ActivityBooking(session_id=session_id, guest_id=guest_id)
        booking.participants = body.participants
        booking.status = BOOKED
        async with conflict_on_integrity(already_booked):
            await self.repository.add(booking)
        return await self._view(booking.id)

    async def list_guest_bookings(self, guest_id: int, page: PageRequest) -> Slice[BookingView]:
        return await self.repository.list_guest_bookings(guest_id, page)

    async def cancel(self, booking_id: int, guest_id: int) -> BookingView:
        """Cancel a guest's own booking; someone else's is reported as not existing."""
        booking = await self.repository.get_guest_booking(booking_id, guest_id)
        if booking is None:
            raise not_found("activity booking", booking_id)
        if booking.status != CANCELLED:
            activity_session = await self.repository.get_session(booking.session_id)
            if activity_session is not None and as_utc(activity_session.starts_at) <= _now():
                raise ProblemError(409, f"activity session {booking.session_id} has started")
            booking.status = CANCELLED
            await self.repository.add(booking)
        return await self._view(booking_id)

    async def _view(self, booking_id: int) -> BookingView:
        found = await self.repository.booking_view(booking_id)
        if found is None:
            raise not_found("activity booking", booking_id)
        return found
