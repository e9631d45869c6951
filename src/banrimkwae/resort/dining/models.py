"""Restaurants and their menus."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from banrimkwae.resort.base import Base, BigId, Money, pk
from banrimkwae.resort.properties.models import Property


class Restaurant(Base):
    __tablename__ = "restaurants"
    __table_args__ = (UniqueConstraint("property_id", "name"),)

    id: Mapped[int] = pk()
    property_id: Mapped[int] = mapped_column(BigId, ForeignKey("properties.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    cuisine: Mapped[str] = mapped_column(String(60))
    opening_hours: Mapped[str] = mapped_column(String(60), default="07:00-22:00")

    property: Mapped[Property] = relationship(back_populates="restaurants", lazy="raise")
    menu_items: Mapped[list[MenuItem]] = relationship(
        back_populates="restaurant", lazy="raise", passive_deletes=True
    )


class MenuItem(Base):
    __tablename__ = "menu_items"
    __table_args__ = (UniqueConstraint("restaurant_id", "name"),)

    id: Mapped[int] = pk()
    restaurant_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("restaurants.id", ondelete="CASCADE")
    )
    category: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    price: Mapped[Decimal] = mapped_column(Money)
    is_available: Mapped[bool] = mapped_column(Boolean, default=True)

    restaurant: Mapped[Restaurant] = relationship(back_populates="menu_items", lazy="raise")
