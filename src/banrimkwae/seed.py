"""Deterministic, realistic resort data for demos, tests and benchmarks (`banrimkwae seed`).

The same (seed, scale, today) always writes the same rows: every value comes from
`random.Random` streams derived from the seed, and the only clock involved is `today`, which
anchors the booking window so that a demo always has past, current and future stays.

Rows are generated lazily and written with Core `insert()` executemany in chunks, inside one
transaction, so a failed run leaves the database empty. Ids are assigned here, so children
refer to their parents without reading anything back; PostgreSQL's sequences are moved past
them afterwards, while MariaDB and SQLite continue after the largest id by themselves.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Table, insert, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from banrimkwae.perf.db import create_engine_for_url
from banrimkwae.resort.auth import hash_password
from banrimkwae.resort.models import metadata
from banrimkwae.seeding.activities import activity_booking_rows, build_programme
from banrimkwae.seeding.bookings import booking_rows
from banrimkwae.seeding.dining import build_dining
from banrimkwae.seeding.guests import guest_rows
from banrimkwae.seeding.properties import build_catalogue
from banrimkwae.seeding.scales import SCALES, Scale

# Every seeded guest signs in with this password (their email is firstname.lastname.ID@...).
DEMO_PASSWORD = "banrimkwae-demo"
# Parents before children, the order the rows are written in.
SEEDED_TABLES = (
    "properties",
    "room_types",
    "rooms",
    "guests",
    "bookings",
    "activities",
    "activity_sessions",
    "activity_bookings",
    "restaurants",
    "menu_items",
)
_CHUNK_ROWS = 5_000


class SeedError(Exception):
    """Seeding cannot run: an unknown scale, or a database that is not empty or not migrated."""


@dataclass(frozen=True, slots=True)
class SeedReport:
    scale: str
    seed: int
    today: dt.date
    counts: dict[str, int]
    elapsed_seconds: float

    @property
    def total_rows(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class _Load:
    table: str
    rows: Iterable[dict[str, Any]]
    # None when the count is only known once the generator is exhausted.
    expected: int | None


async def seed_database(
    url: str,
    scale: str,
    *,
    seed: int,
    progress: bool = True,
    console: Console | None = None,
    today: dt.date | None = None,
) -> SeedReport:
    """Fill the empty, migrated database at `url` with the data of `scale`."""
    chosen = SCALES.get(scale)
    if chosen is None:
        raise SeedError(f"unknown scale {scale!r}; choose one of: {', '.join(SCALES)}")
    anchor = today if today is not None else dt.date.today()
    started = time.perf_counter()
    engine = create_engine_for_url(url)
    try:
        async with engine.begin() as connection:
            await _require_empty(connection)
            bar = Progress(
                TextColumn("{task.description:<18}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                disable=not progress,
            )
            counts: dict[str, int] = {}
            with bar:
                for load in _loads(chosen, seed, anchor):
                    counts[load.table] = await _write(connection, load, bar)
            await _continue_sequences(connection)
    finally:
        await engine.dispose()
    return SeedReport(scale, seed, anchor, counts, time.perf_counter() - started)


async def database_is_empty(url: str) -> bool:
    """True when no resort table holds a row (or the resort tables do not exist yet)."""
    engine = create_engine_for_url(url)
    try:
        async with engine.connect() as connection:
            if await connection.run_sync(_missing_tables):
                return True
            return await _first_filled_table(connection) is None
    finally:
        await engine.dispose()


def demo_password_hash(seed: int) -> str:
    """The one scrypt hash every seeded guest shares: hashing 100,000 passwords takes hours."""
    salt = hashlib.sha256(f"banrimkwae-seed:{seed}".encode()).digest()[:16]
    return hash_password(DEMO_PASSWORD, salt=salt)


def _loads(scale: Scale, seed: int, today: dt.date) -> Iterator[_Load]:
    """What to write, table by table; each part draws from its own stream of the seed."""

    def stream(part: str) -> random.Random:
        return random.Random(f"{seed}:{part}")

    window = scale.booking_window(today)
    catalogue = build_catalogue(scale.properties, scale.rooms, stream("properties"), window[0])
    yield _Load("properties", catalogue.properties, len(catalogue.properties))
    yield _Load("room_types", catalogue.room_types, len(catalogue.room_types))
    yield _Load("rooms", catalogue.rooms, len(catalogue.rooms))
    guests = guest_rows(scale.guests, stream("guests"), demo_password_hash(seed), window[0])
    yield _Load("guests", guests, scale.guests)
    bookings = booking_rows(catalogue.slots, scale.guests, window, today, stream("bookings"))
    yield _Load("bookings", bookings, None)

    property_ids = [row["id"] for row in catalogue.properties]
    first_session_day = today - dt.timedelta(days=scale.session_days_before)
    session_days = scale.session_days_before + scale.session_days_after
    programme = build_programme(property_ids, first_session_day, session_days, stream("activities"))
    yield _Load("activities", programme.activities, len(programme.activities))
    yield _Load("activity_sessions", programme.sessions, len(programme.sessions))
    activity_bookings = activity_booking_rows(
        programme.slots, scale.guests, today, stream("activity_bookings")
    )
    yield _Load("activity_bookings", activity_bookings, None)

    dining = build_dining(property_ids, stream("dining"))
    yield _Load("restaurants", dining.restaurants, len(dining.restaurants))
    yield _Load("menu_items", dining.menu_items, len(dining.menu_items))


async def _write(connection: AsyncConnection, load: _Load, bar: Progress) -> int:
    task = bar.add_task(load.table, total=load.expected)
    statement = insert(metadata.tables[load.table])
    written = 0
    rows = iter(load.rows)
    while chunk := list(islice(rows, _CHUNK_ROWS)):
        await connection.execute(statement, chunk)
        written += len(chunk)
        bar.update(task, completed=written)
    bar.update(task, total=written, completed=written)
    return written


async def _require_empty(connection: AsyncConnection) -> None:
    missing = await connection.run_sync(_missing_tables)
    if missing:
        raise SeedError(
            f"the database has no {missing[0]} table; run `banrimkwae migrate` before seeding"
        )
    filled = await _first_filled_table(connection)
    if filled is not None:
        raise SeedError(
            f"the database already holds resort data ({filled} is not empty); "
            "seed only an empty database"
        )


def _missing_tables(connection: Connection) -> list[str]:
    present = set(inspect(connection).get_table_names())
    return [name for name in SEEDED_TABLES if name not in present]


async def _first_filled_table(connection: AsyncConnection) -> str | None:
    for name in SEEDED_TABLES:
        table: Table = metadata.tables[name]
        if await connection.scalar(select(table.c.id).limit(1)) is not None:
            return name
    return None


async def _continue_sequences(connection: AsyncConnection) -> None:
    """Move PostgreSQL's id sequences past the explicit ids, so later inserts do not collide."""
    if connection.dialect.name != "postgresql":
        return
    for name in SEEDED_TABLES:
        await connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), max(id)) "
                f"FROM {name} HAVING max(id) IS NOT NULL"
            )
        )


__all__ = [
    "DEMO_PASSWORD",
    "SCALES",
    "SEEDED_TABLES",
    "Scale",
    "SeedError",
    "SeedReport",
    "database_is_empty",
    "demo_password_hash",
    "seed_database",
]
