"""Target tracking as the Kubernetes HPA does it (the peer the other policies are held to).

desired = ceil(ready * value / target) per metric, unchanged within the tolerance; the
maximum across metrics; stabilised (scale up to the lowest recommendation of the up window,
down to the highest of the down window); limited by the rate policies over a period (the most
permissive policy wins, as with the default selectPolicy Max); clamped to min/max.
"""

from __future__ import annotations

import bisect
import math

from banrimkwae.perf.scaling.model import (
    Decision,
    History,
    Observation,
    ScalingConfig,
    decision_to,
    hold,
)


def _recommendation(
    observation: Observation, config: ScalingConfig
) -> tuple[int, str, float, float] | None:
    ready = max(observation.instances, 1)
    best: tuple[int, str, float, float] | None = None
    for name, value, target in (
        ("cpu_percent", observation.cpu_percent, config.target_cpu_percent),
        ("memory_percent", observation.memory_percent, config.target_memory_percent),
    ):
        if value is None:
            continue
        ratio = value / target
        proposal = (
            observation.desired
            if abs(ratio - 1) <= config.hpa_tolerance
            else math.ceil(ready * ratio)
        )
        if best is None or proposal > best[0]:
            best = (proposal, name, value, target)
    return best


def _period_start_replicas(
    history: History, current: int, now: float, config: ScalingConfig
) -> int:
    """The count at the start of the rate-limit period: undo the changes made within it."""
    start = current
    for record in reversed(history.scalings):
        if now - record.at >= config.hpa_period_seconds:
            break
        start -= record.to_instances - record.from_instances
    return max(start, 0)


def _since(history: History, start: float) -> list[int]:
    """Recommendations made at or after `start` (they are in time order)."""
    recommendations = history.recommendations
    first = bisect.bisect_left(recommendations, start, key=lambda item: item[0])
    return [count for _, count in recommendations[first:]]


def decide(
    observation: Observation, history: History, config: ScalingConfig, now: float
) -> Decision:
    current = observation.desired
    found = _recommendation(observation, config)
    if found is None:
        return hold(current, "no cpu or memory metric observed")
    raw, name, value, target = found
    reasons = [f"{name} {value:.1f} against target {target:.1f}: recommends {raw}"]
    # Stabilisation over earlier recommendations and this one.
    up_window = [*_since(history, now - config.hpa_up_stabilisation_seconds), raw]
    down_window = [*_since(history, now - config.hpa_down_stabilisation_seconds), raw]
    stabilised = current
    up_floor, down_ceiling = min(up_window), max(down_window)
    if stabilised < up_floor:
        stabilised = up_floor
    if stabilised > down_ceiling:
        stabilised = down_ceiling
    if stabilised != raw:
        reasons.append(f"stabilised to {stabilised}")
    # Rate limits relative to the count at the start of the period.
    start = _period_start_replicas(history, current, now, config)
    up_limit = max(math.ceil(start * (1 + config.hpa_up_percent / 100)), start + config.hpa_up_pods)
    down_limit = math.floor(start * (1 - config.hpa_down_percent / 100))
    limited = min(max(stabilised, down_limit), up_limit)
    if limited != stabilised:
        reasons.append(f"rate-limited to {limited}")
    wanted = config.clamp(limited)
    if wanted != limited:
        reasons.append(f"clamped to [{config.min_instances}, {config.max_instances}]")
    return decision_to(current, wanted, tuple(reasons), name, value, target, raw)
