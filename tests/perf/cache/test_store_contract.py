"""The ResponseStore contract, one suite run on memory only, Redis and Redis Cluster."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from banrimkwae.perf.cache import ALL_TAG, CachedResponse, ResponseStore
from tests.perf.cache.conftest import StoreBackend


def make_entry(body: bytes = b'{"items": []}', *, ttl: float = 60.0, stale: float = 30.0,
               stored_at: float | None = None, grace: float = 0.0) -> CachedResponse:  # fmt: skip
    return CachedResponse(
        status=200,
        headers=((b"content-type", b"application/json"), (b"vary", b"accept-encoding")),
        body=body,
        variants={"gzip": b"\x1f\x8b-gz", "br": b"br-bytes"},
        etag=b'"abc123"',
        stored_at=time.time() if stored_at is None else stored_at,
        ttl=ttl,
        stale_ttl=stale,
        compute_ms=12.5,
        policy="properties",
        grace=grace,
    )


async def store_entry(store: ResponseStore, key: str, tags: list[str], **kw: object) -> None:
    snapshot = store.snapshot()
    assert await store.put(key, make_entry(**kw), tags, snapshot)  # type: ignore[arg-type]


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll until `check` holds (cross-process delivery is asynchronous); fail after 10 s."""
    for _ in range(500):
        if await check():
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"never happened: {what}")


async def test_a_stored_response_comes_back_whole_with_its_tags(store: ResponseStore) -> None:
    await store_entry(store, "GET /properties", ["table:properties"])
    hit = await store.get("GET /properties")
    assert hit is not None
    entry, layer = hit
    assert layer == "l1"
    assert entry.body == b'{"items": []}'
    assert entry.variants == {"gzip": b"\x1f\x8b-gz", "br": b"br-bytes"}
    assert entry.headers[0] == (b"content-type", b"application/json")
    assert entry.etag == b'"abc123"' and entry.policy == "properties"
    assert set(entry.tags) == {"table:properties", ALL_TAG}
    assert store.peek("GET /properties") == entry


async def test_an_unknown_key_is_a_miss(store: ResponseStore) -> None:
    assert store.peek("GET /nothing") is None
    assert await store.get("GET /nothing") is None


async def test_invalidating_a_tag_drops_its_entries_and_only_them(store: ResponseStore) -> None:
    await store_entry(store, "GET /properties/1", ["property:1", "table:properties"])
    await store_entry(store, "GET /properties/2", ["property:2", "table:properties"])
    await store.invalidate(["property:1"])
    assert store.peek("GET /properties/1") is None
    assert await store.get("GET /properties/1") is None
    assert await store.get("GET /properties/2") is not None
    await store.invalidate(["table:properties"])
    assert await store.get("GET /properties/2") is None


async def test_a_response_computed_across_a_write_is_not_stored(store: ResponseStore) -> None:
    snapshot = store.snapshot()  # the response starts computing ...
    await store.invalidate(["table:bookings"])  # ... a write to what it reads commits ...
    stored = await store.put("GET /bookings", make_entry(), ["table:bookings"], snapshot)
    assert not stored  # ... so it may predate the write: never stamped as fresh
    assert await store.get("GET /bookings") is None
    assert store.stats.refused_stores == 1
    # Computed after the write: stored.
    assert await store.put("GET /bookings", make_entry(), ["table:bookings"], store.snapshot())
    assert await store.get("GET /bookings") is not None


async def test_a_write_to_another_table_does_not_refuse_the_store(store: ResponseStore) -> None:
    snapshot = store.snapshot()
    await store.invalidate(["table:dining"])
    assert await store.put("GET /rooms", make_entry(), ["table:rooms"], snapshot)


async def test_stale_entries_are_returned_until_stale_ttl_ends(store: ResponseStore) -> None:
    now = time.time()
    await store_entry(store, "stale", [], ttl=10, stale=60, stored_at=now - 30)
    await store_entry(store, "dead", [], ttl=10, stale=5, stored_at=now - 30)
    hit = await store.get("stale")
    assert hit is not None and hit[0].stored_at == pytest.approx(now - 30)
    assert await store.get("dead") is None
    assert store.peek("dead") is None


