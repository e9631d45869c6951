"""The scaling rule: the recorded traffic replayed through the simulator, a better config.

Three hours of bursty traffic (300 req/s with ten-minute bursts to 3000) are written as the
metrics flusher writes them; an HPA-style configuration meets the bursts late, and the
simulator finds that the SLO policy would have had fewer violation minutes for fewer
instance-hours.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import FastAPI

from banrimkwae.perf.access import Role
from banrimkwae.perf.recommend.engine import run_rules
from banrimkwae.perf.recommend.scaling_rule import MIN_TRACE_SECONDS
from banrimkwae.perf.storage import ApiMetricRollup, AutoScalingConfig
from tests.perf.recommend.rows import (
    RECOMMENDATIONS,
    admin_client,
    insert_rows,
    open_recommendations,
    recommend_command,
    request_rollup,
)

MINUTES = 180


def _config(service: str, policy: str, **values: object) -> dict[str, object]:
    return {
        "service_name": service,
        "policy": policy,
        "min_instances": 1,
        "max_instances": 20,
        "scale_up_cooldown_seconds": 300,
        "scale_down_cooldown_seconds": 600,
        **values,
    }


async def _bursty_traffic(app: FastAPI, now: float, minutes: int = MINUTES) -> None:
    rows = []
    for index in range(minutes):
        rate = 3000 if index % 40 >= 30 else 300
        rows.append(
            request_rollup(
                now - (minutes - index) * 60, "/api/v1/properties", requests=rate * 60, hits=0
            )
        )
    await insert_rows(app, ApiMetricRollup, rows)


async def test_the_simulator_finds_a_config_with_fewer_violation_minutes_for_no_more_hours(
    rules_app: FastAPI, role_keys: dict[Role, str]
) -> None:
    now = time.time()
    await _bursty_traffic(rules_app, now)
    await insert_rows(
        rules_app,
        AutoScalingConfig,
        [
            _config("api", "hpa"),
            _config("disabled", "hpa", is_enabled=False),
        ],
    )
    await run_rules(rules_app.state.database.engine, period="24h", now=now)
    found = await open_recommendations(rules_app)
    assert "scaling:disabled" not in found
    scaling = found["scaling:api"]
    assert (scaling.recommendation_type, scaling.status) == ("scaling", "pending")
    impact = scaling.impact_analysis
    current, recommended = impact["current"], impact["recommended"]
    assert float(scaling.current_metric_value) == current["slo_violation_minutes"]
    assert float(scaling.recommended_metric_value) == recommended["slo_violation_minutes"]
    assert recommended["slo_violation_minutes"] < current["slo_violation_minutes"]
    assert recommended["instance_hours"] <= current["instance_hours"]
    assert impact["change"]["kind"] == "scaling_config"
    assert impact["change"]["set"]["policy"] == "slo"
    assert impact["trace"]["source"] == "recorded"
    assert 1 <= len(impact["candidates"]) <= 8
    assert any("/api/admin/scaling/configs/" in step for step in scaling.implementation_steps)

    async with admin_client(rules_app, role_keys["viewer"]) as client:
        listed = await client.get(RECOMMENDATIONS, params={"type": "scaling"})
    assert listed.status_code == 200
    assert [item["target_resource"] for item in listed.json()["data"]] == ["scaling:api"]


async def test_the_command_shows_the_scaling_recommendation(
    rules_app: FastAPI, module_database_url: str
) -> None:
    await _bursty_traffic(rules_app, time.time())
    await insert_rows(rules_app, AutoScalingConfig, [_config("api", "hpa")])
    done = await asyncio.to_thread(
        recommend_command, module_database_url, "--period", "24h", COLUMNS="250"
    )
    assert done.returncode == 0, done.stderr
    [line] = [line for line in done.stdout.splitlines() if "scaling:api" in line]
    assert [cell.strip() for cell in line.split("│")[2:4]] == ["scaling", "scaling"]  # type, rule


async def test_too_little_recorded_traffic_says_nothing(rules_app: FastAPI) -> None:
    now = time.time()
    await _bursty_traffic(rules_app, now, minutes=int(MIN_TRACE_SECONDS // 60) - 1)
    await insert_rows(rules_app, AutoScalingConfig, [_config("api", "hpa")])
    await run_rules(rules_app.state.database.engine, period="24h", now=now)
    assert "scaling:api" not in await open_recommendations(rules_app)
