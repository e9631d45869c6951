"""Health of a set of endpoints: active checks, passive outlier ejection, a panic threshold.

- Active checks (a probe the owner runs on a timer) are facts: an endpoint that failed
  `unhealthy_threshold` checks in a row is out until it passes `healthy_threshold` in a row.
  A replica too far behind its primary fails its check the same way.
- Passive ejection is a guess from live traffic: `consecutive_errors` failures in a row eject
  the endpoint for `base_ejection` seconds, doubled at each ejection that follows soon after
  the last (up to `max_ejection`), so a flapping endpoint stays out longer each time.
  No more than `max_ejection_percent` of the set is ejected at once (but always at least one).
- Panic: when the endpoints in rotation fall below `panic_threshold` of the set, passive
  ejections are ignored (the guess is probably wrong: everything is failing together), while
  endpoints failing active checks stay out. 0 turns panic off.

Pure: every method takes `now`; nothing here sleeps or talks to the network.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    unhealthy_threshold: int = 1
    healthy_threshold: int = 1
    consecutive_errors: int = 5
    base_ejection: float = 5.0
    max_ejection: float = 300.0
    max_ejection_percent: float = 50.0
    panic_threshold: float = 0.0


@dataclass(slots=True)
class EndpointHealth:
    name: str
    checked_healthy: bool = True
    check_failures: int = 0
    check_successes: int = 0
    reason: str = ""
    consecutive_errors: int = 0
    ejected_until: float = 0.0
    ejections: int = 0
    last_ejection_end: float = 0.0

    def ejected(self, now: float) -> bool:
        return now < self.ejected_until


class HealthTracker:
    def __init__(self, names: Iterable[str], policy: HealthPolicy | None = None) -> None:
        self.policy = policy or HealthPolicy()
        self.endpoints = {name: EndpointHealth(name) for name in names}
        self.panics = 0

    # -- active checks ----------------------------------------------------------------------
    def record_check(self, name: str, ok: bool, now: float, reason: str = "") -> None:
        state = self.endpoints[name]
        if ok:
            state.check_failures = 0
            state.check_successes += 1
            if not state.checked_healthy and state.check_successes >= self.policy.healthy_threshold:
                state.checked_healthy = True
                state.reason = ""
                # A passing check is better evidence than the old guess: end the ejection.
                state.ejected_until = min(state.ejected_until, now)
                state.consecutive_errors = 0
        else:
            state.check_successes = 0
            state.check_failures += 1
            state.reason = reason or "check failed"
            if state.check_failures >= self.policy.unhealthy_threshold:
                state.checked_healthy = False

    # -- passive outlier detection ----------------------------------------------------------
    def record_result(self, name: str, ok: bool, now: float) -> bool:
        """Count one request's outcome; True when this outcome ejected the endpoint."""
        state = self.endpoints[name]
        if ok:
            state.consecutive_errors = 0
            return False
        state.consecutive_errors += 1
        if state.consecutive_errors < self.policy.consecutive_errors or state.ejected(now):
            return False
        if not self._may_eject(now):
            return False
        if state.ejections and now - state.last_ejection_end > self.policy.max_ejection:
            state.ejections = 0  # long enough well-behaved: the backoff starts over
        state.ejections += 1
        duration = min(
            self.policy.base_ejection * 2 ** (state.ejections - 1), self.policy.max_ejection
        )
        state.ejected_until = now + duration
        state.last_ejection_end = state.ejected_until
        state.consecutive_errors = 0
        return True

    def _may_eject(self, now: float) -> bool:
        ejected = sum(1 for state in self.endpoints.values() if state.ejected(now))
        allowed = len(self.endpoints) * self.policy.max_ejection_percent / 100.0
        return ejected == 0 or ejected + 1 <= allowed

    # -- what is in rotation ----------------------------------------------------------------
    def available(self, now: float) -> list[str]:
        checked = [name for name, state in self.endpoints.items() if state.checked_healthy]
        healthy = [name for name in checked if not self.endpoints[name].ejected(now)]
        total = len(self.endpoints)
        if total and len(healthy) / total < self.policy.panic_threshold and checked:
            self.panics += 1
            return checked
        return healthy

    def snapshot(self, now: float) -> dict[str, dict[str, Any]]:
        shown: dict[str, dict[str, Any]] = {}
        for name, state in self.endpoints.items():
            if not state.checked_healthy:
                status = "unhealthy"
            elif state.ejected(now):
                status = "ejected"
            else:
                status = "healthy"
            shown[name] = {
                "status": status,
                "reason": state.reason,
                "ejections": state.ejections,
                "ejected_for_seconds": round(max(state.ejected_until - now, 0.0), 3),
                "consecutive_errors": state.consecutive_errors,
            }
        return shown
