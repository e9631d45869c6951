"""Alerts evaluated over real rollups and sent to a real webhook receiver on loopback."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from banrimkwae.app import create_fastapi_app
from banrimkwae.perf.alerts import AlertEvaluator, AlertState
from banrimkwae.perf.alerts.store import StoredState, load_states, save_state
from banrimkwae.perf.storage import AlertEvent, AlertRule, ApiMetricRollup
from tests.conftest import make_settings
from tests.perf.alerts.conftest import Receiver, clear_alerts, insert_rows, rollup, rule_row

ROOMS = "/api/v1/rooms/{room_id}"
ATTEMPTS = 3


@pytest.fixture
async def alerting_app(module_database_url: str, receiver: Receiver) -> AsyncIterator[FastAPI]:
    """The app (no lifespan: evaluation is called by the test) notifying `receiver`."""
    app = create_fastapi_app(
        make_settings(
            module_database_url,
            alert_webhooks=[receiver.url],
            alert_webhook_attempts=ATTEMPTS,
            alert_webhook_backoff=0.01,
        )
    )
    await clear_alerts(app)
    yield app
    await app.state.database.dispose()


def evaluator(app: FastAPI) -> AlertEvaluator:
    return app.state.platform.alerts  # type: ignore[no-any-return]


async def events(app: FastAPI) -> list[dict[str, Any]]:
    async with app.state.database.sessions() as session:
        rows = await session.execute(select(AlertEvent.__table__).order_by(AlertEvent.id))
        return [dict(row) for row in rows.mappings()]


async def test_a_slow_endpoint_fires_and_resolves_with_a_retry_after_a_500(
    alerting_app: FastAPI, receiver: Receiver
) -> None:
    await insert_rows(alerting_app, AlertRule, [rule_row("rooms_slow", endpoint=ROOMS)])
    now = time.time()
    await insert_rows(
        alerting_app,
        ApiMetricRollup,
        [rollup(now, ROOMS, [300.0] * 20), rollup(now, "/api/v1/guests", [10.0] * 50)],
    )
    receiver.answers = [500]  # the first delivery fails; the retry succeeds

    fired = await evaluator(alerting_app).evaluate_once(now)
    await evaluator(alerting_app).webhooks.drain()  # type: ignore[union-attr]

    assert [(t.rule.name, t.state.status) for t in fired] == [("rooms_slow", "firing")]
    assert [answered for answered, _ in receiver.received] == [500, 200]
    body = receiver.bodies()[0]
    assert body["version"] == "4" and body["status"] == "firing"
    alert = body["alerts"][0]
    assert alert["labels"] == {
        "alertname": "rooms_slow",
        "severity": "critical",
        "metric": "p95_ms",
        "endpoint": ROOMS,
    }
    assert float(alert["annotations"]["value"]) >= 280.0
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    [event] = await events(alerting_app)
    assert (event["status"], event["delivery"], event["delivery_attempts"]) == (
        "firing",
        "delivered",
        2,
    )

    # Still slow a minute later: firing already, nothing new is sent.
    assert await evaluator(alerting_app).evaluate_once(now + 60) == []

    # Six minutes on, the slow minute has left the window and the endpoint is fast.
    later = now + 360
    await insert_rows(alerting_app, ApiMetricRollup, [rollup(later, ROOMS, [20.0] * 20)])
    resolved = await evaluator(alerting_app).evaluate_once(later)
    await evaluator(alerting_app).webhooks.drain()  # type: ignore[union-attr]

    assert [t.state.status for t in resolved] == ["resolved"]
    last = receiver.bodies()[-1]
    assert last["status"] == "resolved"
    assert last["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
    assert [e["status"] for e in await events(alerting_app)] == ["firing", "resolved"]


async def test_a_receiver_that_keeps_failing_is_recorded_as_a_failed_delivery(
    alerting_app: FastAPI, receiver: Receiver
) -> None:
    await insert_rows(
        alerting_app,
        AlertRule,
        [rule_row("errors_high", metric="error_rate", threshold=5.0, resolve_threshold=None)],
    )
    now = time.time()
    await insert_rows(alerting_app, ApiMetricRollup, [rollup(now, ROOMS, [10.0] * 10, errors=3)])
    receiver.answers = [503] * 10

    await evaluator(alerting_app).evaluate_once(now)
    await evaluator(alerting_app).webhooks.drain()  # type: ignore[union-attr]

    assert len(receiver.received) == ATTEMPTS
    [event] = await events(alerting_app)
    assert event["delivery"] == "failed"
    assert event["delivery_attempts"] == ATTEMPTS
    assert "HTTP 503" in event["delivery_error"]
    assert event["value"] == pytest.approx(30.0)


async def test_a_disabled_rule_that_was_firing_resolves(
    alerting_app: FastAPI, receiver: Receiver
) -> None:
    await insert_rows(alerting_app, AlertRule, [rule_row("rooms_slow")])
    now = time.time()
    await insert_rows(alerting_app, ApiMetricRollup, [rollup(now, ROOMS, [300.0] * 5)])
    await evaluator(alerting_app).evaluate_once(now)
    async with alerting_app.state.database.sessions() as session:
        rule = await session.scalar(select(AlertRule).where(AlertRule.name == "rooms_slow"))
        assert rule is not None
        rule.is_enabled = False
        await session.commit()

    transitions = await evaluator(alerting_app).evaluate_once(now + 30)
    await evaluator(alerting_app).webhooks.drain()  # type: ignore[union-attr]

    assert [t.state.status for t in transitions] == ["resolved"]
    assert [body["status"] for body in receiver.bodies()] == ["firing", "resolved"]


async def test_of_two_workers_only_one_records_a_transition(alerting_app: FastAPI) -> None:
    await insert_rows(alerting_app, AlertRule, [rule_row("rooms_slow")])
    engine = alerting_app.state.database.engine
    async with engine.connect() as connection:
        rule_id = await connection.scalar(select(AlertRule.id))
        seen = (await load_states(connection)).get(rule_id, StoredState(AlertState(), None))
    firing = AlertState("firing", 100.0, 300.0)

    async with engine.begin() as connection:
        first = await save_state(connection, rule_id, seen, firing, 100.0)
    async with engine.begin() as connection:
        second = await save_state(connection, rule_id, seen, firing, 100.0)
    async with engine.connect() as connection:
        stored = (await load_states(connection))[rule_id]

    assert (first, second) == (True, False)
    assert stored.state == firing and stored.revision == 1
    async with engine.begin() as connection:
        assert await save_state(
            connection, rule_id, stored, AlertState("resolved", 200.0, 100.0), 200.0
        )
    async with engine.begin() as connection:
        assert not await save_state(connection, rule_id, stored, firing, 200.0)
