"""Each policy as a table: observation + history + config at a moment -> decision."""

from __future__ import annotations

from dataclasses import replace

import pytest

from banrimkwae.perf.scaling.model import Decision, History, Observation, ScaleRecord, ScalingConfig
from banrimkwae.perf.scaling.policies import POLICIES

BASE = ScalingConfig(
    min_instances=1,
    max_instances=10,
    scale_up_cooldown_seconds=300,
    scale_down_cooldown_seconds=600,
    scale_up_threshold_count=2,
    scale_down_threshold_count=3,
)
NOW = 10_000.0


def obs(
    n: int = 2,
    cpu: float | None = 50.0,
    p95: float | None = 100.0,
    rps: float | None = None,
    *,
    at: float = NOW,
    desired: int | None = None,
    memory: float | None = None,
) -> Observation:
    return Observation(at, n, n if desired is None else desired, cpu, memory, p95, rps)


def earlier(*observations: Observation, every: float = 15.0) -> tuple[Observation, ...]:
    """Observations `every` seconds apart ending that long before NOW, oldest first."""
    count = len(observations)
    return tuple(replace(o, at=NOW - every * (count - i)) for i, o in enumerate(observations))


THRESHOLD_TABLE = [
    # (case, observation, history, config changes, action, target, trigger metric)
    ("within targets holds", obs(cpu=50), History(), {}, "hold", 2, "cpu_percent"),
    (
        "one breach is not enough",
        obs(cpu=90),
        History(earlier(obs(cpu=50))),
        {},
        "hold",
        2,
        "cpu_percent",
    ),
    (
        "two breaches scale up by one",
        obs(cpu=90),
        History(earlier(obs(cpu=85))),
        {},
        "scale_up",
        3,
        "cpu_percent",
    ),
    (
        "p95 over target counts",
        obs(cpu=10, p95=450),
        History(earlier(obs(cpu=10, p95=300))),
        {},
        "scale_up",
        3,
        "p95_ms",
    ),
    (
        "memory over target counts",
        obs(cpu=10, p95=10, memory=95),
        History(earlier(obs(cpu=10, p95=10, memory=90))),
        {},
        "scale_up",
        3,
        "memory_percent",
    ),
    (
        "up cooldown holds",
        obs(cpu=90),
        History(earlier(obs(cpu=90)), scalings=(ScaleRecord(NOW - 100, 1, 2),)),
        {},
        "hold",
        2,
        "cpu_percent",
    ),
    (
        "after the cooldown it scales",
        obs(cpu=90),
        History(earlier(obs(cpu=90)), scalings=(ScaleRecord(NOW - 400, 1, 2),)),
        {},
        "scale_up",
        3,
        "cpu_percent",
    ),
    (
        "at max it holds",
        obs(n=10, cpu=95),
        History(earlier(obs(n=10, cpu=95))),
        {},
        "hold",
        10,
        "cpu_percent",
    ),
    (
        "three low readings scale down",
        obs(cpu=10, p95=20),
        History(earlier(obs(cpu=10, p95=20), obs(cpu=12, p95=30))),
        {},
        "scale_down",
        1,
        "cpu_percent",
    ),
    (
        "two low readings are not enough",
        obs(cpu=10, p95=20),
        History(earlier(obs(cpu=10, p95=20))),
        {},
        "hold",
        2,
        "cpu_percent",
    ),
    (
        "down cooldown after any scaling",
        obs(cpu=10, p95=20),
        History(
            earlier(obs(cpu=10, p95=20), obs(cpu=10, p95=20)),
            scalings=(ScaleRecord(NOW - 500, 3, 2),),
        ),
        {},
        "hold",
        2,
        "cpu_percent",
    ),
    (
        "at min it holds",
        obs(n=1, cpu=5, p95=5),
        History(earlier(obs(n=1, cpu=5, p95=5), obs(n=1, cpu=5, p95=5))),
        {},
        "hold",
        1,
        "cpu_percent",
    ),
    (
        "starting instances count as current",
        obs(n=2, desired=3, cpu=90),
        History(earlier(obs(cpu=90))),
        {},
        "scale_up",
        4,
        "cpu_percent",
    ),
    ("no metrics hold", obs(cpu=None, p95=None), History(), {}, "hold", 2, "none"),
]


