"""The named sizes of a seeded database and the time window its bookings cover."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scale:
    """How much data one scale holds.

    Properties, rooms and guests are exact; the room bookings follow from simulated occupancy
    over the window, so `approximate_bookings` is what a run lands near, not an exact count.
    """

    name: str
    properties: int
    rooms: int
    guests: int
    approximate_bookings: int
    # Room bookings cover [today - history_days, today + future_days).
    history_days: int
    future_days: int
    # Activity sessions are scheduled over [today - days_before, today + days_after).
    session_days_before: int
    session_days_after: int

    def booking_window(self, today: dt.date) -> tuple[dt.date, dt.date]:
        return (
            today - dt.timedelta(days=self.history_days),
            today + dt.timedelta(days=self.future_days),
        )


SCALES: dict[str, Scale] = {
    scale.name: scale
    for scale in (
        # Seconds on any dialect: the test suite seeds this one.
        Scale("small", 2, 40, 500, 3_000, 120, 60, 14, 14),
        # The demo: three years of bookings ending one year after today.
        Scale("medium", 5, 1_000, 100_000, 500_000, 730, 365, 30, 60),
        # Ten times medium, for PostgreSQL benchmarks.
        Scale("large", 50, 10_000, 1_000_000, 5_000_000, 730, 365, 30, 60),
    )
}
