"""The response cache middleware over a small origin, on every store backend: hits answered
before the origin, misses stored once, stampedes coalesced, stale windows honoured."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from banrimkwae.perf.cache.entry import CachedResponse
from banrimkwae.perf.cache.flight import refresh_early
from banrimkwae.perf.cache.store import ResponseStore
from tests.perf.cache.origin import Origin, cached_client


async def test_a_second_get_is_answered_from_the_cache(store: ResponseStore) -> None:
    async with cached_client(store) as (client, origin, cache):
        first = await client.get("/items?b=2&a=1")
        second = await client.get("/items?a=1&b=2&empty=")
    assert first.status_code == second.status_code == 200
    assert first.headers["x-cache"] == "MISS"
    assert second.headers["x-cache"] == "HIT l1"
    assert second.content == first.content
    assert origin.calls["GET /items"] == 1
    # The origin was asked the canonical question: sorted, empty parameters dropped.
    assert first.json()["query"] == "a=1&b=2"
    counters = cache.statistics.of("/items")
    assert (counters.misses, counters.hits_l1, counters.stores) == (1, 1, 1)


async def test_different_queries_are_different_entries(store: ResponseStore) -> None:
    async with cached_client(store) as (client, origin, _cache):
        await client.get("/items?a=1")
        await client.get("/items?a=2")
        again = await client.get("/items?a=1")
    assert origin.calls["GET /items"] == 2
    assert again.json()["query"] == "a=1"


async def test_paths_without_a_policy_and_writes_pass_through(store: ResponseStore) -> None:
    async with cached_client(store) as (client, origin, _cache):
        for _ in range(2):
            response = await client.get("/uncovered")
            assert "x-cache" not in response.headers
        await client.post("/items/1")
        await client.post("/items/1")
    assert origin.calls["GET /uncovered"] == 2
    assert origin.calls["POST /items/1"] == 2


@pytest.mark.parametrize("path", ["/cookie", "/private", "/nostore", "/missing"])
async def test_unshareable_answers_are_never_stored(store: ResponseStore, path: str) -> None:
    async with cached_client(store) as (client, origin, cache):
        first = await client.get(path)
        client.cookies.clear()  # a cookie sent back would make the next request BYPASS
        second = await client.get(path)
    assert origin.calls[f"GET {path}"] == 2
    assert first.headers["x-cache"] == second.headers["x-cache"] == "MISS"
    assert cache.statistics.of(path).stores == 0
    if path == "/cookie":
        assert second.headers["set-cookie"] == "session=1"


async def test_a_body_over_the_limit_streams_through_unstored(store: ResponseStore) -> None:
    async with cached_client(store, max_body=1000) as (client, origin, _cache):
        first = await client.get("/big")
        second = await client.get("/big")
    assert first.status_code == 200 and len(first.json()["blob"]) == 5000
    assert second.headers["x-cache"] == "BYPASS"
    assert origin.calls["GET /big"] == 2


async def test_head_is_answered_from_a_get_entry_without_a_body(store: ResponseStore) -> None:
    async with cached_client(store) as (client, origin, _cache):
        head_before = await client.head("/items")
        full = await client.get("/items")
        head = await client.head("/items")
    assert head_before.headers["x-cache"] == "BYPASS"  # a HEAD miss stores nothing
    assert head.headers["x-cache"] == "HIT l1"
    assert head.content == b""
    assert head.headers["content-length"] == full.headers["content-length"]
    assert origin.calls["GET /items"] == 1
    assert origin.calls["HEAD /items"] == 1


async def test_concurrent_misses_of_one_key_compute_once(store: ResponseStore) -> None:
    gate = asyncio.Event()

    class SlowOrigin(Origin):
        async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
            await gate.wait()
            await super().__call__(scope, receive, send)

    async with cached_client(store, origin=SlowOrigin()) as (client, origin, cache):
        requests = [asyncio.ensure_future(client.get("/items?x=1")) for _ in range(8)]
        while cache.statistics.of("/items").coalesced < 7:  # noqa: ASYNC110 - no event to wait on
            await asyncio.sleep(0.001)
        gate.set()
        responses = await asyncio.gather(*requests)
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    assert origin.calls["GET /items"] == 1
    assert cache.statistics.of("/items").coalesced == 7


async def _backdate(store: ResponseStore, key: str, seconds: float) -> None:
    found = await store.get(key)
    assert found is not None
    entry, _layer = found
    older = dataclasses.replace(entry, stored_at=entry.stored_at - seconds, tags={})
    await store.put(key, older, [t for t in entry.tags if t != "*"], store.snapshot())


async def test_stale_while_revalidate_serves_stale_and_refreshes(store: ResponseStore) -> None:
    from tests.perf.cache.origin import POLICY_ROWS, policies

    rows = [dict(r) for r in POLICY_ROWS]
    rows[0]["stale_while_revalidate_seconds"] = 300
    async with cached_client(store, holder=policies(rows)) as (client, origin, cache):
        await client.get("/items")
        await _backdate(store, "GET:/items?", 120)
        stale = await client.get("/items")
        await cache.refresher.drain()
        fresh = await client.get("/items")
    assert stale.headers["x-cache"] == "STALE l1"
    assert int(stale.headers["age"]) >= 120
    assert fresh.headers["x-cache"] == "HIT l1"
    assert int(fresh.headers["age"]) < 60
    assert origin.calls["GET /items"] == 2
    assert cache.statistics.of("/items").stale == 1


async def test_past_the_ttl_without_windows_is_a_miss(store: ResponseStore) -> None:
    async with cached_client(store) as (client, origin, _cache):
        await client.get("/items")
        await _backdate(store, "GET:/items?", 120)
        again = await client.get("/items")
    assert again.headers["x-cache"] == "MISS"
    assert origin.calls["GET /items"] == 2


async def test_stale_if_error_serves_the_old_answer_when_the_origin_fails(
    store: ResponseStore,
) -> None:
    async with cached_client(store) as (client, origin, cache):
        good = await client.get("/flaky")
        await _backdate(store, "GET:/flaky?", 120)
        origin.failing = True
        rescued = await client.get("/flaky")
        await _backdate(store, "GET:/flaky?", 1000)  # past ttl + stale_if_error
        failed = await client.get("/flaky")
    assert rescued.status_code == 200 and rescued.headers["x-cache"] == "STALE l1"
    assert rescued.content == good.content
    assert failed.status_code == 500
    assert cache.statistics.of("/flaky").errors == 2


def test_xfetch_refreshes_early_only_near_expiry() -> None:
    now = time.time()
    entry = CachedResponse(
        status=200,
        headers=(),
        body=b"",
        variants={},
        etag=b'"x"',
        stored_at=now,
        ttl=60.0,
        stale_ttl=0.0,
        compute_ms=5.0,
    )
    assert not any(refresh_early(entry, now) for _ in range(1000))
    assert all(refresh_early(entry, now + 60.0) for _ in range(100))
    expensive = dataclasses.replace(entry, compute_ms=20_000.0)
    assert any(refresh_early(expensive, now + 50.0) for _ in range(100))


async def test_a_client_no_cache_does_not_bypass_the_shared_cache(store: ResponseStore) -> None:
    async with cached_client(store) as (client, origin, _cache):
        await client.get("/items")
        again = await client.get("/items", headers={"Cache-Control": "no-cache"})
    assert again.headers["x-cache"] == "HIT l1"
    assert origin.calls["GET /items"] == 1


async def test_a_policy_may_honour_a_client_no_cache(store: ResponseStore) -> None:
    from tests.perf.cache.origin import POLICY_ROWS, policies

    rows = [dict(r) for r in POLICY_ROWS]
    rows[0]["cache_options"] = {"honour_client_no_cache": True}
    async with cached_client(store, holder=policies(rows)) as (client, origin, _cache):
        await client.get("/items")
        again = await client.get("/items", headers={"Cache-Control": "no-cache"})
        after = await client.get("/items")
    assert again.headers["x-cache"] == "MISS"
    assert after.headers["x-cache"] == "HIT l1"
    assert origin.calls["GET /items"] == 2


async def test_a_hot_entry_gets_its_variants_at_the_best_ratio(store: ResponseStore) -> None:
    from banrimkwae.perf.responses.codecs import decompress

    async with cached_client(store) as (client, _origin, cache):
        cache.upgrader.hot_hits = 3
        first = await client.get("/items?n=1", headers={"Accept-Encoding": "identity"})
        sizes = []
        for _ in range(4):
            async with client.stream(
                "GET", "/items?n=1", headers={"Accept-Encoding": "br"}
            ) as response:
                raw = b"".join([chunk async for chunk in response.aiter_raw()])
            sizes.append(len(raw))
            await cache.upgrader.drain()
    assert cache.upgrader.upgraded == 1
    assert sizes[-1] <= sizes[0]
    assert decompress(raw, "br") == first.content


async def test_an_upgrade_racing_a_write_is_refused(store: ResponseStore) -> None:
    async with cached_client(store) as (client, _origin, cache):
        cache.upgrader.hot_hits = 2
        await client.get("/items")
        await client.get("/items")
        await client.get("/items")  # the second hit starts the upgrade
        await client.post("/items")  # ...and a write lands before it finishes
        await cache.upgrader.drain()
        after = await client.get("/items")
    assert after.headers["x-cache"] == "MISS"
    assert after.json()["version"] == 1
