"""SQL of the dining domain. Repositories flush; they never commit."""

from __future__ import annotations

from sqlalchemy import Row, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from banrimkwae.resort.dining.models import MenuItem, Restaurant
from banrimkwae.resort.pagination import PageRequest, Slice


class DiningRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list_restaurants(self, property_id: int, page: PageRequest) -> Slice[Restaurant]:
        query = select(Restaurant).where(Restaurant.property_id == property_id)
        return await page.fetch(self.session, query)

    async def get_restaurant(self, restaurant_id: int) -> Restaurant | None:
        return await self.session.get(Restaurant, restaurant_id)

    async def delete_restaurant(self, restaurant_id: int) -> None:
        # A bulk DELETE lets ON DELETE CASCADE remove the menu; the ORM would null its keys.
        await self.session.execute(delete(Restaurant).where(Restaurant.id == restaurant_id))

    async def list_menu(
        self, restaurant_id: int, page: PageRequest, *, category: str | None
    ) -> Slice[MenuItem]:
        query = select(MenuItem).where(
            MenuItem.restaurant_id == restaurant_id, MenuItem.is_available.is_(True)
        )
        if category is not None:
            query = query.where(MenuItem.category == category)
        return await page.fetch(self.session, query)

    async def menu_categories(self, restaurant_id: int, page: PageRequest) -> Slice[Row[str, int]]:
        items = func.count(MenuItem.id).label("items")
        query = (
            select(MenuItem.category, items)
            .where(MenuItem.restaurant_id == restaurant_id, MenuItem.is_available.is_(True))
            .group_by(MenuItem.category)
        )
        return await page.fetch(self.session, query, entity=False)

    async def get_menu_item(self, item_id: int) -> MenuItem | None:
        return await self.session.get(MenuItem, item_id)

    async def add(self, entity: Restaurant | MenuItem) -> None:
        self.session.add(entity)
        await self.session.flush()

    async def delete_menu_item(self, item: MenuItem) -> None:
        await self.session.delete(item)
        await self.session.flush()