@pytest.mark.parametrize(
    ("case", "observation", "history", "changes", "action", "target", "metric"),
    THRESHOLD_TABLE,
    ids=[row[0] for row in THRESHOLD_TABLE],
)
def test_threshold(
    case: str,
    observation: Observation,
    history: History,
    changes: dict[str, float],
    action: str,
    target: int,
    metric: str,
) -> None:
    decision = POLICIES["threshold"](observation, history, replace(BASE, **changes), NOW)
    assert (decision.action, decision.target, decision.trigger_metric) == (action, target, metric)
    assert decision.reasons


HPA = replace(BASE, scale_up_cooldown_seconds=0, scale_down_cooldown_seconds=0)

HPA_TABLE = [
    ("ratio 1.4 of 4 ready -> 6", obs(n=4, cpu=98), History(), {}, "scale_up", 6),
    ("within tolerance holds", obs(n=4, cpu=75), History(), {}, "hold", 4),
    ("the max across metrics wins", obs(n=4, cpu=35, memory=160), History(), {}, "scale_up", 8),
    (
        "rate limit: at most double or +4 per period",
        obs(n=2, cpu=700),
        History(),
        {},
        "scale_up",
        6,
    ),
    (
        "a recent scale-up counts against the period",
        obs(n=4, cpu=700),
        History(scalings=(ScaleRecord(NOW - 5, 2, 4),)),
        {},
        "scale_up",
        6,
    ),
    (
        "down is held by the highest recommendation of the window",
        obs(n=6, cpu=20),
        History(recommendations=((NOW - 100, 6),)),
        {},
        "hold",
        6,
    ),
    (
        "down to the highest recommendation of the window",
        obs(n=6, cpu=20),
        History(recommendations=((NOW - 100, 4),)),
        {},
        "scale_down",
        4,
    ),
    (
        "recommendations older than the window do not hold",
        obs(n=6, cpu=20),
        History(recommendations=((NOW - 400, 6),)),
        {},
        "scale_down",
        2,
    ),
    ("clamped to max", obs(n=8, cpu=140), History(), {}, "scale_up", 10),
    ("clamped to min", obs(n=2, cpu=1), History(), {"min_instances": 2}, "hold", 2),
    (
        "up stabilisation takes the lowest recent recommendation",
        obs(n=2, cpu=140),
        History(recommendations=((NOW - 30, 3),)),
        {"hpa_up_stabilisation_seconds": 60},
        "scale_up",
        3,
    ),
]


@pytest.mark.parametrize(
    ("case", "observation", "history", "changes", "action", "target"),
    HPA_TABLE,
    ids=[row[0] for row in HPA_TABLE],
)
def test_hpa(
    case: str,
    observation: Observation,
    history: History,
    changes: dict[str, float],
    action: str,
    target: int,
) -> None:
    decision = POLICIES["hpa"](observation, history, replace(HPA, **changes), NOW)
    assert (decision.action, decision.target) == (action, target)
    assert decision.threshold_value in (HPA.target_cpu_percent, HPA.target_memory_percent)


SLO = replace(HPA, capacity_rps=615.0, target_response_time_ms=200.0, forecast_enabled=False)
# With 615 req/s and a 200 ms p95 target an instance takes 615 - ln(20) * 5 = 600 req/s.


