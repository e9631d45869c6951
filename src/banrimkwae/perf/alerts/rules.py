"""Alert rules: a threshold on one report metric over a window, with a severity.

A rule fires when its metric crosses `threshold` (above or below) for `for_seconds`, and a
firing rule resolves only once the metric is back past `resolve_threshold` (hysteresis: a
value hovering at the threshold does not flap). The metrics are the report's own, from a
fixed catalogue; those measured per endpoint may be narrowed to one route template.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Comparison = Literal["above", "below"]
Severity = Literal["info", "warning", "critical"]
COMPARISONS: tuple[Comparison, ...] = ("above", "below")
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")


@dataclass(frozen=True, slots=True)
class MetricInfo:
    name: str
    unit: str
    description: str
    # Measured per endpoint in the rollups, so a rule may name one endpoint.
    per_endpoint: bool


METRICS: dict[str, MetricInfo] = {
    info.name: info
    for info in (
        MetricInfo("p95_ms", "ms", "95th percentile response time", True),
        MetricInfo("p99_ms", "ms", "99th percentile response time", True),
        MetricInfo("avg_ms", "ms", "mean response time", True),
        MetricInfo("error_rate", "%", "share of requests answered with a 5xx", True),
        MetricInfo("cache_hit_rate", "%", "share of requests answered by the cache", True),
        MetricInfo("requests_per_second", "req/s", "request throughput", True),
        MetricInfo("db_time_ms", "ms", "database time per request", True),
        MetricInfo("replica_lag_seconds", "s", "largest read replica lag", False),
        MetricInfo("scale_failed_events", "events", "scale_failed events in the window", False),
    )
}

_DURATION = re.compile(r"^(\d+)(s|m|h|d)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class RuleError(ValueError):
    """A rule that cannot be evaluated as written."""


def parse_duration(text: str) -> int:
    """ "5m" -> 300: seconds, minutes, hours or days, as Prometheus writes them."""
    found = _DURATION.match(text.strip())
    if found is None:
        raise RuleError(f"duration {text!r} is not a number followed by s, m, h or d")
    return int(found.group(1)) * _UNIT_SECONDS[found.group(2)]


def format_duration(seconds: int) -> str:
    """300 -> "5m": the largest unit that divides evenly."""
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    name: str
    metric: str
    comparison: Comparison
    threshold: float
    window_seconds: int
    severity: Severity
    for_seconds: int = 0
    resolve_threshold: float | None = None
    endpoint: str | None = None
    description: str | None = None
    enabled: bool = True

    @property
    def clear_threshold(self) -> float:
        return self.threshold if self.resolve_threshold is None else self.resolve_threshold

    def breached(self, value: float) -> bool:
        return value > self.threshold if self.comparison == "above" else value < self.threshold

    def cleared(self, value: float) -> bool:
        clear = self.clear_threshold
        return value <= clear if self.comparison == "above" else value >= clear

    def summary(self) -> str:
        sign = ">" if self.comparison == "above" else "<"
        unit = METRICS[self.metric].unit if self.metric in METRICS else ""
        where = f" on {self.endpoint}" if self.endpoint else ""
        return f"{self.metric}{where} {sign} {self.threshold:g} {unit}".rstrip()


def check_rule(
    *,
    metric: str,
    comparison: str,
    threshold: float,
    resolve_threshold: float | None,
    endpoint: str | None,
    window_seconds: int,
) -> None:
    """Raise RuleError when the fields do not make an evaluable rule."""
    info = METRICS.get(metric)
    if info is None:
        raise RuleError(f"metric {metric!r} is not one of: {', '.join(METRICS)}")
    if comparison not in COMPARISONS:
        raise RuleError(f"comparison {comparison!r} is not one of: above, below")
    if endpoint is not None and not info.per_endpoint:
        raise RuleError(f"metric {metric!r} is not measured per endpoint")
    if window_seconds < 60:
        raise RuleError("window must be at least 1m (the rollups' resolution)")
    if resolve_threshold is not None:
        wrong_side = (
            resolve_threshold > threshold
            if comparison == "above"
            else resolve_threshold < threshold
        )
        if wrong_side:
            side = "at or below" if comparison == "above" else "at or above"
            raise RuleError(f"resolve_threshold must be {side} the threshold ({threshold:g})")
