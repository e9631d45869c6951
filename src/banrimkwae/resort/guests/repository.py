"""SQL of the guests domain. Repositories flush; they never commit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from banrimkwae.resort.guests.models import Guest


class GuestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, guest_id: int) -> Guest | None:
        return await self.session.get(Guest, guest_id)

    async def get_by_email(self, email: str) -> Guest | None:
        return await self.session.scalar(select(Guest).where(Guest.email == email))

    async def list(self, *, limit: int, offset: int, email: str | None) -> Sequence[Guest]:
        query = select(Guest).order_by(Guest.id).limit(limit).offset(offset)
        if email is not None:
            query = query.where(Guest.email == email)
        return (await self.session.scalars(query)).all()

    async def add(self, guest: Guest) -> None:
        self.session.add(guest)
        await self.session.flush()
