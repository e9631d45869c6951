"""The resort read mix: what guests browsing and booking the resort ask the API for.

The shares below are the one definition of the mix (bench/README.md shows the same table).
Reads are the same for every variant of a round; cancellations come from the plan's slice of
the cancellable bookings, so no run cancels a booking that is already cancelled.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import defaultdict

from bench.workloads.base import API, RequestPlan, Share
from bench.workloads.catalog import Catalog, RoomTypeRow
from bench.workloads.requests import Request
from bench.workloads.zipf import ZipfPicker

ZIPF_S = 1.1
MAX_NIGHTS = 7
# Bookings also reach this far past the seeded window, where rooms are still free: inside it
# seeded demand leaves few rooms, and most attempts would answer 409 (no room left).
BOOKING_DAYS_PAST_WINDOW = 60

SHARES: tuple[Share, ...] = (
    Share("availability", 30.0, "GET /properties/{id}/availability?check_in&check_out&guests"),
    Share("property", 10.0, "GET /properties/{id}"),
    Share("room_types", 9.0, "GET /properties/{id}/room-types"),
    Share("rooms", 8.0, "GET /properties/{id}/rooms"),
    Share("properties", 4.0, "GET /properties"),
    Share("activity_sessions", 10.0, "GET /activities/{id}/sessions"),
    Share("activities", 5.0, "GET /properties/{id}/activities"),
    Share("menu", 8.0, "GET /restaurants/{id}/menu"),
    Share("restaurants", 4.0, "GET /properties/{id}/restaurants"),
    Share("my_bookings", 7.0, "GET /guests/me/bookings (guest token)"),
    Share("book", 3.5, "POST /bookings (guest token)", write=True),
    Share("cancel", 1.5, "POST /bookings/{id}/cancel (guest token, own booking)", write=True),
)

# Party sizes searched for: couples most often.
_PARTY_SIZES = (1, 2, 3, 4)
_PARTY_WEIGHTS = (2, 5, 2, 1)


class ResortReadMix:
    name = "resort-read-mix"
    shares = SHARES

    def __init__(self, catalog: Catalog, seed: int) -> None:
        self.catalog = catalog
        self.seed = seed
        notes: list[str] = []

        def picker(ids: list[int], what: str) -> ZipfPicker:
            if not ids:
                # Still sent, so that the report shows the 404s instead of hiding the share.
                notes.append(f"no {what} in the database: their requests use id 1")
                ids = [1]
            return ZipfPicker(ids, ZIPF_S, random.Random(f"{seed}:popularity:{what}"))

        self._properties = picker(catalog.property_ids, "properties")
        self._activities = picker(catalog.activity_ids, "activities")
        self._restaurants = picker(catalog.restaurant_ids, "restaurants")
        self._guests = picker(catalog.guest_ids, "guests")
        self._room_types: dict[int, list[RoomTypeRow]] = defaultdict(list)
        for room_type in catalog.room_types:
            self._room_types[room_type.property_id].append(room_type)
        if not catalog.room_types:
            notes.append("no room types in the database: bookings use room type 1")
        self._cancel_pool = list(catalog.cancellable)
        random.Random(f"{seed}:cancellations").shuffle(self._cancel_pool)
        if not self._cancel_pool:
            notes.append("no future pending or confirmed bookings: cancellations use booking 1")
        self.notes = tuple(notes)

    def requests(self, plan: RequestPlan) -> list[Request]:
        reads = random.Random(f"{self.seed}:reads:{plan.round_key}")
        writes = random.Random(f"{self.seed}:writes:{plan.round_key}:{plan.write_slice}")
        cancellations = self._cancel_pool[plan.write_slice :: plan.write_slices] or [(1, 1)]
        kinds = reads.choices(
            [share.kind for share in SHARES], [share.weight for share in SHARES], k=plan.count
        )
        result: list[Request] = []
        cancelled = 0
        for kind in kinds:
            if kind == "cancel":
                # Wraps around only if a run outlasts its slice: repeats then answer non-2xx.
                booking_id, guest_id = cancellations[cancelled % len(cancellations)]
                cancelled += 1
                path = f"{API}/bookings/{booking_id}/cancel"
                result.append(Request("cancel", "POST", path, guest_id=guest_id, body=""))
            elif kind == "book":
                result.append(self._booking(writes))
            else:
                result.append(self._read(kind, reads))
        return result

    def _read(self, kind: str, rng: random.Random) -> Request:
        match kind:
            case "availability":
                return self._availability(rng)
            case "property":
                path = f"/properties/{self._properties.pick(rng)}"
            case "room_types":
                path = f"/properties/{self._properties.pick(rng)}/room-types"
            case "rooms":
                path = f"/properties/{self._properties.pick(rng)}/rooms"
            case "properties":
                path = "/properties"
            case "activity_sessions":
                path = f"/activities/{self._activities.pick(rng)}/sessions"
            case "activities":
                path = f"/properties/{self._properties.pick(rng)}/activities"
            case "menu":
                path = f"/restaurants/{self._restaurants.pick(rng)}/menu"
            case "restaurants":
                path = f"/properties/{self._properties.pick(rng)}/restaurants"
            case "my_bookings":
                guest_id = self._guests.pick(rng)
                return Request(kind, "GET", f"{API}/guests/me/bookings", guest_id=guest_id)
            case _:
                raise ValueError(f"unknown share {kind!r}")
        return Request(kind, "GET", API + path)

    def _stay(self, rng: random.Random, *, extra_days: int = 0) -> tuple[dt.date, dt.date]:
        first, last = self.catalog.stay_window
        last += dt.timedelta(days=extra_days)
        nights = rng.randint(1, MAX_NIGHTS)
        check_in = first + dt.timedelta(days=rng.randint(0, (last - first).days - nights))
        return check_in, check_in + dt.timedelta(days=nights)

    def _availability(self, rng: random.Random) -> Request:
        check_in, check_out = self._stay(rng)
        guests = rng.choices(_PARTY_SIZES, _PARTY_WEIGHTS)[0]
        path = (
            f"{API}/properties/{self._properties.pick(rng)}/availability"
            f"?check_in={check_in}&check_out={check_out}&guests={guests}"
        )
        return Request("availability", "GET", path)

    def _booking(self, rng: random.Random) -> Request:
        guest_id = self._guests.pick(rng)
        room_types = self._room_types.get(self._properties.pick(rng)) or self.catalog.room_types
        room_type = rng.choice(room_types) if room_types else RoomTypeRow(1, 1, 2)
        adults = rng.randint(1, max(1, min(2, room_type.max_occupancy)))
        children = rng.randint(0, max(0, min(2, room_type.max_occupancy - adults)))
        check_in, check_out = self._stay(rng, extra_days=BOOKING_DAYS_PAST_WINDOW)
        body = {
            "property_id": room_type.property_id,
            "room_type_id": room_type.id,
            "check_in": check_in.isoformat(),
            "check_out": check_out.isoformat(),
            "adults": adults,
            "children": children,
        }
        return Request(
            "book",
            "POST",
            f"{API}/bookings",
            guest_id=guest_id,
            body=json.dumps(body, separators=(",", ":")),
        )
