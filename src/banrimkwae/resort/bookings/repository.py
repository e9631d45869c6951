"""SQL of the bookings domain: availability, room choice and the staff reports.

Repositories flush; they never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import ColumnElement, Integer, Select, and_, func, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from banrimkwae.perf.cache.invalidation import cache_lock_only
from banrimkwae.perf.db.sharding import is_sharded
from banrimkwae.resort.bookings.models import HOLDING_STATUSES, Booking
from banrimkwae.resort.pagination import PageRequest, Slice
from banrimkwae.resort.properties.models import Property, Room, RoomType

IN_SERVICE = "in_service"


def _held_rooms(property_id: int, check_in: dt.date, check_out: dt.date) -> Select[int]:
    return select(Booking.room_id).where(
        Booking.property_id == property_id,
        Booking.status.in_(HOLDING_STATUSES),
        Booking.check_in < check_out,
        Booking.check_out > check_in,
    )


def _room_is_free(
    property_id: int, check_in: dt.date, check_out: dt.date, held: Sequence[int] | None = None
) -> ColumnElement[bool]:
    """In service, and no booking that holds the room overlaps [check_in, check_out).

    The held rooms are one uncorrelated subquery over the property's bookings, evaluated once
    per statement (a hash anti-join on PostgreSQL, a materialised list on SQLite and MariaDB).
    A correlated NOT EXISTS per room reads the same bookings once per room unless an index on
    bookings.room_id exists, and the plain schema has none. With the bookings on a shard, the
    held rooms are read from the shard first and passed in as `held`.
    """
    # bookings.room_id is NOT NULL, so NOT IN has no NULL surprise here.
    if held is not None:
        return and_(Room.status == IN_SERVICE, Room.id.not_in(held))
    return and_(
        Room.status == IN_SERVICE,
        Room.id.not_in(_held_rooms(property_id, check_in, check_out)),
    )


class BookingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        # Bookings on a shard, rooms at home: no statement may join the two.
        self.sharded = is_sharded(session)

    async def _free_rooms(
        self, property_id: int, check_in: dt.date, check_out: dt.date
    ) -> ColumnElement[bool]:
        held = None
        if self.sharded:
            query = _held_rooms(property_id, check_in, check_out)
            held = list((await self.session.scalars(query)).all())
        return _room_is_free(property_id, check_in, check_out, held)

    async def availability(
        self,
        property_id: int,
        page: PageRequest,
        *,
        check_in: dt.date,
        check_out: dt.date,
        guests: int,
        room_type_id: int | None,
    ) -> Slice[tuple[RoomType, int]]:
        """Each room type of the property that fits `guests`, with its count of free rooms.

        One statement: the free rooms are counted per type (anti-join + GROUP BY) and joined
        back to the types, so a type with no free room still appears with zero.
        """
        free_per_type = (
            select(Room.room_type_id, func.count(Room.id).label("free"))
            .where(
                Room.property_id == property_id,
                await self._free_rooms(property_id, check_in, check_out),
            )
            .group_by(Room.room_type_id)
            .subquery("free_per_type")
        )
        query = (
            select(RoomType, type_coerce(func.coalesce(free_per_type.c.free, 0), Integer))
            .outerjoin(free_per_type, free_per_type.c.room_type_id == RoomType.id)
            .where(RoomType.property_id == property_id, RoomType.max_occupancy >= guests)
        )
        if room_type_id is not None:
            query = query.where(RoomType.id == room_type_id)
        return await page.fetch(self.session, query, entity=False)

    async def lock_room_type(self, room_type_id: int) -> RoomType | None:
        """The room type, locked until the transaction ends, so bookings of it run one at a time.

        PostgreSQL and MariaDB lock the row (SELECT ... FOR UPDATE). SQLite has no row locks:
        a no-op UPDATE takes the database's write lock instead, which holds out every other
        writer until commit. On MariaDB (REPEATABLE READ) this must be the transaction's first
        read, so that the snapshot the room choice reads is taken after the lock is granted.
        """
        # Sharded: the booking's shard lock serialises instead (see route_to_property).
        if self.session.get_bind().dialect.name == "sqlite" and not self.sharded:
            # A lock, not a change: the response cache keeps what read room_types.
            with cache_lock_only():
                await self.session.execute(
                    update(RoomType)
                    .where(RoomType.id == room_type_id)
                    .values(id=RoomType.id)
                    .execution_options(synchronize_session=False)
                )
        query = select(RoomType).where(RoomType.id == room_type_id).with_for_update()
        return await self.session.scalar(query)

    async def first_free_room(
        self, room_type: RoomType, *, check_in: dt.date, check_out: dt.date
    ) -> int | None:
        query = (
            select(Room.id)
            .where(
                Room.room_type_id == room_type.id,
                await self._free_rooms(room_type.property_id, check_in, check_out),
            )
            .order_by(Room.id)
            .limit(1)
        )
        return await self.session.scalar(query)

    async def add(self, booking: Booking) -> None:
        self.session.add(booking)
        await self.session.flush()

    async def get(
        self, booking_id: int, *, guest_id: int | None = None, for_update: bool = False
    ) -> Booking | None:
        """The booking; with `guest_id`, only if it is that guest's."""
        query = select(Booking).where(Booking.id == booking_id)
        if guest_id is not None:
            query = query.where(Booking.guest_id == guest_id)
        if for_update:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def list_for_guest(
        self, guest_id: int, page: PageRequest, *, status: str | None
    ) -> Slice[Booking]:
        query = select(Booking).where(Booking.guest_id == guest_id)
        if status is not None:
            query = query.where(Booking.status == status)
        return await page.fetch(self.session, query)

    async def list_all(
        self,
        page: PageRequest,
        *,
        property_id: int | None,
        guest_id: int | None,
        status: str | None,
    ) -> Slice[Booking]:
        """Every booking matching the filters: the staff's view of the whole book."""
        query = select(Booking)
        if property_id is not None:
            query = query.where(Booking.property_id == property_id)
        if guest_id is not None:
            query = query.where(Booking.guest_id == guest_id)
        if status is not None:
            query = query.where(Booking.status == status)
        return await page.fetch(self.session, query)

    async def list_on_date(
        self,
        property_id: int,
        date_column: InstrumentedAttribute[dt.date],
        day: dt.date,
        page: PageRequest,
    ) -> Slice[Booking]:
        """Bookings of the property, not cancelled, whose `date_column` falls on `day`."""
        query = select(Booking).where(
            Booking.property_id == property_id,
            date_column == day,
            Booking.status != "cancelled",
        )
        return await page.fetch(self.session, query)

    async def property_exists(self, property_id: int) -> bool:
        found = await self.session.scalar(select(Property.id).where(Property.id == property_id))
        return found is not None

    async def in_service_room_count(self, property_id: int) -> int | None:
        """Rooms in service at the property; None when the property does not exist."""
        query = (
            select(func.count(Room.id))
            .select_from(Property)
            .outerjoin(Room, and_(Room.property_id == Property.id, Room.status == IN_SERVICE))
            .where(Property.id == property_id)
            .group_by(Property.id)
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def stays_between(
        self, property_id: int, start: dt.date, end_exclusive: dt.date
    ) -> Sequence[tuple[int, dt.date, dt.date]]:
        """(room_id, check_in, check_out) of every non-cancelled stay touching the nights."""
        query = (
            select(Booking.room_id, Booking.check_in, Booking.check_out)
            .where(
                Booking.property_id == property_id,
                Booking.status != "cancelled",
                Booking.check_in < end_exclusive,
                Booking.check_out > start,
            )
            .order_by(Booking.room_id, Booking.check_in)
        )
        return (await self.session.execute(query)).all()
