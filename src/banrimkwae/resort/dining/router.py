"""HTTP routes of the dining domain: restaurants and their menus."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from banrimkwae.perf.problems import problem_responses
from banrimkwae.perf.responses.expansion import Relation
from banrimkwae.perf.responses.keyset import Ordering, asc
from banrimkwae.resort.deps import Session, Staff
from banrimkwae.resort.dining.models import MenuItem, Restaurant
from banrimkwae.resort.dining.schemas import (
    MENU_CATEGORY_FIELDS,
    MENU_ITEM_FIELDS,
    RESTAURANT_FIELDS,
    MenuItemIn,
    MenuItemOut,
    MenuItemPatch,
    RestaurantIn,
    RestaurantOut,
    RestaurantPatch,
)
from banrimkwae.resort.dining.service import DiningService
from banrimkwae.resort.ids import PathId
from banrimkwae.resort.pagination import PageRequest, list_spec
from banrimkwae.resort.properties.schemas import PROPERTY_FIELDS

router = APIRouter(prefix="/api/v1", tags=["dining"])

READ = problem_responses(404, 422)
LIST = problem_responses(400, 404, 422)
WRITE = problem_responses(401, 403, 404, 409, 422)
DELETE = problem_responses(401, 403, 404, 422)

Category = Annotated[str | None, Query(min_length=1, max_length=40)]

RESTAURANTS = list_spec(
    Ordering("restaurants", asc("name", Restaurant.name), asc("id", Restaurant.id)),
    RESTAURANT_FIELDS,
    {
        "property": Relation(Restaurant.property, PROPERTY_FIELDS),
        "menu_items": Relation(Restaurant.menu_items, MENU_ITEM_FIELDS),
    },
)
MENU = list_spec(
    Ordering(
        "menu",
        asc("category", MenuItem.category),
        asc("name", MenuItem.name),
        asc("id", MenuItem.id),
    ),
    MENU_ITEM_FIELDS,
    {
        "restaurant": Relation(
            MenuItem.restaurant,
            RESTAURANT_FIELDS,
            {"property": Relation(Restaurant.property, PROPERTY_FIELDS)},
        )
    },
)
# Grouped by category, so the category alone is unique in this list.
MENU_CATEGORIES = list_spec(
    Ordering("menu-categories", asc("category", MenuItem.category), last_is_unique=True),
    MENU_CATEGORY_FIELDS,
)


@router.get(
    "/properties/{property_id}/restaurants",
    response_model=RESTAURANTS.response_model(),
    responses=LIST,
)
async def list_restaurants(
    property_id: PathId,
    session: Session,
    page: Annotated[PageRequest, Depends(RESTAURANTS.parameters)],
) -> Response:
    page.bind(property_id=property_id)
    return page.respond(await DiningService(session).list_restaurants(property_id, page))


@router.post(
    "/properties/{property_id}/restaurants",
    status_code=201,
    response_model=RestaurantOut,
    responses=WRITE,
)
async def create_restaurant(
    property_id: PathId, body: RestaurantIn, session: Session, _staff: Staff
) -> RestaurantOut:
    created = await DiningService(session).create_restaurant(property_id, body)
    return RestaurantOut.model_validate(created)


@router.get("/restaurants/{restaurant_id}", response_model=RestaurantOut, responses=READ)
async def get_restaurant(restaurant_id: PathId, session: Session) -> RestaurantOut:
    return RestaurantOut.model_validate(await DiningService(session).get_restaurant(restaurant_id))


@router.patch("/restaurants/{restaurant_id}", response_model=RestaurantOut, responses=WRITE)
async def update_restaurant(
    restaurant_id: PathId, body: RestaurantPatch, session: Session, _staff: Staff
) -> RestaurantOut:
    updated = await DiningService(session).update_restaurant(restaurant_id, body)
    return RestaurantOut.model_validate(updated)


@router.delete("/restaurants/{restaurant_id}", status_code=204, responses=DELETE)
async def delete_restaurant(restaurant_id: PathId, session: Session, _staff: Staff) -> Response:
    await DiningService(session).delete_restaurant(restaurant_id)
    return Response(status_code=204)


@router.get(
    "/restaurants/{restaurant_id}/menu", response_model=MENU.response_model(), responses=LIST
)
async def list_menu(
    restaurant_id: PathId,
    session: Session,
    page: Annotated[PageRequest, Depends(MENU.parameters)],
    category: Category = None,
) -> Response:
    page.bind(restaurant_id=restaurant_id, category=category)
    rows = await DiningService(session).list_menu(restaurant_id, page, category=category)
    return page.respond(rows)


@router.get(
    "/restaurants/{restaurant_id}/menu/categories",
    response_model=MENU_CATEGORIES.response_model(),
    responses=LIST,
)
async def list_menu_categories(
    restaurant_id: PathId,
    session: Session,
    page: Annotated[PageRequest, Depends(MENU_CATEGORIES.parameters)],
) -> Response:
    page.bind(restaurant_id=restaurant_id)
    return page.respond(await DiningService(session).menu_categories(restaurant_id, page))


@router.post(
    "/restaurants/{restaurant_id}/menu-items",
    status_code=201,
    response_model=MenuItemOut,
    responses=WRITE,
)
async def create_menu_item(
    restaurant_id: PathId, body: MenuItemIn, session: Session, _staff: Staff
) -> MenuItemOut:
    created = await DiningService(session).create_menu_item(restaurant_id, body)
    return MenuItemOut.model_validate(created)


@router.get("/menu-items/{item_id}", response_model=MenuItemOut, responses=READ)
async def get_menu_item(item_id: PathId, session: Session) -> MenuItemOut:
    return MenuItemOut.model_validate(await DiningService(session).get_menu_item(item_id))


@router.patch("/menu-items/{item_id}", response_model=MenuItemOut, responses=WRITE)
async def update_menu_item(
    item_id: PathId, body: MenuItemPatch, session: Session, _staff: Staff
) -> MenuItemOut:
    return MenuItemOut.model_validate(await DiningService(session).update_menu_item(item_id, body))


@router.delete("/menu-items/{item_id}", status_code=204, responses=DELETE)
async def delete_menu_item(item_id: PathId, session: Session, _staff: Staff) -> Response:
    await DiningService(session).delete_menu_item(item_id)
    return Response(status_code=204)
