"""A seasonal forecast of request rate: the same time one season ago, scaled to today's level.

Resorts have daily and weekly cycles (breakfast, check-in, weekends). The forecast takes the
longest season the history covers (a week, else a day), the median rate around `now + lead`
one season earlier (the median ignores short bursts that will not recur), and multiplies it
by the ratio of the recent median to the median of the same stretch one season earlier.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Sequence

from banrimkwae.perf.scaling.model import Observation

DAY = 86_400.0
WEEK = 7 * DAY
SEASONS = (WEEK, DAY)
# Half-width of the window whose median stands for one point in time.
SMOOTHING_SECONDS = 450.0
LEVEL_BOUNDS = (0.5, 2.0)


def _median_rps(observations: Sequence[Observation], start: float, end: float) -> float | None:
    low = bisect.bisect_left(observations, start, key=lambda o: o.at)
    high = bisect.bisect_right(observations, end, key=lambda o: o.at)
    values = [o.rps for o in observations[low:high] if o.rps is not None]
    return statistics.median(values) if values else None


def seasonal_forecast(
    observations: Sequence[Observation], now: float, lead: float
) -> tuple[float, float] | None:
    """(forecast rps at now + lead, season used), or None when no season is covered yet."""
    if not observations:
        return None
    first = observations[0].at
    for season in SEASONS:
        if now - season - 2 * SMOOTHING_SECONDS >= first:
            break
    else:
        return None
    then = now + lead - season
    past = _median_rps(observations, then - SMOOTHING_SECONDS, then + SMOOTHING_SECONDS)
    if past is None:
        return None
    recent = _median_rps(observations, now - 2 * SMOOTHING_SECONDS, now)
    before = _median_rps(observations, now - season - 2 * SMOOTHING_SECONDS, now - season)
    level = 1.0
    if recent is not None and before:
        level = min(max(recent / before, LEVEL_BOUNDS[0]), LEVEL_BOUNDS[1])
    return past * level, season
