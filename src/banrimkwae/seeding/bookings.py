"""Room bookings: simulated occupancy that follows the Thai seasons and never double-books.

Each room is walked night by night through the window. On a free night a stay starts with the
night's demand as probability (high season November to March, busier on Friday and Saturday
nights); the room is then taken until the stay ends. So the stays of one room never overlap,
whatever their status, and only the extra cancelled bookings may overlap anything.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from itertools import accumulate

from banrimkwae.seeding.properties import UTC, RoomSlot, Row

# Probability that a free night starts a stay, by month (index 1 = January).
_MONTH_DEMAND = (0.0, 0.84, 0.86, 0.78, 0.62, 0.44, 0.4, 0.5, 0.5, 0.36, 0.46, 0.74, 0.88)
_WEEKEND_BOOST = 0.08
_FRIDAY, _SATURDAY = 4, 5
# Stays of 1 to 14 nights, mostly short.
_NIGHTS = tuple(range(1, 15))
_NIGHTS_CUMULATIVE = list(
    accumulate((54, 27, 7, 4.5, 2.8, 1.4, 1.5, 0.5, 0.4, 0.3, 0.2, 0.2, 0.1, 0.4))
)
# Share of all bookings that end cancelled; they hold no room.
CANCELLED_SHARE = 0.15
_CANCELLED_PER_STAY = CANCELLED_SHARE / (1 - CANCELLED_SHARE)
_PENDING_SHARE = 0.15
_MEAN_LEAD_DAYS = 35
# Out-of-service rooms take no stay starting in the last two weeks, so none reaches today.
_OUT_OF_SERVICE_DAYS = max(_NIGHTS)
# References look like the ones the API issues (no 0/O or 1/I); the id is scrambled by an odd
# multiplier modulo 32**10, a bijection, so every seeded reference is distinct.
_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_REFERENCE_LENGTH = 10
_REFERENCE_SPACE = 32**_REFERENCE_LENGTH
_REFERENCE_MULTIPLIER = 0x9E3779B97F4B


def booking_rows(
    slots: Sequence[RoomSlot],
    guest_count: int,
    window: tuple[dt.date, dt.date],
    today: dt.date,
    rng: random.Random,
) -> Iterator[Row]:
    """Bookings in order of check-in, ids from 1; past stays are checked out, today's checked in."""
    start, end = window
    days = (end - start).days
    demand = [_demand(start + dt.timedelta(days=day)) for day in range(days)]
    out_of_service_from = (today - start).days - _OUT_OF_SERVICE_DAYS
    # due[day]: the rooms that are free from that night on.
    due: list[list[int]] = [[] for _ in range(days)]
    due[0] = list(range(len(slots)))
    next_id = 1
    for day in range(days):
        probability = demand[day]
        rooms, due[day] = due[day], []
        for room in rooms:
            slot = slots[room]
            if not slot.in_service and day >= out_of_service_from:
                continue
            if rng.random() >= probability:
                if day + 1 < days:
                    due[day + 1].append(room)
                continue
            nights = rng.choices(_NIGHTS, cum_weights=_NIGHTS_CUMULATIVE)[0]
            check_in = start + dt.timedelta(days=day)
            yield _booking(next_id, slot, check_in, nights, None, guest_count, today, rng)
            next_id += 1
            if rng.random() < _CANCELLED_PER_STAY:
                # A cancelled request for nearby dates, possibly overlapping this stay.
                other_nights = rng.choices(_NIGHTS, cum_weights=_NIGHTS_CUMULATIVE)[0]
                other_check_in = check_in + dt.timedelta(days=rng.randint(-3, 10))
                yield _booking(
                    next_id,
                    slot,
                    other_check_in,
                    other_nights,
                    "cancelled",
                    guest_count,
                    today,
                    rng,
                )
                next_id += 1
            if day + nights < days:
                due[day + nights].append(room)


def booking_reference(booking_id: int) -> str:
    code = booking_id * _REFERENCE_MULTIPLIER % _REFERENCE_SPACE
    characters = []
    for _ in range(_REFERENCE_LENGTH):
        code, digit = divmod(code, 32)
        characters.append(_REFERENCE_ALPHABET[digit])
    return "".join(characters)


def _demand(night: dt.date) -> float:
    weekend = _WEEKEND_BOOST if night.weekday() in (_FRIDAY, _SATURDAY) else 0.0
    return _MONTH_DEMAND[night.month] + weekend


def _booking(
    booking_id: int,
    slot: RoomSlot,
    check_in: dt.date,
    nights: int,
    status: str | None,
    guest_count: int,
    today: dt.date,
    rng: random.Random,
) -> Row:
    check_out = check_in + dt.timedelta(days=nights)
    if status is None:
        if check_out <= today:
            status = "checked_out"
        elif check_in <= today:
            status = "checked_in"
        else:
            status = "pending" if rng.random() < _PENDING_SHARE else "confirmed"
    adults = 1 if slot.max_occupancy == 1 or rng.random() < 0.22 else 2
    children = 0
    if slot.max_occupancy > adults and rng.random() < 0.3:
        children = rng.randint(1, slot.max_occupancy - adults)
    booked_on = check_in - dt.timedelta(days=min(365, int(rng.expovariate(1 / _MEAN_LEAD_DAYS))))
    if booked_on > today:
        booked_on = today - dt.timedelta(days=rng.randint(0, 30))
    return {
        "id": booking_id,
        "reference": booking_reference(booking_id),
        "guest_id": rng.randrange(guest_count) + 1,
        "property_id": slot.property_id,
        "room_id": slot.room_id,
        "check_in": check_in,
        "check_out": check_out,
        "status": status,
        "adults": adults,
        "children": children,
        "total_amount": slot.base_rate * nights,
        "created_at": dt.datetime.combine(
            booked_on, dt.time(rng.randint(0, 23), rng.randint(0, 59)), tzinfo=UTC
        ),
    }
