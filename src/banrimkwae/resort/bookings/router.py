"""HTTP routes of the bookings domain."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["bookings"])
