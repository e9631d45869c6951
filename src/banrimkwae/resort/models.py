"""Every resort model, imported once so the metadata is complete (Alembic, seeding)."""

from banrimkwae.resort.activities.models import Activity, ActivityBooking, ActivitySession
from banrimkwae.resort.base import Base
from banrimkwae.resort.bookings.models import Booking
from banrimkwae.resort.dining.models import MenuItem, Restaurant
from banrimkwae.resort.guests.models import Guest
from banrimkwae.resort.properties.models import Property, Room, RoomType

metadata = Base.metadata

__all__ = [
    "Activity",
    "ActivityBooking",
    "ActivitySession",
    "Base",
    "Booking",
    "Guest",
    "MenuItem",
    "Property",
    "Restaurant",
    "Room",
    "RoomType",
    "metadata",
]
