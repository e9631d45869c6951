"""The advisor on the resort schema itself: the app served with monitoring on, its slow
statements captured, and an index proposed for them, on every dialect."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import String, cast, insert, literal, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.app import create_fastapi_app
from banrimkwae.perf.db import create_engine_for_url
from banrimkwae.perf.db.advice import advise
from banrimkwae.perf.db.indexes import analyse_indexes
from banrimkwae.resort.bookings.models import Booking
from banrimkwae.seed import seed_database
from tests.conftest import guest_headers, make_settings

TODAY = dt.date(2026, 11, 27)


async def _grow_bookings(url: str, copies: int = 7) -> None:
    """Eight times the small scale's bookings (copies with new references): large enough
    that a full scan costs clearly more than an index lookup, on every dialect."""
    table = Booking.__table__
    columns = [column for column in table.columns if column.name != "id"]
    engine = create_engine_for_url(url)
    try:
        async with engine.begin() as connection:
            for copy in range(1, copies + 1):
                values = [
                    literal(f"X{copy}-", String(12)) + cast(table.c.id, String(12))
                    if column.name == "reference"
                    else column
                    for column in columns
                ]
                await connection.execute(
                    insert(table).from_select([c.name for c in columns], select(*values))
                )
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
async def served_url(module_database_url: str) -> str:
    """Seeded (small), then served with every statement logged as slow."""
    url = module_database_url
    await seed_database(url, "small", seed=7, progress=False, today=TODAY)
    await _grow_bookings(url)
    settings = make_settings(url, slow_query_ms=0.001, cache_enabled=False)
    app = create_fastapi_app(settings)
    served = app.state.platform.wrap(app)
    engine = create_engine_for_url(url)
    try:
        async with engine.connect() as connection:
            guest_ids = [
                row[0]
                for row in await connection.execute(
                    text("SELECT DISTINCT guest_id FROM bookings ORDER BY guest_id LIMIT 5")
                )
            ]
            property_id = (
                await connection.execute(text("SELECT MIN(id) FROM properties"))
            ).scalar()
    finally:
        await engine.dispose()
    check_in = TODAY + dt.timedelta(days=3)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=served)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for guest_id in guest_ids:
                response = await client.get(
                    "/api/v1/guests/me/bookings", headers=guest_headers(guest_id)
                )
                assert response.status_code == 200, response.text
            response = await client.get(
                f"/api/v1/properties/{property_id}/availability",
                params={
                    "check_in": check_in.isoformat(),
                    "check_out": (check_in + dt.timedelta(days=2)).isoformat(),
                    "guests": 2,
                },
            )
            assert response.status_code == 200, response.text
    # The lifespan's end stopped the platform: pending plans captured, rollups flushed.
    return url


@pytest.fixture
async def engine(served_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine_for_url(served_url)
    yield engine
    await engine.dispose()


async def test_the_plain_resort_schema_gets_measured_indexes_on_bookings(
    engine: AsyncEngine, dialect: str
) -> None:
    advice = await advise(engine, use_hypopg=False)
    on_bookings = [p.candidate.columns for p in advice.proposals if p.candidate.table == "bookings"]
    if dialect == "mariadb":
        # InnoDB indexed every foreign key column itself: never proposed again alone.
        assert not [c for c in on_bookings if c in {("guest_id",), ("property_id",)}]
    else:
        assert "guest_id" in {columns[0] for columns in on_bookings}, advice.notes
    assert all(p.improvement >= 0.3 for p in advice.proposals)


async def test_the_resort_usage_report_keeps_every_constraint_index(
    engine: AsyncEngine, dialect: str
) -> None:
    async with engine.connect() as connection:
        report = await analyse_indexes(connection)
    resort = {"bookings", "rooms", "room_types", "guests", "properties"}
    ours = [index for index in report.indexes if index.table in resort]
    # The plain schema: keys and unique constraints only, none of them unused or duplicate.
    assert ours and all(index.constraint for index in ours)
    assert not [index for index in ours if index.status in {"unused", "duplicate"}]
    heavy = {table.table for table in report.seq_scan_heavy}
    # MariaDB reads bookings through the indexes InnoDB made for its foreign keys.
    assert ("bookings" in heavy) == (dialect != "mariadb")
