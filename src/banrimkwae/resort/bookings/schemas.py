"""Request and response bodies of the bookings domain."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from banrimkwae.resort.bookings.models import Booking
from banrimkwae.resort.ids import MAX_ID
from banrimkwae.resort.pagination import fieldset
from banrimkwae.resort.properties.schemas import RoomTypeOut
from banrimkwae.resort.timestamps import UtcDateTime

BookingStatus = Literal["pending", "confirmed", "checked_in", "checked_out", "cancelled"]
BOOKING_STATUS_PATTERN = r"^(pending|confirmed|checked_in|checked_out|cancelled)$"


class BookingIn(BaseModel):
    property_id: int = Field(ge=1, le=MAX_ID)
    room_type_id: int = Field(ge=1, le=MAX_ID)
    check_in: dt.date
    check_out: dt.date
    adults: int = Field(ge=1, le=12)
    children: int = Field(default=0, ge=0, le=12)


class BookingStatusPatch(BaseModel):
    status: BookingStatus


class BookingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    reference: str
    guest_id: int
    property_id: int
    room_id: int
    check_in: dt.date
    check_out: dt.date
    status: BookingStatus
    adults: int
    children: int
    total_amount: Decimal
    created_at: UtcDateTime


class RoomTypeAvailability(RoomTypeOut):
    """A room type with what is free of it for the requested stay and what the stay costs."""

    available_rooms: int
    nights: int
    total_price: Decimal


# What list endpoints may return (`fields=`): bookings are rows; availability is computed.
BOOKING_FIELDS = fieldset("booking", BookingOut, Booking)
AVAILABILITY_FIELDS = fieldset("room type", RoomTypeAvailability)


class OccupancyDay(BaseModel):
    date: dt.date
    occupied_rooms: int
    total_rooms: int
    occupancy_percent: float


class OccupancyMeta(BaseModel):
    property_id: int
    start: dt.date
    end: dt.date
    days: int
    total_rooms: int


class OccupancyReport(BaseModel):
    data: list[OccupancyDay]
    meta: OccupancyMeta
