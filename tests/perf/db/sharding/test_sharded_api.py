"""The resort API over shards: each property's bookings on its own shard, read back from it,
and the cross-property lists gathered from every shard in one keyset order."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from banrimkwae.app import create_fastapi_app
from banrimkwae.perf.db import Database
from tests.conftest import make_settings, staff_headers
from tests.perf.db.sharding.conftest import Deployment
from tests.resort.test_bookings import (
    booked,
    create_property,
    create_room_type,
    create_rooms,
    day,
    free_rooms,
)
from tests.resort.test_guests import register_guest

STAFF = staff_headers()


async def shard_rows(url: str, sql: str) -> list[Any]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return list((await connection.execute(text(sql))).all())
    finally:
        await engine.dispose()


async def property_on(client: httpx.AsyncClient, shard: str) -> tuple[int, int]:
    """A new property whose ring placement is `shard`, with one room type of three rooms."""
    database: Database = client.app_state.database  # type: ignore[attr-defined]
    assert database.shards is not None
    while True:
        property_id = await create_property(client, STAFF)
        if database.shards.directory.ring.shard_for(property_id) == shard:
            break
    room_type = await create_room_type(
        client, STAFF, property_id, code="VILLA", max_occupancy=4, base_rate="100.00"
    )
    await create_rooms(client, STAFF, property_id, room_type, "101", "102", "103")
    return property_id, room_type


async def test_a_booking_is_written_to_its_property_shard_only(
    sharded_client: httpx.AsyncClient, deployment: Deployment
) -> None:
    east, east_type = await property_on(sharded_client, "east")
    west, west_type = await property_on(sharded_client, "west")
    _guest, headers = await register_guest(sharded_client)
    on_east = await booked(sharded_client, headers, east, east_type, day(1), day(3))
    on_west = await booked(sharded_client, headers, west, west_type, day(1), day(3))
    assert on_east["id"] != on_west["id"]
    for shard, mine, other in (("east", on_east, on_west), ("west", on_west, on_east)):
        ids = {
            row[0] for row in await shard_rows(deployment.shards[shard], "SELECT id FROM bookings")
        }
        assert mine["id"] in ids and other["id"] not in ids
    home = await shard_rows(deployment.home, "SELECT count(*) FROM bookings")
    assert home == [(0,)]
    stored = await shard_rows(
        deployment.home, f"SELECT shard FROM shard_directory WHERE property_id = {east}"
    )
    assert stored == [("east",)]


async def test_availability_and_reads_of_one_property_come_from_its_shard(
    sharded_client: httpx.AsyncClient,
) -> None:
    property_id, room_type = await property_on(sharded_client, "west")
    _guest, headers = await register_guest(sharded_client)
    assert await free_rooms(sharded_client, property_id, day(5), day(7)) == {"VILLA": 3}
    booking = await booked(sharded_client, headers, property_id, room_type, day(5), day(7))
    assert await free_rooms(sharded_client, property_id, day(5), day(7)) == {"VILLA": 2}
    mine = await sharded_client.get(f"/api/v1/bookings/{booking['id']}", headers=headers)
    assert mine.status_code == 200 and mine.json()["reference"] == booking["reference"]
    arrivals = await sharded_client.get(
        f"/api/v1/properties/{property_id}/arrivals", params={"date": day(5)}, headers=STAFF
    )
    assert [row["id"] for row in arrivals.json()["data"]] == [booking["id"]]
    cancelled = await sharded_client.post(
        f"/api/v1/bookings/{booking['id']}/cancel", headers=headers
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert await free_rooms(sharded_client, property_id, day(5), day(7)) == {"VILLA": 3}
    missing = await sharded_client.get("/api/v1/bookings/987654321", headers=headers)
    assert missing.status_code == 404


async def test_the_staff_list_gathers_every_shard_newest_first_page_by_page(
    sharded_client: httpx.AsyncClient,
) -> None:
    east, east_type = await property_on(sharded_client, "east")
    west, west_type = await property_on(sharded_client, "west")
    guest, headers = await register_guest(sharded_client)
    made = []
    for number in range(3):
        for property_id, room_type in ((east, east_type), (west, west_type)):
            nights = (day(10 + 2 * number), day(11 + 2 * number))
            made.append(
                (await booked(sharded_client, headers, property_id, room_type, *nights))["id"]
            )
    expected = sorted(made, reverse=True)
    seen: list[int] = []
    url: str | None = f"/api/v1/bookings?guest_id={guest['id']}&limit=4"
    while url:
        page = await sharded_client.get(url, headers=STAFF)
        assert page.status_code == 200, page.text
        body = page.json()
        seen += [row["id"] for row in body["data"]]
        assert len(body["data"]) <= 4
        url = body["links"]["next"]
    assert seen == expected
    # Back from the last page: the previous page is the first four.
    last = await sharded_client.get(
        f"/api/v1/bookings?guest_id={guest['id']}&limit=4", headers=STAFF
    )
    second = await sharded_client.get(last.json()["links"]["next"], headers=STAFF)
    back = await sharded_client.get(second.json()["links"]["prev"], headers=STAFF)
    assert [row["id"] for row in back.json()["data"]] == expected[:4]
    everything = await sharded_client.get(
        "/api/v1/bookings?limit=100&include=property", headers=STAFF
    )
    rows = everything.json()["data"]
    assert [row["id"] for row in rows] == sorted((row["id"] for row in rows), reverse=True)
    assert {row["property"]["id"] for row in rows if row["id"] in made} == {east, west}


async def test_a_guest_sees_their_bookings_from_every_shard(
    sharded_client: httpx.AsyncClient,
) -> None:
    east, east_type = await property_on(sharded_client, "east")
    west, west_type = await property_on(sharded_client, "west")
    _guest, headers = await register_guest(sharded_client)
    first = await booked(sharded_client, headers, east, east_type, day(20), day(21))
    second = await booked(sharded_client, headers, west, west_type, day(22), day(23))
    mine = await sharded_client.get("/api/v1/guests/me/bookings?limit=1", headers=headers)
    assert [row["id"] for row in mine.json()["data"]] == [second["id"]]
    rest = await sharded_client.get(mine.json()["links"]["next"], headers=headers)
    assert [row["id"] for row in rest.json()["data"]] == [first["id"]]
    assert rest.json()["links"]["next"] is None


async def test_a_write_for_a_moving_property_is_a_503_with_retry_after(
    sharded_client: httpx.AsyncClient,
) -> None:
    property_id, room_type = await property_on(sharded_client, "east")
    _guest, headers = await register_guest(sharded_client)
    booking = await booked(sharded_client, headers, property_id, room_type, day(1), day(2))
    database: Database = sharded_client.app_state.database  # type: ignore[attr-defined]
    assert database.shards is not None
    await database.shards.directory.start_move(property_id, "west")
    try:
        refused = await sharded_client.post(
            "/api/v1/bookings",
            json={
                "property_id": property_id,
                "room_type_id": room_type,
                "check_in": day(3),
                "check_out": day(4),
                "adults": 2,
                "children": 0,
            },
            headers=headers,
        )
        assert refused.status_code == 503
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) > 0
        cancel = await sharded_client.post(
            f"/api/v1/bookings/{booking['id']}/cancel", headers=headers
        )
        assert cancel.status_code == 503
        # Reads go on from the source meanwhile.
        read = await sharded_client.get(f"/api/v1/bookings/{booking['id']}", headers=headers)
        assert read.status_code == 200
    finally:
        await database.shards.directory.abort_move(property_id)


async def test_a_booking_on_a_shard_invalidates_the_cached_availability(
    deployment: Deployment,
) -> None:
    # The response cache on: a write is tracked on the shard's engine like on the home one.
    settings = make_settings(
        deployment.home, database_shards=deployment.shards, shard_cache_seconds=0.05
    )
    app = create_fastapi_app(settings)
    served = app.state.platform.wrap(app)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=served)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            client.app_state = app.state  # type: ignore[attr-defined]
            property_id, room_type = await property_on(client, "west")
            _guest, headers = await register_guest(client)
            # The property's first booking also writes its directory entry: not this one.
            await booked(client, headers, property_id, room_type, day(1), day(2))
            assert await free_rooms(client, property_id, day(8), day(9)) == {"VILLA": 3}
            again = await client.get(
                f"/api/v1/properties/{property_id}/availability",
                params={"check_in": day(8), "check_out": day(9)},
            )
            assert again.headers.get("x-cache", "").lower().startswith("hit")
            await booked(client, headers, property_id, room_type, day(8), day(9))
            assert await free_rooms(client, property_id, day(8), day(9)) == {"VILLA": 2}