async def test_an_invalidated_entry_inside_its_grace_is_kept_marked(
    store: ResponseStore,
) -> None:
    now = time.time()
    await store_entry(store, "young", ["table:bookings"], grace=30, stored_at=now - 5)
    await store_entry(store, "old", ["table:bookings"], grace=30, stored_at=now - 40, ttl=120)
    await store_entry(store, "hard", ["table:bookings"])
    await store_entry(store, "expired", ["table:bookings"], grace=30, stored_at=now - 20,
                      ttl=10, stale=5)  # fmt: skip
    await store.invalidate(["table:bookings"])

    kept = await store.get("young")
    assert kept is not None and kept[0].invalidated and kept[0].body == make_entry().body
    # Kept marked: every later read knows it is no longer fresh.
    assert store.peek("young") == kept[0]
    assert store.stats.soft_invalidated == 1
    assert await store.get("old") is None  # computed longer ago than its grace
    assert await store.get("hard") is None  # no grace: the invalidation ends it
    assert await store.get("expired") is None  # a grace never outlasts ttl + stale windows

    # A new answer replaces the kept one, fresh again.
    await store_entry(store, "young", ["table:bookings"], grace=30)
    fresh = await store.get("young")
    assert fresh is not None and not fresh[0].invalidated


async def test_clear_ends_an_entry_inside_its_grace(store: ResponseStore) -> None:
    await store_entry(store, "GET /availability", ["table:bookings"], grace=30)
    await store.invalidate(["table:bookings"])
    assert store.peek("GET /availability") is not None
    await store.clear()
    assert await store.get("GET /availability") is None


async def test_delete_matching_removes_keys_by_glob(store: ResponseStore) -> None:
    for key in ("GET /properties/1", "GET /properties/2", "GET /rooms/1"):
        await store_entry(store, key, [])
    removed = await store.delete_matching("GET /properties/*")
    assert removed == 2
    assert await store.get("GET /properties/1") is None
    assert await store.get("GET /properties/2") is None
    assert await store.get("GET /rooms/1") is not None


async def test_clear_drops_everything(store: ResponseStore) -> None:
    await store_entry(store, "a", ["t:a"])
    await store_entry(store, "b", [])
    await store.clear()
    assert await store.get("a") is None
    assert await store.get("b") is None
    await store_entry(store, "a", ["t:a"])  # and the store works after it
    assert await store.get("a") is not None


async def test_keys_with_odd_characters_round_trip(store: ResponseStore) -> None:
    key = "GET /search?q=%E0%B8%81*[x]?&user={7}\n" + "x" * 700  # long: hashed in Redis
    await store_entry(store, key, ["guest:7"])
    assert await store.get(key) is not None


async def test_the_lock_admits_one_holder_per_key(store_backend: StoreBackend) -> None:
    first = await store_backend.make_store()
    second = await store_backend.make_store()
    async with first.lock("GET /expensive", 5.0) as got_first:
        assert got_first
        async with second.lock("GET /expensive", 5.0) as got_second:
            # Without Redis there is no other instance to exclude: always granted.
            assert got_second is (store_backend.redis_url is None)
        async with second.lock("GET /other", 5.0) as got_other:
            assert got_other
    async with second.lock("GET /expensive", 5.0) as got_after_release:
        assert got_after_release


async def test_stats_count_hits_misses_and_stores(store: ResponseStore) -> None:
    await store_entry(store, "k", [])
    assert store.peek("k") is not None
    assert store.peek("missing") is None
    stats = store.stats
    assert stats.l1.hits == 1 and stats.l1.misses == 1 and stats.l1.stores == 1
    assert stats.l1.entries == 1 and stats.l1.bytes == make_entry().size
    assert store.l2_state in ("none", "closed")
    assert stats.breaker_state == store.l2_state


