"""SQL of the activities domain. Repositories flush; they never commit."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, Integer, Row, Select, and_, cast, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from banrimkwae.resort.activities.models import Activity, ActivityBooking, ActivitySession
from banrimkwae.resort.pagination import PageRequest, Slice

BOOKED = "booked"
CANCELLED = "cancelled"

# id, activity_id, starts_at, capacity, booked, remaining
SessionAvailability = Row[int, int, dt.datetime, int, int, int]
# id, session_id, activity_id, activity_name, starts_at, guest_id, participants, status,
# created_at
BookingView = Row[int, int, int, str, dt.datetime, int, int, str, dt.datetime]


def _booked_participants() -> ColumnElement[int]:
    # MariaDB's SUM is DECIMAL: cast so every dialect hands back an int.
    return cast(func.coalesce(func.sum(ActivityBooking.participants), 0), Integer)


def _availability() -> Select[int, int, dt.datetime, int, int, int]:
    """Sessions with their booked and remaining places: one outer join, one GROUP BY."""
    booked = _booked_participants()
    return (
        select(
            ActivitySession.id,
            ActivitySession.activity_id,
            ActivitySession.starts_at,
            ActivitySession.capacity,
            booked.label("booked"),
            (ActivitySession.capacity - booked).label("remaining"),
        )
        .outerjoin(
            ActivityBooking,
            and_(
                ActivityBooking.session_id == ActivitySession.id,
                ActivityBooking.status == BOOKED,
            ),
        )
        .group_by(
            ActivitySession.id,
            ActivitySession.activity_id,
            ActivitySession.starts_at,
            ActivitySession.capacity,
        )
    )


def _booking_view() -> Select[int, int, int, str, dt.datetime, int, int, str, dt.datetime]:
    """A booking with the session and activity it is for, as the guest sees it."""
    return (
        select(
            ActivityBooking.id,
            ActivityBooking.session_id,
            ActivitySession.activity_id,
            Activity.name.label("activity_name"),
            ActivitySession.starts_at,
            ActivityBooking.guest_id,
            ActivityBooking.participants,
            ActivityBooking.status,
            ActivityBooking.created_at,
        )
        .select_from(ActivityBooking)
        .join(ActivitySession, ActivitySession.id == ActivityBooking.session_id)
        .join(Activity, Activity.id == ActivitySession.activity_id)
    )


class ActivityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list_activities(
        self, property_id: int, page: PageRequest, *, category: str | None
    ) -> Slice[Activity]:
        query = select(Activity).where(Activity.property_id == property_id)
        if category is not None:
            query = query.where(Activity.category == category)
        return await page.fetch(self.session, query)

    async def get_activity(self, activity_id: int) -> Activity | None:
        return await self.session.get(Activity, activity_id)

    async def add(self, entity: Activity | ActivitySession | ActivityBooking) -> None:
        self.session.add(entity)
        await self.session.flush()

    async def delete_activity(self, activity_id: int) -> None:
        # A bulk DELETE lets the foreign keys' ON DELETE CASCADE remove sessions and bookings;
        # the ORM would instead try to null the children's keys.
        await self.session.execute(delete(Activity).where(Activity.id == activity_id))

    async def delete_session(self, session_id: int) -> None:
        await self.session.execute(delete(ActivitySession).where(ActivitySession.id == session_id))

    async def has_upcoming_bookings(
        self, *, now: dt.datetime, activity_id: int | None = None, session_id: int | None = None
    ) -> bool:
        query = (
            select(ActivityBooking.id)
            .join(ActivitySession, ActivitySession.id == ActivityBooking.session_id)
            .where(ActivityBooking.status == BOOKED, ActivitySession.starts_at > now)
            .limit(1)
        )
        if activity_id is not None:
            query = query.where(ActivitySession.activity_id == activity_id)
        if session_id is not None:
            query = query.where(ActivitySession.id == session_id)
        return (await self.session.scalar(query)) is not None

    async def list_sessions(
        self,
        activity_id: int,
        *,
        starts_from: dt.datetime,
        starts_before: dt.datetime,
        available_only: bool,
        page: PageRequest,
    ) -> Slice[SessionAvailability]:
        query = _availability().where(
            ActivitySession.activity_id == activity_id,
            ActivitySession.starts_at >= starts_from,
            ActivitySession.starts_at < starts_before,
        )
        if available_only:
            query = query.having(ActivitySession.capacity - _booked_participants() > 0)
        return await page.fetch(self.session, query, entity=False)

    async def session_availability(self, session_id: int) -> SessionAvailability | None:
        query = _availability().where(ActivitySession.id == session_id)
        return (await self.session.execute(query)).one_or_none()

    async def get_session(self, session_id: int) -> ActivitySession | None:
        return await self.session.get(ActivitySession, session_id)

    async def lock_session(self, session_id: int) -> ActivitySession | None:
        """The session row under FOR UPDATE: bookings of one session queue behind each other.

        SQLite has no row locks and its driver starts a transaction only at the first write,
        so a no-op UPDATE takes the database's single write lock there instead.
        """
        if self.session.bind is not None and self.session.bind.dialect.name == "sqlite":
            await self.session.execute(
                update(ActivitySession)
                .where(ActivitySession.id == session_id)
                .values(capacity=ActivitySession.capacity)
                .execution_options(synchronize_session=False)
            )
        query = (
            select(ActivitySession)
            .where(ActivitySession.id == session_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(query)).one_or_none()

    async def booked_participants(self, session_id: int) -> int:
        query = select(_booked_participants()).where(
            ActivityBooking.session_id == session_id, ActivityBooking.status == BOOKED
        )
        return int(await self.session.scalar(query) or 0)

    async def find_booking(self, session_id: int, guest_id: int) -> ActivityBooking | None:
        query = select(ActivityBooking).where(
            ActivityBooking.session_id == session_id, ActivityBooking.guest_id == guest_id
        )
        return (await self.session.scalars(query)).one_or_none()

    async def get_guest_booking(self, booking_id: int, guest_id: int) -> ActivityBooking | None:
        query = select(ActivityBooking).where(
            ActivityBooking.id == booking_id, ActivityBooking.guest_id == guest_id
        )
        return (await self.session.scalars(query)).one_or_none()

    async def booking_view(self, booking_id: int) -> BookingView | None:
        query = _booking_view().where(ActivityBooking.id == booking_id)
        return (await self.session.execute(query)).one_or_none()

    async def list_guest_bookings(self, guest_id: int, page: PageRequest) -> Slice[BookingView]:
        query = _booking_view().where(ActivityBooking.guest_id == guest_id)
        return await page.fetch(self.session, query, entity=False)
