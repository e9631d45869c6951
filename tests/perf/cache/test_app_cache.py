"""The response cache inside the real resort app, on every database: default policies from
the migration, table tags from the query tracker, scoped invalidation of bookings, and guest
data served only to its guest. Nothing here is configured: it is the app as installed."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import httpx

from banrimkwae.app import create_fastapi_app
from banrimkwae.perf.cache.policies import PolicySet
from banrimkwae.perf.platform import Platform
from tests.conftest import make_settings
from tests.resort.test_bookings import book, create_property, create_room_type, create_rooms, day
from tests.resort.test_guests import register_guest


async def _resort(client: httpx.AsyncClient, staff: dict[str, str]) -> tuple[int, int]:
    property_id = await create_property(client, staff)
    room_type_id = await create_room_type(
        client, staff, property_id, code="DLX", max_occupancy=2, base_rate="100.00"
    )
    await create_rooms(client, staff, property_id, room_type_id, "101", "102")
    return property_id, room_type_id


def _availability(property_id: int) -> str:
    return (
        f"/api/v1/properties/{property_id}/availability"
        f"?check_in={day(10)}&check_out={day(12)}&guests=2"
    )


async def test_a_public_read_is_a_hit_the_second_time(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    property_id, _room_type = await _resort(client, staff)
    first = await client.get(f"/api/v1/properties/{property_id}")
    second = await client.get(f"/api/v1/properties/{property_id}")
    assert first.headers["x-cache"] == "MISS"
    assert second.headers["x-cache"] == "HIT l1"
    assert second.json() == first.json()
    assert second.headers["etag"] == first.headers["etag"]
    assert "table:properties" in second.headers["surrogate-key"].split()


async def test_a_staff_write_is_seen_by_the_next_read(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    property_id, _room_type = await _resort(client, staff)
    await client.get(f"/api/v1/properties/{property_id}")
    listing = await client.get("/api/v1/properties?limit=200")
    assert listing.status_code == 200
    renamed = await client.patch(
        f"/api/v1/properties/{property_id}", json={"name": "Renamed Resort"}, headers=staff
    )
    assert renamed.status_code == 200, renamed.text
    read = await client.get(f"/api/v1/properties/{property_id}")
    assert read.headers["x-cache"] == "MISS"
    assert read.json()["name"] == "Renamed Resort"
    relisted = await client.get("/api/v1/properties?limit=200")
    assert relisted.headers["x-cache"] == "MISS"


async def test_a_booking_invalidates_its_property_and_not_another(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    here, room_type = await _resort(client, staff)
    elsewhere, _other_type = await _resort(client, staff)
    _guest, guest = await register_guest(client)
    for property_id in (here, elsewhere):
        await client.get(_availability(property_id))
        assert (await client.get(_availability(property_id))).headers["x-cache"] == "HIT l1"
    before = (await client.get(_availability(here))).json()["data"][0]["available_rooms"]

    booked = await book(client, guest, here, room_type, day(10), day(12))
    assert booked.status_code == 201, booked.text

    after_here = await client.get(_availability(here))
    after_elsewhere = await client.get(_availability(elsewhere))
    assert after_here.headers["x-cache"] == "MISS"
    assert after_here.json()["data"][0]["available_rooms"] == before - 1
    assert after_elsewhere.headers["x-cache"] == "HIT l1"


async def test_a_booking_invalidates_only_the_searches_of_its_nights(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    property_id, room_type = await _resort(client, staff)
    _guest, guest = await register_guest(client)
    base = f"/api/v1/properties/{property_id}"
    overlapping = f"{base}/availability?check_in={day(11)}&check_out={day(13)}&guests=2"
    later = f"{base}/availability?check_in={day(12)}&check_out={day(14)}&guests=2"
    room_types = f"{base}/room-types"
    reads = (overlapping, later, room_types)
    for path in reads:
        await client.get(path)
    free = {
        path: (await client.get(path)).json()["data"][0]["available_rooms"] for path in reads[:2]
    }

    booked = await book(client, guest, property_id, room_type, day(10), day(12))  # nights 10, 11
    assert booked.status_code == 201, booked.text
    seen = {path: await client.get(path) for path in reads}

    assert seen[overlapping].headers["x-cache"] == "MISS"
    assert seen[overlapping].json()["data"][0]["available_rooms"] == free[overlapping] - 1
    # Another night's search, and the room types (locked for the booking, not changed), stay.
    assert seen[later].headers["x-cache"] == "HIT l1"
    assert seen[room_types].headers["x-cache"] == "HIT l1"

    cancelled = await client.post(f"/api/v1/bookings/{booked.json()['id']}/cancel", headers=guest)
    assert cancelled.status_code == 200, cancelled.text
    again = await client.get(overlapping)
    assert again.headers["x-cache"] == "MISS"
    assert again.json()["data"][0]["available_rooms"] == free[overlapping]
    assert (await client.get(later)).headers["x-cache"] == "HIT l1"


async def test_a_guest_sees_their_own_new_booking_and_nobody_elses(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    property_id, room_type = await _resort(client, staff)
    _first, first = await register_guest(client)
    _second, second = await register_guest(client)
    mine = await client.get("/api/v1/guests/me/bookings", headers=first)
    again = await client.get("/api/v1/guests/me/bookings", headers=first)
    assert again.headers["x-cache"] == "HIT l1"
    assert again.headers["cache-control"].startswith("private")
    assert mine.json()["data"] == []

    theirs = await client.get("/api/v1/guests/me/bookings", headers=second)
    assert theirs.headers["x-cache"] == "MISS"

    booked = await book(client, first, property_id, room_type, day(20), day(21))
    assert booked.status_code == 201, booked.text
    updated = await client.get("/api/v1/guests/me/bookings", headers=first)
    assert [b["id"] for b in updated.json()["data"]] == [booked.json()["id"]]
    other = await client.get("/api/v1/guests/me/bookings", headers=second)
    assert other.json()["data"] == []
    assert other.headers["x-cache"] == "HIT l1"  # another guest's booking left it cached
    anonymous = await client.get("/api/v1/guests/me/bookings")
    assert anonymous.status_code == 401


async def test_a_guest_sees_the_status_change_of_their_booking(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    property_id, room_type = await _resort(client, staff)
    _guest, guest = await register_guest(client)
    booked = await book(client, guest, property_id, room_type, day(22), day(24))
    assert booked.status_code == 201, booked.text
    await client.get("/api/v1/guests/me/bookings", headers=guest)
    assert (await client.get("/api/v1/guests/me/bookings", headers=guest)).headers[
        "x-cache"
    ] == "HIT l1"

    booking_id = booked.json()["id"]
    moved = await client.patch(
        f"/api/v1/bookings/{booking_id}", json={"status": "checked_in"}, headers=staff
    )
    assert moved.status_code == 200, moved.text
    listed = await client.get("/api/v1/guests/me/bookings", headers=guest)
    assert listed.headers["x-cache"] == "MISS"
    assert [(b["id"], b["status"]) for b in listed.json()["data"]] == [(booking_id, "checked_in")]


async def test_a_staff_token_on_a_public_read_bypasses(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    property_id, _room_type = await _resort(client, staff)
    response = await client.get(f"/api/v1/properties/{property_id}", headers=staff)
    assert response.headers["x-cache"] == "BYPASS"


async def test_an_l1_hit_answered_in_front_of_the_stack_is_measured_like_any_request(
    migrated_url: str, staff: dict[str, str]
) -> None:
    """Platform.wrap lets the metrics middleware send L1 hits itself: the answer and the
    metrics must be those of a request that went through every layer."""
    # No flush while the test reads the window (the lifespan's end flushes it).
    app = create_fastapi_app(make_settings(migrated_url, metrics_flush_interval=3600))
    platform: Platform = app.state.platform
    served = platform.wrap(app)
    route = "/api/v1/properties/{property_id}"
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=served)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            property_id, _room_type = await _resort(client, staff)
            path = f"/api/v1/properties/{property_id}"
            miss = await client.get(path, headers={"accept-encoding": "identity"})
            assert miss.headers["x-cache"] == "MISS"
            platform.requests.window.clear()

            hit = await client.get(
                path, headers={"accept-encoding": "identity", "x-request-id": "front-1"}
            )
            head = await client.head(path)
            revalidated = await client.get(path, headers={"if-none-match": hit.headers["etag"]})
        window = dict(platform.requests.window)

    assert hit.headers["x-cache"] == "HIT l1"
    assert hit.headers["x-request-id"] == "front-1"
    assert hit.content == miss.content
    assert head.status_code == 200 and head.content == b""
    assert head.headers["x-cache"] == "HIT l1" and head.headers["x-request-id"]
    assert revalidated.status_code == 304 and revalidated.headers["x-cache"] == "HIT l1"
    assert window[(route, "GET", 2)].count == 1
    assert window[(route, "GET", 2)].cache_hits == 1
    assert window[(route, "GET", 2)].response_bytes == len(hit.content)
    assert window[(route, "HEAD", 2)].count == 1
    assert window[(route, "GET", 3)].count == 1
    assert platform.requests.active_requests == 0


async def test_an_invalidation_grace_serves_others_the_old_search_and_the_writer_its_own(
    migrated_url: str, staff: dict[str, str]
) -> None:
    """cache_options.invalidation_grace_seconds on the availability policy: after a booking,
    anonymous searchers get the answer from before it (STALE) until the grace ends; the guest
    who booked, reading with their token, sees the booking at once."""
    grace = 3.0
    app = create_fastapi_app(make_settings(migrated_url))
    platform: Platform = app.state.platform
    served = platform.wrap(app)
    async with app.router.lifespan_context(app):
        assert platform.cache is not None
        holder = platform.cache.policies
        holder.replace(
            PolicySet(
                replace(p, invalidation_grace=grace) if p.name.endswith("/availability") else p
                for p in holder.current.policies
            )
        )
        transport = httpx.ASGITransport(app=served)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            property_id, room_type = await _resort(client, staff)
            _guest, guest = await register_guest(client)
            search = _availability(property_id)
            first = await client.get(search)
            stored_at = time.monotonic()
            assert first.headers["x-cache"] == "MISS"
            before = first.json()["data"][0]["available_rooms"]

            booked = await book(client, guest, property_id, room_type, day(10), day(12))
            assert booked.status_code == 201, booked.text
            others = await client.get(search)
            writer = await client.get(search, headers=guest)
            await asyncio.sleep(max(0.0, stored_at + grace + 0.1 - time.monotonic()))
            after_grace = await client.get(search)

    assert others.headers["x-cache"] == "STALE l1"
    assert others.json()["data"][0]["available_rooms"] == before
    assert others.headers["etag"] == first.headers["etag"]
    assert writer.headers["x-cache"] == "BYPASS"
    assert writer.json()["data"][0]["available_rooms"] == before - 1
    assert after_grace.headers["x-cache"] == "MISS"
    assert after_grace.json()["data"][0]["available_rooms"] == before - 1
