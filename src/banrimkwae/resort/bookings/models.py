"""Room bookings: a guest, a room, a date range and a status."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from banrimkwae.resort.base import Base, BigId, Money, created_at, pk
from banrimkwae.resort.guests.models import Guest
from banrimkwae.resort.properties.models import Property, Room

BOOKING_STATUSES = ("pending", "confirmed", "checked_in", "checked_out", "cancelled")
# Statuses that hold a room: availability excludes rooms with one of these overlapping.
HOLDING_STATUSES = ("pending", "confirmed", "checked_in")


class Booking(Base):
    __tablename__ = "bookings"

    id: Mapped[int] = pk()
    reference: Mapped[str] = mapped_column(String(12), unique=True)
    guest_id: Mapped[int] = mapped_column(BigId, ForeignKey("guests.id"))
    property_id: Mapped[int] = mapped_column(BigId, ForeignKey("properties.id"))
    room_id: Mapped[int] = mapped_column(BigId, ForeignKey("rooms.id"))
    check_in: Mapped[dt.date] = mapped_column(Date)
    check_out: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="confirmed")
    adults: Mapped[int] = mapped_column(SmallInteger, default=2)
    children: Mapped[int] = mapped_column(SmallInteger, default=0)
    total_amount: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[dt.datetime] = created_at()

    guest: Mapped[Guest] = relationship(lazy="raise")
    property: Mapped[Property] = relationship(lazy="raise")
    room: Mapped[Room] = relationship(lazy="raise")
