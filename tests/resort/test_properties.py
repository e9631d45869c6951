"""The properties domain over the real app, on every dialect."""

from __future__ import annotations

import httpx

from tests.conftest import guest_headers


async def test_property_lifecycle(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    created = await client.post(
        "/api/v1/properties",
        json={"code": "LIFE-1", "name": "Lifecycle Bay", "city": "Krabi", "country": "TH"},
        headers=staff,
    )
    assert created.status_code == 201, created.text
    property_id = created.json()["id"]

    fetched = await client.get(f"/api/v1/properties/{property_id}")
    assert fetched.json()["name"] == "Lifecycle Bay"

    patched = await client.patch(
        f"/api/v1/properties/{property_id}", json={"star_rating": 5}, headers=staff
    )
    assert patched.json()["star_rating"] == 5

    duplicate = await client.post(
        "/api/v1/properties",
        json={"code": "LIFE-1", "name": "Again", "city": "Krabi", "country": "TH"},
        headers=staff,
    )
    assert duplicate.status_code == 409
    assert duplicate.headers["content-type"] == "application/problem+json"

    deleted = await client.delete(f"/api/v1/properties/{property_id}", headers=staff)
    assert deleted.status_code == 204
    gone = await client.get(f"/api/v1/properties/{property_id}")
    assert gone.status_code == 404
    assert gone.json()["status"] == 404


async def test_rooms_belong_to_their_property(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    first = (
        await client.post(
            "/api/v1/properties",
            json={"code": "ROOMS-A", "name": "A", "city": "Phuket", "country": "TH"},
            headers=staff,
        )
    ).json()
    second = (
        await client.post(
            "/api/v1/properties",
            json={"code": "ROOMS-B", "name": "B", "city": "Phuket", "country": "TH"},
            headers=staff,
        )
    ).json()
    room_type = await client.post(
        f"/api/v1/properties/{first['id']}/room-types",
        json={"code": "DLX", "name": "Deluxe", "max_occupancy": 2, "base_rate": "120.00"},
        headers=staff,
    )
    assert room_type.status_code == 201, room_type.text
    foreign = await client.post(
        f"/api/v1/properties/{second['id']}/rooms",
        json={"room_type_id": room_type.json()["id"], "number": "101", "floor": 1},
        headers=staff,
    )
    assert foreign.status_code == 422
    for number in ("101", "102", "103"):
        room = await client.post(
            f"/api/v1/properties/{first['id']}/rooms",
            json={"room_type_id": room_type.json()["id"], "number": number, "floor": 1},
            headers=staff,
        )
        assert room.status_code == 201, room.text
    page = await client.get(f"/api/v1/properties/{first['id']}/rooms", params={"limit": 2})
    body = page.json()
    assert [room["number"] for room in body["data"]] == ["101", "102"]
    assert body["meta"] == {"limit": 2, "count": 2}
    assert body["links"]["next"] is not None
    rest = await client.get(body["links"]["next"])
    assert [room["number"] for room in rest.json()["data"]] == ["103"]
    assert rest.json()["links"]["next"] is None


async def test_writes_need_a_staff_token(client: httpx.AsyncClient) -> None:
    payload = {"code": "NOPE", "name": "No", "city": "X", "country": "TH"}
    anonymous = await client.post("/api/v1/properties", json=payload)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    as_guest = await client.post("/api/v1/properties", json=payload, headers=guest_headers(1))
    assert as_guest.status_code == 403


async def test_validation_errors_are_problem_documents(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/properties", params={"country": "thailand"})
    assert response.status_code == 422
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert body["status"] == 422
    assert body["errors"][0]["location"] == "query.country"


async def test_deleting_a_property_removes_its_catalogue(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    created = await client.post(
        "/api/v1/properties",
        json={"code": "GONE-1", "name": "Gone", "city": "Trat", "country": "TH"},
        headers=staff,
    )
    property_id = created.json()["id"]
    room_type = await client.post(
        f"/api/v1/properties/{property_id}/room-types",
        json={"code": "STD", "name": "Standard", "max_occupancy": 2, "base_rate": "80.00"},
        headers=staff,
    )
    await client.post(
        f"/api/v1/properties/{property_id}/rooms",
        json={"room_type_id": room_type.json()["id"], "number": "1", "floor": 0},
        headers=staff,
    )
    deleted = await client.delete(f"/api/v1/properties/{property_id}", headers=staff)
    assert deleted.status_code == 204, deleted.text
    gone = await client.get(f"/api/v1/room-types/{room_type.json()['id']}")
    assert gone.status_code == 404
