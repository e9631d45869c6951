"""Activities, their sessions around today, and the guests booked on them."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from banrimkwae.seeding.properties import CENTS, UTC, Row

# (name, category, minutes, price in THB, capacity, description)
_ACTIVITIES: tuple[tuple[str, str, int, int, int, str], ...] = (
    ("Sunrise Yoga", "wellness", 60, 450, 16, "A gentle flow on the lawn as the day begins."),
    ("Thai Cooking Class", "culinary", 180, 1800, 10, "Market tour, then four dishes cooked."),
    ("Longtail Boat Tour", "excursion", 120, 1200, 8, "The river and its villages by boat."),
    ("Muay Thai Basics", "fitness", 60, 600, 12, "Stance, strikes and a little sparring."),
    ("Bamboo Rafting", "water", 120, 900, 8, "Drift downstream on a hand-built raft."),
    ("Kayaking Trip", "water", 90, 800, 10, "Guided paddle along the quiet banks."),
    ("Temple Cycling Tour", "excursion", 150, 950, 12, "Back roads to three local temples."),
    ("Thai Massage Workshop", "wellness", 90, 1100, 8, "Learn the basic strokes in pairs."),
    ("Fruit Carving", "culture", 60, 500, 10, "Turn a watermelon into a flower."),
    ("Kids' Jungle Club", "kids", 120, 350, 20, "Games, crafts and a garden treasure hunt."),
    ("Night Market Walk", "excursion", 120, 400, 15, "Street food tasting with a local guide."),
    ("Guided Meditation", "wellness", 45, 300, 20, "Breathing and stillness in the sala."),
    ("Sunset Cruise", "excursion", 120, 1500, 20, "Drinks on deck as the sun goes down."),
    ("Herbal Compress Making", "wellness", 60, 650, 10, "Make and use a luk pra kob."),
    ("Thai for Travellers", "culture", 60, 250, 15, "Greetings, numbers and ordering food."),
    ("Rock Climbing Intro", "adventure", 180, 2200, 6, "Limestone routes for beginners."),
    ("Zipline Canopy Tour", "adventure", 150, 2500, 10, "Twelve lines through the treetops."),
    ("Cocktail Class", "culinary", 60, 900, 12, "Three cocktails with Thai herbs."),
    ("Bird Watching", "nature", 120, 600, 8, "Dawn walk with binoculars and a ranger."),
    ("Aqua Aerobics", "fitness", 45, 200, 20, "A lively workout in the main pool."),
)
_LOCAL_HOURS = (7, 9, 10, 14, 16, 18)
_BANGKOK = dt.timezone(dt.timedelta(hours=7))
_CANCELLED_SHARE = 0.08
_HORIZON_DAYS = 60
# A session has at most one booking per guest; give up drawing after this many tries.
_MAX_DRAWS = 64


@dataclass(frozen=True, slots=True)
class SessionSlot:
    session_id: int
    starts_at: dt.datetime
    capacity: int


@dataclass(slots=True)
class Programme:
    activities: list[Row] = field(default_factory=list)
    sessions: list[Row] = field(default_factory=list)
    slots: list[SessionSlot] = field(default_factory=list)


def build_programme(
    property_ids: Sequence[int], first_day: dt.date, days: int, rng: random.Random
) -> Programme:
    """10 to 15 activities per property, each running one to three times on its weekdays."""
    programme = Programme()
    for property_id in property_ids:
        for name, category, minutes, price, capacity, description in rng.sample(
            _ACTIVITIES, rng.randint(10, 15)
        ):
            activity_id = len(programme.activities) + 1
            programme.activities.append(
                {
                    "id": activity_id,
                    "property_id": property_id,
                    "name": name,
                    "category": category,
                    "description": description,
                    "duration_minutes": minutes,
                    "price": Decimal(price).quantize(CENTS),
                    "capacity": capacity,
                }
            )
            hours = sorted(rng.sample(_LOCAL_HOURS, rng.randint(1, 3)))
            weekdays = set(range(7)) if rng.random() < 0.6 else set(rng.sample(range(7), 3))
            for offset in range(days):
                day = first_day + dt.timedelta(days=offset)
                if day.weekday() not in weekdays:
                    continue
                for hour in hours:
                    session_id = len(programme.sessions) + 1
                    local = dt.datetime.combine(day, dt.time(hour), tzinfo=_BANGKOK)
                    starts_at = local.astimezone(UTC)
                    programme.sessions.append(
                        {
                            "id": session_id,
                            "activity_id": activity_id,
                            "starts_at": starts_at,
                            "capacity": capacity,
                        }
                    )
                    programme.slots.append(SessionSlot(session_id, starts_at, capacity))
    return programme


def activity_booking_rows(
    slots: Sequence[SessionSlot], guest_count: int, today: dt.date, rng: random.Random
) -> Iterator[Row]:
    """Past sessions fairly full, future ones filling up as they get closer; one row per guest."""
    now = dt.datetime.combine(today, dt.time(12), tzinfo=UTC)
    next_id = 1
    for slot in slots:
        days_ahead = (slot.starts_at - now).days
        fill = rng.uniform(0.3, 0.95)
        if days_ahead > 0:
            fill *= max(0.15, 1 - days_ahead / _HORIZON_DAYS)
        seats = round(slot.capacity * fill)
        guests: set[int] = set()
        draws = 0
        while seats > 0 and draws < _MAX_DRAWS:
            draws += 1
            guest_id = rng.randrange(guest_count) + 1
            if guest_id in guests:
                continue
            guests.add(guest_id)
            participants = min(seats, rng.choice((1, 1, 2, 2, 2, 3, 4)))
            cancelled = rng.random() < _CANCELLED_SHARE
            if not cancelled:
                seats -= participants
            booked_at = slot.starts_at - dt.timedelta(hours=rng.randint(2, 14 * 24))
            if booked_at > now:
                booked_at = now - dt.timedelta(minutes=rng.randint(1, 3 * 24 * 60))
            yield {
                "id": next_id,
                "session_id": slot.session_id,
                "guest_id": guest_id,
                "participants": participants,
                "status": "cancelled" if cancelled else "booked",
                "created_at": booked_at,
            }
            next_id += 1
