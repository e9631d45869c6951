"""Request and response bodies of the properties domain."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from banrimkwae.resort.ids import MAX_ID
from banrimkwae.resort.pagination import fieldset
from banrimkwae.resort.properties.models import Property, Room, RoomType
from banrimkwae.resort.timestamps import UtcDateTime


class PropertyIn(BaseModel):
    code: str = Field(min_length=2, max_length=16, pattern=r"^[A-Z0-9-]+$")
    name: str = Field(min_length=1, max_length=120)
    city: str = Field(min_length=1, max_length=80)
    country: str = Field(min_length=2, max_length=2, pattern=r"^[A-Z]{2}$")
    timezone: str = Field(default="Asia/Bangkok", max_length=40)
    star_rating: int = Field(default=4, ge=1, le=5)
    description: str = Field(default="", max_length=4000)


class PropertyPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    city: str | None = Field(default=None, min_length=1, max_length=80)
    timezone: str | None = Field(default=None, max_length=40)
    star_rating: int | None = Field(default=None, ge=1, le=5)
    description: str | None = Field(default=None, max_length=4000)


class PropertyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    city: str
    country: str
    timezone: str
    star_rating: int
    description: str
    created_at: UtcDateTime


class RoomTypeIn(BaseModel):
    code: str = Field(min_length=1, max_length=16, pattern=r"^[A-Z0-9-]+$")
    name: str = Field(min_length=1, max_length=80)
    description: str = Field(default="", max_length=4000)
    max_occupancy: int = Field(ge=1, le=12)
    base_rate: Decimal = Field(gt=0, max_digits=10, decimal_places=2)


class RoomTypePatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=80)
    description: str | None = Field(default=None, max_length=4000)
    max_occupancy: int | None = Field(default=None, ge=1, le=12)
    base_rate: Decimal | None = Field(default=None, gt=0, max_digits=10, decimal_places=2)


class RoomTypeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    code: str
    name: str
    description: str
    max_occupancy: int
    base_rate: Decimal


class RoomIn(BaseModel):
    room_type_id: int = Field(ge=1, le=MAX_ID)
    number: str = Field(min_length=1, max_length=10)
    floor: int = Field(ge=0, le=200)
    status: str = Field(default="in_service", pattern=r"^(in_service|out_of_service)$")


class RoomPatch(BaseModel):
    room_type_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    floor: int | None = Field(default=None, ge=0, le=200)
    status: str | None = Field(default=None, pattern=r"^(in_service|out_of_service)$")


class RoomOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    room_type_id: int
    number: str
    floor: int
    status: str


# What list endpoints may return of each resource (`fields=`), and the columns behind it.
PROPERTY_FIELDS = fieldset("property", PropertyOut, Property)
ROOM_TYPE_FIELDS = fieldset("room type", RoomTypeOut, RoomType)
ROOM_FIELDS = fieldset("room", RoomOut, Room)
