"""SQL of the properties domain. Repositories flush; they never commit."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from banrimkwae.resort.pagination import PageRequest, Slice
from banrimkwae.resort.properties.models import Property, Room, RoomType


class PropertyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list(self, page: PageRequest, *, country: str | None) -> Slice[Property]:
        query = select(Property)
        if country is not None:
            query = query.where(Property.country == country)
        return await page.fetch(self.session, query)

    async def get(self, property_id: int) -> Property | None:
        return await self.session.get(Property, property_id)

    async def list_room_types(self, property_id: int, page: PageRequest) -> Slice[RoomType]:
        query = select(RoomType).where(RoomType.property_id == property_id)
        return await page.fetch(self.session, query)

    async def get_room_type(self, room_type_id: int) -> RoomType | None:
        return await self.session.get(RoomType, room_type_id)

    async def list_rooms(
        self,
        property_id: int,
        page: PageRequest,
        *,
        room_type_id: int | None,
        status: str | None,
    ) -> Slice[Room]:
        query = select(Room).where(Room.property_id == property_id)
        if room_type_id is not None:
            query = query.where(Room.room_type_id == room_type_id)
        if status is not None:
            query = query.where(Room.status == status)
        return await page.fetch(self.session, query)

    async def get_room(self, room_id: int) -> Room | None:
        return await self.session.get(Room, room_id)

    async def add(self, entity: Property | RoomType | Room) -> None:
        self.session.add(entity)
        await self.session.flush()

    async def delete(self, entity: Property | RoomType | Room) -> None:
        await self.session.delete(entity)
        await self.session.flush()

    async def delete_property(self, found: Property) -> None:
        # Rooms first: InnoDB cascades row by row and would find rooms still pointing at a
        # room type it is deleting; PostgreSQL and SQLite would accept either order.
        await self.session.execute(delete(Room).where(Room.property_id == found.id))
        await self.delete(found)
