"""What exists in the database a workload runs against: ids, room types and the stay window."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from banrimkwae.perf.db import create_engine_for_url
from banrimkwae.resort.models import metadata

# Statuses a guest may still cancel.
_CANCELLABLE = ("pending", "confirmed")
# Enough distinct cancellation targets for every run of a benchmark without reading millions.
_CANCELLABLE_LIMIT = 50_000
# Without bookings to learn it from, stays are searched over the next months.
_DEFAULT_WINDOW_DAYS = 180


@dataclass(frozen=True, slots=True)
class RoomTypeRow:
    id: int
    property_id: int
    max_occupancy: int


@dataclass(frozen=True, slots=True)
class Catalog:
    property_ids: list[int]
    room_types: list[RoomTypeRow]
    activity_ids: list[int]
    restaurant_ids: list[int]
    guest_ids: list[int]
    # (booking id, its guest's id): bookings that a future-dated cancel can still hit.
    cancellable: list[tuple[int, int]]
    # First possible check-in and last possible check-out of a searched or booked stay.
    stay_window: tuple[dt.date, dt.date]

    def summary(self) -> dict[str, object]:
        return {
            "properties": len(self.property_ids),
            "room_types": len(self.room_types),
            "activities": len(self.activity_ids),
            "restaurants": len(self.restaurant_ids),
            "guests": len(self.guest_ids),
            "cancellable_bookings": len(self.cancellable),
            "stay_window": [day.isoformat() for day in self.stay_window],
        }


async def load_catalog(url: str, *, today: dt.date | None = None) -> Catalog:
    """Read the real id ranges and the seeded booking window from the database at `url`."""
    today = today or dt.date.today()
    tables = metadata.tables
    properties, room_types = tables["properties"], tables["room_types"]
    activities, restaurants = tables["activities"], tables["restaurants"]
    guests, bookings = tables["guests"], tables["bookings"]
    engine = create_engine_for_url(url)
    try:
        async with engine.connect() as connection:
            property_ids = await _ids(connection, properties.c.id)
            room_type_rows = (
                await connection.execute(
                    select(
                        room_types.c.id, room_types.c.property_id, room_types.c.max_occupancy
                    ).order_by(room_types.c.id)
                )
            ).all()
            activity_ids = await _ids(connection, activities.c.id)
            restaurant_ids = await _ids(connection, restaurants.c.id)
            guest_ids = await _ids(connection, guests.c.id)
            first_day, last_day = (
                await connection.execute(
                    select(func.min(bookings.c.check_in), func.max(bookings.c.check_out))
                )
            ).one()
            cancellable = (
                await connection.execute(
                    select(bookings.c.id, bookings.c.guest_id)
                    .where(bookings.c.status.in_(_CANCELLABLE), bookings.c.check_in > today)
                    .order_by(bookings.c.id)
                    .limit(_CANCELLABLE_LIMIT)
                )
            ).all()
    finally:
        await engine.dispose()
    return Catalog(
        property_ids=property_ids,
        room_types=[
            RoomTypeRow(row.id, row.property_id, row.max_occupancy) for row in room_type_rows
        ],
        activity_ids=activity_ids,
        restaurant_ids=restaurant_ids,
        guest_ids=guest_ids,
        cancellable=[(row.id, row.guest_id) for row in cancellable],
        stay_window=_stay_window(_as_date(first_day), _as_date(last_day), today),
    )


async def _ids(connection: AsyncConnection, column: ColumnElement[int]) -> list[int]:
    return list((await connection.execute(select(column).order_by(column))).scalars())


def _as_date(value: object) -> dt.date | None:
    # SQLite answers aggregates of DATE columns as text.
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _stay_window(
    first: dt.date | None, last: dt.date | None, today: dt.date
) -> tuple[dt.date, dt.date]:
    """The seeded window, from tomorrow on: stays are searched and booked in the future."""
    start = max(first or today, today + dt.timedelta(days=1))
    end = last or start
    if (end - start).days < 14:
        start, end = today + dt.timedelta(days=1), today + dt.timedelta(days=_DEFAULT_WINDOW_DAYS)
    return start, end
