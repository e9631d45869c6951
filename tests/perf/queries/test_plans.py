"""Slow statements: plans captured off the request path and logged without values."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select

from banrimkwae.perf.queries import PlanCapture, index_usage
from banrimkwae.perf.storage.models import DatabaseQueryPerformance
from tests.perf.queries.conftest import Monitored

Build = Callable[..., Awaitable[Monitored]]


async def logged_statements(monitored: Monitored, request_id: str) -> list[dict[str, Any]]:
    table = DatabaseQueryPerformance.__table__
    async with monitored.database.engine.connect() as connection:
        result = await connection.execute(select(table).where(table.c.request_id == request_id))
        return [dict(row) for row in result.mappings()]


async def test_slow_statements_are_logged_with_plan_and_index_usage(
    monitored: Build, dialect: str
) -> None:
    # Every statement counts as slow, so capture is deterministic.
    app = await monitored(slow_query_ms=0.0)

    response = await app.client.get("/bookings/secret")
    assert response.status_code == 200
    # Nothing is explained or written on the request path.
    _, stats = app.app.finished["/bookings/secret"]
    assert app.tracker.plans.queue.qsize() == stats.query_count == 3
    await app.tracker.plans.capture_pending()

    rows = await logged_statements(app, stats.request_id)
    assert len(rows) == 3
    for row in rows:
        # Guest data never reaches the log: not in the text, not in the plan.
        assert "Secret" not in json.dumps(row, default=str)
        assert "987654" not in json.dumps(row, default=str)
        assert row["endpoint_path"] == "/bookings/secret"
        assert row["execution_plan"]
        assert len(row["query_hash"]) == 64
    by_text = {row["query_text"].split(" FROM ")[0]: row for row in rows}
    joined = by_text["SELECT qt_bookings.id, qt_rooms.name"]
    assert joined["query_type"] == "SELECT"
    assert joined["table_names"] == ["qt_bookings", "qt_rooms"]
    usage = {entry["table"]: entry for entry in joined["index_usage"]}
    # A guest is found through its index and the room through the primary key.
    assert usage["qt_bookings"]["index"] == "ix_qt_bookings_guest"
    assert usage["qt_bookings"]["access"] in {"index", "covering_index"}
    assert usage["qt_rooms"]["index"] is not None
    assert usage["qt_rooms"]["access"] in {"index", "covering_index"}
    # Nothing indexes nights: the whole table is read.
    long_stays = by_text["SELECT qt_bookings.id"]
    assert long_stays["index_usage"] == [
        {"table": "qt_bookings", "index": None, "access": "full_scan"}
    ]
    updated = next(row for row in rows if row["query_type"] == "UPDATE")
    assert updated["index_usage"][0]["index"] == "ix_qt_bookings_guest"


async def test_a_full_queue_drops_and_counts(monitored: Build) -> None:
    app = await monitored(slow_query_ms=0.0)
    app.tracker.plans = PlanCapture(app.database, capacity=2)

    await app.client.get("/bookings/secret")

    assert app.tracker.plans.queue.qsize() == 2
    assert app.tracker.plans.dropped == 1


# Plans as the servers printed them for the same join (trimmed to the fields that matter).
POSTGRES_JOIN = [
    {
        "Plan": {
            "Node Type": "Nested Loop",
            "Plans": [
                {
                    "Node Type": "Bitmap Heap Scan",
                    "Relation Name": "bookings",
                    "Alias": "b",
                    "Recheck Cond": "((guest)::text = 'x'::text)",
                    "Plans": [
                        {
                            "Node Type": "Bitmap Index Scan",
                            "Index Name": "ix_guest",
                            "Index Cond": "((guest)::text = 'x'::text)",
                        }
                    ],
                },
                {
                    "Node Type": "Index Only Scan",
                    "Index Name": "rooms_pkey",
                    "Relation Name": "rooms",
                    "Index Cond": "(id = b.room_id)",
                },
                {"Node Type": "Seq Scan", "Relation Name": "nights"},
            ],
        }
    }
]
MARIADB_JOIN = {
    "query_block": {
        "select_id": 1,
        "nested_loop": [
            {"table": {"table_name": "b", "access_type": "ref", "key": "ix_guest"}},
            {
                "table": {
                    "table_name": "r",
                    "access_type": "eq_ref",
                    "key": "PRIMARY",
                    "using_index": True,
                }
            },
            {"table": {"table_name": "nights", "access_type": "ALL"}},
        ],
    }
}
SQLITE_JOIN = [
    {"id": 4, "parent": 0, "detail": "SEARCH b USING INDEX ix_guest (guest=?)"},
    {"id": 11, "parent": 0, "detail": "SEARCH r USING INTEGER PRIMARY KEY (rowid=?)"},
    {"id": 15, "parent": 0, "detail": "SCAN nights"},
    {"id": 17, "parent": 0, "detail": "USE TEMP B-TREE FOR ORDER BY"},
]


def test_index_usage_reads_the_same_on_every_dialect() -> None:
    aliases = {"b": "bookings", "r": "rooms", "nights": "nights"}
    postgres = index_usage("postgresql", POSTGRES_JOIN, aliases)
    mariadb = index_usage("mysql", MARIADB_JOIN, aliases)
    sqlite = index_usage("sqlite", SQLITE_JOIN, aliases)
    for usage, primary_key in ((postgres, "rooms_pkey"), (mariadb, "PRIMARY"), (sqlite, None)):
        assert usage[0] == {"table": "bookings", "index": "ix_guest", "access": "index"}
        assert usage[1]["table"] == "rooms"
        if primary_key:
            assert usage[1]["index"] == primary_key
        assert usage[2] == {"table": "nights", "index": None, "access": "full_scan"}
    assert sqlite[1] == {"table": "rooms", "index": "PRIMARY KEY", "access": "index"}
    assert postgres[1]["access"] == mariadb[1]["access"] == "covering_index"
