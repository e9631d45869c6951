"""Business rules of the bookings domain: stays, room assignment, status changes, reports."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from banrimkwae.perf.cache.invalidation import cache_scope, cache_scope_days
from banrimkwae.perf.db.sharding import (
    ShardMoving,
    gather_page,
    is_sharded,
    locate,
    next_id,
    route_to_property,
)
from banrimkwae.perf.problems import ProblemError
from banrimkwae.resort.bookings.models import Booking
from banrimkwae.resort.bookings.repository import BookingRepository
from banrimkwae.resort.bookings.schemas import (
    BookingIn,
    OccupancyDay,
    OccupancyMeta,
    OccupancyReport,
    RoomTypeAvailability,
)
from banrimkwae.resort.errors import not_found
from banrimkwae.resort.guests.service import GuestService
from banrimkwae.resort.pagination import PageRequest, Slice
from banrimkwae.resort.properties.schemas import RoomTypeOut

MAX_STAY_NIGHTS = 30
MAX_REPORT_DAYS = 366
# No 0/O or 1/I: references are read out over the phone.
_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_REFERENCE_LENGTH = 10
# Allowed status changes; anything else is a conflict with the booking's current state.
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"confirmed", "cancelled"}),
    "confirmed": frozenset({"checked_in", "cancelled"}),
    "checked_in": frozenset({"checked_out"}),
    "checked_out": frozenset(),
    "cancelled": frozenset(),
}


def stay_nights(check_in: dt.date, check_out: dt.date) -> int:
    nights = (check_out - check_in).days
    if nights < 1:
        raise ProblemError(422, "check_out must be after check_in")
    if nights > MAX_STAY_NIGHTS:
        raise ProblemError(422, f"a stay is at most {MAX_STAY_NIGHTS} nights")
    return nights


def new_reference() -> str:
    # 32**10 = 2**50 codes: a collision is far less likely than any other failure of the write.
    return "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(_REFERENCE_LENGTH))


def occupied_per_day(
    stays: Iterable[tuple[int, dt.date, dt.date]], start: dt.date, days: int
) -> list[int]:
    """Rooms occupied on each night from `start`, from (room_id, check_in, check_out) sorted
    by room then check_in. A room's overlapping stays are merged first, so it counts once."""
    changes = [0] * (days + 1)

    def mark(first: dt.date, last_exclusive: dt.date) -> None:
        begin = max((first - start).days, 0)
        end = min((last_exclusive - start).days, days)
        if begin < end:
            changes[begin] += 1
            changes[end] -= 1

    current: tuple[int, dt.date, dt.date] | None = None
    for room_id, check_in, check_out in stays:
        if current is not None and current[0] == room_id and check_in <= current[2]:
            current = (room_id, current[1], max(current[2], check_out))
            continue
        if current is not None:
            mark(current[1], current[2])
        current = (room_id, check_in, check_out)
    if current is not None:
        mark(current[1], current[2])

    occupied, running = [], 0
    for change in changes[:days]:
        running += change
        occupied.append(running)
    return occupied


async def _route(session: AsyncSession, property_id: int, *, write: bool = False) -> None:
    """With sharding on, send the session's booking statements to the property's shard."""
    try:
        await route_to_property(session, property_id, write=write)
    except ShardMoving as moving:
        raise ProblemError(
            503, str(moving), headers={"Retry-After": str(moving.retry_after)}
        ) from None


