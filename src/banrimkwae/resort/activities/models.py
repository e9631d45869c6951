"""Activities, their scheduled sessions and the guests booked on them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import ForeignKey, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TIMESTAMP

from banrimkwae.resort.base import Base, BigId, Money, created_at, pk
from banrimkwae.resort.guests.models import Guest
from banrimkwae.resort.properties.models import Property


class Activity(Base):
    __tablename__ = "activities"

    id: Mapped[int] = pk()
    property_id: Mapped[int] = mapped_column(BigId, ForeignKey("properties.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    category: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text, default="")
    duration_minutes: Mapped[int] = mapped_column(SmallInteger)
    price: Mapped[Decimal] = mapped_column(Money)
    capacity: Mapped[int] = mapped_column(SmallInteger)

    property: Mapped[Property] = relationship(back_populates="activities", lazy="raise")
    sessions: Mapped[list[ActivitySession]] = relationship(
        back_populates="activity", lazy="raise", passive_deletes=True
    )


class ActivitySession(Base):
    __tablename__ = "activity_sessions"
    __table_args__ = (UniqueConstraint("activity_id", "starts_at"),)

    id: Mapped[int] = pk()
    activity_id: Mapped[int] = mapped_column(BigId, ForeignKey("activities.id", ondelete="CASCADE"))
    starts_at: Mapped[dt.datetime] = mapped_column(TIMESTAMP(timezone=True))
    capacity: Mapped[int] = mapped_column(SmallInteger)

    activity: Mapped[Activity] = relationship(back_populates="sessions", lazy="raise")
    bookings: Mapped[list[ActivityBooking]] = relationship(
        back_populates="session", lazy="raise", passive_deletes=True
    )


class ActivityBooking(Base):
    __tablename__ = "activity_bookings"
    __table_args__ = (UniqueConstraint("session_id", "guest_id"),)

    id: Mapped[int] = pk()
    session_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("activity_sessions.id", ondelete="CASCADE")
    )
    guest_id: Mapped[int] = mapped_column(BigId, ForeignKey("guests.id"))
    participants: Mapped[int] = mapped_column(SmallInteger, default=1)
    # booked | cancelled: only booked participants use capacity.
    status: Mapped[str] = mapped_column(String(20), default="booked")
    created_at: Mapped[dt.datetime] = created_at()

    session: Mapped[ActivitySession] = relationship(back_populates="bookings", lazy="raise")
    guest: Mapped[Guest] = relationship(lazy="raise")
