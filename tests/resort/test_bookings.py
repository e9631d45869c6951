"""Availability, bookings and the staff's front-desk views over the real app, on every dialect."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import httpx

from tests.resort.test_guests import register_guest

MARCH = dt.date(2031, 3, 1)


def day(number: int) -> str:
    """A date in March 2031, far enough ahead never to be in the past."""
    return (MARCH + dt.timedelta(days=number - 1)).isoformat()


async def create_property(client: httpx.AsyncClient, staff: dict[str, str]) -> int:
    code = f"BK-{uuid.uuid4().hex[:8].upper()}"
    response = await client.post(
        "/api/v1/properties",
        json={"code": code, "name": f"Resort {code}", "city": "Krabi", "country": "TH"},
        headers=staff,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def create_room_type(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    property_id: int,
    *,
    code: str,
    max_occupancy: int,
    base_rate: str,
) -> int:
    response = await client.post(
        f"/api/v1/properties/{property_id}/room-types",
        json={"code": code, "name": code, "max_occupancy": max_occupancy, "base_rate": base_rate},
        headers=staff,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def create_rooms(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    property_id: int,
    room_type_id: int,
    *numbers: str,
    status: str = "in_service",
) -> list[int]:
    ids = []
    for number in numbers:
        response = await client.post(
            f"/api/v1/properties/{property_id}/rooms",
            json={"room_type_id": room_type_id, "number": number, "floor": 1, "status": status},
            headers=staff,
        )
        assert response.status_code == 201, response.text
        ids.append(int(response.json()["id"]))
    return ids


async def book(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    property_id: int,
    room_type_id: int,
    check_in: str,
    check_out: str,
    *,
    adults: int = 2,
    children: int = 0,
) -> httpx.Response:
    return await client.post(
        "/api/v1/bookings",
        json={
            "property_id": property_id,
            "room_type_id": room_type_id,
            "check_in": check_in,
            "check_out": check_out,
            "adults": adults,
            "children": children,
        },
        headers=headers,
    )


async def booked(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    property_id: int,
    room_type_id: int,
    check_in: str,
    check_out: str,
) -> dict[str, Any]:
    response = await book(client, headers, property_id, room_type_id, check_in, check_out)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def free_rooms(
    client: httpx.AsyncClient, property_id: int, check_in: str, check_out: str, **params: Any
) -> dict[str, int]:
    """Room type code -> available rooms, as the public availability search answers."""
    response = await client.get(
        f"/api/v1/properties/{property_id}/availability",
        params={"check_in": check_in, "check_out": check_out, **params},
    )
    assert response.status_code == 200, response.text
    return {row["code"]: row["available_rooms"] for row in response.json()["data"]}


async def test_availability_excludes_held_and_out_of_service_rooms(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    property_id = await create_property(client, staff)
    deluxe = await create_room_type(
        client, staff, property_id, code="DLX", max_occupancy=2, base_rate="100.00"
    )
    family = await create_room_type(
        client, staff, property_id, code="FAM", max_occupancy=4, base_rate="250.50"
    )
    await create_room_type(client, staff, property_id, code="EMPTY", max_occupancy=2, base_rate="1")
    await create_rooms(client, staff, property_id, deluxe, "101", "102", "103")
    await create_rooms(client, staff, property_id, deluxe, "104", status="out_of_service")
    await create_rooms(client, staff, property_id, family, "201", "202")
    _, guest = await register_guest(client)

    await booked(client, guest, property_id, deluxe, day(10), day(13))
    await booked(client, guest, property_id, deluxe, day(10), day(13))
    cancelled = await booked(client, guest, property_id, deluxe, day(10), day(13))
    cancel = await client.post(f"/api/v1/bookings/{cancelled['id']}/cancel", headers=guest)
    assert cancel.status_code == 200

    # Two deluxe rooms are held; the cancelled stay and the room out of service do not count.
    assert await free_rooms(client, property_id, day(10), day(13)) == {
        "DLX": 1,
        "FAM": 2,
        "EMPTY": 0,
    }
    assert (await free_rooms(client, property_id, day(12), day(14)))["DLX"] == 1
    assert (await free_rooms(client, property_id, day(1), day(31)))["DLX"] == 1
    # A stay may begin the day another ends, and end the day another begins.
    assert (await free_rooms(client, property_id, day(13), day(15)))["DLX"] == 3
    assert (await free_rooms(client, property_id, day(5), day(10)))["DLX"] == 3

    assert await free_rooms(client, property_id, day(10), day(13), guests=3) == {"FAM": 2}
    assert await free_rooms(client, property_id, day(10), day(13), room_type_id=deluxe) == {
        "DLX": 1
    }

    response = await client.get(
        f"/api/v1/properties/{property_id}/availability",
        params={"check_in": day(10), "check_out": day(13), "guests": 4, "limit": 1},
    )
    body = response.json()
    (row,) = body["data"]
    assert row["id"] == family
    assert row["nights"] == 3
    assert Decimal(row["total_price"]) == Decimal("751.50")
    assert Decimal(row["base_rate"]) == Decimal("250.50")
    assert body["meta"] == {"limit": 1, "count": 1}


async def test_availability_rejects_bad_ranges(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    property_id = await create_property(client, staff)
    url = f"/api/v1/properties/{property_id}/availability"
    for check_in, check_out in ((day(5), day(5)), (day(6), day(5))):
        response = await client.get(url, params={"check_in": check_in, "check_out": check_out})
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
    thirty = (MARCH + dt.timedelta(days=30)).isoformat()
    assert (await client.get(url, params={"check_in": day(1), "check_out": thirty})).is_success
    too_long = await client.get(url, params={"check_in": day(1), "check_out": day(32)})
    assert too_long.status_code == 422
    assert (
        await client.get(url, params={"check_in": "2031-02-30", "check_out": day(2)})
    ).status_code == 422
    unknown = await client.get(
        "/api/v1/properties/987654321/availability",
        params={"check_in": day(1), "check_out": day(2)},
    )
    assert unknown.status_code == 404


async def test_guest_books_reads_lists_and_cancels(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    property_id = await create_property(client, staff)
    deluxe = await create_room_type(
        client, staff, property_id, code="DLX", max_occupancy=3, base_rate="120.00"
    )
    rooms = await create_rooms(client, staff, property_id, deluxe, "101", "102")
    guest, headers = await register_guest(client)

    created = await book(client, headers, property_id, deluxe, day(3), day(7), adults=2, children=1)
    assert created.status_code == 201, created.text
    booking = created.json()
    assert booking["status"] == "confirmed"
    assert booking["guest_id"] == guest["id"]
    assert booking["room_id"] == rooms[0]
    assert Decimal(booking["total_amount"]) == Decimal("480.00")
    assert len(booking["reference"]) == 10
    assert booking["reference"].isalnum()

    second = await booked(client, headers, property_id, deluxe, day(3), day(7))
    assert second["room_id"] == rooms[1]
    assert second["reference"] != booking["reference"]

    fetched = await client.get(f"/api/v1/bookings/{booking['id']}", headers=headers)
    assert fetched.json() == booking

    cancelled = await client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    again = await client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=headers)
    assert again.status_code == 409
    # The cancelled room is free again, and goes to the next guest.
    rebooked = await booked(client, headers, property_id, deluxe, day(4), day(6))
    assert rebooked["room_id"] == rooms[0]


async def test_booking_refused_when_full_or_unfit(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    property_id = await create_property(client, staff)
    other_property = await create_property(client, staff)
    single = await create_room_type(
        client, staff, property_id, code="TWN", max_occupancy=2, base_rate="60.00"
    )
    foreign = await create_room_type(
        client, staff, other_property, code="TWN", max_occupancy=2, base_rate="60.00"
    )
    await create_rooms(client, staff, property_id, single, "1")
    await create_rooms(client, staff, property_id, single, "2", status="out_of_service")
    _, headers = await register_guest(client)

    await booked(client, headers, property_id, single, day(1), day(3))
    full = await book(client, headers, property_id, single, day(2), day(4), adults=1)
    assert full.status_code == 409
    assert full.headers["content-type"] == "application/problem+json"

    crowded = await book(
        client, headers, property_id, single, day(10), day(11), adults=2, children=1
    )
    assert crowded.status_code == 422
    wrong_property = await book(client, headers, property_id, foreign, day(10), day(11), adults=1)
    assert wrong_property.status_code == 422
    no_type = await book(client, headers, property_id, 987654321, day(10), day(11), adults=1)
    assert no_type.status_code == 422
    backwards = await book(client, headers, property_id, single, day(11), day(10), adults=1)
    assert backwards.status_code == 422

    mine = await client.get("/api/v1/guests/me/bookings", headers=headers)
    assert mine.json()["meta"]["count"] == 1


async def test_my_bookings_are_ordered_and_filtered(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    property_id = await create_property(client, staff)
    deluxe = await create_room_type(
        client, staff, property_id, code="DLX", max_occupancy=2, base_rate="90.00"
    )
    await create_rooms(client, staff, property_id, deluxe, "101", "102")
    _, headers = await register_guest(client)
    early = await booked(client, headers, property_id, deluxe, day(2), day(4))
    late = await booked(client, headers, property_id, deluxe, day(20), day(22))
    late_twin = await booked(client, headers, property_id, deluxe, day(20), day(21))
    await client.post(f"/api/v1/bookings/{early['id']}/cancel", headers=headers)

    listed = await client.get("/api/v1/guests/me/bookings", headers=headers)
    assert [row["id"] for row in listed.json()["data"]] == [
        late_twin["id"],
        late["id"],
        early["id"],
    ]
    only_cancelled = await client.get(
        "/api/v1/guests/me/bookings", params={"status": "cancelled"}, headers=headers
    )
    assert [row["id"] for row in only_cancelled.json()["data"]] == [early["id"]]
    paged = await client.get("/api/v1/guests/me/bookings", params={"limit": 2}, headers=headers)
    assert paged.json()["links"]["next"] is not None
    bad_filter = await client.get(
        "/api/v1/guests/me/bookings", params={"status": "lost"}, headers=headers
    )
    assert bad_filter.status_code == 422


async def test_staff_moves_bookings_through_their_lifecycle(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    property_id = await create_property(client, staff)
    deluxe = await create_room_type(
        client, staff, property_id, code="DLX", max_occupancy=2, base_rate="90.00"
    )
    await create_rooms(client, staff, property_id, deluxe, "101", "102")
    _, headers = await register_guest(client)
    stay = await booked(client, headers, property_id, deluxe, day(2), day(4))
    url = f"/api/v1/bookings/{stay['id']}"

    async def move(status: str) -> httpx.Response:
        return await client.patch(url, json={"status": status}, headers=staff)

    assert (await move("pending")).status_code == 409
    assert (await move("checked_out")).status_code == 409
    checked_in = await move("checked_in")
    assert checked_in.status_code == 200
    assert checked_in.json()["status"] == "checked_in"
    # In the house: the guest can no longer cancel, and the room is still held.
    assert (await client.post(f"{url}/cancel", headers=headers)).status_code == 409
    assert (await free_rooms(client, property_id, day(2), day(4)))["DLX"] == 1
    assert (await move("cancelled")).status_code == 409
    assert (await move("checked_out")).json()["status"] == "checked_out"
    assert (await move("checked_in")).status_code == 409
    assert (await free_rooms(client, property_id, day(2), day(4)))["DLX"] == 2

    other = await booked(client, headers, property_id, deluxe, day(8), day(9))
    cancelled = await client.patch(
        f"/api/v1/bookings/{other['id']}", json={"status": "cancelled"}, headers=staff
    )
    assert cancelled.json()["status"] == "cancelled"

    assert (await move("lost")).status_code == 422
    assert (
        await client.patch(url, json={"status": "checked_in"}, headers=headers)
    ).status_code == 403
    missing = await client.patch(
        "/api/v1/bookings/987654321", json={"status": "confirmed"}, headers=staff
    )
    assert missing.status_code == 404


async def test_arrivals_departures_and_occupancy(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    property_id = await create_property(client, staff)
    deluxe = await create_room_type(
        client, staff, property_id, code="DLX", max_occupancy=2, base_rate="90.00"
    )
    room_one, room_two, room_three = await create_rooms(
        client, staff, property_id, deluxe, "101", "102", "103"
    )
    await create_rooms(client, staff, property_id, deluxe, "104", status="out_of_service")
    first, first_headers = await register_guest(client)
    _, second_headers = await register_guest(client)

    a = await booked(client, first_headers, property_id, deluxe, day(1), day(3))
    b = await booked(client, second_headers, property_id, deluxe, day(2), day(4))
    dropped = await booked(client, second_headers, property_id, deluxe, day(2), day(3))
    c = await booked(client, first_headers, property_id, deluxe, day(3), day(5))
    assert (a["room_id"], b["room_id"], dropped["room_id"], c["room_id"]) == (
        room_one,
        room_two,
        room_three,
        room_one,
    )
    await client.post(f"/api/v1/bookings/{dropped['id']}/cancel", headers=second_headers)
    # A stay that has ended still counted on its nights.
    for status in ("checked_in", "checked_out"):
        await client.patch(f"/api/v1/bookings/{a['id']}", json={"status": status}, headers=staff)

    base = f"/api/v1/properties/{property_id}"
    arrivals = await client.get(f"{base}/arrivals", params={"date": day(2)}, headers=staff)
    assert arrivals.status_code == 200
    (arrival,) = arrivals.json()["data"]
    assert arrival["id"] == b["id"]
    assert arrival["room_id"] == room_two
    assert isinstance(arrival["guest_id"], int)
    departures = await client.get(f"{base}/departures", params={"date": day(3)}, headers=staff)
    assert [row["id"] for row in departures.json()["data"]] == [a["id"]]
    assert [row["guest_id"] for row in departures.json()["data"]] == [first["id"]]
    quiet = await client.get(f"{base}/arrivals", params={"date": day(9)}, headers=staff)
    assert quiet.json()["data"] == []

    report = await client.get(
        f"{base}/occupancy", params={"start": day(1), "end": day(5)}, headers=staff
    )
    assert report.status_code == 200, report.text
    days = report.json()["data"]
    assert [row["date"] for row in days] == [day(n) for n in range(1, 6)]
    assert [row["occupied_rooms"] for row in days] == [1, 2, 2, 1, 0]
    assert {row["total_rooms"] for row in days} == {3}
    assert [row["occupancy_percent"] for row in days] == [33.3, 66.7, 66.7, 33.3, 0.0]
    assert report.json()["meta"]["days"] == 5

    year_end = (MARCH + dt.timedelta(days=365)).isoformat()
    year = await client.get(
        f"{base}/occupancy", params={"start": day(1), "end": year_end}, headers=staff
    )
    assert len(year.json()["data"]) == 366
    too_long = (MARCH + dt.timedelta(days=366)).isoformat()
    for start, end in ((day(1), too_long), (day(5), day(4))):
        rejected = await client.get(
            f"{base}/occupancy", params={"start": start, "end": end}, headers=staff
        )
        assert rejected.status_code == 422
    for path in ("arrivals", "departures"):
        assert (await client.get(f"{base}/{path}", params={"date": day(2)})).status_code == 401
        as_guest = await client.get(
            f"{base}/{path}", params={"date": day(2)}, headers=first_headers
        )
        assert as_guest.status_code == 403
    unknown = await client.get(
        "/api/v1/properties/987654321/occupancy",
        params={"start": day(1), "end": day(2)},
        headers=staff,
    )
    assert unknown.status_code == 404


async def test_concurrent_bookings_take_the_last_room_once(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    """Several guests race for the one free room: exactly one gets it, the rest hear 409.

    The requests run concurrently on the app's real connection pool: on PostgreSQL and
    MariaDB they are concurrent transactions, on SQLite concurrent connections to the one
    database file, contending for its write lock. A lost race shows only when the requests
    interleave just so, hence several rounds, each for other dates.
    """
    property_id = await create_property(client, staff)
    suite = await create_room_type(
        client, staff, property_id, code="STE", max_occupancy=2, base_rate="400.00"
    )
    await create_rooms(client, staff, property_id, suite, "901", "902")
    _, first = await register_guest(client)
    racers = [(await register_guest(client))[1] for _ in range(6)]

    for round_start in (1, 10, 20):
        check_in, check_out = day(round_start), day(round_start + 3)
        await booked(client, first, property_id, suite, check_in, check_out)
        responses = await asyncio.gather(
            *(book(client, headers, property_id, suite, check_in, check_out) for headers in racers)
        )
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [201, 409, 409, 409, 409, 409], [r.text for r in responses]
        assert (await free_rooms(client, property_id, check_in, check_out))["STE"] == 0

    report = await client.get(
        f"/api/v1/properties/{property_id}/occupancy",
        params={"start": day(1), "end": day(3)},
        headers=staff,
    )
    assert [row["occupied_rooms"] for row in report.json()["data"]] == [2, 2, 2]


async def test_a_stay_in_the_past_cannot_be_booked(client: httpx.AsyncClient) -> None:
    _guest, headers = await register_guest(client)
    response = await client.post(
        "/api/v1/bookings",
        json={
            "property_id": 1,
            "room_type_id": 1,
            "check_in": "2020-01-01",
            "check_out": "2020-01-03",
            "adults": 1,
        },
        headers=headers,
    )
    assert response.status_code == 422
    assert "past" in response.json()["detail"]
