"""The activities domain over the real app, on every dialect."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from banrimkwae.config import Settings
from banrimkwae.perf.db import Database
from banrimkwae.resort.guests.models import Guest
from tests.conftest import guest_headers

NewGuest = Callable[[], Awaitable[int]]
UTC_INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture(scope="session")
async def database(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_url)
    yield database
    await database.dispose()


@pytest.fixture
def new_guest(database: Database) -> NewGuest:
    """Registers a guest straight in the database and returns the guest's id."""

    async def create() -> int:
        async with database.sessions() as session:
            guest = Guest(
                email=f"{uuid.uuid4().hex}@example.com",
                first_name="Test",
                last_name="Guest",
                country="TH",
                password_hash="!",
            )
            session.add(guest)
            await session.commit()
            return guest.id

    return create


def _in(delta: dt.timedelta) -> str:
    """An instant `delta` from now, to whole seconds, as ISO 8601 with its offset."""
    return (dt.datetime.now(dt.UTC) + delta).replace(microsecond=0).isoformat()


async def _property(client: httpx.AsyncClient, staff: dict[str, str]) -> int:
    code = f"ACT-{uuid.uuid4().hex[:8].upper()}"
    created = await client.post(
        "/api/v1/properties",
        json={"code": code, "name": "Activity Bay", "city": "Krabi", "country": "TH"},
        headers=staff,
    )
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


