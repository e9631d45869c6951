"""The dining domain over the real app, on every dialect."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.conftest import guest_headers


async def _property(client: httpx.AsyncClient, staff: dict[str, str]) -> int:
    code = f"DIN-{uuid.uuid4().hex[:8].upper()}"
    created = await client.post(
        "/api/v1/properties",
        json={"code": code, "name": "Dining Bay", "city": "Phuket", "country": "TH"},
        headers=staff,
    )
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


async def _restaurant(
    client: httpx.AsyncClient, staff: dict[str, str], property_id: int, name: str = "Baan Rim"
) -> dict[str, Any]:
    created = await client.post(
        f"/api/v1/properties/{property_id}/restaurants",
        json={"name": name, "cuisine": "Thai", "opening_hours": "11:00-23:00"},
        headers=staff,
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


async def _item(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    restaurant_id: int,
    category: str,
    name: str,
    *,
    available: bool = True,
) -> dict[str, Any]:
    created = await client.post(
        f"/api/v1/restaurants/{restaurant_id}/menu-items",
        json={"category": category, "name": name, "price": "120.00", "is_available": available},
        headers=staff,
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


async def test_restaurant_lifecycle(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    property_id = await _property(client, staff)
    river = await _restaurant(client, staff, property_id, "River Terrace")
    await _restaurant(client, staff, property_id, "Beach Grill")

    listed = await client.get(f"/api/v1/properties/{property_id}/restaurants")
    assert [row["name"] for row in listed.json()["data"]] == ["Beach Grill", "River Terrace"]
    assert listed.json()["meta"]["count"] == 2

    duplicate = await client.post(
        f"/api/v1/properties/{property_id}/restaurants",
        json={"name": "River Terrace", "cuisine": "Fusion"},
        headers=staff,
    )
    assert duplicate.status_code == 409
    assert duplicate.headers["content-type"] == "application/problem+json"
    elsewhere = await _restaurant(client, staff, await _property(client, staff), "River Terrace")
    assert elsewhere["id"] != river["id"]

    renamed_onto_other = await client.patch(
        f"/api/v1/restaurants/{river['id']}", json={"name": "Beach Grill"}, headers=staff
    )
    assert renamed_onto_other.status_code == 409
    patched = await client.patch(
        f"/api/v1/restaurants/{river['id']}", json={"opening_hours": "17:00-01:00"}, headers=staff
    )
    assert patched.status_code == 200
    assert (await client.get(f"/api/v1/restaurants/{river['id']}")).json()[
        "opening_hours"
    ] == "17:00-01:00"

    item = await _item(client, staff, river["id"], "Mains", "Green Curry")
    deleted = await client.delete(f"/api/v1/restaurants/{river['id']}", headers=staff)
    assert deleted.status_code == 204
    assert (await client.get(f"/api/v1/restaurants/{river['id']}")).status_code == 404
    assert (await client.get(f"/api/v1/menu-items/{item['id']}")).status_code == 404
    assert (await client.get("/api/v1/properties/999999/restaurants")).status_code == 404


async def test_menu_is_ordered_and_grouped_by_category(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    restaurant = await _restaurant(client, staff, await _property(client, staff))
    restaurant_id = restaurant["id"]
    for category, name in [
        ("Starters", "Spring Rolls"),
        ("Mains", "Pad Thai"),
        ("Desserts", "Mango Sticky Rice"),
        ("Mains", "Green Curry"),
        ("Starters", "Chicken Satay"),
        ("Mains", "Massaman Curry"),
    ]:
        await _item(client, staff, restaurant_id, category, name)
    await _item(client, staff, restaurant_id, "Mains", "Crab Curry", available=False)

    menu = await client.get(f"/api/v1/restaurants/{restaurant_id}/menu")
    assert [(row["category"], row["name"]) for row in menu.json()["data"]] == [
        ("Desserts", "Mango Sticky Rice"),
        ("Mains", "Green Curry"),
        ("Mains", "Massaman Curry"),
        ("Mains", "Pad Thai"),
        ("Starters", "Chicken Satay"),
        ("Starters", "Spring Rolls"),
    ]
    mains = await client.get(
        f"/api/v1/restaurants/{restaurant_id}/menu", params={"category": "Mains", "limit": 2}
    )
    assert [row["name"] for row in mains.json()["data"]] == ["Green Curry", "Massaman Curry"]
    rest = await client.get(mains.json()["links"]["next"])
    assert [row["name"] for row in rest.json()["data"]] == ["Pad Thai"]

    categories = await client.get(f"/api/v1/restaurants/{restaurant_id}/menu/categories")
    assert categories.status_code == 200
    assert categories.json()["data"] == [
        {"category": "Desserts", "items": 1},
        {"category": "Mains", "items": 3},
        {"category": "Starters", "items": 2},
    ]
    missing = await client.get("/api/v1/restaurants/999999/menu/categories")
    assert missing.status_code == 404


async def test_menu_item_management(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    restaurant = await _restaurant(client, staff, await _property(client, staff))
    item = await _item(client, staff, restaurant["id"], "Mains", "Tom Yum")
    url = f"/api/v1/menu-items/{item['id']}"

    fetched = await client.get(url)
    assert fetched.json() == item
    assert fetched.json()["price"] == "120.00"

    duplicate = await client.post(
        f"/api/v1/restaurants/{restaurant['id']}/menu-items",
        json={"category": "Soups", "name": "Tom Yum", "price": "99.00"},
        headers=staff,
    )
    assert duplicate.status_code == 409

    assert (await client.patch(url, json={"is_available": False})).status_code == 401
    as_guest = await client.patch(url, json={"is_available": False}, headers=guest_headers(1))
    assert as_guest.status_code == 403
    hidden = await client.patch(url, json={"is_available": False}, headers=staff)
    assert hidden.json()["is_available"] is False
    menu = await client.get(f"/api/v1/restaurants/{restaurant['id']}/menu")
    assert menu.json()["data"] == []
    # Off the menu, still readable by id.
    assert (await client.get(url)).status_code == 200

    assert (await client.delete(url, headers=staff)).status_code == 204
    assert (await client.get(url)).status_code == 404
    assert (await client.delete(url, headers=staff)).status_code == 404


async def test_validation_errors_are_problem_documents(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    restaurant = await _restaurant(client, staff, await _property(client, staff))
    negative = await client.post(
        f"/api/v1/restaurants/{restaurant['id']}/menu-items",
        json={"category": "Mains", "name": "Free Lunch", "price": "-1.00"},
        headers=staff,
    )
    assert negative.status_code == 422
    assert negative.headers["content-type"] == "application/problem+json"
    assert negative.json()["errors"][0]["location"] == "body.price"

    bad_hours = await client.patch(
        f"/api/v1/restaurants/{restaurant['id']}",
        json={"opening_hours": "25:00-26:00"},
        headers=staff,
    )
    assert bad_hours.status_code == 422
    assert bad_hours.json()["errors"][0]["location"] == "body.opening_hours"
