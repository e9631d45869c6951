"""Properties, their room types and rooms: the catalogue every other table refers to."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

Row = dict[str, Any]
CENTS = Decimal("0.01")
UTC = dt.UTC

# (city, code, style): one property per destination before any destination gets a second.
_DESTINATIONS: tuple[tuple[str, str, str], ...] = (
    ("Kanchanaburi", "KAN", "River Kwai Resort"),
    ("Chiang Mai", "CNX", "Hills Resort"),
    ("Krabi", "KBV", "Beach Resort"),
    ("Ko Samui", "USM", "Bay Resort"),
    ("Hua Hin", "HHQ", "Seaside Resort"),
    ("Phuket", "HKT", "Cove Resort"),
    ("Chiang Rai", "CEI", "Tea Garden Lodge"),
    ("Pai", "PAI", "Valley Retreat"),
    ("Khao Lak", "KLK", "Beachfront Resort"),
    ("Ko Chang", "TDX", "Island Resort"),
    ("Ko Lanta", "LNT", "Sunset Resort"),
    ("Ayutthaya", "AYU", "Heritage Hotel"),
    ("Sukhothai", "THS", "Historical Park Resort"),
    ("Khao Yai", "KYI", "Forest Lodge"),
    ("Pattaya", "UTP", "Bayfront Hotel"),
    ("Bangkok", "BKK", "Riverside Hotel"),
    ("Mae Hong Son", "HGN", "Mountain Lodge"),
    ("Nan", "NNT", "Riverside Lodge"),
    ("Ko Phangan", "KPN", "Beach Bungalows"),
    ("Ko Tao", "KTO", "Dive Resort"),
    ("Trang", "TST", "Andaman Resort"),
    ("Rayong", "RYG", "Seaside Hotel"),
    ("Udon Thani", "UTH", "Lotus Lake Hotel"),
    ("Khon Kaen", "KKC", "City Hotel"),
    ("Lampang", "LPT", "Garden Hotel"),
)
_SECOND_STYLES = ("Hideaway", "Garden Villas", "Boutique Hotel", "Retreat", "Residences")

# (code, name, description, max occupancy, base rate in THB at a 4-star property, share).
_ROOM_TYPES: tuple[tuple[str, str, str, int, int, int], ...] = (
    ("SUP", "Superior Room", "Garden-facing room with a queen bed and a rain shower.", 2, 1800, 30),
    ("DLX", "Deluxe Room", "Spacious room with a king bed and a private balcony.", 2, 2600, 28),
    ("DLXV", "Deluxe View Room", "Deluxe room facing the river or the sea.", 3, 3200, 14),
    ("JRS", "Junior Suite", "Open-plan suite with a lounge corner and a bathtub.", 3, 4200, 9),
    ("FAM", "Family Suite", "Two bedrooms and a living room for families.", 4, 4900, 8),
    (
        "GVL",
        "Garden Villa",
        "Detached villa in the tropical garden with an outdoor shower.",
        4,
        6300,
        5,
    ),
    ("PVL", "Pool Villa", "Private villa with its own plunge pool and sala.", 2, 7800, 4),
)
_ALWAYS_OFFERED = 2
_ROOMS_PER_FLOOR = 24
_RATE_BY_STARS = {3: 0.8, 4: 1.0, 5: 1.5}
# A few rooms are under renovation: they have past stays only.
OUT_OF_SERVICE_SHARE = 0.015


@dataclass(frozen=True, slots=True)
class RoomSlot:
    """What the booking generator needs to know about one room."""

    room_id: int
    property_id: int
    base_rate: Decimal
    max_occupancy: int
    in_service: bool


@dataclass(slots=True)
class Catalogue:
    properties: list[Row] = field(default_factory=list)
    room_types: list[Row] = field(default_factory=list)
    rooms: list[Row] = field(default_factory=list)
    slots: list[RoomSlot] = field(default_factory=list)


def build_catalogue(
    property_count: int, room_count: int, rng: random.Random, opened_before: dt.date
) -> Catalogue:
    """Every property with its room types and rooms, ids numbered from 1 in each table."""
    catalogue = Catalogue()
    sizes = _split(room_count, property_count, rng)
    for index, size in enumerate(sizes):
        property_id = index + 1
        stars = rng.choice((3, 4, 4, 5, 5))
        catalogue.properties.append(_property_row(property_id, index, stars, rng, opened_before))
        rate_factor = _RATE_BY_STARS[stars] * rng.uniform(0.9, 1.15)
        offered = list(_ROOM_TYPES[:_ALWAYS_OFFERED]) + sorted(
            rng.sample(_ROOM_TYPES[_ALWAYS_OFFERED:], rng.randint(2, 4)),
            key=_ROOM_TYPES.index,
        )
        counts = _allocate(size, [share for *_, share in offered])
        building_rooms = villas = 0
        for (code, name, description, occupancy, rate, _share), count in zip(
            offered, counts, strict=True
        ):
            room_type_id = len(catalogue.room_types) + 1
            base_rate = Decimal(round(rate * rate_factor / 50) * 50).quantize(CENTS)
            catalogue.room_types.append(
                {
                    "id": room_type_id,
                    "property_id": property_id,
                    "code": code,
                    "name": name,
                    "description": description,
                    "max_occupancy": occupancy,
                    "base_rate": base_rate,
                }
            )
            for _ in range(count):
                room_id = len(catalogue.rooms) + 1
                if code.endswith("VL"):
                    villas += 1
                    number, floor = f"V{villas:02d}", 1
                else:
                    floor = 1 + building_rooms // _ROOMS_PER_FLOOR
                    number = f"{floor}{building_rooms % _ROOMS_PER_FLOOR + 1:02d}"
                    building_rooms += 1
                in_service = rng.random() >= OUT_OF_SERVICE_SHARE
                catalogue.rooms.append(
                    {
                        "id": room_id,
                        "property_id": property_id,
                        "room_type_id": room_type_id,
                        "number": number,
                        "floor": floor,
                        "status": "in_service" if in_service else "out_of_service",
                    }
                )
                catalogue.slots.append(
                    RoomSlot(room_id, property_id, base_rate, occupancy, in_service)
                )
    return catalogue


def _property_row(
    property_id: int, index: int, stars: int, rng: random.Random, opened_before: dt.date
) -> Row:
    city, code, style = _DESTINATIONS[index % len(_DESTINATIONS)]
    edition = index // len(_DESTINATIONS)
    if edition:
        style = _SECOND_STYLES[(edition - 1) % len(_SECOND_STYLES)]
        code = f"{code}{edition + 1}"
    opened = opened_before - dt.timedelta(days=rng.randint(30, 3_650))
    return {
        "id": property_id,
        "code": f"BRK-{code}",
        "name": f"Banrimkwae {city} {style}",
        "city": city,
        "country": "TH",
        "timezone": "Asia/Bangkok",
        "star_rating": stars,
        "description": f"A {stars}-star Banrimkwae resort in {city}, Thailand.",
        "created_at": dt.datetime.combine(opened, dt.time(9, 0), tzinfo=UTC),
    }


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    """`total` split into `parts` sizes that differ by up to about a third."""
    return _allocate(total, [rng.uniform(0.7, 1.3) for _ in range(parts)])


def _allocate(total: int, weights: list[float] | list[int]) -> list[int]:
    """Whole numbers proportional to `weights` that add up to exactly `total`, none below one."""
    scale = sum(weights)
    counts = [max(1, int(total * weight / scale)) for weight in weights]
    counts[0] += total - sum(counts)
    return counts
