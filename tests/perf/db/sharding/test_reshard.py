"""Moving a property between shards while bookings keep coming, and resuming a cut-off move."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from banrimkwae.perf.db import Database
from banrimkwae.perf.db.sharding import Resharder, ReshardError, ShardSet
from tests.conftest import staff_headers
from tests.perf.db.sharding.conftest import CACHE_SECONDS, Deployment
from tests.perf.db.sharding.test_sharded_api import property_on, shard_rows
from tests.resort.test_bookings import book, booked, day
from tests.resort.test_guests import register_guest


@pytest.fixture
async def mover(deployment: Deployment) -> AsyncIterator[ShardSet]:
    """The shards as `banrimkwae db reshard` sees them: another process, its own cache."""
    database = Database(
        deployment.home, shard_urls=deployment.shards, shard_cache_seconds=CACHE_SECONDS
    )
    assert database.shards is not None
    try:
        yield database.shards
    finally:
        await database.dispose()


async def ids_on(deployment: Deployment, shard: str, property_id: int) -> list[int]:
    rows = await shard_rows(
        deployment.shards[shard], f"SELECT id FROM bookings WHERE property_id = {property_id}"
    )
    return sorted(row[0] for row in rows)


async def listed_ids(client: httpx.AsyncClient, property_id: int) -> list[int]:
    seen: list[int] = []
    url: str | None = f"/api/v1/bookings?property_id={property_id}&limit=50"
    while url:
        page = await client.get(url, headers=staff_headers())
        assert page.status_code == 200, page.text
        seen += [row["id"] for row in page.json()["data"]]
        url = page.json()["links"]["next"]
    return seen


async def keep_booking(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    property_id: int,
    room_type: int,
    stop: asyncio.Event,
    made: list[int],
) -> int:
    """Book one night after another until told to stop; a 503 (moving) is retried."""
    night, refused = 1, 0
    while not stop.is_set():
        response = await book(client, headers, property_id, room_type, day(night), day(night + 1))
        if response.status_code == 503:
            refused += 1
            assert response.headers["retry-after"]
            await asyncio.sleep(0.01)
            continue
        assert response.status_code == 201, response.text
        made.append(response.json()["id"])
        night += 1
        await asyncio.sleep(0)
    return refused


async def test_a_property_moves_while_bookings_keep_coming_for_it_and_others(
    sharded_client: httpx.AsyncClient, deployment: Deployment, mover: ShardSet
) -> None:
    moving, moving_type = await property_on(sharded_client, "east")
    staying, staying_type = await property_on(sharded_client, "east")
    _guest, headers = await register_guest(sharded_client)
    before = [
        (await booked(sharded_client, headers, moving, moving_type, day(n), day(n + 1)))["id"]
        for n in range(200, 225)
    ]
    stop = asyncio.Event()
    made_moving: list[int] = []
    made_staying: list[int] = []
    writers = [
        asyncio.create_task(
            keep_booking(sharded_client, headers, moving, moving_type, stop, made_moving)
        ),
        asyncio.create_task(
            keep_booking(sharded_client, headers, staying, staying_type, stop, made_staying)
        ),
    ]
    await asyncio.sleep(0.2)
    report = await Resharder(mover, batch=7).move(moving, "west")
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.gather(*writers)

    expected = sorted(before + made_moving)
    assert len(made_moving) > 0 and len(made_staying) > 0
    assert await ids_on(deployment, "west", moving) == expected  # all there, once each
    assert await ids_on(deployment, "east", moving) == []  # the source emptied
    assert await ids_on(deployment, "east", staying) == sorted(made_staying)
    assert report.source == "east" and report.target == "west"
    assert report.rows >= len(before) and report.deleted == report.rows
    assert len(report.checksum) == 32
    # The API reads the property from its new shard, every booking once.
    assert await listed_ids(sharded_client, moving) == sorted(expected, reverse=True)


@pytest.mark.parametrize("cut_at", ["copy", "delta", "delete"])
async def test_a_move_cut_off_at_any_step_finishes_when_run_again(
    sharded_client: httpx.AsyncClient, deployment: Deployment, mover: ShardSet, cut_at: str
) -> None:
    property_id, room_type = await property_on(sharded_client, "east")
    _guest, headers = await register_guest(sharded_client)
    made = [
        (await booked(sharded_client, headers, property_id, room_type, day(n), day(n + 1)))["id"]
        for n in range(1, 13)
    ]

    def cut(phase: str, done: int, _total: int | None) -> None:
        if phase == cut_at and done > 0:
            raise KeyboardInterrupt  # the operator's Ctrl-C, mid-step

    with pytest.raises(KeyboardInterrupt):
        await Resharder(mover, batch=5).move(property_id, "west", cut)
    report = await Resharder(mover, batch=5).move(property_id, "west")
    assert report.resumed == (cut_at != "copy")
    assert await ids_on(deployment, "west", property_id) == sorted(made)
    assert await ids_on(deployment, "east", property_id) == []
    assert (await mover.directory.lookup(property_id)).shard == "west"
    mine = await sharded_client.get(f"/api/v1/bookings/{made[0]}", headers=headers)
    assert mine.status_code == 200


async def test_moving_to_where_the_property_is_or_to_no_shard_is_refused(
    sharded_client: httpx.AsyncClient, mover: ShardSet
) -> None:
    property_id, room_type = await property_on(sharded_client, "west")
    _guest, headers = await register_guest(sharded_client)
    await booked(sharded_client, headers, property_id, room_type, day(1), day(2))
    with pytest.raises(ReshardError, match="already on shard west"):
        await Resharder(mover).move(property_id, "west")
    with pytest.raises(ValueError, match="no shard named 'north'"):
        await Resharder(mover).move(property_id, "north")
