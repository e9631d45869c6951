"""The generator of the shipped synthetic resort traces (traces/*.csv), deterministic.

    python -m banrimkwae.perf.scaling.tracegen src/banrimkwae/perf/scaling/traces

- diurnal: two days, a row a minute. Night floor, breakfast (07:30), lunch, an evening peak
  (19:30), and at 07:00 sharp a step (+2000 req/s decaying over 45 minutes) when the day's
  activities open for booking; +-3% noise.
- weekly: fourteen days, a row every five minutes: the diurnal day scaled by the weekday
  (Friday 1.3, Saturday 1.5, Sunday 1.2); +-3% noise.
- bursts: six hours, a row every ten seconds: a slowly varying base with a burst (2-3.5x,
  30-120 s) every 40-70 minutes (a tour group checking in, a promotion e-mail).
- flash_crowd: three hours, a row every ten seconds: steady, then at 1 h the rate goes x6
  within 20 s and decays back over about 40 minutes (a sale announced on social media).
Rates are requests per second for the whole service.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Callable
from pathlib import Path

SEED = 20261127
DAY = 86_400


def _bump(hour: float, centre: float, width: float, height: float) -> float:
    return height * math.exp(-0.5 * ((hour - centre) / width) ** 2)


def resort_day(seconds: float) -> float:
    """The rate of an ordinary weekday at `seconds` after midnight."""
    hour = (seconds % DAY) / 3600.0
    return (
        150.0
        + _bump(hour, 7.5, 1.0, 1600.0)
        + _bump(hour, 12.5, 1.2, 1100.0)
        + _bump(hour, 19.5, 1.8, 2600.0)
        + _bump(hour, 15.0, 3.0, 500.0)
        + _opening(hour, 7.0, 0.75, 2000.0)
    )


def _opening(hour: float, at: float, decay: float, height: float) -> float:
    """A step at `at` (breakfast tables and activities open for booking) that decays."""
    return height * math.exp(-(hour - at) / decay) if hour >= at else 0.0


WEEKDAY_FACTORS = (1.0, 1.0, 1.0, 1.05, 1.3, 1.5, 1.2)


def _rows(
    duration: int, step: int, rate: Callable[[float], float], rng: random.Random
) -> list[tuple[int, float]]:
    return [
        (t, round(max(rate(t) * (1 + rng.uniform(-0.03, 0.03)), 0.0), 1))
        for t in range(0, duration, step)
    ]


def diurnal(rng: random.Random) -> list[tuple[int, float]]:
    return _rows(2 * DAY, 60, resort_day, rng)


def weekly(rng: random.Random) -> list[tuple[int, float]]:
    return _rows(14 * DAY, 300, lambda t: resort_day(t) * WEEKDAY_FACTORS[int(t // DAY) % 7], rng)


def bursts(rng: random.Random) -> list[tuple[int, float]]:
    duration = 6 * 3600
    windows: list[tuple[float, float, float]] = []
    at = rng.uniform(20, 40) * 60
    while at < duration - 600:
        windows.append((at, at + rng.uniform(30, 120), rng.uniform(2.0, 3.5)))
        at += rng.uniform(40, 70) * 60

    def rate(t: float) -> float:
        base = 900.0 + 300.0 * math.sin(2 * math.pi * t / (3 * 3600))
        factor = next((f for start, stop, f in windows if start <= t < stop), 1.0)
        return base * factor

    return _rows(duration, 10, rate, rng)


def flash_crowd(rng: random.Random) -> list[tuple[int, float]]:
    def rate(t: float) -> float:
        base = 700.0
        if t < 3600:
            return base
        rise = min((t - 3600) / 20.0, 1.0)
        return base * (1 + 5 * rise * math.exp(-(t - 3600) / 900.0))

    return _rows(3 * 3600, 10, rate, rng)


TRACES: dict[str, Callable[[random.Random], list[tuple[int, float]]]] = {
    "diurnal": diurnal,
    "weekly": weekly,
    "bursts": bursts,
    "flash_crowd": flash_crowd,
}


def write_traces(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in TRACES.items():
        path = directory / f"{name}.csv"
        rows = make(random.Random(f"{SEED}:{name}"))
        path.write_text("t,rps\n" + "".join(f"{t},{rps}\n" for t, rps in rows))
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_traces(Path(sys.argv[1] if len(sys.argv) > 1 else "traces")):
        print(written_path)
