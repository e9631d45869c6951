"""A small schema with known slow statements, monitored for real, for the advisor's tests.

`adv_bookings` (20,000 rows) has no index on what its statements filter by, one index
(`ix_adv_bookings_nights`) that leads another (`ix_adv_bookings_nights_status`), and a unique
constraint on `reference`; `adv_guests.country` has an index no statement reads. The
statements run through the real QueryTracker with a zero slow threshold, so
database_query_performance and query_fingerprint_rollups hold exactly what monitoring would
write: normalised text, plans, index usage, counts.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    delete,
    insert,
    select,
    text,
)

from banrimkwae.perf.config import MonitoringConfig
from banrimkwae.perf.db import Database
from banrimkwae.perf.metrics.context import RequestStats, begin_request, end_request
from banrimkwae.perf.queries import QueryTracker
from banrimkwae.perf.storage.models import (
    DatabaseQueryPerformance,
    PerformanceRecommendation,
    QueryFingerprintRollup,
)

GUESTS = 2000
BOOKINGS = 20_000
FIRST_DAY = dt.date(2026, 1, 1)

metadata = MetaData()
guests = Table(
    "adv_guests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("email", String(120), nullable=False, unique=True),
    Column("country", String(2), nullable=False),
    Index("ix_adv_guests_country", "country"),
)
bookings = Table(
    "adv_bookings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("reference", String(12), nullable=False),
    Column("guest_id", Integer, ForeignKey("adv_guests.id"), nullable=False),
    Column("property_id", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("check_in", Date, nullable=False),
    Column("check_out", Date, nullable=False),
    Column("nights", Integer, nullable=False),
    UniqueConstraint("reference", name="uq_adv_bookings_reference"),
    Index("ix_adv_bookings_nights", "nights"),
    Index("ix_adv_bookings_nights_status", "nights", "status"),
)
STATUSES = ("pending", "confirmed", "cancelled", "completed")


def _booking(i: int) -> dict[str, Any]:
    check_in = FIRST_DAY + dt.timedelta(days=i % 365)
    nights = 1 + i % 7
    return {
        "id": i,
        "reference": f"R{i:08d}",
        "guest_id": 1 + (i * 7919) % GUESTS,
        "property_id": 1 + i % 50,
        "status": STATUSES[i % 4],
        "check_in": check_in,
        "check_out": check_in + dt.timedelta(days=nights),
        "nights": nights,
    }


async def build_tables(url: str) -> None:
    """(Re)create and fill the two tables, clear the platform's rows, refresh statistics."""
    database = Database(url)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)
            await connection.run_sync(metadata.create_all)
            await connection.execute(
                insert(guests),
                [
                    {"id": i, "email": f"guest{i}@example.test", "country": "TH"}
                    for i in range(1, GUESTS + 1)
                ],
            )
            await connection.execute(
                insert(bookings), [_booking(i) for i in range(1, BOOKINGS + 1)]
            )
            for model in (
                DatabaseQueryPerformance,
                QueryFingerprintRollup,
                PerformanceRecommendation,
            ):
                await connection.execute(delete(model))
        async with database.engine.begin() as connection:
            dialect = database.dialect
            if dialect == "postgresql":
                await connection.execute(text("ANALYZE adv_guests, adv_bookings"))
            elif dialect in {"mysql", "mariadb"}:
                await connection.execute(text("ANALYZE TABLE adv_guests, adv_bookings"))
            else:
                await connection.execute(text("ANALYZE"))
    finally:
        await database.dispose()


def slow_statements() -> list[Any]:
    """The application's slow reads: a multi-column filter, a join, a filter on nights."""
    by_stay = select(bookings.c.id, bookings.c.reference).where(
        bookings.c.property_id == 17,
        bookings.c.status.in_(["pending", "confirmed"]),
        bookings.c.check_in < dt.date(2026, 6, 10),
        bookings.c.check_out > dt.date(2026, 6, 3),
    )
    by_email = (
        select(bookings.c.reference, bookings.c.check_in)
        .join(guests, guests.c.id == bookings.c.guest_id)
        .where(guests.c.email == "guest42@example.test")
    )
    long_stays = select(bookings.c.id).where(bookings.c.nights == 7, bookings.c.status == "pending")
    return [by_stay, by_email, long_stays]


async def monitor(url: str, statements: list[Any], *, repeat: int = 3) -> None:
    """Run `statements` as one request would, with every statement logged as slow."""
    database = Database(url)
    config = replace(MonitoringConfig(worker=f"adv-{uuid.uuid4().hex[:8]}"), slow_query_ms=0.0)
    tracker = QueryTracker(config, database)
    tracker.instrument(database.engine)
    try:
        for _ in range(repeat):
            stats = RequestStats(uuid.uuid4().hex)
            token = begin_request(stats)
            try:
                async with database.engine.connect() as connection:
                    for statement in statements:
                        (await connection.execute(statement)).all()
            finally:
                end_request(token)
                tracker.finish_request(stats, "/advisor-test")
        await tracker.plans.capture_pending()
        await tracker.flush()
    finally:
        await tracker.stop()
        await database.dispose()
