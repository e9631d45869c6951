"""Invalidation: a committed write makes every answer that read its tables miss, before the
writer gets its own answer; scoped writes leave other scopes' entries alone."""

from __future__ import annotations

import asyncio

import httpx
from starlette.types import Message, Receive, Scope, Send

from banrimkwae.perf.cache.invalidation import cache_lock_only, read_tags, write_tags
from banrimkwae.perf.cache.middleware import ResponseCacheMiddleware
from banrimkwae.perf.cache.store import ResponseStore
from banrimkwae.perf.metrics.context import RequestStats, begin_request, end_request
from tests.perf.cache.origin import Origin, WithStats, cached_client, policies


async def test_write_then_read_sees_the_write_with_no_configuration(store: ResponseStore) -> None:
    async with cached_client(store) as (client, _origin, _cache):
        before = await client.get("/items")
        assert (await client.get("/items")).headers["x-cache"] == "HIT l1"
        written = await client.post("/items")
        after = await client.get("/items")
    assert written.json()["version"] == 1
    assert before.json()["version"] == 0
    assert after.headers["x-cache"] == "MISS"
    assert after.json()["version"] == 1


async def test_the_bump_happens_before_the_writer_gets_its_answer(store: ResponseStore) -> None:
    cache = ResponseCacheMiddleware(Origin(), store, policies())
    seen: list[str] = []

    async def client_side(scope: Scope, receive: Receive, send: Send) -> None:
        async def probe(message: Message) -> None:
            if message["type"] == "http.response.start" and scope["method"] == "POST":
                # The moment the writer's answer starts: the entry must already be invalid.
                seen.append("gone" if store.peek("GET:/items?") is None else "still valid")
            await send(message)

        await cache(scope, receive, probe)

    transport = httpx.ASGITransport(app=WithStats(client_side))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        await client.get("/items")
        assert store.peek("GET:/items?") is not None
        await client.post("/items")
    assert seen == ["gone"]


async def test_a_scoped_write_leaves_other_scopes_alone(store: ResponseStore) -> None:
    async with cached_client(store) as (client, _origin, _cache):
        for path in ("/items/1", "/items/2", "/items/3", "/items"):
            await client.get(path)
        await client.post("/items/1")  # group 1: items 1 and 3
        results = {
            path: (await client.get(path)).headers["x-cache"]
            for path in ("/items/1", "/items/2", "/items/3", "/items")
        }
    assert results == {
        "/items/1": "MISS",
        "/items/2": "HIT l1",  # another group's entry survives
        "/items/3": "MISS",
        "/items": "MISS",  # an unscoped read of the table is always invalidated
    }


async def test_an_unscoped_write_invalidates_every_scope(store: ResponseStore) -> None:
    async with cached_client(store) as (client, _origin, _cache):
        for path in ("/items/1", "/items/2"):
            await client.get(path)
        await client.post("/items")
        results = [(await client.get(p)).headers["x-cache"] for p in ("/items/1", "/items/2")]
    assert results == ["MISS", "MISS"]


async def test_a_write_racing_a_computation_is_never_stored_as_fresh(
    store: ResponseStore,
) -> None:
    reading = asyncio.Event()
    release = asyncio.Event()

    class Racing(Origin):
        async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
            if scope["method"] == "GET":
                reading.set()
                await release.wait()
            await super().__call__(scope, receive, send)

    async with cached_client(store, origin=Racing()) as (client, origin, cache):
        read = asyncio.ensure_future(client.get("/items"))
        await reading.wait()
        origin.version = 0
        await client.post("/items")  # commits while the read is in flight
        release.set()
        stale = await read
        after = await client.get("/items")
    assert stale.json()["version"] == 1  # the origin answered after the write here...
    assert cache.statistics.of("/items").refused == 1  # ...but the answer was not stored
    assert after.headers["x-cache"] == "MISS"


def test_tags_of_reads_and_writes() -> None:
    read = RequestStats("r", tables_read={"rooms", "bookings"}, cache_scopes=["property:3"])
    assert read_tags(read, ("policy:p",)) == {
        "policy:p",
        "table:rooms",
        "table:rooms@property:3",
        "table:bookings",
        "table:bookings@property:3",
    }
    unscoped = RequestStats("r", tables_read={"bookings"})
    assert read_tags(unscoped) == {"table:bookings", "table:bookings@*"}
    write = RequestStats("w", tables_written={"bookings"}, cache_scopes=["property:3"])
    assert write_tags(write) == {
        "table:bookings@property:3",
        "table:bookings@property:3/*",  # reaches reads scoped to parts of property 3
        "table:bookings@*",
    }
    assert write_tags(RequestStats("w", tables_written={"rooms"})) == {"table:rooms"}
    assert write_tags(RequestStats("r", tables_read={"rooms"})) == set()


def test_tags_of_reads_and_writes_scoped_to_parts() -> None:
    nights = ["property:3/day:2026-12-01", "property:3/day:2026-12-02"]
    read = RequestStats("r", tables_read={"bookings"}, cache_scopes=nights)
    assert read_tags(read) == {
        "table:bookings",
        "table:bookings@property:3/day:2026-12-01",
        "table:bookings@property:3/day:2026-12-02",
        "table:bookings@property:3/*",  # bumped by writes to the whole of property 3
    }
    write = RequestStats("w", tables_written={"bookings"}, cache_scopes=nights[1:])
    assert write_tags(write) == {
        "table:bookings@property:3/day:2026-12-02",
        "table:bookings@property:3",  # what reads of the whole of property 3 carry
        "table:bookings@*",
    }


async def test_a_write_for_some_nights_leaves_other_nights_cached(store: ResponseStore) -> None:
    searches = (
        "/stays/a?start=2026-12-01&end=2026-12-04",
        "/stays/a?start=2026-12-03&end=2026-12-05",  # overlaps the booking on the 3rd
        "/stays/a?start=2026-12-04&end=2026-12-08",  # starts the day the booking ends
        "/stays/b?start=2026-12-01&end=2026-12-04",  # another group, same nights
        "/stays/a",  # the whole of group a
    )
    async with cached_client(store) as (client, _origin, _cache):
        for path in searches:
            await client.get(path)
        await client.post("/stays/a?start=2026-12-02&end=2026-12-04")
        seen = {path: (await client.get(path)).headers["x-cache"] for path in searches}
    assert seen == {
        searches[0]: "MISS",
        searches[1]: "MISS",
        searches[2]: "HIT l1",
        searches[3]: "HIT l1",
        searches[4]: "MISS",
    }


async def test_a_write_to_the_whole_scope_reaches_every_night(store: ResponseStore) -> None:
    searches = (
        "/stays/a?start=2026-12-01&end=2026-12-02",
        "/stays/b?start=2026-12-01&end=2026-12-02",
    )
    async with cached_client(store) as (client, _origin, _cache):
        for path in searches:
            await client.get(path)
        await client.post("/stays/a")
        seen = {path: (await client.get(path)).headers["x-cache"] for path in searches}
    assert seen == {searches[0]: "MISS", searches[1]: "HIT l1"}


def test_a_statement_that_only_locks_writes_nothing() -> None:
    stats = RequestStats("w")
    token = begin_request(stats)
    try:
        with cache_lock_only():
            stats.tables_written = {"room_types"}  # what the query tracker records
        assert stats.tables_written is None
        stats.tables_written = {"bookings"}
        with cache_lock_only():
            stats.tables_written.add("room_types")
        stats.tables_written.add("payments")  # after the lock, writes count again
    finally:
        end_request(token)
    assert write_tags(stats) == {"table:bookings", "table:payments"}
