"""HTTP routes of the dining domain: restaurants and their menus."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from banrimkwae.perf.problems import problem_responses
from banrimkwae.resort.deps import Session, Staff
from banrimkwae.resort.dining.schemas import (
    MenuCategoryOut,
    MenuItemIn,
    MenuItemOut,
    MenuItemPatch,
    RestaurantIn,
    RestaurantOut,
    RestaurantPatch,
)
from banrimkwae.resort.dining.service import DiningService
from banrimkwae.resort.ids import PathId
from banrimkwae.resort.pagination import Page, Paging, page_of

router = APIRouter(prefix="/api/v1", tags=["dining"])

READ = problem_responses(404, 422)
WRITE = problem_responses(401, 403, 404, 409, 422)
DELETE = problem_responses(401, 403, 404, 422)

Category = Annotated[str | None, Query(min_length=1, max_length=40)]


@router.get(
    "/properties/{property_id}/restaurants", response_model=Page[RestaurantOut], responses=READ
)
async def list_restaurants(
    property_id: PathId, request: Request, session: Session, paging: Paging
) -> Page[RestaurantOut]:
    rows = await DiningService(session).list_restaurants(
        property_id, limit=paging.limit + 1, offset=paging.offset
    )
    return page_of([RestaurantOut.model_validate(row) for row in rows], request, paging)


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


@router.get("/restaurants/{restaurant_id}/menu", response_model=Page[MenuItemOut], responses=READ)
async def list_menu(
    restaurant_id: PathId,
    request: Request,
    session: Session,
    paging: Paging,
    category: Category = None,
) -> Page[MenuItemOut]:
    rows = await DiningService(session).list_menu(
        restaurant_id, limit=paging.limit + 1, offset=paging.offset, category=category
    )
    return page_of([MenuItemOut.model_validate(row) for row in rows], request, paging)


@router.get(
    "/restaurants/{restaurant_id}/menu/categories",
    response_model=Page[MenuCategoryOut],
    responses=READ,
)
async def list_menu_categories(
    restaurant_id: PathId, request: Request, session: Session, paging: Paging
) -> Page[MenuCategoryOut]:
    rows = await DiningService(session).menu_categories(
        restaurant_id, limit=paging.limit + 1, offset=paging.offset
    )
    return page_of([MenuCategoryOut.model_validate(row) for row in rows], request, paging)


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
