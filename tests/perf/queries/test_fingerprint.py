"""Fingerprints of the statements the drivers really receive, on every dialect."""

from __future__ import annotations

from sqlalchemy import Executable, delete, insert, select, text, update

from banrimkwae.perf.config import MonitoringConfig
from banrimkwae.perf.db import Database
from banrimkwae.perf.metrics.context import RequestStats, begin_request, end_request
from banrimkwae.perf.queries import Fingerprint, Fingerprinter, QueryTracker, normalise
from tests.perf.queries.conftest import bookings, rooms


async def fingerprints_of(url: str, *statements: Executable) -> list[Fingerprint]:
    """Run each statement for one request and return its fingerprint, in order."""
    database = Database(url)
    tracker = QueryTracker(MonitoringConfig(n_plus_one_threshold=1000), database)
    tracker.instrument(database.engine)
    stats = RequestStats("fingerprint-test")
    token = begin_request(stats)
    try:
        async with database.engine.connect() as connection:
            for statement in statements:
                await connection.execute(statement)
            await connection.rollback()
    finally:
        end_request(token)
        await database.dispose()
    # Every statement counted once; repeated shapes share one tally.
    assert stats.query_count == len(statements)
    return [tally.fingerprint for tally in stats.queries.tallies.values()]


async def test_literals_and_in_list_lengths_share_one_fingerprint(query_tables: str) -> None:
    by_id = await fingerprints_of(
        query_tables,
        select(rooms.c.name).where(rooms.c.id == 3),
        select(rooms.c.name).where(rooms.c.id == 977),
        text("SELECT name FROM qt_rooms WHERE id = 3"),
        text("SELECT name FROM qt_rooms WHERE id = 41"),
    )
    # Bound and inline literals are different texts; each kind collapses to one shape.
    assert len(by_id) == 2
    in_lists = await fingerprints_of(
        query_tables,
        select(rooms.c.name).where(rooms.c.id.in_([1])),
        select(rooms.c.name).where(rooms.c.id.in_([1, 2, 3])),
        select(rooms.c.name).where(rooms.c.id.in_(list(range(1, 40)))),
        text("SELECT name FROM qt_rooms WHERE id IN (1, 2)"),
        text("SELECT name FROM qt_rooms WHERE id IN (5, 6, 7, 8)"),
    )
    assert len(in_lists) == 2
    assert all("IN (" in fingerprint.text for fingerprint in in_lists)
    assert all(len(fingerprint.hash) == 64 for fingerprint in by_id + in_lists)


async def test_different_shapes_differ(query_tables: str) -> None:
    shapes = await fingerprints_of(
        query_tables,
        select(rooms.c.name).where(rooms.c.id == 3),
        select(rooms.c.name).where(rooms.c.floor == 3),
        select(rooms.c.name, rooms.c.floor).where(rooms.c.id == 3),
        select(rooms.c.name).where(rooms.c.id == 3).order_by(rooms.c.name),
    )
    assert len({fingerprint.hash for fingerprint in shapes}) == 4


async def test_types_tables_and_literal_free_text(query_tables: str) -> None:
    joined, inserted, updated, deleted = await fingerprints_of(
        query_tables,
        select(bookings.c.id, rooms.c.name)
        .join(rooms, rooms.c.id == bookings.c.room_id)
        .where(bookings.c.guest == "Private Person"),
        insert(bookings).values(id=99999, room_id=1, guest="Private Person", nights=3),
        update(bookings).where(bookings.c.id == 99999).values(guest="Another Person"),
        delete(bookings).where(bookings.c.id == 99999),
    )
    assert (joined.query_type, joined.tables) == ("SELECT", ("qt_bookings", "qt_rooms"))
    assert (inserted.query_type, inserted.tables) == ("INSERT", ("qt_bookings",))
    assert (updated.query_type, updated.tables) == ("UPDATE", ("qt_bookings",))
    assert (deleted.query_type, deleted.tables) == ("DELETE", ("qt_bookings",))
    for fingerprint in (joined, inserted, updated, deleted):
        assert "Person" not in fingerprint.text
        assert "99999" not in fingerprint.text


def test_normalisation_per_dialect_without_a_database() -> None:
    postgres = normalise(
        "SELECT t.a FROM t WHERE t.id IN ($3::INTEGER, $4::INTEGER) AND t.b = $1::VARCHAR "
        "LIMIT $2::INTEGER",
        "postgresql",
    )
    assert postgres.text == "SELECT t.a FROM t WHERE t.id IN (%s) AND t.b = %s LIMIT %s"
    mariadb = normalise("SELECT t.a FROM t WHERE t.b LIKE 'x%%' AND t.c IN (%s, %s)", "mariadb")
    assert mariadb.text == "SELECT t.a FROM t WHERE t.b LIKE ? AND t.c IN (?)"
    many_rows = normalise("INSERT INTO t (a, b) VALUES (?, ?), (?, ?), (?, ?)", "sqlite")
    assert many_rows.text == "INSERT INTO t (a, b) VALUES (?, ?)"
    with_cte = normalise(
        "WITH c AS (SELECT 1 AS x) SELECT c.x FROM c JOIN t ON t.x = c.x", "sqlite"
    )
    assert with_cte.tables == ("t",)
    assert normalise("RELEASE SAVEPOINT sa_savepoint_1", "sqlite").query_type == "OTHER"
    assert normalise("PRAGMA foreign_keys=ON", "sqlite").query_type == "OTHER"


def test_the_cache_parses_each_shape_once() -> None:
    fingerprinter = Fingerprinter()
    texts = [f"SELECT name FROM rooms WHERE id = {n} AND note = 'n{n}'" for n in range(50)]
    texts += [f"SELECT name FROM rooms WHERE id IN ({', '.join('?' * n)})" for n in range(1, 4)]
    results = {fingerprinter.of(statement, "sqlite").hash for statement in texts * 3}
    assert len(results) == 2
    # Literal variants share a shape, and so do IN-lists of every length: two parses.
    assert fingerprinter.parses == 2
