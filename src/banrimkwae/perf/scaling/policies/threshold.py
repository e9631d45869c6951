"""The specification's policy: CPU, memory and response-time thresholds, counted and cooled.

Scale up by one when any metric is over its target for `scale_up_threshold_count`
consecutive observations and the last scale-up is older than its cooldown; scale down by one
when every metric is under `scale_down_utilisation` of its target for
`scale_down_threshold_count` observations and the last scaling (either way) is older than the
scale-down cooldown.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable

from banrimkwae.perf.scaling.model import Decision, History, Observation, ScalingConfig, hold


def metric_ratios(
    observation: Observation, config: ScalingConfig
) -> list[tuple[str, float, float]]:
    """(metric, value, target) for each metric the observation has."""
    pairs = (
        ("cpu_percent", observation.cpu_percent, config.target_cpu_percent),
        ("memory_percent", observation.memory_percent, config.target_memory_percent),
        ("p95_ms", observation.p95_ms, config.target_response_time_ms),
    )
    return [(name, value, target) for name, value, target in pairs if value is not None]


def _over(observation: Observation, config: ScalingConfig) -> bool:
    return any(value > target for _, value, target in metric_ratios(observation, config))


def _under(observation: Observation, config: ScalingConfig) -> bool:
    ratios = metric_ratios(observation, config)
    share = config.scale_down_utilisation
    return bool(ratios) and all(value < target * share for _, value, target in ratios)


def _streak(
    latest: Observation,
    earlier: Iterable[Observation],
    test: Callable[[Observation], bool],
    enough: int,
) -> int:
    """Consecutive observations, newest first, that pass `test` (counting stops at `enough`)."""
    count = 0
    for observation in itertools.chain((latest,), earlier):
        if count >= enough or not test(observation):
            break
        count += 1
    return count


def decide(
    observation: Observation, history: History, config: ScalingConfig, now: float
) -> Decision:
    current = observation.desired
    ratios = metric_ratios(observation, config)
    if not ratios:
        return hold(current, "no metrics observed")
    # The metric furthest from its target explains the decision.
    name, value, target = max(ratios, key=lambda item: item[1] / item[2])
    if _over(observation, config):
        streak = _streak(
            observation,
            reversed(history.observations),
            lambda o: _over(o, config),
            config.scale_up_threshold_count,
        )
        if streak < config.scale_up_threshold_count:
            return hold(
                current,
                f"{name} {value:.1f} over {target:.1f} for {streak} of "
                f"{config.scale_up_threshold_count} observations",
                name,
                value,
                target,
            )
        last = history.last_scaling("up")
        if last is not None and now - last.at < config.scale_up_cooldown_seconds:
            return hold(
                current,
                f"{name} over target but scale-up cooldown "
                f"({config.scale_up_cooldown_seconds:.0f} s) not over",
                name,
                value,
                target,
            )
        wanted = config.clamp(current + 1)
        if wanted == current:
            return hold(current, f"{name} over target but at max_instances", name, value, target)
        return Decision(
            "scale_up",
            wanted,
            (f"{name} {value:.1f} > {target:.1f} for {streak} consecutive observations",),
            name,
            value,
            target,
            wanted,
        )
    if _under(observation, config):
        share = config.scale_down_utilisation
        streak = _streak(
            observation,
            reversed(history.observations),
            lambda o: _under(o, config),
            config.scale_down_threshold_count,
        )
        floor = target * share
        if streak < config.scale_down_threshold_count:
            return hold(
                current,
                f"every metric under {share:.0%} of target for {streak} of "
                f"{config.scale_down_threshold_count} observations",
                name,
                value,
                floor,
            )
        last = history.last_scaling()
        if last is not None and now - last.at < config.scale_down_cooldown_seconds:
            return hold(
                current,
                "under target but scale-down cooldown "
                f"({config.scale_down_cooldown_seconds:.0f} s) not over",
                name,
                value,
                floor,
            )
        wanted = config.clamp(current - 1)
        if wanted == current:
            return hold(current, "under target but at min_instances", name, value, floor)
        return Decision(
            "scale_down",
            wanted,
            (
                f"every metric under {share:.0%} of its target for "
                f"{streak} consecutive observations",
            ),
            name,
            value,
            floor,
            wanted,
        )
    return hold(current, "metrics within their targets", name, value, target)