class BookingService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repository = BookingRepository(session)
        self.sharded = is_sharded(session)

    async def _find(self, booking_id: int, *, write: bool) -> None:
        """Sharded: route to the shard that holds the booking (asked of every shard)."""
        if self.sharded:
            property_id = await locate(self.session, "bookings", booking_id)
            if property_id is None:
                raise not_found("booking", booking_id)
            await _route(self.session, property_id, write=write)

    async def availability(
        self,
        property_id: int,
        *,
        check_in: dt.date,
        check_out: dt.date,
        guests: int,
        room_type_id: int | None,
        page: PageRequest,
    ) -> Slice[RoomTypeAvailability]:
        # Cached per property and night: a booking elsewhere or on other nights leaves it valid.
        cache_scope_days("property", property_id, check_in, check_out)
        nights = stay_nights(check_in, check_out)
        await _route(self.session, property_id)
        rows = await self.repository.availability(
            property_id,
            page,
            check_in=check_in,
            check_out=check_out,
            guests=guests,
            room_type_id=room_type_id,
        )
        # Only an empty answer needs the second query that tells "no such property" apart.
        if not rows.rows and not await self.repository.property_exists(property_id):
            raise not_found("property", property_id)
        return rows.map(
            lambda row: RoomTypeAvailability(
                **RoomTypeOut.model_validate(row[0]).model_dump(),
                available_rooms=row[1],
                nights=nights,
                total_price=row[0].base_rate * nights,
            )
        )

    async def create(self, guest_id: int, body: BookingIn) -> Booking:
        nights = stay_nights(body.check_in, body.check_out)
        # Yesterday in UTC is still "today" somewhere east of it; anything older is past.
        earliest = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
        if body.check_in < earliest:
            raise ProblemError(422, f"check_in {body.check_in} is in the past")
        # The response cache: this write concerns one property's bookings of these nights, and
        # one guest's. Every write of bookings declares both (a guest's list is scoped to them).
        cache_scope_days("property", body.property_id, body.check_in, body.check_out)
        cache_scope("guest", guest_id)
        # Sharded: one auto-increment per shard would repeat ids, these are unique across
        # shards. Taken before the lock: on SQLite the id's own transaction waits for it.
        booking_id = await next_id(self.session, "bookings") if self.sharded else None
        # The lock comes first: see BookingRepository.lock_room_type.
        room_type = await self.repository.lock_room_type(body.room_type_id)
        if room_type is None or room_type.property_id != body.property_id:
            raise ProblemError(
                422,
                f"room type {body.room_type_id} does not exist at property {body.property_id}",
            )
        if body.adults + body.children > room_type.max_occupancy:
            raise ProblemError(
                422, f"room type {room_type.code} sleeps at most {room_type.max_occupancy}"
            )
        await GuestService(self.session).me(guest_id)
        await _route(self.session, body.property_id, write=True)
        room_id = await self.repository.first_free_room(
            room_type, check_in=body.check_in, check_out=body.check_out
        )
        if room_id is None:
            raise ProblemError(409, f"no {room_type.code} room is free for these dates")
        booking = Booking(
            reference=new_reference(),
            guest_id=guest_id,
            property_id=body.property_id,
            room_id=room_id,
            check_in=body.check_in,
            check_out=body.check_out,
            status="confirmed",
            adults=body.adults,
            children=body.children,
            total_amount=room_type.base_rate * nights,
        )
        if booking_id is not None:
            booking.id = booking_id
        await self.repository.add(booking)
        return booking

    async def get_own(self, guest_id: int, booking_id: int) -> Booking:
        # Another guest's booking is "not found", never "forbidden": existence must not leak.
        await self._find(booking_id, write=False)
        booking = await self.repository.get(booking_id, guest_id=guest_id)
        if booking is None:
            raise not_found("booking", booking_id)
        return booking

    async def cancel_own(self, guest_id: int, booking_id: int) -> Booking:
        await self._find(booking_id, write=True)
        booking = await self.repository.get(booking_id, guest_id=guest_id, for_update=True)
        if booking is None:
            raise not_found("booking", booking_id)
        return await self._move(booking, "cancelled")

    async def list_own(
        self, guest_id: int, page: PageRequest, *, status: str | None
    ) -> Slice[Booking]:
        # Cached for this guest until one of their own bookings changes.
        cache_scope("guest", guest_id)
        # Sharded: a guest's bookings may be on every shard.
        return await gather_page(
            self.session,
            lambda session: BookingRepository(session).list_for_guest(
                guest_id, page, status=status
            ),
            page.spec.ordering,
            limit=page.limit,
            direction=page.direction,
        )

    async def list_all(
        self,
        page: PageRequest,
        *,
        property_id: int | None,
        guest_id: int | None,
        status: str | None,
    ) -> Slice[Booking]:
        if property_id is not None or not self.sharded:
            if property_id is not None:
                await _route(self.session, property_id)
            return await self.repository.list_all(
                page, property_id=property_id, guest_id=guest_id, status=status
            )
        # Sharded, every property: the same page from every shard, merged.
        return await gather_page(
            self.session,
            lambda session: BookingRepository(session).list_all(
                page, property_id=None, guest_id=guest_id, status=status
            ),
            page.spec.ordering,
            limit=page.limit,
            direction=page.direction,
        )

    async def change_status(self, booking_id: int, status: str) -> Booking:
        await self._find(booking_id, write=True)
        booking = await self.repository.get(booking_id, for_update=True)
        if booking is None:
            raise not_found("booking", booking_id)
        return await self._move(booking, status)

    async def arrivals(self, property_id: int, day: dt.date, page: PageRequest) -> Slice[Booking]:
        await self._require_property(property_id)
        await _route(self.session, property_id)
        return await self.repository.list_on_date(property_id, Booking.check_in, day, page)

    async def departures(self, property_id: int, day: dt.date, page: PageRequest) -> Slice[Booking]:
        await self._require_property(property_id)
        await _route(self.session, property_id)
        return await self.repository.list_on_date(property_id, Booking.check_out, day, page)

    async def occupancy(self, property_id: int, start: dt.date, end: dt.date) -> OccupancyReport:
        """Occupancy of each night from `start` to `end`, both included.

        Two queries: the in-service room count, then every non-cancelled stay touching the
        range; the stays are bucketed into nights here. A stay counts on the nights it was
        booked for, whether the guest is still due, in house or already gone.
        """
        days = (end - start).days + 1
        if days < 1:
            raise ProblemError(422, "end must not be before start")
        if days > MAX_REPORT_DAYS:
            raise ProblemError(422, f"the range is at most {MAX_REPORT_DAYS} days")
        total_rooms = await self.repository.in_service_room_count(property_id)
        if total_rooms is None:
            raise not_found("property", property_id)
        await _route(self.session, property_id)
        stays = await self.repository.stays_between(property_id, start, end + dt.timedelta(days=1))
        occupied = occupied_per_day(stays, start, days)
        return OccupancyReport(
            data=[
                OccupancyDay(
                    date=start + dt.timedelta(days=offset),
                    occupied_rooms=count,
                    total_rooms=total_rooms,
                    occupancy_percent=round(100 * count / total_rooms, 1) if total_rooms else 0.0,
                )
                for offset, count in enumerate(occupied)
            ],
            meta=OccupancyMeta(
                property_id=property_id, start=start, end=end, days=days, total_rooms=total_rooms
            ),
        )

    async def _move(self, booking: Booking, status: str) -> Booking:
        if status not in TRANSITIONS.get(booking.status, frozenset()):
            raise ProblemError(409, f"a {booking.status} booking cannot become {status}")
        cache_scope_days("property", booking.property_id, booking.check_in, booking.check_out)
        cache_scope("guest", booking.guest_id)
        booking.status = status
        await self.repository.add(booking)
        return booking

    async def _require_property(self, property_id: int) -> None:
        if not await self.repository.property_exists(property_id):
            raise not_found("property", property_id)
