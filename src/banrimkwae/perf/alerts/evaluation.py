"""The alert state machine: rule + observed value + previous state + now -> new state.

inactive --breach--> pending --breach held for `for`--> firing --cleared--> resolved
A rule with no `for` fires on the first breach. A pending alert whose breach stops goes back
to inactive without a notification. A firing alert stays firing until the value is back past
the resolve threshold, not merely back past the threshold (hysteresis). No value (no traffic
in the window) counts as neither breached nor cleared: a firing alert stays as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from banrimkwae.perf.alerts.rules import Rule

Status = Literal["inactive", "pending", "firing", "resolved"]
STATUSES: tuple[Status, ...] = ("inactive", "pending", "firing", "resolved")
# The transitions that are notified (to webhooks) and recorded as events.
NOTIFIED: frozenset[Status] = frozenset({"firing", "resolved"})


@dataclass(frozen=True, slots=True)
class AlertState:
    status: Status = "inactive"
    # When the current status began (epoch seconds); None for a rule never evaluated.
    since: float | None = None
    value: float | None = None


INITIAL = AlertState()


def evaluate(rule: Rule, value: float | None, previous: AlertState, now: float) -> AlertState:
    """The state after observing `value` at `now`; the same status keeps its `since`."""
    if value is None:
        if previous.status == "pending":
            return AlertState("inactive", now, None)
        return replace(previous, value=None)
    breached = rule.breached(value)
    status = previous.status
    if status in ("inactive", "resolved"):
        if not breached:
            return replace(previous, value=value)
        if rule.for_seconds <= 0:
            return AlertState("firing", now, value)
        return AlertState("pending", now, value)
    if status == "pending":
        if not breached:
            return AlertState("inactive", now, value)
        started = previous.since if previous.since is not None else now
        if now - started >= rule.for_seconds:
            return AlertState("firing", now, value)
        return replace(previous, value=value)
    # firing
    if rule.cleared(value):
        return AlertState("resolved", now, value)
    return replace(previous, value=value)


def notified(previous: AlertState, current: AlertState) -> bool:
    """Whether going from `previous` to `current` is a firing or a resolution to announce."""
    return current.status != previous.status and current.status in NOTIFIED
