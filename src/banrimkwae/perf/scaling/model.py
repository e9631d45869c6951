"""What a scaling policy sees and answers: observations, history, configuration, decisions.

Every policy is a pure function `decide(observation, history, config, now) -> Decision`; the
controller and the simulator only fetch, apply and record. Times are seconds on one clock
(the simulator's trace time, the controller's wall clock).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

Action = Literal["scale_up", "scale_down", "hold"]


class ScalingConfigError(ValueError):
    """A scaling configuration that cannot work; the message names the field in one line."""


@dataclass(frozen=True, slots=True)
class Observation:
    """One cycle's view of the service: averages over the last observation window.

    `instances` is the count serving now (ready); `desired` the count already asked for
    (ready + starting). Metrics the source does not have are None and never trigger.
    """

    at: float
    instances: int
    desired: int
    cpu_percent: float | None = None
    memory_percent: float | None = None
    p95_ms: float | None = None
    rps: float | None = None


@dataclass(frozen=True, slots=True)
class ScaleRecord:
    """A scaling that was carried out: when, and from which count to which."""

    at: float
    from_instances: int
    to_instances: int


@dataclass(frozen=True, slots=True)
class History:
    """What happened before `now`, oldest first. Policies read it and never change it.

    `recommendations` are the raw counts the policy wanted on earlier cycles (for the HPA's
    stabilisation windows); `scalings` the changes carried out (for cooldowns and rate limits).
    """

    observations: Sequence[Observation] = ()
    recommendations: Sequence[tuple[float, int]] = ()
    scalings: Sequence[ScaleRecord] = ()

    def last_scaling(self, direction: Literal["up", "down"] | None = None) -> ScaleRecord | None:
        for record in reversed(self.scalings):
            grew = record.to_instances > record.from_instances
            if direction is None or (direction == "up") == grew:
                return record
        return None


@dataclass(frozen=True, slots=True)
class ScalingConfig:
    """The `auto_scaling_config` row plus the knobs of the hpa and slo policies."""

    service_name: str = "api"
    min_instances: int = 1
    max_instances: int = 20
    target_cpu_percent: float = 70.0
    target_memory_percent: float = 80.0
    target_response_time_ms: float = 200.0
    scale_up_cooldown_seconds: float = 300.0
    scale_down_cooldown_seconds: float = 600.0
    scale_up_threshold_count: int = 2
    scale_down_threshold_count: int = 3
    # threshold: scale down only when every metric is below this share of its target.
    scale_down_utilisation: float = 0.5
    # hpa (Kubernetes defaults): tolerance, stabilisation windows and rate-limit policies.
    hpa_tolerance: float = 0.1
    hpa_up_stabilisation_seconds: float = 0.0
    hpa_down_stabilisation_seconds: float = 300.0
    hpa_up_percent: float = 100.0
    hpa_up_pods: int = 4
    hpa_down_percent: float = 100.0
    hpa_period_seconds: float = 15.0
    # slo: per-instance capacity (req/s; 0 = estimate from rps and cpu), spare capacity kept
    # (in instances), how long demand must stay low before scaling in, the forecast's lead.
    capacity_rps: float = 0.0
    slo_headroom_instances: float = 0.5
    slo_down_stabilisation_seconds: float = 60.0
    forecast_lead_seconds: float = 60.0
    forecast_enabled: bool = True
    extra: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.min_instances < 1:
            raise ScalingConfigError(f"min_instances must be at least 1, not {self.min_instances}")
        if self.min_instances > self.max_instances:
            raise ScalingConfigError(
                f"min_instances ({self.min_instances}) is greater than "
                f"max_instances ({self.max_instances})"
            )
        for name in (
            "scale_up_cooldown_seconds",
            "scale_down_cooldown_seconds",
            "hpa_up_stabilisation_seconds",
            "hpa_down_stabilisation_seconds",
            "slo_down_stabilisation_seconds",
            "forecast_lead_seconds",
            "capacity_rps",
            "slo_headroom_instances",
        ):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ScalingConfigError(f"{name} must be a non-negative number, not {value}")
        for name in ("scale_up_threshold_count", "scale_down_threshold_count", "hpa_up_pods"):
            if getattr(self, name) < 1:
                raise ScalingConfigError(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in ("target_cpu_percent", "target_memory_percent", "target_response_time_ms"):
            if not 0 < getattr(self, name) < math.inf:
                raise ScalingConfigError(f"{name} must be positive, not {getattr(self, name)}")
        if self.hpa_period_seconds <= 0:
            raise ScalingConfigError("hpa_period_seconds must be positive")

    def clamp(self, count: int) -> int:
        return max(self.min_instances, min(self.max_instances, count))


@dataclass(frozen=True, slots=True)
class Decision:
    """A policy's answer, with the metric that drove it and why.

    `recommended` is the raw count before stabilisation and limits (kept in the history).
    """

    action: Action
    target: int
    reasons: tuple[str, ...]
    trigger_metric: str
    trigger_value: float
    threshold_value: float
    recommended: int = 0


def hold(
    current: int,
    reason: str,
    metric: str = "none",
    value: float = 0.0,
    threshold: float = 0.0,
    recommended: int | None = None,
) -> Decision:
    return Decision(
        "hold",
        current,
        (reason,),
        metric,
        value,
        threshold,
        current if recommended is None else recommended,
    )


def decision_to(
    current: int,
    target: int,
    reasons: tuple[str, ...],
    metric: str,
    value: float,
    threshold: float,
    recommended: int,
) -> Decision:
    """The decision that moves from `current` to `target` (a hold when they are equal)."""
    action: Action = (
        "hold" if target == current else "scale_up" if target > current else "scale_down"
    )
    return Decision(action, target, reasons, metric, value, threshold, recommended)
