"""Guest registration, sign-in and profiles over the real app, on every dialect."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.conftest import guest_headers


def unique_email(prefix: str = "guest") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.test"


async def register_guest(
    client: httpx.AsyncClient, *, password: str = "correct horse battery", **fields: Any
) -> tuple[dict[str, Any], dict[str, str]]:
    """A guest registered through the API, with headers carrying a token from /auth/token."""
    body = {
        "email": unique_email(),
        "password": password,
        "first_name": "Malee",
        "last_name": "Srisuk",
        "country": "TH",
        **fields,
    }
    registered = await client.post("/api/v1/guests", json=body)
    assert registered.status_code == 201, registered.text
    token = await client.post(
        "/api/v1/auth/token", json={"email": body["email"], "password": password}
    )
    assert token.status_code == 200, token.text
    return registered.json(), {"Authorization": f"Bearer {token.json()['access_token']}"}


async def test_register_sign_in_and_see_yourself(client: httpx.AsyncClient) -> None:
    email = unique_email("Mixed.Case")
    registered = await client.post(
        "/api/v1/guests",
        json={
            "email": email,
            "password": "a long enough secret",
            "first_name": "Somchai",
            "last_name": "Jaidee",
            "country": "TH",
            "phone": "+66 81 234 5678",
        },
    )
    assert registered.status_code == 201, registered.text
    guest = registered.json()
    assert guest["email"] == email.lower()
    assert guest["phone"] == "+66 81 234 5678"
    assert not any("password" in key for key in guest)

    # Sign-in accepts the address in any case, as it was typed at registration.
    token = await client.post(
        "/api/v1/auth/token", json={"email": email, "password": "a long enough secret"}
    )
    assert token.status_code == 200, token.text
    issued = token.json()
    assert issued["token_type"] == "bearer"
    assert issued["expires_in"] == 3600
    headers = {"Authorization": f"Bearer {issued['access_token']}"}

    me = await client.get("/api/v1/guests/me", headers=headers)
    assert me.status_code == 200
    assert me.json() == guest


async def test_guest_updates_own_profile(client: httpx.AsyncClient) -> None:
    guest, headers = await register_guest(client, phone="+66 2 000 0000")
    patched = await client.patch(
        "/api/v1/guests/me",
        json={"first_name": "Nok", "country": "LA", "phone": None},
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["first_name"] == "Nok"
    assert patched.json()["country"] == "LA"
    assert patched.json()["phone"] is None
    assert patched.json()["last_name"] == guest["last_name"]
    assert patched.json()["email"] == guest["email"]

    invalid = await client.patch("/api/v1/guests/me", json={"country": "Lao"}, headers=headers)
    assert invalid.status_code == 422
    assert (await client.get("/api/v1/guests/me", headers=headers)).json()["country"] == "LA"


async def test_email_registers_once_in_any_case(client: httpx.AsyncClient) -> None:
    guest, _ = await register_guest(client)
    again = await client.post(
        "/api/v1/guests",
        json={
            "email": guest["email"].upper(),
            "password": "another password",
            "first_name": "X",
            "last_name": "Y",
            "country": "TH",
        },
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


async def test_registration_rejects_weak_or_malformed_input(client: httpx.AsyncClient) -> None:
    valid = {
        "email": unique_email(),
        "password": "long enough pass",
        "first_name": "A",
        "last_name": "B",
        "country": "TH",
    }
    for field, bad in (
        ("password", "ninechars"),
        ("email", "not-an-email"),
        ("country", "tha"),
        ("country", "th"),
        ("first_name", ""),
    ):
        response = await client.post("/api/v1/guests", json={**valid, field: bad})
        assert response.status_code == 422, (field, bad)
        assert response.json()["errors"][0]["location"] == f"body.{field}"
    # Nothing was stored by the rejected attempts.
    assert (await client.post("/api/v1/guests", json=valid)).status_code == 201


async def test_wrong_email_and_wrong_password_look_the_same(client: httpx.AsyncClient) -> None:
    guest, _ = await register_guest(client, password="the right password")
    wrong_password = await client.post(
        "/api/v1/auth/token", json={"email": guest["email"], "password": "the wrong password"}
    )
    unknown_email = await client.post(
        "/api/v1/auth/token",
        json={"email": unique_email("nobody"), "password": "the right password"},
    )
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json()["detail"] == unknown_email.json()["detail"]
    assert "access_token" not in wrong_password.text


async def test_staff_lists_and_reads_guests(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    guest, headers = await register_guest(client)
    found = await client.get(
        "/api/v1/guests", params={"email": guest["email"].upper()}, headers=staff
    )
    assert found.status_code == 200
    assert found.json()["data"] == [guest]
    assert found.json()["meta"]["count"] == 1

    page = await client.get("/api/v1/guests", params={"limit": 1}, headers=staff)
    assert page.json()["meta"]["count"] == 1

    one = await client.get(f"/api/v1/guests/{guest['id']}", headers=staff)
    assert one.json() == guest
    missing = await client.get("/api/v1/guests/987654321", headers=staff)
    assert missing.status_code == 404

    # A guest cannot use the staff views, not even for itself.
    assert (await client.get("/api/v1/guests", headers=headers)).status_code == 403
    as_guest = await client.get(f"/api/v1/guests/{guest['id']}", headers=headers)
    assert as_guest.status_code == 403
    assert (await client.get("/api/v1/guests")).status_code == 401


async def test_token_of_a_guest_that_does_not_exist(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/guests/me", headers=guest_headers(987654321))
    assert response.status_code == 401
