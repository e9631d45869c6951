"""Request and response bodies of the activities domain (instants: resort.timestamps)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from banrimkwae.resort.activities.models import Activity
from banrimkwae.resort.pagination import fieldset
from banrimkwae.resort.timestamps import AwareUtcDateTime, UtcDateTime


class ActivityIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    category: str = Field(min_length=1, max_length=40)
    description: str = Field(default="", max_length=4000)
    duration_minutes: int = Field(ge=5, le=24 * 60)
    price: Decimal = Field(ge=0, max_digits=10, decimal_places=2)
    capacity: int = Field(ge=1, le=500, description="Default capacity of new sessions.")


class ActivityPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    category: str | None = Field(default=None, min_length=1, max_length=40)
    description: str | None = Field(default=None, max_length=4000)
    duration_minutes: int | None = Field(default=None, ge=5, le=24 * 60)
    price: Decimal | None = Field(default=None, ge=0, max_digits=10, decimal_places=2)
    capacity: int | None = Field(default=None, ge=1, le=500)


class ActivityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    name: str
    category: str
    description: str
    duration_minutes: int
    price: Decimal
    capacity: int


class SessionIn(BaseModel):
    starts_at: AwareUtcDateTime = Field(
        description="An instant with its UTC offset; stored in UTC to whole seconds."
    )
    capacity: int | None = Field(
        default=None, ge=1, le=500, description="Defaults to the activity's capacity."
    )


class SessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    activity_id: int
    starts_at: UtcDateTime
    capacity: int
    booked: int = Field(description="Participants of bookings that are not cancelled.")
    remaining: int


class ActivityBookingIn(BaseModel):
    participants: int = Field(default=1, ge=1, le=50)


class ActivityBookingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    session_id: int
    activity_id: int
    activity_name: str
    starts_at: UtcDateTime
    guest_id: int
    participants: int
    status: str
    created_at: UtcDateTime


# What list endpoints may return (`fields=`); sessions and bookings are computed rows.
ACTIVITY_FIELDS = fieldset("activity", ActivityOut, Activity)
SESSION_FIELDS = fieldset("session", SessionOut)
ACTIVITY_BOOKING_FIELDS = fieldset("activity booking", ActivityBookingOut)
