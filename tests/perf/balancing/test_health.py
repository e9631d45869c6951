"""Health tracking: active checks, passive ejection with backoff, panic threshold."""

from __future__ import annotations

import pytest

from banrimkwae.perf.balancing import HealthPolicy, HealthTracker


def tracker(*names: str, **policy: float) -> HealthTracker:
    return HealthTracker(names, HealthPolicy(**policy))  # type: ignore[arg-type]


def fail(health: HealthTracker, name: str, times: int, now: float) -> list[bool]:
    return [health.record_result(name, False, now) for _ in range(times)]


def test_a_failed_check_takes_an_endpoint_out_until_it_passes() -> None:
    health = tracker("a", "b")
    health.record_check("a", False, 0.0, "lagging 9.0s")
    assert health.available(0.0) == ["b"]
    assert health.snapshot(0.0)["a"] == {
        "status": "unhealthy",
        "reason": "lagging 9.0s",
        "ejections": 0,
        "ejected_for_seconds": 0.0,
        "consecutive_errors": 0,
    }
    health.record_check("a", True, 1.0)
    assert health.available(1.0) == ["a", "b"]


@pytest.mark.parametrize(
    ("unhealthy", "healthy", "checks", "in_rotation"),
    [
        (1, 1, [False], False),
        (2, 1, [False], True),
        (2, 1, [False, False], False),
        (2, 1, [False, True, False], True),  # failures must be consecutive
        (1, 2, [False, True], False),
        (1, 2, [False, True, True], True),
    ],
)
def test_check_thresholds(
    unhealthy: int, healthy: int, checks: list[bool], in_rotation: bool
) -> None:
    health = tracker("a", "b", unhealthy_threshold=unhealthy, healthy_threshold=healthy)
    for second, ok in enumerate(checks):
        health.record_check("a", ok, float(second))
    assert ("a" in health.available(10.0)) is in_rotation


def test_consecutive_errors_eject_and_successes_reset_the_count() -> None:
    health = tracker("a", "b", consecutive_errors=3, base_ejection=5.0)
    fail(health, "a", 2, 0.0)
    health.record_result("a", True, 0.0)
    assert fail(health, "a", 2, 0.0) == [False, False]
    assert fail(health, "a", 1, 0.0) == [True]
    assert health.available(1.0) == ["b"]
    assert health.snapshot(1.0)["a"]["status"] == "ejected"
    assert health.available(5.0) == ["a", "b"]  # the ejection ran out


def test_repeated_ejections_back_off_exponentially_up_to_the_cap() -> None:
    health = tracker("a", "b", consecutive_errors=1, base_ejection=5.0, max_ejection=30.0)
    now = 0.0
    durations = []
    for _ in range(5):
        fail(health, "a", 1, now)
        durations.append(health.endpoints["a"].ejected_until - now)
        now = health.endpoints["a"].ejected_until  # fails again as soon as it is back
    assert durations == [5.0, 10.0, 20.0, 30.0, 30.0]


def test_backoff_starts_over_after_a_long_good_spell() -> None:
    health = tracker("a", "b", consecutive_errors=1, base_ejection=5.0, max_ejection=30.0)
    fail(health, "a", 1, 0.0)
    fail(health, "a", 1, 5.0)  # 10 s
    fail(health, "a", 1, 15.0 + 31.0)  # well-behaved for longer than max_ejection
    assert health.endpoints["a"].ejected_until - 46.0 == 5.0


def test_passive_ejection_is_capped_by_max_ejection_percent() -> None:
    health = tracker("a", "b", "c", "d", consecutive_errors=1, max_ejection_percent=50.0)
    assert [fail(health, name, 1, 0.0)[0] for name in "abcd"] == [True, True, False, False]
    assert health.available(0.0) == ["c", "d"]


def test_one_endpoint_may_always_be_ejected() -> None:
    health = tracker("only", consecutive_errors=1, max_ejection_percent=10.0)
    assert fail(health, "only", 1, 0.0) == [True]
    assert health.available(0.0) == []


def test_panic_ignores_passive_ejections_but_not_failed_checks() -> None:
    health = tracker(
        "a", "b", "c", consecutive_errors=1, max_ejection_percent=100.0, panic_threshold=0.5
    )
    health.record_check("c", False, 0.0, "unreachable")
    fail(health, "a", 1, 0.0)
    # Only b of three is fully healthy (33% < 50%): panic brings a back, never c.
    assert health.available(0.0) == ["a", "b"]
    assert health.panics == 1


def test_no_panic_by_default() -> None:
    health = tracker("a", "b", consecutive_errors=1, max_ejection_percent=100.0)
    fail(health, "a", 1, 0.0)
    fail(health, "b", 1, 0.0)
    assert health.available(0.0) == []


def test_a_passing_check_ends_a_passive_ejection_of_an_unhealthy_endpoint() -> None:
    health = tracker("a", "b", consecutive_errors=1)
    fail(health, "a", 1, 0.0)
    health.record_check("a", False, 0.5, "unreachable")
    health.record_check("a", True, 1.0)
    assert health.available(1.0) == ["a", "b"]
