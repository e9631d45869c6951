"""The SLO policy: enough instances for the p95 target at the observed rate, and a forecast.

Capacity at the SLO: an instance serving at rate mu keeps the p95 under T (ms) while its
arrival rate is below mu - ln(20) * 1000 / T (an M/M/1 server's response time is exponential,
so P(response > T) = exp(-(mu - lambda) T)). The policy asks for
ceil(rate / that capacity + headroom) instances, where the headroom (half an instance by
default) keeps the supply between the ideal count and one more.

- Over the p95 target or saturated (cpu >= 90%): the rate it sees is only what got served,
  so it doubles (up to max) unless the rate itself asks for more.
- A seasonal forecast of the rate at now + lead may raise the target ahead of demand; it never
  lowers it: scaling in follows the observed rate alone, once it has stayed low for the
  stabilisation window.
"""

from __future__ import annotations

import bisect
import math

from banrimkwae.perf.scaling.forecast import seasonal_forecast
from banrimkwae.perf.scaling.model import (
    Decision,
    History,
    Observation,
    ScalingConfig,
    decision_to,
    hold,
)

SATURATED_CPU_PERCENT = 90.0
P95_TAIL = math.log(20.0)
ESTIMATE_MIN_CPU = 20.0


def capacity_at_slo(capacity_rps: float, target_ms: float) -> float:
    """Requests per second one instance serves with its p95 under `target_ms`."""
    usable = capacity_rps - P95_TAIL * 1000.0 / target_ms
    return usable if usable > 0 else capacity_rps / 2


def _capacity(observation: Observation, config: ScalingConfig) -> float | None:
    if config.capacity_rps > 0:
        return config.capacity_rps
    # Estimated: what the instances served divided by how busy that made them.
    # Below ESTIMATE_MIN_CPU the ratio is mostly noise.
    cpu, rps = observation.cpu_percent, observation.rps
    if cpu is None or not rps or cpu < ESTIMATE_MIN_CPU or observation.instances < 1:
        return None
    return rps / observation.instances / (min(cpu, 100.0) / 100.0)


def needed(rate: float, per_instance: float, config: ScalingConfig) -> int:
    return math.ceil(rate / per_instance + config.slo_headroom_instances)


def decide(
    observation: Observation, history: History, config: ScalingConfig, now: float
) -> Decision:
    current = observation.desired
    capacity = _capacity(observation, config)
    if capacity is None or observation.rps is None:
        p95 = observation.p95_ms
        if p95 is not None and p95 > config.target_response_time_ms:
            # Capacity unknown but the SLO is broken: grow anyway.
            wanted = config.clamp(max(observation.instances, 1) * 2)
            return decision_to(
                current,
                max(wanted, current),
                (f"p95 {p95:.0f} ms over target, capacity unknown: doubling",),
                "p95_ms",
                p95,
                config.target_response_time_ms,
                wanted,
            )
        return hold(current, "no rate or capacity known yet")
    per_instance = capacity_at_slo(capacity, config.target_response_time_ms)
    rate = observation.rps
    want = needed(rate, per_instance, config)
    metric, value = "rps", rate
    threshold = max(current - config.slo_headroom_instances, 0.0) * per_instance
    reasons = [
        f"{rate:.1f} req/s at {per_instance:.1f} req/s per instance within the SLO needs {want}"
    ]
    p95 = observation.p95_ms
    overloaded = p95 is not None and p95 > config.target_response_time_ms
    saturated = (observation.cpu_percent or 0.0) >= SATURATED_CPU_PERCENT
    if overloaded or saturated:
        doubled = max(observation.instances, 1) * 2
        if doubled > want:
            want = doubled
            if overloaded and p95 is not None:
                metric, value, threshold = "p95_ms", p95, config.target_response_time_ms
                reasons.append(f"p95 {p95:.0f} ms over {threshold:.0f} ms: doubling")
            else:
                metric, value, threshold = (
                    "cpu_percent",
                    observation.cpu_percent or 0.0,
                    SATURATED_CPU_PERCENT,
                )
                reasons.append("saturated: doubling")
    floor = 0
    if config.forecast_enabled:
        forecast = seasonal_forecast(history.observations, now, config.forecast_lead_seconds)
        if forecast is not None:
            predicted, season = forecast
            floor = needed(predicted, per_instance, config)
            if floor > want and floor > current:
                reasons.append(
                    f"forecast {predicted:.1f} req/s in {config.forecast_lead_seconds:.0f} s "
                    f"({'weekly' if season > 86_400 else 'daily'} season) needs {floor}"
                )
                want, metric, value, threshold = floor, "forecast_rps", predicted, threshold
    if want > current:
        wanted = config.clamp(want)
        return decision_to(current, wanted, tuple(reasons), metric, value, threshold, want)
    if want < current:
        # Scale in on observations only, and only when they asked for less all window long.
        observations = history.observations
        start = bisect.bisect_left(
            observations, now - config.slo_down_stabilisation_seconds, key=lambda o: o.at
        )
        window = [o for o in observations[start:] if o.rps is not None]
        recent_need = max([needed(o.rps or 0.0, per_instance, config) for o in window] + [want])
        # A full window: the history reaches back past its start. (Observations come an
        # interval plus a cycle apart, so none inside the window need be as old as it.) Only a
        # controller that has watched for less waits until its first one nearly is.
        oldest = window[0].at if window else now
        if start == 0 and now - oldest < config.slo_down_stabilisation_seconds * 0.9:
            return hold(
                current,
                "rate fell; waiting for a full stabilisation window",
                metric,
                value,
                threshold,
                want,
            )
        if any((o.p95_ms or 0.0) > config.target_response_time_ms for o in window):
            # The capacity figure may be optimistic: no scale in right after a breach.
            return hold(
                current, "the p95 was over target within the window", metric, value, threshold, want
            )
        wanted = config.clamp(max(recent_need, floor))
        if wanted < current:
            reasons.append(
                f"needed at most {recent_need} for {config.slo_down_stabilisation_seconds:.0f} s"
            )
            return decision_to(current, wanted, tuple(reasons), metric, value, threshold, want)
        return hold(
            current,
            "rate fell but not for the whole stabilisation window"
            if recent_need >= current
            else "the forecast keeps the current count",
            metric,
            value,
            threshold,
            want,
        )
    return decision_to(
        current, config.clamp(current), tuple(reasons), metric, value, threshold, want
    )
