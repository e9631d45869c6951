"""Replay a load trace through a queueing model of instances and score a policy on it.

The model, second by second:
- Each ready instance serves at most `capacity_rps` (measured by bench/scaling_capacity.py)
  and is an M/M/1 server for the share of the load it gets (the load is split evenly), so a
  request's response time beyond the backlog wait is exponential with rate mu - lambda/n.
- Load beyond what the instances serve waits in a fluid backlog, drained first.
- A new instance serves `startup_seconds` after it was asked for; one being removed stops
  receiving at once (readiness drains it first); pending starts are cancelled first.
- The controller observes every `interval` seconds (cpu as busy share, p95 and served rate
  over the interval, like the metrics store) and applies the policy's decision.

Scores: the ideal count is the least that keeps the p95 under the target at the current rate
(never below min_instances); `accuracy` is the share of time the ready count lies in
[ideal, ideal + 1]; the SPEC RG elasticity metrics (Herbst et al.: accuracy and timeshare of
under- and over-provisioning, jitter); SLO-violation minutes (minutes whose p95 is over the
target); instance-hours, starting instances included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from banrimkwae.perf.scaling.enforce import enforce
from banrimkwae.perf.scaling.model import History, Observation, ScaleRecord, ScalingConfig
from banrimkwae.perf.scaling.policies import POLICIES
from banrimkwae.perf.scaling.policies.slo import P95_TAIL, capacity_at_slo
from banrimkwae.perf.scaling.trace import Trace

# Measured on this app: bench/scaling_capacity.py, one worker, resort read mix (docs/scaling.md).
MEASURED_CAPACITY_RPS = 632.0
MEASURED_STARTUP_SECONDS = 4.95
DEFAULT_INTERVAL_SECONDS = 15.0
_SLOW_P95_MS = 60_000.0


@dataclass(frozen=True, slots=True)
class SimulationResult:
    trace: str
    policy: str
    duration_seconds: float
    accuracy: float
    under_provisioning_accuracy: float
    over_provisioning_accuracy: float
    timeshare_under: float
    timeshare_over: float
    jitter: float
    slo_violation_minutes: int
    instance_hours: float
    capacity_rps: float
    startup_seconds: float
    interval_seconds: float
    scalings: int
    max_instances_used: int
    target_response_time_ms: float

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass
class _Fleet:
    ready: int
    starting: list[float] = field(default_factory=list)

    @property
    def desired(self) -> int:
        return self.ready + len(self.starting)

    def next_ready(self, now: float) -> float:
        return min(self.starting, default=math.inf)

    def advance(self, now: float) -> None:
        done = [at for at in self.starting if at <= now]
        if done:
            self.ready += len(done)
            self.starting = [at for at in self.starting if at > now]

    def resize(self, target: int, now: float, startup: float) -> None:
        if target > self.desired:
            self.starting.extend([now + startup] * (target - self.desired))
        while target < self.desired:
            if self.starting:
                self.starting.pop()  # the latest start is cancelled first
            else:
                self.ready -= 1


def ideal_count(rate: float, per_instance: float, config: ScalingConfig) -> int:
    return max(config.min_instances, math.ceil(rate / per_instance - 1e-9))


def simulate(
    trace: Trace,
    policy_name: str,
    config: ScalingConfig,
    *,
    capacity_rps: float = MEASURED_CAPACITY_RPS,
    startup_seconds: float = MEASURED_STARTUP_SECONDS,
    interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
) -> SimulationResult:
    policy = POLICIES[policy_name]
    mu = capacity_rps
    target_ms = config.target_response_time_ms
    per_instance = capacity_at_slo(mu, target_ms)
    start, end = trace.times[0], trace.end
    fleet = _Fleet(ready=ideal_count(trace.rates[0], per_instance, config))
    observations: list[Observation] = []
    recommendations: list[tuple[float, int]] = []
    scalings: list[ScaleRecord] = []
    # The policy sees these lists through History and never changes them; the loop appends.
    history = History(observations, recommendations, scalings)
    backlog = 0.0
    seconds = in_band = under_seconds = over_seconds = 0.0
    under_sum = over_sum = instance_seconds = 0.0
    supply_changes = demand_changes = 0
    previous_supply = previous_demand = -1
    minute_requests = minute_slow = 0.0
    violation_minutes = 0
    window_served = window_busy = window_p95_weighted = window_requests = window_seconds = 0.0
    max_used = fleet.ready
    next_decision = start + interval_seconds
    next_minute = start + 60.0
    t = start
    while t < end:
        fleet.advance(t)
        rate = trace.rate_at(t)
        n = fleet.ready
        # Steady stretches (no backlog, nothing changing) are scored in one step; anything
        # else moves a second at a time.
        boundary = min(end, next_decision, next_minute, trace.next_change(t), fleet.next_ready(t))
        step = boundary - t if backlog == 0 and 0 < rate <= n * mu and boundary > t else 1.0
        offered = backlog + rate * step
        served = min(offered, n * mu * step)
        backlog = offered - served
        # Queueing: wait for the backlog, then an M/M/1 response time at the instance's load.
        if n > 0:
            wait_ms = backlog / (n * mu) * 1000.0
            spare = mu - min(rate, n * mu) / n
            remaining_ms = target_ms - wait_ms
            slow_share = (
                1.0 if remaining_ms <= 0 or spare <= 0 else math.exp(-spare * remaining_ms / 1000.0)
            )
            tail_ms = P95_TAIL * 1000.0 / spare if spare > 0 else _SLOW_P95_MS
            p95_ms = min(wait_ms + tail_ms, _SLOW_P95_MS)
            busy = served / (n * mu * step)
        else:
            slow_share, p95_ms, busy = 1.0, _SLOW_P95_MS, 1.0
        minute_requests += rate * step
        minute_slow += rate * step * slow_share
        # Scores against the ideal count.
        demand = ideal_count(rate, per_instance, config)
        seconds += step
        if demand <= n <= demand + 1:
            in_band += step
        if n < demand:
            under_seconds += step
            under_sum += step * (demand - n) / demand
        elif n > demand:
            over_seconds += step
            over_sum += step * (n - demand) / demand
        instance_seconds += step * fleet.desired
        supply_changes += previous_supply not in (-1, n)
        demand_changes += previous_demand not in (-1, demand)
        previous_supply, previous_demand = n, demand
        max_used = max(max_used, fleet.desired)
        # What the metrics store would see over the interval.
        window_served += served
        window_busy += busy * step
        window_p95_weighted += p95_ms * max(served, 1e-9)
        window_requests += max(served, 1e-9)
        window_seconds += step
        t += step
        if t >= next_minute:
            violation_minutes += minute_requests > 0 and minute_slow / minute_requests > 0.05
            minute_requests = minute_slow = 0.0
            next_minute += 60.0
        if t >= next_decision:
            observation = Observation(
                at=t,
                instances=fleet.ready,
                desired=fleet.desired,
                cpu_percent=100.0 * window_busy / window_seconds,
                p95_ms=window_p95_weighted / window_requests,
                rps=window_served / window_seconds,
            )
            decision = enforce(
                policy(observation, history, config, t), history, config, t, fleet.desired
            )
            observations.append(observation)
            recommendations.append((t, decision.recommended))
            if len(recommendations) > 4096:
                del recommendations[:2048]  # stabilisation windows look back minutes, not days
            if decision.target != fleet.desired:
                scalings.append(ScaleRecord(t, fleet.desired, decision.target))
                fleet.resize(decision.target, t, startup_seconds)
            window_served = window_busy = window_p95_weighted = window_requests = 0.0
            window_seconds = 0.0
            next_decision += interval_seconds
    if minute_requests > 0 and minute_slow / minute_requests > 0.05:
        violation_minutes += 1
    hours = seconds / 3600.0
    return SimulationResult(
        trace=trace.name,
        policy=policy_name,
        duration_seconds=float(seconds),
        accuracy=round(in_band / seconds, 4),
        under_provisioning_accuracy=round(100.0 * under_sum / seconds, 3),
        over_provisioning_accuracy=round(100.0 * over_sum / seconds, 3),
        timeshare_under=round(100.0 * under_seconds / seconds, 3),
        timeshare_over=round(100.0 * over_seconds / seconds, 3),
        jitter=round((supply_changes - demand_changes) / hours, 3),
        slo_violation_minutes=violation_minutes,
        instance_hours=round(instance_seconds / 3600.0, 3),
        capacity_rps=capacity_rps,
        startup_seconds=startup_seconds,
        interval_seconds=interval_seconds,
        scalings=len(scalings),
        max_instances_used=max_used,
        target_response_time_ms=target_ms,
    )


def simulation_config(policy_name: str, capacity_rps: float, **overrides: object) -> ScalingConfig:
    """The configuration each policy is simulated with unless told otherwise.

    threshold runs the specification's defaults (cooldowns 300 s up, 600 s down); hpa and
    slo carry their own stabilisation windows, so no cooldown is added on top (Kubernetes
    has none beyond them). The slo policy is told the measured per-instance capacity.
    """
    values: dict[str, object] = {"min_instances": 1, "max_instances": 20}
    if policy_name != "threshold":
        values.update(scale_up_cooldown_seconds=0.0, scale_down_cooldown_seconds=0.0)
    if policy_name == "slo":
        values["capacity_rps"] = capacity_rps
    values.update(overrides)
    return ScalingConfig(**values)  # type: ignore[arg-type]
