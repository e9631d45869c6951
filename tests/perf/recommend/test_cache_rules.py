"""The cache rules over real statistics and rollup rows: TTL, warming, a missing policy.

The rows are what the cache's statistics roll-up and the metrics flusher write; the
policies are the defaults the migrations install.
"""

from __future__ import annotations

import time

from fastapi import FastAPI
from sqlalchemy import delete, select

from banrimkwae.perf.access import Role
from banrimkwae.perf.recommend.cache_rules import hit_rate_at, ttl_for
from banrimkwae.perf.recommend.engine import run_rules
from banrimkwae.perf.storage import ApiCacheConfig, ApiMetricRollup, CacheStatistic
from tests.perf.recommend.rows import (
    RECOMMENDATIONS,
    admin_client,
    cache_statistic,
    insert_rows,
    open_recommendations,
    request_rollup,
)

ROOM = "/api/v1/rooms/{room_id}"  # TTL 600 s, stale-while-revalidate 30 s, no warming
PROPERTY = "/api/v1/properties/{property_id}"  # warming on
BOOKING = "/api/v1/bookings/{booking_id}"  # no policy


async def _policy_id(app: FastAPI, pattern: str) -> int:
    async with app.state.database.sessions() as session:
        return int(
            await session.scalar(
                select(ApiCacheConfig.id).where(ApiCacheConfig.endpoint_pattern == pattern)
            )
        )


def test_the_ttl_model_reaches_its_aim() -> None:
    longer = ttl_for(0.15, 600.0)
    assert round(hit_rate_at(0.15, 600.0, longer), 6) == 0.8
    assert hit_rate_at(0.5, 60.0, 60.0) == 0.5


async def test_entries_expiring_before_reuse_get_a_longer_ttl_until_the_hit_rate_recovers(
    rules_app: FastAPI,
) -> None:
    await insert_rows(
        rules_app,
        CacheStatistic,
        [
            cache_statistic(ROOM, lookups=1000, hits=150),
            # never asked twice: no TTL would help
            cache_statistic(PROPERTY, lookups=1000, hits=0),
            # healthy
            cache_statistic("/api/v1/properties", lookups=1000, hits=700),
        ],
    )
    await run_rules(rules_app.state.database.engine, now=time.time())
    found = await open_recommendations(rules_app)
    ttl = found[f"cache-ttl:{ROOM}"]
    assert (ttl.recommendation_type, ttl.status) == ("cache", "pending")
    assert float(ttl.current_metric_value) == 15.0
    assert 80.0 <= float(ttl.recommended_metric_value) < 81.0
    change = ttl.impact_analysis["change"]
    assert change == {
        "kind": "cache_policy",
        "id": await _policy_id(rules_app, ROOM),
        "set": {"cache_ttl_seconds": 13620},
    }
    assert any("cache_ttl_seconds from 600 to 13620" in step for step in ttl.implementation_steps)
    assert f"cache-ttl:{PROPERTY}" not in found
    assert "cache-ttl:/api/v1/properties" not in found

    # The TTL was raised: most lookups hit now, and the recommendation closes itself.
    async with rules_app.state.database.sessions() as session:
        await session.execute(delete(CacheStatistic))
        await session.commit()
    await insert_rows(rules_app, CacheStatistic, [cache_statistic(ROOM, lookups=1000, hits=820)])
    result = await run_rules(rules_app.state.database.engine, now=time.time())
    assert result.closed == [ttl.id]
    closed = (await open_recommendations(rules_app))[f"cache-ttl:{ROOM}"]
    assert closed.status == "completed"
    assert closed.impact_analysis["after_value"] == 82.0


async def test_misses_bunched_after_invalidations_recommend_warming_where_it_is_off(
    rules_app: FastAPI,
) -> None:
    now = time.time()
    rows = []
    for endpoint in (ROOM, PROPERTY):
        for index in range(20):
            cold = index in (3, 12)  # right after two invalidations
            rows.append(
                request_rollup(
                    now - (20 - index) * 60, endpoint, requests=100, hits=5 if cold else 95
                )
            )
    await insert_rows(rules_app, ApiMetricRollup, rows)
    await run_rules(rules_app.state.database.engine, now=now)
    found = await open_recommendations(rules_app)
    warming = found[f"cache-warming:{ROOM}"]
    assert warming.recommendation_type == "cache"
    assert float(warming.current_metric_value) == 5.0
    assert float(warming.recommended_metric_value) == 86.0
    assert warming.impact_analysis["cold_minutes"] == 2
    assert warming.impact_analysis["change"] == {
        "kind": "cache_policy",
        "id": await _policy_id(rules_app, ROOM),
        "set": {"cache_warming_enabled": True},
    }
    assert f"cache-warming:{PROPERTY}" not in found  # warming is on there already
    assert not [target for target in found if target.startswith("cache:")]  # 86 % overall


async def test_a_hot_read_without_a_policy_gets_one_and_the_platforms_own_paths_do_not(
    rules_app: FastAPI, role_keys: dict[Role, str]
) -> None:
    now = time.time()
    await insert_rows(
        rules_app,
        ApiMetricRollup,
        [
            request_rollup(now - 120, BOOKING, requests=1500, latency_ms=45.0),
            request_rollup(now - 120, "/api/admin/performance/report", requests=5000),
            request_rollup(now - 120, "/api/v1/bookings", requests=3000, method="POST"),
        ],
    )
    await run_rules(rules_app.state.database.engine, now=now)
    found = await open_recommendations(rules_app)
    assert set(found) == {f"cache-policy:GET {BOOKING}"}  # no second "low hit rate" finding
    policy = found[f"cache-policy:GET {BOOKING}"]
    assert policy.impact_analysis["change"]["create"]["endpoint_pattern"] == BOOKING
    assert policy.impact_analysis["change"]["create"]["cache_strategy"] == "tagged"

    async with admin_client(rules_app, role_keys["viewer"]) as client:
        listed = await client.get(RECOMMENDATIONS, params={"type": "cache"})
    assert listed.status_code == 200
    [item] = listed.json()["data"]
    assert (item["target_resource"], item["type"]) == (f"cache-policy:GET {BOOKING}", "cache")
    assert item["impact_analysis"]["rule"] == "cache_policy"
