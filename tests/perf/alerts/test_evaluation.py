"""The alert state machine as a table: rule, value, previous state, time -> new state."""

from __future__ import annotations

import pytest

from banrimkwae.perf.alerts import INITIAL, AlertState, Rule, RuleError, evaluate
from banrimkwae.perf.alerts.evaluation import notified
from banrimkwae.perf.alerts.rules import check_rule, format_duration, parse_duration

P95 = Rule(
    id=1,
    name="p95_high",
    metric="p95_ms",
    comparison="above",
    threshold=200.0,
    resolve_threshold=180.0,
    window_seconds=300,
    for_seconds=60,
    severity="warning",
)
HIT_RATE = Rule(
    id=2,
    name="hit_rate_low",
    metric="cache_hit_rate",
    comparison="below",
    threshold=80.0,
    resolve_threshold=85.0,
    window_seconds=900,
    severity="warning",
)
FAILED = Rule(
    id=3,
    name="scale_failed",
    metric="scale_failed_events",
    comparison="above",
    threshold=0.0,
    window_seconds=600,
    severity="critical",
)


def pending(since: float, value: float) -> AlertState:
    return AlertState("pending", since, value)


def firing(since: float, value: float | None) -> AlertState:
    return AlertState("firing", since, value)


def resolved(since: float, value: float | None) -> AlertState:
    return AlertState("resolved", since, value)


CASES = [
    # (case, rule, value, previous, now, expected)
    ("quiet stays inactive", P95, 150.0, INITIAL, 100.0, AlertState("inactive", None, 150.0)),
    ("a breach with `for` waits", P95, 250.0, INITIAL, 100.0, pending(100.0, 250.0)),
    ("still pending before `for`", P95, 260.0, pending(100.0, 250.0), 130.0, pending(100.0, 260.0)),
    ("fires once `for` has passed", P95, 260.0, pending(100.0, 250.0), 160.0, firing(160, 260.0)),
    ("a pending breach that stops", P95, 190.0, pending(100.0, 250.0), 130.0,
     AlertState("inactive", 130.0, 190.0)),
    ("below the threshold, above resolve: still firing (hysteresis)", P95, 190.0,
     firing(160.0, 260.0), 200.0, firing(160.0, 190.0)),
    ("back under the resolve threshold resolves", P95, 170.0, firing(160.0, 260.0), 220.0,
     resolved(220.0, 170.0)),
    ("exactly at the resolve threshold resolves", P95, 180.0, firing(160.0, 260.0), 220.0,
     resolved(220.0, 180.0)),
    ("resolved and breached again goes pending", P95, 300.0, resolved(220.0, 170.0), 300.0,
     pending(300.0, 300.0)),
    ("no traffic keeps a firing alert", P95, None, firing(160.0, 260.0), 300.0,
     firing(160.0, None)),
    ("no traffic cancels a pending one", P95, None, pending(100.0, 250.0), 130.0,
     AlertState("inactive", 130.0, None)),
    ("below-rule without `for` fires at once", HIT_RATE, 60.0, INITIAL, 10.0, firing(10.0, 60.0)),
    ("below-rule hysteresis: 82% is not recovered", HIT_RATE, 82.0, firing(10.0, 60.0), 40.0,
     firing(10.0, 82.0)),
    ("below-rule recovers at 85%", HIT_RATE, 85.0, firing(10.0, 60.0), 40.0, resolved(40.0, 85.0)),
    ("one scale_failed event fires", FAILED, 1.0, INITIAL, 5.0, firing(5.0, 1.0)),
    ("none left in the window resolves", FAILED, 0.0, firing(5.0, 1.0), 700.0,
     resolved(700.0, 0.0)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "value", "previous", "now", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_evaluate(
    rule: Rule, value: float | None, previous: AlertState, now: float, expected: AlertState
) -> None:
    assert evaluate(rule, value, previous, now) == expected


def test_a_value_hovering_at_the_threshold_notifies_once() -> None:
    state, notifications = INITIAL, []
    values = [250, 250, 199, 201, 199, 201, 199, 201, 175, 190, 199, 200]
    for minute, value in enumerate(values):
        new = evaluate(P95, float(value), state, minute * 60.0)
        if notified(state, new):
            notifications.append((minute, new.status))
        state = new
    assert notifications == [(1, "firing"), (8, "resolved")]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"metric": "p50_ms"}, "metric 'p50_ms' is not one of"),
        ({"comparison": "equal"}, "comparison 'equal'"),
        ({"metric": "replica_lag_seconds", "endpoint": "/api/v1/rooms"}, "not measured per"),
        ({"window_seconds": 30}, "at least 1m"),
        ({"resolve_threshold": 250.0}, "at or below the threshold"),
        ({"comparison": "below", "resolve_threshold": 150.0}, "at or above the threshold"),
    ],
)
def test_rules_that_cannot_be_evaluated_are_refused(
    fields: dict[str, object], message: str
) -> None:
    rule: dict[str, object] = {
        "metric": "p95_ms",
        "comparison": "above",
        "threshold": 200.0,
        "resolve_threshold": None,
        "endpoint": None,
        "window_seconds": 300,
    }
    with pytest.raises(RuleError, match=message):
        check_rule(**{**rule, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "seconds"), [("45s", 45), ("5m", 300), ("2h", 7200), ("1d", 86400)]
)
def test_durations_read_and_write_as_prometheus_does(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds
    assert format_duration(seconds) == text


def test_a_duration_without_a_unit_is_refused() -> None:
    with pytest.raises(RuleError, match="followed by s, m, h or d"):
        parse_duration("300")