async def _activity(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    *,
    property_id: int | None = None,
    name: str = "Sunset Kayak",
    category: str = "water",
    capacity: int = 4,
) -> dict[str, Any]:
    if property_id is None:
        property_id = await _property(client, staff)
    created = await client.post(
        f"/api/v1/properties/{property_id}/activities",
        json={
            "name": name,
            "category": category,
            "duration_minutes": 90,
            "price": "45.00",
            "capacity": capacity,
        },
        headers=staff,
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


async def _session(
    client: httpx.AsyncClient, staff: dict[str, str], activity_id: int, **body: Any
) -> dict[str, Any]:
    created = await client.post(
        f"/api/v1/activities/{activity_id}/sessions", json=body, headers=staff
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


async def _book(
    client: httpx.AsyncClient, session_id: int, guest_id: int, participants: int = 1
) -> httpx.Response:
    return await client.post(
        f"/api/v1/activity-sessions/{session_id}/bookings",
        json={"participants": participants},
        headers=guest_headers(guest_id),
    )


async def _sessions(
    client: httpx.AsyncClient, activity_id: int, **params: str
) -> list[dict[str, Any]]:
    listed = await client.get(f"/api/v1/activities/{activity_id}/sessions", params=params)
    assert listed.status_code == 200, listed.text
    return list(listed.json()["data"])


async def test_activity_catalogue(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    property_id = await _property(client, staff)
    kayak = await _activity(client, staff, property_id=property_id, name="Kayak", category="water")
    await _activity(client, staff, property_id=property_id, name="Cooking", category="culture")
    await _activity(client, staff, property_id=property_id, name="Diving", category="water")

    listed = await client.get(f"/api/v1/properties/{property_id}/activities")
    assert [row["name"] for row in listed.json()["data"]] == ["Cooking", "Diving", "Kayak"]
    water = await client.get(
        f"/api/v1/properties/{property_id}/activities", params={"category": "water"}
    )
    assert [row["name"] for row in water.json()["data"]] == ["Diving", "Kayak"]
    assert water.json()["meta"] == {"limit": 50, "count": 2}

    patched = await client.patch(
        f"/api/v1/activities/{kayak['id']}", json={"price": "50.00"}, headers=staff
    )
    assert patched.json()["price"] == "50.00"
    fetched = await client.get(f"/api/v1/activities/{kayak['id']}")
    assert fetched.json()["price"] == "50.00"

    missing = await client.get("/api/v1/properties/999999/activities")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"

    deleted = await client.delete(f"/api/v1/activities/{kayak['id']}", headers=staff)
    assert deleted.status_code == 204
    assert (await client.get(f"/api/v1/activities/{kayak['id']}")).status_code == 404


async def test_activity_writes_need_staff(
    client: httpx.AsyncClient, staff: dict[str, str], new_guest: NewGuest
) -> None:
    activity = await _activity(client, staff)
    url = f"/api/v1/activities/{activity['id']}/sessions"
    body = {"starts_at": _in(dt.timedelta(days=1))}
    assert (await client.post(url, json=body)).status_code == 401
    as_guest = await client.post(url, json=body, headers=guest_headers(await new_guest()))
    assert as_guest.status_code == 403
    assert as_guest.headers["content-type"] == "application/problem+json"


async def test_sessions_show_remaining_capacity(
    client: httpx.AsyncClient, staff: dict[str, str], new_guest: NewGuest
) -> None:
    activity = await _activity(client, staff, capacity=4)
    # Created out of order: the listing orders by start.
    third = await _session(client, staff, activity["id"], starts_at=_in(dt.timedelta(days=3)))
    first = await _session(client, staff, activity["id"], starts_at=_in(dt.timedelta(days=1)))
    second = await _session(
        client, staff, activity["id"], starts_at=_in(dt.timedelta(days=2)), capacity=2
    )
    far = await _session(client, staff, activity["id"], starts_at=_in(dt.timedelta(days=20)))
    assert first["capacity"] == 4 and second["capacity"] == 2
    assert first["booked"] == 0 and first["remaining"] == 4

    alice, bob = await new_guest(), await new_guest()
    assert (await _book(client, first["id"], alice, 3)).status_code == 201
    bob_booking = await _book(client, first["id"], bob, 1)
    assert bob_booking.status_code == 201
    assert (await _book(client, second["id"], alice, 2)).status_code == 201

    default_window = await _sessions(client, activity["id"])
    assert [row["id"] for row in default_window] == [first["id"], second["id"], third["id"]]
    assert [(row["booked"], row["remaining"]) for row in default_window] == [
        (4, 0),
        (2, 0),
        (0, 4),
    ]
    available = await _sessions(client, activity["id"], available_only="true")
    assert [row["id"] for row in available] == [third["id"]]

    cancelled = await client.post(
        f"/api/v1/activity-bookings/{bob_booking.json()['id']}/cancel",
        headers=guest_headers(bob),
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    after = await _sessions(client, activity["id"], available_only="true")
    assert [(row["id"], row["remaining"]) for row in after] == [(first["id"], 1), (third["id"], 4)]

    later = await _sessions(
        client,
        activity["id"],
        **{"from": _in(dt.timedelta(days=10)), "to": _in(dt.timedelta(days=30))},
    )
    assert [row["id"] for row in later] == [far["id"]]


async def test_session_window_is_validated(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    activity = await _activity(client, staff)
    url = f"/api/v1/activities/{activity['id']}/sessions"
    too_wide = await client.get(
        url, params={"from": _in(dt.timedelta(0)), "to": _in(dt.timedelta(days=93))}
    )
    assert too_wide.status_code == 422
    assert too_wide.headers["content-type"] == "application/problem+json"
    backwards = await client.get(
        url, params={"from": _in(dt.timedelta(days=2)), "to": _in(dt.timedelta(days=1))}
    )
    assert backwards.status_code == 422
    naive = await client.get(url, params={"from": "2031-01-01T00:00:00"})
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["location"] == "query.from"
    assert (await client.get("/api/v1/activities/999999/sessions")).status_code == 404


async def test_full_session_and_double_booking_answer_409(
    client: httpx.AsyncClient, staff: dict[str, str], new_guest: NewGuest
) -> None:
    activity = await _activity(client, staff, capacity=2)
    session = await _session(client, staff, activity["id"], starts_at=_in(dt.timedelta(days=1)))
    alice, bob = await new_guest(), await new_guest()

    first = await _book(client, session["id"], alice, 2)
    assert first.status_code == 201, first.text
    assert first.json()["participants"] == 2 and first.json()["status"] == "booked"
    full = await _book(client, session["id"], bob, 1)
    assert full.status_code == 409
    assert full.headers["content-type"] == "application/problem+json"
    assert full.json()["remaining"] == 0
    twice = await _book(client, session["id"], alice, 1)
    assert twice.status_code == 409

    await client.post(
        f"/api/v1/activity-bookings/{first.json()['id']}/cancel", headers=guest_headers(alice)
    )
    assert (await _book(client, session["id"], bob, 1)).status_code == 201
    # Alice's cancelled booking comes back to life with the places she asks for now.
    again = await _book(client, session["id"], alice, 1)
    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["participants"] == 1
    assert (await _sessions(client, activity["id"]))[0]["remaining"] == 0


async def test_concurrent_bookings_never_overbook(
    client: httpx.AsyncClient, staff: dict[str, str], new_guest: NewGuest
) -> None:
    activity = await _activity(client, staff, capacity=3)
    session = await _session(client, staff, activity["id"], starts_at=_in(dt.timedelta(days=1)))
    guests = [await new_guest() for _ in range(6)]
    answers = await asyncio.gather(*(_book(client, session["id"], guest) for guest in guests))
    assert sorted(answer.status_code for answer in answers) == [201, 201, 201, 409, 409, 409]
    listed = await _sessions(client, activity["id"])
    assert (listed[0]["booked"], listed[0]["remaining"]) == (3, 0)


async def test_past_session_cannot_be_booked(
    client: httpx.AsyncClient, staff: dict[str, str], new_guest: NewGuest
) -> None:
    activity = await _activity(client, staff)
    past = await _session(client, staff, activity["id"], starts_at=_in(-dt.timedelta(hours=1)))
    answer = await _book(client, past["id"], await new_guest())
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    missing = await _book(client, 999999, await new_guest())
    assert missing.status_code == 404


async def test_cancellation_is_own_only(
    client: httpx.AsyncClient, staff: dict[str, str], new_guest: NewGuest
) -> None:
    activity = await _activity(client, staff)
    early = await _session(client, staff, activity["id"], starts_at=_in(dt.timedelta(days=1)))
    late = await _session(client, staff, activity["id"], starts_at=_in(dt.timedelta(days=2)))
    alice, mallory = await new_guest(), await new_guest()
    first = (await _book(client, early["id"], alice)).json()
    second = (await _book(client, late["id"], alice, 2)).json()
    cancel_url = f"/api/v1/activity-bookings/{first['id']}/cancel"

    assert (await client.post(cancel_url)).status_code == 401
    foreign = await client.post(cancel_url, headers=guest_headers(mallory))
    assert foreign.status_code == 404
    assert foreign.headers["content-type"] == "application/problem+json"
    assert (await client.post(cancel_url, headers=staff)).status_code == 403

    mine = await client.get("/api/v1/guests/me/activity-bookings", headers=guest_headers(alice))
    assert [row["id"] for row in mine.json()["data"]] == [second["id"], first["id"]]
    assert mine.json()["data"][1]["activity_name"] == activity["name"]
    theirs = await client.get("/api/v1/guests/me/activity-bookings", headers=guest_headers(mallory))
    assert theirs.json()["data"] == []
    assert (await client.get("/api/v1/guests/me/activity-bookings")).status_code == 401

    own = await client.post(cancel_url, headers=guest_headers(alice))
    assert own.status_code == 200
    assert own.json()["status"] == "cancelled"
    assert (await _sessions(client, activity["id"]))[0]["remaining"] == activity["capacity"]


async def test_session_with_booked_guests_cannot_be_deleted(
    client: httpx.AsyncClient, staff: dict[str, str], new_guest: NewGuest
) -> None:
    activity = await _activity(client, staff)
    session = await _session(client, staff, activity["id"], starts_at=_in(dt.timedelta(days=1)))
    guest = await new_guest()
    booking = (await _book(client, session["id"], guest)).json()
    session_url = f"/api/v1/activity-sessions/{session['id']}"
    assert (await client.delete(session_url, headers=staff)).status_code == 409
    assert (
        await client.delete(f"/api/v1/activities/{activity['id']}", headers=staff)
    ).status_code == 409

    await client.post(
        f"/api/v1/activity-bookings/{booking['id']}/cancel", headers=guest_headers(guest)
    )
    assert (await client.delete(session_url, headers=staff)).status_code == 204
    assert (await client.get(session_url)).status_code == 404


async def test_times_are_utc_on_every_dialect(
    client: httpx.AsyncClient, staff: dict[str, str], new_guest: NewGuest
) -> None:
    activity = await _activity(client, staff)
    # Bangkok time in, UTC out, fractions dropped: the same bytes on SQLite, PostgreSQL, MariaDB.
    created = await _session(
        client, staff, activity["id"], starts_at="2031-03-04T12:30:45.678+07:00"
    )
    assert created["starts_at"] == "2031-03-04T05:30:45Z"
    fetched = await client.get(f"/api/v1/activity-sessions/{created['id']}")
    assert fetched.json() == created
    listed = await _sessions(
        client, activity["id"], **{"from": "2031-03-04T05:30:45Z", "to": "2031-03-04T05:30:46Z"}
    )
    assert listed == [created]

    same_instant = await client.post(
        f"/api/v1/activities/{activity['id']}/sessions",
        json={"starts_at": "2031-03-04T05:30:45+00:00"},
        headers=staff,
    )
    assert same_instant.status_code == 409

    booking = (await _book(client, created["id"], await new_guest())).json()
    assert booking["starts_at"] == "2031-03-04T05:30:45Z"
    assert UTC_INSTANT.match(booking["created_at"]), booking["created_at"]


async def test_validation_errors_are_problem_documents(
    client: httpx.AsyncClient, staff: dict[str, str], new_guest: NewGuest
) -> None:
    activity = await _activity(client, staff)
    naive = await client.post(
        f"/api/v1/activities/{activity['id']}/sessions",
        json={"starts_at": "2031-01-01T09:00:00"},
        headers=staff,
    )
    assert naive.status_code == 422
    assert naive.headers["content-type"] == "application/problem+json"
    assert naive.json()["errors"][0]["location"] == "body.starts_at"

    session = await _session(client, staff, activity["id"], starts_at=_in(dt.timedelta(days=1)))
    nobody = await _book(client, session["id"], await new_guest(), participants=0)
    assert nobody.status_code == 422
    assert nobody.json()["errors"][0]["location"] == "body.participants"