# -- several processes on one backend (each store stands for one process) -----------------


async def test_another_process_reads_an_entry_from_l2_then_l1(
    l2_backend: StoreBackend,
) -> None:
    writer, reader = await l2_backend.make_store(), await l2_backend.make_store()
    await store_entry(writer, "GET /menu/3", ["restaurant:3"])
    hit = await reader.get("GET /menu/3")
    assert hit is not None and hit[1] == "l2"
    assert hit[0].body == make_entry().body
    again = await reader.get("GET /menu/3")
    assert again is not None and again[1] == "l1"  # promoted


async def test_another_process_reads_an_invalidated_entry_in_grace_from_l2(
    l2_backend: StoreBackend,
) -> None:
    writer, reader = await l2_backend.make_store(), await l2_backend.make_store()
    await store_entry(writer, "GET /availability/1", ["property:1"], grace=30)
    await store_entry(writer, "GET /availability/2", ["property:2"])
    await writer.invalidate(["property:1", "property:2"])
    kept = await reader.get("GET /availability/1")
    assert kept is not None and kept[1] == "l2" and kept[0].invalidated
    assert await reader.get("GET /availability/2") is None
    again = await reader.get("GET /availability/1")
    assert again is not None and again[1] == "l1" and again[0].invalidated


async def test_a_bump_reaches_every_process_l1(store_backend: StoreBackend) -> None:
    one, two = await store_backend.make_store(), await store_backend.make_store()
    await store_entry(one, "GET /rooms/5", ["room:5"])
    await store_entry(two, "GET /rooms/5", ["room:5"])
    await one.invalidate(["room:5"])

    async def gone_from_l1() -> bool:
        return two.peek("GET /rooms/5") is None

    await eventually(gone_from_l1, "the bump reached the other process")
    assert await two.get("GET /rooms/5") is None


async def test_a_write_elsewhere_during_computation_refuses_the_store(
    store_backend: StoreBackend,
) -> None:
    computing, writing = await store_backend.make_store(), await store_backend.make_store()
    await store_entry(computing, "warm", ["table:guests"])  # the tag is known locally
    snapshot = computing.snapshot()
    await writing.invalidate(["table:guests"])
    # Whether or not the bump's message has arrived yet, the entry is refused.
    assert not await computing.put("GET /guests", make_entry(), ["table:guests"], snapshot)


async def test_a_first_seen_tag_bumped_elsewhere_refuses_the_store(
    store_backend: StoreBackend,
) -> None:
    computing, writing = await store_backend.make_store(), await store_backend.make_store()
    snapshot = computing.snapshot()
    await writing.invalidate(["table:never-seen-here"])
    assert not await computing.put("GET /x", make_entry(), ["table:never-seen-here"], snapshot)


async def test_clear_reaches_every_process(store_backend: StoreBackend) -> None:
    one, two = await store_backend.make_store(), await store_backend.make_store()
    await store_entry(one, "GET /a", [])
    await store_entry(two, "GET /a", [])
    await one.clear()

    async def gone() -> bool:
        return two.peek("GET /a") is None

    await eventually(gone, "clear reached the other process")
    assert await two.get("GET /a") is None


async def test_junk_in_l2_is_a_miss_not_an_error(l2_backend: StoreBackend) -> None:
    store = await l2_backend.make_store()
    assert store._l2 is not None
    await store._l2.set("GET /junk", b"definitely not an entry", 60_000)
    assert await store.get("GET /junk") is None
    assert store.stats.l2.errors == 1


async def test_peek_then_get_counts_one_l1_miss(l2_backend: StoreBackend) -> None:
    writer, reader = await l2_backend.make_store(), await l2_backend.make_store()
    await store_entry(writer, "GET /p", [])
    assert reader.peek("GET /p") is None  # the middleware's pattern: peek, then get
    hit = await reader.get("GET /p")
    assert hit is not None and hit[1] == "l2"
    assert reader.stats.l1.misses == 1 and reader.stats.l2.hits == 1
    assert reader.peek("GET /p") is not None
