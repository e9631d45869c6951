"""Request and response bodies of the dining domain."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from banrimkwae.resort.dining.models import MenuItem, Restaurant
from banrimkwae.resort.pagination import fieldset

# "07:00-22:00"; a closing time before the opening time runs past midnight.
OPENING_HOURS = r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$"


class RestaurantIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    cuisine: str = Field(min_length=1, max_length=60)
    opening_hours: str = Field(default="07:00-22:00", pattern=OPENING_HOURS)


class RestaurantPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    cuisine: str | None = Field(default=None, min_length=1, max_length=60)
    opening_hours: str | None = Field(default=None, pattern=OPENING_HOURS)


class RestaurantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    name: str
    cuisine: str
    opening_hours: str


class MenuItemIn(BaseModel):
    category: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=4000)
    price: Decimal = Field(ge=0, max_digits=10, decimal_places=2)
    is_available: bool = True


class MenuItemPatch(BaseModel):
    category: str | None = Field(default=None, min_length=1, max_length=40)
    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=4000)
    price: Decimal | None = Field(default=None, ge=0, max_digits=10, decimal_places=2)
    is_available: bool | None = None


class MenuItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    restaurant_id: int
    category: str
    name: str
    description: str
    price: Decimal
    is_available: bool


class MenuCategoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    category: str
    items: int = Field(description="Available items in the category.")


# What list endpoints may return (`fields=`); categories are computed rows.
RESTAURANT_FIELDS = fieldset("restaurant", RestaurantOut, Restaurant)
MENU_ITEM_FIELDS = fieldset("menu item", MenuItemOut, MenuItem)
MENU_CATEGORY_FIELDS = fieldset("menu category", MenuCategoryOut)
