"""Circuit breaker in front of L2: closed, open, half-open; it recovers by itself.

Closed: calls go through; `failure_threshold` failures within `failure_window_s` open it.
Successes in between do not reset the count: a Cluster with one dead master fails a third
of the calls while the rest succeed, and each failure may have cost a full timeout. Sparse
failures (fewer than the threshold per window) never open it. Open: calls are skipped (the
caller answers from L1 or the origin) until `reset_timeout_s` has passed.
Half-open: one caller at a time is let through as a probe; success closes the breaker,
failure opens it again for another `reset_timeout_s`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TypeVar

from banrimkwae.perf.cache.stats import LayerStats

T = TypeVar("T")
logger = logging.getLogger(__name__)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int = 3,
        failure_window_s: float = 2.0,
        reset_timeout_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        on_open: Callable[[], None] | None = None,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.failure_window_s = failure_window_s
        self.reset_timeout_s = reset_timeout_s
        self._clock = clock
        self._on_open = on_open
        self._state = BreakerState.CLOSED
        self._failures: deque[float] = deque()
        self._opened_at = 0.0
        self._probing = False
        self._probe_started = 0.0
        self.opened_count = 0

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._cooled_down():
            return BreakerState.HALF_OPEN
        return self._state

    def allow(self) -> bool:
        """May a call go to L2 now? In half-open only the first caller (the probe) may."""
        if self._state is BreakerState.CLOSED:
            return True
        if self._state is BreakerState.OPEN:
            if not self._cooled_down():
                return False
            self._state = BreakerState.HALF_OPEN
            self._probing = False
        # A probe that never reported back (its task was cancelled) must not wedge us.
        if self._probing and self._clock() - self._probe_started < self.reset_timeout_s:
            return False
        self._probing = True
        self._probe_started = self._clock()
        return True

    def record_success(self) -> None:
        if self._state is not BreakerState.CLOSED:
            self._failures.clear()
            self._state = BreakerState.CLOSED
        self._probing = False

    def record_failure(self) -> None:
        self._probing = False
        if self._state is BreakerState.HALF_OPEN:
            self._open()
            return
        now = self._clock()
        failures = self._failures
        failures.append(now)
        while failures and failures[0] <= now - self.failure_window_s:
            failures.popleft()
        if self._state is BreakerState.CLOSED and len(failures) >= self.failure_threshold:
            self._open()

    def force_open(self) -> None:
        """Open now (a dropped pub/sub link means L1 can no longer trust its versions)."""
        if self._state is not BreakerState.OPEN:
            self._open()

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
        self._failures.clear()
        self.opened_count += 1
        if self._on_open is not None:
            self._on_open()

    def _cooled_down(self) -> bool:
        return self._clock() - self._opened_at >= self.reset_timeout_s


class Unavailable:
    """What a guarded L2 call returns instead of raising: the caller answers from below."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNAVAILABLE"


UNAVAILABLE = Unavailable()


class L2Guard:
    """Runs each L2 call through the breaker under a deadline; failures are counted, logged
    once per opening, and never raised (short socket timeouts back the deadline up)."""

    def __init__(self, breaker: CircuitBreaker, stats: LayerStats, *, timeout_s: float) -> None:
        self.breaker = breaker
        self.stats = stats
        self.timeout_s = timeout_s

    async def run(self, operation: Callable[[], Awaitable[T]]) -> T | Unavailable:
        if not self.breaker.allow():
            self.stats.skipped += 1
            return UNAVAILABLE
        try:
            async with asyncio.timeout(self.timeout_s):
                result = await operation()
        except Exception as exc:  # any L2 failure degrades, none escapes
            self.stats.errors += 1
            was_closed = self.breaker.state is BreakerState.CLOSED
            self.breaker.record_failure()
            if was_closed and self.breaker.state is not BreakerState.CLOSED:
                logger.warning("cache L2 unavailable, breaker open: %r", exc)
            return UNAVAILABLE
        self.breaker.record_success()
        return result
