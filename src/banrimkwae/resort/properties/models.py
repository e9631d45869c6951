"""Properties (resorts), their room types and rooms."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from banrimkwae.resort.base import Base, BigId, Money, created_at, pk

if TYPE_CHECKING:
    from banrimkwae.resort.activities.models import Activity
    from banrimkwae.resort.dining.models import Restaurant


class Property(Base):
    __tablename__ = "properties"

    id: Mapped[int] = pk()
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    city: Mapped[str] = mapped_column(String(80))
    country: Mapped[str] = mapped_column(String(2))
    timezone: Mapped[str] = mapped_column(String(40), default="Asia/Bangkok")
    star_rating: Mapped[int] = mapped_column(SmallInteger, default=4)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = created_at()

    room_types: Mapped[list[RoomType]] = relationship(
        back_populates="property", lazy="raise", passive_deletes=True
    )
    rooms: Mapped[list[Room]] = relationship(
        back_populates="property", lazy="raise", passive_deletes=True
    )
    activities: Mapped[list[Activity]] = relationship(
        back_populates="property", lazy="raise", passive_deletes=True
    )
    restaurants: Mapped[list[Restaurant]] = relationship(
        back_populates="property", lazy="raise", passive_deletes=True
    )


class RoomType(Base):
    __tablename__ = "room_types"
    __table_args__ = (UniqueConstraint("property_id", "code"),)

    id: Mapped[int] = pk()
    property_id: Mapped[int] = mapped_column(BigId, ForeignKey("properties.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    max_occupancy: Mapped[int] = mapped_column(SmallInteger)
    base_rate: Mapped[Decimal] = mapped_column(Money)

    property: Mapped[Property] = relationship(back_populates="room_types", lazy="raise")
    rooms: Mapped[list[Room]] = relationship(
        back_populates="room_type", lazy="raise", passive_deletes=True
    )


class Room(Base):
    __tablename__ = "rooms"
    __table_args__ = (UniqueConstraint("property_id", "number"),)

    id: Mapped[int] = pk()
    property_id: Mapped[int] = mapped_column(BigId, ForeignKey("properties.id", ondelete="CASCADE"))
    room_type_id: Mapped[int] = mapped_column(BigId, ForeignKey("room_types.id"))
    number: Mapped[str] = mapped_column(String(10))
    floor: Mapped[int] = mapped_column(SmallInteger)
    # in_service | out_of_service: a room out of service is never offered.
    status: Mapped[str] = mapped_column(String(20), default="in_service")

    property: Mapped[Property] = relationship(back_populates="rooms", lazy="raise")
    room_type: Mapped[RoomType] = relationship(back_populates="rooms", lazy="raise")
