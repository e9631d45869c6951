"""A small monitored application over two tables, on each dialect.

`qt_rooms` and `qt_bookings` are created in the session's migrated database (beside the
platform tables the tracker writes to) and filled with enough rows that every planner reaches
for an index where one fits. The app stands in for the resort API: a FastAPI app whose
handlers run known statements, wrapped in what the metrics middleware does for query tracking
(a current RequestStats during the request, `finish_request(stats, route)` at its end).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    select,
    text,
    update,
)
from starlette.types import ASGIApp, Receive, Scope, Send

from banrimkwae.perf.config import MonitoringConfig
from banrimkwae.perf.db import Database
from banrimkwae.perf.metrics.context import RequestStats, begin_request, end_request
from banrimkwae.perf.queries import QueryTracker

ROOMS = 1000
BOOKINGS = 3000

metadata = MetaData()
rooms = Table(
    "qt_rooms",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(50), nullable=False),
    Column("floor", Integer, nullable=False),
)
bookings = Table(
    "qt_bookings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("room_id", Integer, ForeignKey("qt_rooms.id"), nullable=False),
    Column("guest", String(80), nullable=False),
    Column("nights", Integer, nullable=False),
    Index("ix_qt_bookings_guest", "guest"),
)


@pytest.fixture(scope="session")
async def query_tables(migrated_url: str, dialect: str) -> str:
    """The session database with qt_rooms and qt_bookings filled and analysed."""
    database = Database(migrated_url)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)
            await connection.run_sync(metadata.create_all)
            await connection.execute(
                insert(rooms),
                [{"id": i, "name": f"Room {i}", "floor": i % 7} for i in range(1, ROOMS + 1)],
            )
            await connection.execute(
                insert(bookings),
                [
                    {"id": i, "room_id": i % ROOMS + 1, "guest": f"guest-{i}", "nights": i % 9}
                    for i in range(1, BOOKINGS + 1)
                ],
            )
        # Fresh statistics, so the planners choose as they would in production.
        async with database.engine.begin() as connection:
            if dialect == "postgresql":
                await connection.execute(text("ANALYZE qt_rooms, qt_bookings"))
            elif dialect == "mariadb":
                await connection.execute(text("ANALYZE TABLE qt_rooms, qt_bookings"))
            else:
                await connection.execute(text("ANALYZE"))
    finally:
        await database.dispose()
    return migrated_url


class TrackedRequests:
    """The metrics middleware's part in query tracking, and a record of each request."""

    def __init__(self, app: ASGIApp, tracker: QueryTracker) -> None:
        self.app = app
        self.tracker = tracker
        self.finished: dict[str, tuple[str, RequestStats]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        stats = RequestStats(uuid.uuid4().hex)
        token = begin_request(stats)
        try:
            await self.app(scope, receive, send)
        finally:
            end_request(token)
            route = getattr(scope.get("route"), "path_format", None) or "<unmatched>"
            self.tracker.finish_request(stats, route)
            self.finished[scope["path"]] = (route, stats)


def build_app(database: Database) -> FastAPI:
    app = FastAPI()

    @app.get("/rooms/lookups/{count}")
    async def look_up_rooms(count: int) -> dict[str, int]:
        # One single-row select per room, yielding between them so requests interleave.
        async with database.sessions() as session:
            for room_id in range(1, count + 1):
                await session.execute(select(rooms.c.name).where(rooms.c.id == room_id))
                await asyncio.sleep(0)
        return {"statements": count}

    @app.post("/rooms/renames")
    async def rename_rooms() -> dict[str, int]:
        # The three ways a statement reaches the driver: with parameters, with a list of
        # parameter sets (executemany), and with none at all.
        async with database.engine.connect() as connection:
            await connection.execute(select(rooms.c.id).where(rooms.c.id == 1))
            await connection.execute(
                update(rooms).where(rooms.c.id == bindparam("room")).values(name=bindparam("to")),
                [{"room": 1, "to": "Room 1"}, {"room": 2, "to": "Room 2"}],
            )
            await connection.exec_driver_sql("SELECT COUNT(*) FROM qt_rooms")
            await connection.rollback()
        return {"statements": 3}

    @app.get("/bookings/secret")
    async def secret_bookings() -> dict[str, int]:
        async with database.sessions() as session:
            joined = await session.execute(
                select(bookings.c.id, rooms.c.name)
                .join(rooms, rooms.c.id == bookings.c.room_id)
                .where(bookings.c.guest == "Secret Guest 4711")
            )
            long_stays = await session.execute(
                select(bookings.c.id).where(bookings.c.nights > 987654)
            )
            await session.execute(
                update(bookings).where(bookings.c.guest == "Secret Guest 4711").values(nights=5)
            )
            await session.rollback()
        return {"rows": len(joined.all()) + len(long_stays.all())}

    return app


@dataclass
class Monitored:
    database: Database
    tracker: QueryTracker
    app: TrackedRequests
    client: httpx.AsyncClient
    worker: str
    disposables: list[Database] = field(default_factory=list)


@pytest.fixture
async def monitored(query_tables: str) -> AsyncIterator[Callable[..., Awaitable[Monitored]]]:
    """Build the monitored app with MonitoringConfig overrides; cleaned up after the test."""
    built: list[Monitored] = []

    async def build(**overrides: object) -> Monitored:
        worker = f"qt-{uuid.uuid4().hex[:12]}"
        config = replace(MonitoringConfig(worker=worker), **overrides)  # type: ignore[arg-type]
        database = Database(query_tables)
        tracker = QueryTracker(config, database)
        tracker.instrument(database.engine)
        app = TrackedRequests(build_app(database), tracker)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        monitored = Monitored(database, tracker, app, client, worker)
        built.append(monitored)
        return monitored

    yield build
    for monitored in built:
        await monitored.client.aclose()
        await monitored.tracker.stop()
        await monitored.database.dispose()
        for extra in monitored.disposables:
            await extra.dispose()
