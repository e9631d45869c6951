"""Business rules of the dining domain: restaurants and their menus."""

from __future__ import annotations

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from banrimkwae.resort.dining.models import MenuItem, Restaurant
from banrimkwae.resort.dining.repository import DiningRepository
from banrimkwae.resort.dining.schemas import (
    MenuItemIn,
    MenuItemPatch,
    RestaurantIn,
    RestaurantPatch,
)
from banrimkwae.resort.errors import conflict_on_integrity, not_found
from banrimkwae.resort.pagination import PageRequest, Slice
from banrimkwae.resort.properties.service import PropertyService


class DiningService:
    def __init__(self, session: AsyncSession) -> None:
        self.repository = DiningRepository(session)
        self.properties = PropertyService(session)

    # Restaurants

    async def list_restaurants(self, property_id: int, page: PageRequest) -> Slice[Restaurant]:
        await self.properties.get(property_id)
        return await self.repository.list_restaurants(property_id, page)

    async def get_restaurant(self, restaurant_id: int) -> Restaurant:
        found = await self.repository.get_restaurant(restaurant_id)
        if found is None:
            raise not_found("restaurant", restaurant_id)
        return found

    async def create_restaurant(self, property_id: int, body: RestaurantIn) -> Restaurant:
        await self.properties.get(property_id)
        created = Restaurant(property_id=property_id, **body.model_dump())
        async with conflict_on_integrity(f"a restaurant named {body.name} exists here"):
            await self.repository.add(created)
        return created

    async def update_restaurant(self, restaurant_id: int, patch: RestaurantPatch) -> Restaurant:
        found = await self.get_restaurant(restaurant_id)
        for name, value in patch.model_dump(exclude_unset=True, exclude_none=True).items():
            setattr(found, name, value)
        async with conflict_on_integrity(f"a restaurant named {found.name} exists here"):
            await self.repository.add(found)
        return found

    async def delete_restaurant(self, restaurant_id: int) -> None:
        await self.get_restaurant(restaurant_id)
        await self.repository.delete_restaurant(restaurant_id)

    # Menu

    async def list_menu(
        self, restaurant_id: int, page: PageRequest, *, category: str | None
    ) -> Slice[MenuItem]:
        await self.get_restaurant(restaurant_id)
        return await self.repository.list_menu(restaurant_id, page, category=category)

    async def menu_categories(self, restaurant_id: int, page: PageRequest) -> Slice[Row[str, int]]:
        await self.get_restaurant(restaurant_id)
        return await self.repository.menu_categories(restaurant_id, page)

    async def get_menu_item(self, item_id: int) -> MenuItem:
        found = await self.repository.get_menu_item(item_id)
        if found is None:
            raise not_found("menu item", item_id)
        return found

    async def create_menu_item(self, restaurant_id: int, body: MenuItemIn) -> MenuItem:
        await self.get_restaurant(restaurant_id)
        created = MenuItem(restaurant_id=restaurant_id, **body.model_dump())
        async with conflict_on_integrity(f"the menu already has an item named {body.name}"):
            await self.repository.add(created)
        return created

    async def update_menu_item(self, item_id: int, patch: MenuItemPatch) -> MenuItem:
        found = await self.get_menu_item(item_id)
        for name, value in patch.model_dump(exclude_unset=True, exclude_none=True).items():
            setattr(found, name, value)
        async with conflict_on_integrity(f"the menu already has an item named {found.name}"):
            await self.repository.add(found)
        return found

    async def delete_menu_item(self, item_id: int) -> None:
        await self.repository.delete_menu_item(await self.get_menu_item(item_id))
