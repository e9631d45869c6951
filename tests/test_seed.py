"""The seed-data generator on every dialect: counts, booking invariants, determinism, ids."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import CursorResult, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from banrimkwae import migrate
from banrimkwae.perf.db import create_engine_for_url
from banrimkwae.resort.auth import verify_password
from banrimkwae.resort.bookings.models import HOLDING_STATUSES, Booking
from banrimkwae.resort.guests.models import Guest
from banrimkwae.resort.models import metadata
from banrimkwae.resort.properties.models import Property, Room, RoomType
from banrimkwae.seed import (
    DEMO_PASSWORD,
    SCALES,
    SEEDED_TABLES,
    SeedError,
    SeedReport,
    database_is_empty,
    seed_database,
)
from tests.conftest import ScratchDatabases

TODAY = dt.date(2026, 1, 15)
SEED = 20260115
SMALL = SCALES["small"]


@pytest.fixture(scope="module")
async def seeded(dialect: str, scratch_databases: ScratchDatabases) -> tuple[str, SeedReport]:
    """A fresh database of `dialect` seeded once at the small scale, shared by this module."""
    url = await scratch_databases.create(dialect)
    await migrate.upgrade(url)
    report = await seed_database(url, "small", seed=SEED, progress=False, today=TODAY)
    return url, report


@pytest.fixture
async def engine(seeded: tuple[str, SeedReport]) -> AsyncIterator[AsyncEngine]:
    created = create_engine_for_url(seeded[0])
    yield created
    await created.dispose()


async def _count(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as connection:
        counted = await connection.scalar(select(func.count()).select_from(metadata.tables[table]))
    return int(counted or 0)


async def test_small_scale_writes_the_documented_amounts(
    seeded: tuple[str, SeedReport], engine: AsyncEngine
) -> None:
    _, report = seeded
    assert list(report.counts) == list(SEEDED_TABLES)
    for table in SEEDED_TABLES:
        assert await _count(engine, table) == report.counts[table], table
    assert report.counts["properties"] == SMALL.properties == 2
    assert report.counts["rooms"] == SMALL.rooms == 40
    assert report.counts["guests"] == SMALL.guests == 500
    assert 0.7 * SMALL.approximate_bookings < report.counts["bookings"]
    assert report.counts["bookings"] < 1.4 * SMALL.approximate_bookings
    assert report.counts["activity_bookings"] > 0
    assert (report.scale, report.seed, report.today) == ("small", SEED, TODAY)

    async with engine.connect() as connection:
        per_property = {
            table: set(
                (
                    await connection.execute(
                        text(f"SELECT property_id, count(*) FROM {table} GROUP BY property_id")
                    )
                ).all()
            )
            for table in ("room_types", "activities", "restaurants")
        }
        menu_sizes = (
            await connection.scalars(text("SELECT count(*) FROM menu_items GROUP BY restaurant_id"))
        ).all()
        statuses = set((await connection.scalars(select(Booking.status).distinct())).all())
    assert all(4 <= count <= 6 for _, count in per_property["room_types"])
    assert all(10 <= count <= 15 for _, count in per_property["activities"])
    assert all(3 <= count <= 4 for _, count in per_property["restaurants"])
    assert menu_sizes and all(30 <= count <= 60 for count in menu_sizes)
    assert statuses == {"pending", "confirmed", "checked_in", "checked_out", "cancelled"}


async def test_booking_status_follows_today(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        rows = (
            await connection.execute(select(Booking.check_in, Booking.check_out, Booking.status))
        ).all()
    for check_in, check_out, status in rows:
        if status == "cancelled":
            continue
        if check_out <= TODAY:
            assert status == "checked_out"
        elif check_in <= TODAY:
            assert status == "checked_in"
        else:
            assert status in ("pending", "confirmed")


async def test_seeded_guests_sign_in_with_the_demo_password(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        guest = (await connection.execute(select(Guest.email, Guest.password_hash).limit(1))).one()
        distinct_emails = await connection.scalar(select(func.count(Guest.email.distinct())))
    assert guest.email.endswith(".1@example.test")
    assert verify_password(DEMO_PASSWORD, guest.password_hash)
    assert distinct_emails == SMALL.guests


async def test_holding_bookings_never_overlap_on_a_room(engine: AsyncEngine) -> None:
    holding = ", ".join(f"'{status}'" for status in HOLDING_STATUSES)
    async with engine.connect() as connection:
        held = await connection.scalar(
            text(f"SELECT count(*) FROM bookings WHERE status IN ({holding})")
        )
        overlapping = (
            await connection.execute(
                text(
                    "SELECT a.id, b.id FROM bookings a JOIN bookings b"
                    " ON a.room_id = b.room_id AND a.id < b.id"
                    " AND a.check_in < b.check_out AND b.check_in < a.check_out"
                    f" WHERE a.status IN ({holding}) AND b.status IN ({holding})"
                )
            )
        ).all()
    assert held
    assert overlapping == []


async def test_bookings_match_their_room_and_rate(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(
                    Booking.id,
                    Booking.property_id,
                    Room.property_id,
                    Booking.check_in,
                    Booking.check_out,
                    Booking.total_amount,
                    RoomType.base_rate,
                )
                .join(Room, Room.id == Booking.room_id)
                .join(RoomType, RoomType.id == Room.room_type_id)
            )
        ).all()
    assert rows
    for booking_id, property_id, room_property_id, check_in, check_out, total, rate in rows:
        nights = (check_out - check_in).days
        assert 1 <= nights <= 14, booking_id
        assert property_id == room_property_id, booking_id
        assert total == rate * nights, booking_id


async def test_a_second_seed_is_refused(seeded: tuple[str, SeedReport]) -> None:
    url, report = seeded
    assert not await database_is_empty(url)
    with pytest.raises(SeedError, match="already holds resort data") as raised:
        await seed_database(url, "small", seed=SEED + 1, progress=False, today=TODAY)
    assert "\n" not in str(raised.value)
    engine = create_engine_for_url(url)
    try:
        assert await _count(engine, "bookings") == report.counts["bookings"]
    finally:
        await engine.dispose()


async def test_unknown_scale_and_unmigrated_database_are_refused(
    dialect: str, scratch_databases: ScratchDatabases
) -> None:
    url = await scratch_databases.create(dialect)
    with pytest.raises(SeedError, match="unknown scale 'huge'"):
        await seed_database(url, "huge", seed=SEED, progress=False)
    assert await database_is_empty(url)
    with pytest.raises(SeedError, match="banrimkwae migrate"):
        await seed_database(url, "small", seed=SEED, progress=False)


async def test_inserts_without_an_id_follow_the_seeded_ids(
    seeded: tuple[str, SeedReport], engine: AsyncEngine
) -> None:
    _, report = seeded
    async with AsyncSession(engine) as session:
        resort = Property(code="AFTER-SEED", name="After Seed", city="Nan", country="TH")
        session.add(resort)
        await session.flush()
        assert resort.id > report.counts["properties"]
        await session.rollback()

    async with engine.connect() as connection:
        guest = await connection.execute(
            insert(Guest).values(
                email="after.seed@example.test",
                first_name="After",
                last_name="Seed",
                country="TH",
                password_hash="x",
            )
        )
        guest_id = _new_id(guest)
        assert guest_id > report.counts["guests"]
        booking = await connection.execute(
            insert(Booking).values(
                reference="AFTERSEED1",
                guest_id=guest_id,
                property_id=1,
                room_id=1,
                check_in=TODAY,
                check_out=TODAY + dt.timedelta(days=1),
                status="cancelled",
                total_amount=100,
            )
        )
        assert _new_id(booking) > report.counts["bookings"]
        await connection.rollback()


def _new_id(inserted: CursorResult[Any]) -> int:
    assert inserted.inserted_primary_key is not None
    return int(inserted.inserted_primary_key[0])


async def _fingerprint(url: str) -> str:
    """A hash of every seeded table's rows in id order."""
    digest = hashlib.sha256()
    engine = create_engine_for_url(url)
    try:
        async with engine.connect() as connection:
            for name in SEEDED_TABLES:
                table = metadata.tables[name]
                for row in await connection.execute(select(table).order_by(table.c.id)):
                    digest.update(repr(tuple(row)).encode())
    finally:
        await engine.dispose()
    return digest.hexdigest()


async def test_the_same_seed_writes_the_same_rows(scratch_databases: ScratchDatabases) -> None:
    fingerprints = []
    output = io.StringIO()
    for seed in (SEED, SEED, SEED + 1):
        url = await scratch_databases.create("sqlite")
        await migrate.upgrade(url)
        await seed_database(
            url, "small", seed=seed, today=TODAY, console=Console(file=output, width=100)
        )
        fingerprints.append(await _fingerprint(url))
    assert fingerprints[0] == fingerprints[1]
    assert fingerprints[0] != fingerprints[2]
    assert "bookings" in output.getvalue()