def steady(
    rate: float, n: int, seconds: float = 120.0, *, every: float = 15.0
) -> tuple[Observation, ...]:
    count = int(seconds // every)
    return earlier(*[obs(n=n, cpu=30, p95=50, rps=rate)] * count, every=every)


SLO_TABLE = [
    (
        "1000 req/s needs ceil(1000/600 + 0.5) = 3",
        obs(n=2, rps=1000, p95=50),
        History(),
        {},
        "scale_up",
        3,
        "rps",
    ),
    ("enough already holds", obs(n=3, rps=1000, p95=50), History(), {}, "hold", 3, "rps"),
    (
        "overloaded doubles",
        obs(n=2, rps=1200, p95=900, cpu=100),
        History(),
        {},
        "scale_up",
        4,
        "p95_ms",
    ),
    (
        "saturated cpu doubles",
        obs(n=3, rps=1700, p95=150, cpu=97),
        History(),
        {},
        "scale_up",
        6,
        "cpu_percent",
    ),
    (
        "scale in after a full low window",
        obs(n=4, rps=500, p95=20),
        History(steady(500, 4)),
        {},
        "scale_down",
        2,
        "rps",
    ),
    (
        # A live controller observes every interval plus the cycle's own time: with a 60 s
        # window, no observation is then exactly 60 s old.
        "scale in when observations come a little over 15 s apart",
        obs(n=4, rps=500, p95=20),
        History(steady(500, 4, every=15.1)),
        {},
        "scale_down",
        2,
        "rps",
    ),
    (
        "no scale in while the window saw more",
        obs(n=4, rps=500, p95=20),
        History(earlier(*steady(500, 4), obs(n=4, rps=2000, p95=30))),
        {},
        "hold",
        4,
        "rps",
    ),
    (
        "no scale in without a full window",
        obs(n=4, rps=500, p95=20),
        History(steady(500, 4, seconds=30)),
        {},
        "hold",
        4,
        "rps",
    ),
    (
        "capacity estimated from rate and cpu",
        obs(n=2, rps=1000, cpu=50, p95=50),
        History(),
        {"capacity_rps": 0},
        "hold",
        2,
        "rps",
    ),
    (
        "unknown capacity and a broken SLO doubles",
        obs(n=2, rps=10, cpu=3, p95=800),
        History(),
        {"capacity_rps": 0},
        "scale_up",
        4,
        "p95_ms",
    ),
]


@pytest.mark.parametrize(
    ("case", "observation", "history", "changes", "action", "target", "metric"),
    SLO_TABLE,
    ids=[row[0] for row in SLO_TABLE],
)
def test_slo(
    case: str,
    observation: Observation,
    history: History,
    changes: dict[str, float],
    action: str,
    target: int,
    metric: str,
) -> None:
    decision = POLICIES["slo"](observation, history, replace(SLO, **changes), NOW)
    assert (decision.action, decision.target, decision.trigger_metric) == (action, target, metric)


def _daily_history(rate_of_second: object, days: float, step: float = 60.0) -> list[Observation]:
    rate = rate_of_second  # (seconds of day) -> req/s
    return [obs(n=2, rps=rate(t % 86_400), at=t) for t in _times(days, step)]  # type: ignore[operator]


def _times(days: float, step: float) -> list[float]:
    return [i * step for i in range(int(days * 86_400 / step))]


def morning_peak(second_of_day: float) -> float:
    """200 req/s, 3000 req/s from 07:00 to 08:00."""
    return 3000.0 if 7 * 3600 <= second_of_day < 8 * 3600 else 200.0


def test_forecast_scales_out_before_a_daily_peak() -> None:
    history = _daily_history(morning_peak, 1.5)
    now = 86_400 + 7 * 3600 - 45  # 06:59:15 on day two: the rate is still 200 req/s
    current = obs(n=1, rps=200, p95=20, at=now)
    decision = POLICIES["slo"](current, History(history), replace(SLO, forecast_enabled=True), now)
    assert decision.action == "scale_up"
    assert decision.trigger_metric == "forecast_rps"
    assert decision.target == 6  # ceil(3000 / 600 + 0.5)
    without = POLICIES["slo"](current, History(history), SLO, now)
    assert without.action == "hold"


def test_forecast_never_scales_in() -> None:
    """A trough forecast after a busy hour: the policy keeps what the observed rate needs."""
    history = _daily_history(lambda s: 200.0 if 7 * 3600 <= s < 8 * 3600 else 3000.0, 1.5)
    now = 86_400 + 7 * 3600 - 45
    current = obs(n=6, rps=3000, p95=50, at=now)
    history_now = History([o for o in history if o.at < now])
    decision = POLICIES["slo"](current, history_now, replace(SLO, forecast_enabled=True), now)
    assert decision.action == "hold"
    assert decision.target == 6


def test_the_forecast_keeps_instances_the_window_would_release() -> None:
    """Demand fell, but the forecast says it comes back within the lead: no scale in."""
    history = _daily_history(morning_peak, 1.5)
    now = 86_400 + 7 * 3600 - 45
    low = [replace(o, instances=6, desired=6) for o in history if o.at < now]
    current = obs(n=6, rps=200, p95=20, at=now)
    decision = POLICIES["slo"](current, History(low), replace(SLO, forecast_enabled=True), now)
    assert decision.target == 6


def test_decisions_carry_reasons_and_values() -> None:
    decision: Decision = POLICIES["slo"](obs(n=2, rps=1000, p95=50), History(), SLO, NOW)
    assert decision.trigger_value == 1000
    assert decision.threshold_value == pytest.approx(1.5 * 600, rel=1e-3)
    assert "needs 3" in decision.reasons[0]
