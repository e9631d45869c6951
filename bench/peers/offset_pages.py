"""The pagination peer: the naive app plus the offset-paged bookings list a FastAPI user
would write today (`ORDER BY id DESC LIMIT :limit OFFSET :offset`, every column, the
response model serialising each row). Benchmarked beside the keyset `GET /api/v1/bookings`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Query
from sqlalchemy import select

from banrimkwae.app import create_fastapi_app
from banrimkwae.config import load_settings
from banrimkwae.perf.responses.pagination import Links, Meta, Page
from banrimkwae.resort.bookings.models import Booking
from banrimkwae.resort.bookings.schemas import BookingOut
from banrimkwae.resort.deps import Session, Staff

OFFSET_PATH = "/bench/offset/bookings"


def create_app() -> FastAPI:
    app = create_fastapi_app(load_settings(), with_platform=False)

    @app.get(OFFSET_PATH, response_model=Page[BookingOut])
    async def offset_bookings(
        session: Session,
        _staff: Staff,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> Page[BookingOut]:
        query = select(Booking).order_by(Booking.id.desc()).offset(offset).limit(limit + 1)
        rows = (await session.scalars(query)).all()
        data = [BookingOut.model_validate(row) for row in rows[:limit]]
        return Page[BookingOut](
            data=data,
            links=Links(self=OFFSET_PATH),
            meta=Meta(limit=limit, count=len(data), offset=offset),
        )

    return app
