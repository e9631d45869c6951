"""The circuit breaker in front of L2: opens on failures, half-opens, recovers by itself."""

from __future__ import annotations

from banrimkwae.perf.cache.breaker import (
    UNAVAILABLE,
    BreakerState,
    CircuitBreaker,
    L2Guard,
)
from banrimkwae.perf.cache.stats import LayerStats


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_failures_close_together_open_it_even_between_successes() -> None:
    breaker = CircuitBreaker(failure_threshold=3, failure_window_s=2, clock=Clock())
    for _ in range(2):  # one Cluster node of three is down: most calls still succeed
        breaker.record_failure()
        breaker.record_success()
        breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN and breaker.opened_count == 1
    assert not breaker.allow()


def test_sparse_failures_never_open_it() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, failure_window_s=2, clock=clock)
    for _ in range(10):
        breaker.record_failure()
        clock.now += 1.5
    assert breaker.state is BreakerState.CLOSED and breaker.opened_count == 0


def test_after_the_timeout_one_probe_goes_through() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout_s=5, clock=clock)
    breaker.record_failure()
    clock.now += 5
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # everybody else waits for its verdict
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()


def test_a_failed_probe_opens_it_again() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout_s=5, clock=clock)
    breaker.record_failure()
    clock.now += 5
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN and breaker.opened_count == 2
    clock.now += 4
    assert not breaker.allow()


def test_a_probe_that_never_reports_does_not_wedge_it() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout_s=5, clock=clock)
    breaker.record_failure()
    clock.now += 5
    assert breaker.allow()  # a probe whose task is then cancelled
    clock.now += 5
    assert breaker.allow()


async def test_the_guard_turns_failures_into_unavailable_and_counts_them() -> None:
    clock = Clock()
    stats = LayerStats()
    guard = L2Guard(
        CircuitBreaker(failure_threshold=2, reset_timeout_s=1, clock=clock), stats, timeout_s=1
    )

    async def broken() -> int:
        raise ConnectionError("redis is down")

    async def working() -> int:
        return 7

    assert await guard.run(broken) is UNAVAILABLE
    assert await guard.run(broken) is UNAVAILABLE
    assert stats.errors == 2 and guard.breaker.state is BreakerState.OPEN
    assert await guard.run(working) is UNAVAILABLE  # skipped while open
    assert stats.skipped == 1
    clock.now += 1
    assert await guard.run(working) == 7  # the probe succeeds: closed again
    assert guard.breaker.state is BreakerState.CLOSED


async def test_the_guard_gives_up_on_a_slow_call() -> None:
    import asyncio

    stats = LayerStats()
    guard = L2Guard(CircuitBreaker(failure_threshold=1), stats, timeout_s=0.01)

    async def hangs() -> int:
        await asyncio.Event().wait()
        return 0

    assert await guard.run(hangs) is UNAVAILABLE
    assert stats.errors == 1 and guard.breaker.state is BreakerState.OPEN
