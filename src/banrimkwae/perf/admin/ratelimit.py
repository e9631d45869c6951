"""A token bucket per client address, spent by failed authentication attempts only.

Each address starts with `capacity` attempts and earns one back every `refill_seconds`.
While its bucket is empty every attempt from it is refused (429) before any key is looked
at, so guessing costs the guesser time, not the database. Successful requests spend nothing.

The buckets live in the process: with several workers each worker limits on its own, so an
address may fail up to `capacity` times per worker before it is slowed down.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class FailureLimiter:
    def __init__(
        self,
        *,
        capacity: int = 10,
        refill_seconds: float = 6.0,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 1 or refill_seconds <= 0:
            raise ValueError("capacity must be at least 1 and refill_seconds positive")
        self.capacity = capacity
        self.refill_seconds = refill_seconds
        self.max_addresses = max_addresses
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def retry_after(self, address: str) -> int | None:
        """Whole seconds until `address` may try again; None when it may try now."""
        bucket = self._buckets.get(address)
        if bucket is None:
            return None
        tokens = self._level(bucket, self._clock())
        if tokens >= 1:
            return None
        return max(1, math.ceil((1 - tokens) * self.refill_seconds))

    def record_failure(self, address: str) -> None:
        now = self._clock()
        bucket = self._buckets.get(address)
        if bucket is None:
            self._make_room(now)
            bucket = self._buckets[address] = _Bucket(float(self.capacity), now)
        bucket.tokens = max(self._level(bucket, now) - 1, 0.0)
        bucket.updated = now

    def _level(self, bucket: _Bucket, now: float) -> float:
        earned = (now - bucket.updated) / self.refill_seconds
        return min(float(self.capacity), bucket.tokens + earned)

    def _make_room(self, now: float) -> None:
        # Bounded memory under a spray of addresses: forget the buckets that refilled (an
        # absent bucket is a full one), then, if still too many, the longest untouched.
        if len(self._buckets) < self.max_addresses:
            return
        for address, bucket in list(self._buckets.items()):
            if self._level(bucket, now) >= self.capacity:
                del self._buckets[address]
        while len(self._buckets) >= self.max_addresses:
            oldest = min(self._buckets, key=lambda name: self._buckets[name].updated)
            del self._buckets[oldest]
