"""No guest-scoped endpoint ever shows or changes one guest's data for anybody else.

Every endpoint is tried with another guest's token (404 for the victim's booking, the
caller's own data otherwise), with no token, an expired token, a token signed with another
secret, a token whose payload was edited, and an unsigned token (all 401).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from banrimkwae.resort.auth import issue_token
from tests.conftest import TEST_SECRET
from tests.resort.test_bookings import (
    book,
    booked,
    create_property,
    create_room_type,
    create_rooms,
    day,
)
from tests.resort.test_guests import register_guest


@dataclass(frozen=True)
class Scene:
    victim: dict[str, Any]
    victim_headers: dict[str, str]
    victim_booking: dict[str, Any]
    intruder: dict[str, Any]
    intruder_headers: dict[str, str]
    property_id: int
    room_type_id: int


@pytest.fixture(scope="module")
async def scene(client: httpx.AsyncClient, staff: dict[str, str]) -> Scene:
    property_id = await create_property(client, staff)
    room_type_id = await create_room_type(
        client, staff, property_id, code="DLX", max_occupancy=2, base_rate="150.00"
    )
    await create_rooms(client, staff, property_id, room_type_id, "101", "102", "103", "104")
    victim, victim_headers = await register_guest(client, first_name="Victim", phone="+66 1")
    intruder, intruder_headers = await register_guest(client, first_name="Intruder")
    booking = await booked(client, victim_headers, property_id, room_type_id, day(3), day(6))
    return Scene(
        victim, victim_headers, booking, intruder, intruder_headers, property_id, room_type_id
    )


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def no_token(scene: Scene) -> dict[str, str]:
    return {}


def expired(scene: Scene) -> dict[str, str]:
    return _bearer(issue_token(TEST_SECRET, scene.victim["id"], "guest", -30))


def signed_with_another_secret(scene: Scene) -> dict[str, str]:
    return _bearer(issue_token("not-the-server-secret-" * 3, scene.victim["id"], "guest", 600))


def payload_edited(scene: Scene) -> dict[str, str]:
    # The intruder's genuine token with the subject rewritten to the victim's id.
    header, _, signature = scene.intruder_headers["Authorization"].split()[1].split(".")
    claims = _claims(scene.intruder_headers["Authorization"].split()[1])
    claims["sub"] = str(scene.victim["id"])
    return _bearer(f"{header}.{_b64(claims)}.{signature}")


def unsigned(scene: Scene) -> dict[str, str]:
    claims = _claims(scene.intruder_headers["Authorization"].split()[1])
    claims["sub"] = str(scene.victim["id"])
    return _bearer(f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.")


def malformed(scene: Scene) -> dict[str, str]:
    return _bearer("not-a-token")


Call = Callable[[httpx.AsyncClient, Scene, dict[str, str]], Awaitable[httpx.Response]]


async def get_me(
    client: httpx.AsyncClient, scene: Scene, headers: dict[str, str]
) -> httpx.Response:
    return await client.get("/api/v1/guests/me", headers=headers)


async def patch_me(
    client: httpx.AsyncClient, scene: Scene, headers: dict[str, str]
) -> httpx.Response:
    return await client.patch("/api/v1/guests/me", json={"last_name": "Changed"}, headers=headers)


async def my_bookings(
    client: httpx.AsyncClient, scene: Scene, headers: dict[str, str]
) -> httpx.Response:
    return await client.get("/api/v1/guests/me/bookings", headers=headers)


async def read_booking(
    client: httpx.AsyncClient, scene: Scene, headers: dict[str, str]
) -> httpx.Response:
    return await client.get(f"/api/v1/bookings/{scene.victim_booking['id']}", headers=headers)


async def cancel_booking(
    client: httpx.AsyncClient, scene: Scene, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(
        f"/api/v1/bookings/{scene.victim_booking['id']}/cancel", headers=headers
    )


async def create_booking(
    client: httpx.AsyncClient, scene: Scene, headers: dict[str, str]
) -> httpx.Response:
    return await book(client, headers, scene.property_id, scene.room_type_id, day(20), day(21))


ENDPOINTS = [get_me, patch_me, my_bookings, read_booking, cancel_booking, create_booking]
BAD_CREDENTIALS = [
    no_token,
    expired,
    signed_with_another_secret,
    payload_edited,
    unsigned,
    malformed,
]


def _reveals_victim(response: httpx.Response, scene: Scene) -> bool:
    text = response.text
    return scene.victim["email"] in text or scene.victim_booking["reference"] in text


async def _victim_is_untouched(client: httpx.AsyncClient, scene: Scene) -> None:
    me = await client.get("/api/v1/guests/me", headers=scene.victim_headers)
    assert me.json() == scene.victim
    mine = await client.get("/api/v1/guests/me/bookings", headers=scene.victim_headers)
    assert mine.json()["data"] == [scene.victim_booking]


@pytest.mark.parametrize("credentials", BAD_CREDENTIALS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda f: f.__name__)
async def test_bad_credentials_are_refused(
    client: httpx.AsyncClient,
    scene: Scene,
    endpoint: Call,
    credentials: Callable[[Scene], dict[str, str]],
) -> None:
    response = await endpoint(client, scene, credentials(scene))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert not _reveals_victim(response, scene)
    await _victim_is_untouched(client, scene)


async def test_another_guest_sees_only_itself(client: httpx.AsyncClient, scene: Scene) -> None:
    intruder = scene.intruder_headers
    me = await get_me(client, scene, intruder)
    assert me.status_code == 200
    assert me.json()["id"] == scene.intruder["id"]

    patched = await patch_me(client, scene, intruder)
    assert patched.json()["id"] == scene.intruder["id"]
    assert patched.json()["last_name"] == "Changed"

    listed = await my_bookings(client, scene, intruder)
    assert listed.status_code == 200
    assert all(row["guest_id"] == scene.intruder["id"] for row in listed.json()["data"])

    created = await create_booking(client, scene, intruder)
    assert created.status_code == 201
    assert created.json()["guest_id"] == scene.intruder["id"]

    for response in (me, patched, listed, created):
        assert not _reveals_victim(response, scene)
    await _victim_is_untouched(client, scene)


@pytest.mark.parametrize("endpoint", [read_booking, cancel_booking], ids=lambda f: f.__name__)
async def test_another_guests_booking_does_not_exist(
    client: httpx.AsyncClient, scene: Scene, endpoint: Call
) -> None:
    response = await endpoint(client, scene, scene.intruder_headers)
    # 404 exactly like a booking id nobody has: the answer does not confirm the booking exists.
    assert response.status_code == 404
    assert not _reveals_victim(response, scene)
    assert response.json()["detail"] == f"booking {scene.victim_booking['id']} does not exist"
    missing = await client.get("/api/v1/bookings/987654321", headers=scene.intruder_headers)
    assert missing.json()["detail"] == "booking 987654321 does not exist"
    await _victim_is_untouched(client, scene)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda f: f.__name__)
async def test_staff_token_is_not_a_guest(
    client: httpx.AsyncClient, scene: Scene, staff: dict[str, str], endpoint: Call
) -> None:
    response = await endpoint(client, scene, staff)
    assert response.status_code == 403
    assert not _reveals_victim(response, scene)
    await _victim_is_untouched(client, scene)
