"""Policies: compiled from api_cache_config rows, matched by path, reloaded on change."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.cache.policies import (
    PolicyError,
    PolicyHolder,
    PolicySet,
    compile_policy,
    compile_rows_checked,
)
from banrimkwae.perf.cache.policy_loader import PolicyReloader, announce_change
from banrimkwae.perf.storage.models import ApiCacheConfig
from tests.perf.cache.conftest import StoreBackend


def _row(pattern: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "endpoint_pattern": pattern,
        "http_methods": ["GET"],
        "cache_ttl_seconds": 60,
    }
    row.update(values)
    return row


def _set(*rows: dict[str, Any]) -> PolicySet:
    policies, errors = compile_rows_checked(list(rows))
    assert errors == []
    return PolicySet(policies)


def test_exact_template_and_glob_patterns_match_their_paths() -> None:
    policies = _set(
        _row("/api/v1/properties"),
        _row("/api/v1/properties/{property_id}"),
        _row("/api/v1/restaurants/*/menu"),
        _row("/static/**"),
    )
    assert policies.match("/api/v1/properties").name == "/api/v1/properties"  # type: ignore[union-attr]
    assert policies.match("/api/v1/properties/7").name == "/api/v1/properties/{property_id}"  # type: ignore[union-attr]
    assert policies.match("/api/v1/restaurants/3/menu").name == "/api/v1/restaurants/*/menu"  # type: ignore[union-attr]
    assert policies.match("/static/a/b/c.css").name == "/static/**"  # type: ignore[union-attr]
    # A template field is one segment; nothing else matches.
    assert policies.match("/api/v1/properties/7/rooms") is None
    assert policies.match("/api/v1/properties/") is None
    assert policies.match("/API/v1/properties") is None
    assert policies.match("/api/v1/restaurants/3/4/menu") is None


def test_the_most_specific_pattern_wins() -> None:
    policies = _set(
        _row("/api/v1/**", cache_ttl_seconds=1),
        _row("/api/v1/properties/{property_id}", cache_ttl_seconds=2),
        _row("/api/v1/properties/{property_id}/availability", cache_ttl_seconds=3),
        _row("/api/v1/properties/1", cache_ttl_seconds=4),
    )
    assert policies.match("/api/v1/properties/1").ttl == 4  # type: ignore[union-attr]
    assert policies.match("/api/v1/properties/2").ttl == 2  # type: ignore[union-attr]
    assert policies.match("/api/v1/properties/2/availability").ttl == 3  # type: ignore[union-attr]
    assert policies.match("/api/v1/guests").ttl == 1  # type: ignore[union-attr]


def test_inactive_policies_do_not_match() -> None:
    assert _set(_row("/a", is_active=False)).match("/a") is None


def test_only_safe_methods_are_ever_cached() -> None:
    policy = compile_policy(_row("/a", http_methods=["get", "POST", "DELETE"]))
    assert policy.methods == {"GET", "HEAD"}
    with pytest.raises(PolicyError, match="GET or HEAD"):
        compile_policy(_row("/a", http_methods=["POST"]))


def test_user_scope_comes_from_the_strategy_or_the_key() -> None:
    hierarchical = compile_policy(_row("/me", cache_strategy="hierarchical"))
    assert hierarchical.user_scoped and hierarchical.key.varies_on("user_id")
    keyed = compile_policy(_row("/me", cache_key_pattern="{endpoint}?{query}#{user_id}"))
    assert keyed.user_scoped
    assert not compile_policy(_row("/public")).user_scoped


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"cache_strategy": "lru"}, "unknown cache_strategy"),
        ({"cache_ttl_seconds": 0}, "positive"),
        ({"cache_key_pattern": "{endpoint}"}, "{query}"),
        ({"cache_key_pattern": "{endpoint}?{query}{session}"}, "unknown key field"),
        (
            {"cache_strategy": "hierarchical", "cache_key_pattern": "{endpoint}?{query}"},
            "{user_id}",
        ),
        ({"cache_options": {"invalidation_grace_seconds": -1}}, "from 0 to 3600"),
        ({"cache_options": {"invalidation_grace_seconds": "30"}}, "from 0 to 3600"),
        (
            {"cache_strategy": "hierarchical", "cache_options": {"invalidation_grace_seconds": 5}},
            "user-scoped policy cannot serve invalidated entries",
        ),
    ],
)
def test_a_row_that_cannot_be_compiled_says_why(values: dict[str, Any], message: str) -> None:
    policies, errors = compile_rows_checked([_row("/bad", **values), _row("/good")])
    assert [p.name for p in policies] == ["/good"]
    assert len(errors) == 1 and errors[0].startswith("/bad:") and message in errors[0]


def test_stale_windows_and_options_are_read() -> None:
    policy = compile_policy(
        _row(
            "/a",
            stale_while_revalidate_seconds=10,
            stale_if_error_seconds=300,
            invalidation_triggers=["table:rooms", "tag:x"],
            cache_options={"client_max_age": 30, "honour_client_no_cache": True},
        )
    )
    assert (policy.stale_while_revalidate, policy.stale_if_error, policy.stale_ttl) == (
        10,
        300,
        300,
    )
    assert policy.invalidation_triggers == ("table:rooms", "tag:x")
    assert policy.client_max_age == 30 and policy.honour_client_no_cache
    assert policy.invalidation_grace == 0  # by default an invalidation is hard


def test_an_invalidation_grace_is_read_from_the_options() -> None:
    options = {"invalidation_grace_seconds": 30}
    assert compile_policy(_row("/a", cache_options=options)).invalidation_grace == 30


async def test_every_worker_reloads_when_a_policy_changes(
    engine: AsyncEngine, store_backend: StoreBackend
) -> None:
    # Two workers on one backend (memory only: one machine's shared tag file).
    first_store = await store_backend.make_store()
    second_store = await store_backend.make_store()
    holders = [PolicyHolder(), PolicyHolder()]
    reloaders = [
        PolicyReloader(holders[0], engine, first_store),
        PolicyReloader(holders[1], engine, second_store),
    ]
    for reloader in reloaders:
        await reloader.reload()
    pattern = "/api/v1/properties"
    assert holders[1].current.by_name(pattern).ttl == 600  # type: ignore[union-attr]
    table = ApiCacheConfig.__table__
    async with engine.begin() as connection:
        await connection.execute(
            update(table).where(table.c.endpoint_pattern == pattern).values(cache_ttl_seconds=5)
        )
    try:
        assert not await reloaders[1].check()  # nothing announced: nothing re-read
        await announce_change(first_store)
        if store_backend.redis_url is not None:
            await _until(lambda: second_store.peek("bk:policies-version") is None)
        assert await reloaders[1].check()
        assert holders[1].current.by_name(pattern).ttl == 5  # type: ignore[union-attr]
    finally:
        async with engine.begin() as connection:
            await connection.execute(
                update(table)
                .where(table.c.endpoint_pattern == pattern)
                .values(cache_ttl_seconds=600)
            )


async def test_edits_made_in_sql_are_caught_by_the_full_check(engine: AsyncEngine) -> None:
    from banrimkwae.perf.cache.store import ResponseStore

    store = ResponseStore(l1_max_bytes=1 << 20)
    holder = PolicyHolder()
    reloader = PolicyReloader(holder, engine, store)
    await reloader.reload()
    table = ApiCacheConfig.__table__
    pattern = "/api/v1/menu-items/{item_id}"
    async with engine.begin() as connection:
        await connection.execute(
            update(table).where(table.c.endpoint_pattern == pattern).values(is_active=False)
        )
    try:
        assert await reloader.check(full=True)
        assert holder.current.by_name(pattern) is None
    finally:
        async with engine.begin() as connection:
            await connection.execute(
                update(table).where(table.c.endpoint_pattern == pattern).values(is_active=True)
            )
        await store.stop()


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the change did not arrive within 5 s")
