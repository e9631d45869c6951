"""Warming: declared targets are fetched into the cache; after a write, the hot keys the
bump invalidated are fetched again; user-scoped policies are never warmed."""

from __future__ import annotations

from typing import Any

from banrimkwae.perf.cache.request_view import Target
from banrimkwae.perf.cache.store import ResponseStore
from banrimkwae.perf.cache.warming import Warmer, WarmingConfig, declared_targets
from tests.perf.cache.origin import POLICY_ROWS, cached_client, policies


def _rows() -> list[dict[str, Any]]:
    rows = [dict(row) for row in POLICY_ROWS]
    rows[0]["cache_warming_enabled"] = True
    rows[0]["cache_options"] = {"warm_requests": [{"path": "/items", "query": "b=2&a=1"}]}
    rows[1]["cache_warming_enabled"] = True  # /items/{n}: a template, warmed by hot keys
    rows[2]["cache_warming_enabled"] = True  # /me: user-scoped, never warmed
    return rows


def test_declared_targets_are_exact_paths_and_parameter_sets() -> None:
    assert declared_targets(policies(_rows()).current) == [
        Target("/items", b""),
        Target("/items", b"b=2&a=1"),
    ]


async def test_warming_fills_the_cache_before_anyone_asks(store: ResponseStore) -> None:
    holder = policies(_rows())
    async with cached_client(store, holder=holder) as (client, origin, cache):
        warmer = Warmer(cache, WarmingConfig(pause_s=0))
        assert await warmer.warm(declared_targets(holder.current)) == 2
        assert await warmer.warm(declared_targets(holder.current)) == 0  # already there
        first = await client.get("/items?a=1&b=2")
        plain = await client.get("/items")
    assert first.headers["x-cache"] == "HIT l1"
    assert plain.headers["x-cache"] == "HIT l1"
    assert origin.calls["GET /items"] == 2


async def test_after_a_write_the_hot_keys_are_warmed_again(store: ResponseStore) -> None:
    holder = policies(_rows())
    async with cached_client(store, holder=holder) as (client, origin, cache):
        warmer = Warmer(cache, WarmingConfig(pause_s=0, debounce_s=0))
        for path, hits in (("/items/2", 5), ("/items/4", 1), ("/me", 3)):
            for _ in range(hits):
                await client.get(
                    path, headers={"Authorization": "Bearer guest-1"} if path == "/me" else {}
                )
        await client.post("/items")  # unscoped: every items entry is invalid now
        hot = warmer.hot_targets()
        assert hot == [Target("/items/2", b""), Target("/items/4", b"")]
        assert await warmer.warm(hot) == 2
        again = await client.get("/items/2")
    assert again.headers["x-cache"] == "HIT l1"
    assert again.json()["version"] == 1
    assert origin.calls["GET /items/2"] == 2
