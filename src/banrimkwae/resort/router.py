"""All resort routes, mounted by the app factory."""

from fastapi import APIRouter

from banrimkwae.resort.activities.router import router as activities_router
from banrimkwae.resort.bookings.router import router as bookings_router
from banrimkwae.resort.dining.router import router as dining_router
from banrimkwae.resort.guests.router import router as guests_router
from banrimkwae.resort.properties.router import router as properties_router

router = APIRouter()
for domain_router in (
    properties_router,
    guests_router,
    bookings_router,
    activities_router,
    dining_router,
):
    router.include_router(domain_router)

__all__ = ["router"]
