"""HTTP semantics of cached answers: ETag, 304, Age, Vary, X-Cache, Cache-Control,
Surrogate-Key and the negotiated coding of stored variants."""

from __future__ import annotations

import pytest

from banrimkwae.perf.cache.store import ResponseStore
from banrimkwae.perf.responses.codecs import decompress
from tests.perf.cache.origin import cached_client


@pytest.mark.parametrize("coding", ["br", "zstd", "gzip"])
async def test_hits_send_the_stored_variant_the_client_accepts(
    store: ResponseStore, coding: str
) -> None:
    async with cached_client(store) as (client, _origin, _cache):
        plain = await client.get("/items", headers={"Accept-Encoding": "identity"})
        async with client.stream(
            "GET", "/items", headers={"Accept-Encoding": f"{coding}, identity;q=0.1"}
        ) as response:
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
    assert response.headers["x-cache"] == "HIT l1"
    assert response.headers["content-encoding"] == coding
    assert int(response.headers["content-length"]) == len(raw) < len(plain.content)
    assert decompress(raw, coding) == plain.content
    assert "content-encoding" not in plain.headers


async def test_the_etag_is_strong_and_the_same_for_every_store(
    store: ResponseStore, store_backend: object
) -> None:
    async with cached_client(store) as (client, _origin, _cache):
        miss = await client.get("/items", headers={"Accept-Encoding": "identity"})
        hit = await client.get("/items", headers={"Accept-Encoding": "identity"})
        br = await client.get("/items", headers={"Accept-Encoding": "br"})
    etag = miss.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert hit.headers["etag"] == etag
    assert br.headers["etag"] == etag[:-1] + '-br"'
    # A fresh cache (another worker, a restart) tags the same body the same way.
    other = await store_backend.make_store()  # type: ignore[attr-defined]
    await other.clear()
    async with cached_client(other) as (client, _origin, _cache):
        again = await client.get("/items", headers={"Accept-Encoding": "identity"})
    assert again.headers["etag"] == etag


async def test_if_none_match_gets_304_with_the_required_headers(store: ResponseStore) -> None:
    async with cached_client(store) as (client, origin, _cache):
        first = await client.get("/items", headers={"Accept-Encoding": "gzip"})
        etag = first.headers["etag"]
        not_modified = await client.get(
            "/items", headers={"If-None-Match": etag, "Accept-Encoding": "gzip"}
        )
        # A tag of another coding of the same body matches too (weak comparison).
        other_coding = await client.get(
            "/items", headers={"If-None-Match": etag.replace("-gzip", "-br")}
        )
        stale_tag = await client.get("/items", headers={"If-None-Match": '"nope"'})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified.headers["etag"] == etag
    for name in ("cache-control", "vary", "etag", "age", "x-cache"):
        assert name in not_modified.headers
    assert "content-length" not in not_modified.headers
    assert "content-type" not in not_modified.headers
    assert other_coding.status_code == 304
    assert stale_tag.status_code == 200
    assert origin.calls["GET /items"] == 1


async def test_if_none_match_on_a_miss_is_answered_after_storing(store: ResponseStore) -> None:
    async with cached_client(store) as (client, origin, _cache):
        first = await client.get("/items?a=1")
        await store.clear()
        revalidated = await client.get(
            "/items?a=1", headers={"If-None-Match": first.headers["etag"]}
        )
        hit = await client.get("/items?a=1")
    assert revalidated.status_code == 304
    assert revalidated.headers["x-cache"] == "MISS"
    assert hit.headers["x-cache"] == "HIT l1"
    assert origin.calls["GET /items"] == 2


async def test_public_answers_tell_clients_to_revalidate_and_tag_for_a_cdn(
    store: ResponseStore,
) -> None:
    async with cached_client(store) as (client, _origin, _cache):
        await client.get("/items")
        hit = await client.get("/items")
    assert hit.headers["cache-control"] == "public, no-cache"
    assert hit.headers["vary"] == "Accept-Encoding"
    assert set(hit.headers["surrogate-key"].split()) >= {"policy:/items", "table:items"}
    assert int(hit.headers["age"]) >= 0


async def test_user_scoped_answers_are_private_and_vary_on_authorization(
    store: ResponseStore,
) -> None:
    async with cached_client(store) as (client, _origin, _cache):
        headers = {"Authorization": "Bearer guest-1"}
        await client.get("/me", headers=headers)
        hit = await client.get("/me", headers=headers)
    assert hit.headers["x-cache"] == "HIT l1"
    assert hit.headers["cache-control"] == "private, no-cache"
    assert hit.headers["vary"] == "Accept-Encoding, Authorization"
    assert "surrogate-key" not in hit.headers


async def test_client_max_age_is_separate_from_the_server_ttl(store: ResponseStore) -> None:
    from tests.perf.cache.origin import POLICY_ROWS, policies

    rows = [dict(r) for r in POLICY_ROWS]
    rows[0]["cache_options"] = {"client_max_age": 30}
    async with cached_client(store, holder=policies(rows)) as (client, _origin, _cache):
        response = await client.get("/items")
    assert response.headers["cache-control"] == "public, max-age=30"
