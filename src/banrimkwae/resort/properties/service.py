"""Business rules of the properties domain."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from banrimkwae.perf.problems import ProblemError
from banrimkwae.resort.errors import conflict_on_integrity, not_found
from banrimkwae.resort.pagination import PageRequest, Slice
from banrimkwae.resort.properties.models import Property, Room, RoomType
from banrimkwae.resort.properties.repository import PropertyRepository
from banrimkwae.resort.properties.schemas import (
    PropertyIn,
    PropertyPatch,
    RoomIn,
    RoomPatch,
    RoomTypeIn,
    RoomTypePatch,
)


class PropertyService:
    def __init__(self, session: AsyncSession) -> None:
        self.repository = PropertyRepository(session)

    async def list(self, page: PageRequest, *, country: str | None) -> Slice[Property]:
        return await self.repository.list(page, country=country)

    async def get(self, property_id: int) -> Property:
        found = await self.repository.get(property_id)
        if found is None:
            raise not_found("property", property_id)
        return found

    async def create(self, body: PropertyIn) -> Property:
        created = Property(**body.model_dump())
        async with conflict_on_integrity(f"a property with code {body.code} exists"):
            await self.repository.add(created)
        return created

    async def update(self, property_id: int, patch: PropertyPatch) -> Property:
        found = await self.get(property_id)
        for name, value in patch.model_dump(exclude_unset=True, exclude_none=True).items():
            setattr(found, name, value)
        await self.repository.add(found)
        return found

    async def delete(self, property_id: int) -> None:
        found = await self.get(property_id)
        async with conflict_on_integrity(f"property {property_id} still has bookings"):
            await self.repository.delete_property(found)

    async def list_room_types(self, property_id: int, page: PageRequest) -> Slice[RoomType]:
        await self.get(property_id)
        return await self.repository.list_room_types(property_id, page)

    async def get_room_type(self, room_type_id: int) -> RoomType:
        found = await self.repository.get_room_type(room_type_id)
        if found is None:
            raise not_found("room type", room_type_id)
        return found

    async def create_room_type(self, property_id: int, body: RoomTypeIn) -> RoomType:
        await self.get(property_id)
        created = RoomType(property_id=property_id, **body.model_dump())
        async with conflict_on_integrity(f"room type {body.code} exists at this property"):
            await self.repository.add(created)
        return created

    async def update_room_type(self, room_type_id: int, patch: RoomTypePatch) -> RoomType:
        found = await self.get_room_type(room_type_id)
        for name, value in patch.model_dump(exclude_unset=True, exclude_none=True).items():
            setattr(found, name, value)
        await self.repository.add(found)
        return found

    async def delete_room_type(self, room_type_id: int) -> None:
        found = await self.get_room_type(room_type_id)
        async with conflict_on_integrity(f"room type {room_type_id} still has rooms"):
            await self.repository.delete(found)

    async def list_rooms(
        self,
        property_id: int,
        page: PageRequest,
        *,
        room_type_id: int | None,
        status: str | None,
    ) -> Slice[Room]:
        await self.get(property_id)
        return await self.repository.list_rooms(
            property_id, page, room_type_id=room_type_id, status=status
        )

    async def get_room(self, room_id: int) -> Room:
        found = await self.repository.get_room(room_id)
        if found is None:
            raise not_found("room", room_id)
        return found

    async def create_room(self, property_id: int, body: RoomIn) -> Room:
        await self.get(property_id)
        await self._room_type_of(property_id, body.room_type_id)
        created = Room(property_id=property_id, **body.model_dump())
        async with conflict_on_integrity(f"room {body.number} exists at this property"):
            await self.repository.add(created)
        return created

    async def update_room(self, room_id: int, patch: RoomPatch) -> Room:
        found = await self.get_room(room_id)
        if patch.room_type_id is not None:
            await self._room_type_of(found.property_id, patch.room_type_id)
        for name, value in patch.model_dump(exclude_unset=True, exclude_none=True).items():
            setattr(found, name, value)
        await self.repository.add(found)
        return found

    async def delete_room(self, room_id: int) -> None:
        found = await self.get_room(room_id)
        async with conflict_on_integrity(f"room {room_id} still has bookings"):
            await self.repository.delete(found)

    async def _room_type_of(self, property_id: int, room_type_id: int) -> RoomType:
        room_type = await self.repository.get_room_type(room_type_id)
        if room_type is None or room_type.property_id != property_id:
            raise ProblemError(
                422, f"room type {room_type_id} does not belong to property {property_id}"
            )
        return room_type
