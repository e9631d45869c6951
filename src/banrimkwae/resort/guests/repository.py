"""SQL of the guests domain. Repositories flush; they never commit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from banrimkwae.resort.guests.models import Guest
from banrimkwae.resort.pagination import PageRequest, Slice


class GuestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, guest_id: int) -> Guest | None:
        return await self.session.get(Guest, guest_id)

    async def get_by_email(self, email: str) -> Guest | None:
        return await self.session.scalar(select(Guest).where(Guest.email == email))

    async def list(self, page: PageRequest, *, email: str | None) -> Slice[Guest]:
        query = select(Guest)
        if email is not None:
            query = query.where(Guest.email == email)
        return await page.fetch(self.session, query)

    async def add(self, guest: Guest) -> None:
        self.session.add(guest)
        await self.session.flush()
