"""Every resort list: keyset pages, signed cursors, sparse fields, includes and totals,
on a seeded database of each dialect.

The query-count test walks every list endpoint with every include it allows and checks that a
page of 20 costs as many statements as a page of 2: relations load once per page, never per row.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from banrimkwae.app import create_fastapi_app
from banrimkwae.perf.responses.listing import ListSpec
from banrimkwae.resort.activities import router as activities
from banrimkwae.resort.bookings import router as bookings
from banrimkwae.resort.dining import router as dining
from banrimkwae.resort.guests import router as guests
from banrimkwae.resort.properties import router as properties
from banrimkwae.seed import seed_database
from tests.conftest import guest_headers, make_settings, staff_headers

GUEST = 3


@dataclass
class Served:
    client: httpx.AsyncClient
    statements: list[str]
    dialect: str


@pytest.fixture(scope="module")
async def served(module_database_url: str, dialect: str) -> AsyncIterator[Served]:
    await seed_database(module_database_url, "small", seed=7, progress=False)
    app = create_fastapi_app(make_settings(module_database_url), with_platform=False)
    statements: list[str] = []
    async with app.router.lifespan_context(app):
        engine = app.state.database.engine.sync_engine

        def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield Served(http, statements, dialect)


@dataclass(frozen=True)
class Endpoint:
    path: str
    spec: ListSpec
    params: dict[str, str]
    headers: str = "none"


# The seeded small scale: property 1 with restaurant 1 and activity 1; dates in its window.
ENDPOINTS = [
    Endpoint("/api/v1/properties", properties.PROPERTIES, {}),
    Endpoint("/api/v1/properties/1/room-types", properties.ROOM_TYPES, {}),
    Endpoint("/api/v1/properties/1/rooms", properties.ROOMS, {}),
    Endpoint(
        "/api/v1/properties/1/availability",
        bookings.AVAILABILITY,
        {"check_in": "2030-01-10", "check_out": "2030-01-12"},
    ),
    Endpoint("/api/v1/guests/me/bookings", bookings.MY_BOOKINGS, {}, "guest"),
    Endpoint("/api/v1/bookings", bookings.ALL_BOOKINGS, {}, "staff"),
    Endpoint("/api/v1/properties/1/arrivals", bookings.ARRIVALS, {"date": "ARRIVAL"}, "staff"),
    Endpoint(
        "/api/v1/properties/1/departures", bookings.DEPARTURES, {"date": "DEPARTURE"}, "staff"
    ),
    Endpoint("/api/v1/properties/1/activities", activities.ACTIVITIES, {}),
    Endpoint("/api/v1/activities/1/sessions", activities.SESSIONS, {}),
    Endpoint("/api/v1/guests/me/activity-bookings", activities.MY_ACTIVITY_BOOKINGS, {}, "guest"),
    Endpoint("/api/v1/properties/1/restaurants", dining.RESTAURANTS, {}),
    Endpoint("/api/v1/restaurants/1/menu", dining.MENU, {}),
    Endpoint("/api/v1/restaurants/1/menu/categories", dining.MENU_CATEGORIES, {}),
    Endpoint("/api/v1/guests", guests.GUESTS, {}, "staff"),
]


def _headers(kind: str) -> dict[str, str]:
    if kind == "guest":
        return guest_headers(GUEST)
    return staff_headers() if kind == "staff" else {}


async def _busiest_day(served: Served, column: str) -> str:
    """The date with the most bookings of property 1, so arrivals and departures span pages."""
    body = (
        await served.client.get(
            "/api/v1/bookings",
            params={"property_id": "1", "limit": "200", "fields": column},
            headers=staff_headers(),
        )
    ).json()
    days = [row[column] for row in body["data"]]
    return max(set(days), key=days.count)


async def _params(served: Served, endpoint: Endpoint) -> dict[str, str]:
    params = dict(endpoint.params)
    if params.get("date") == "ARRIVAL":
        params["date"] = await _busiest_day(served, "check_in")
    if params.get("date") == "DEPARTURE":
        params["date"] = await _busiest_day(served, "check_out")
    return params


@contextmanager
def _counted(served: Served) -> Iterator[list[str]]:
    start = len(served.statements)
    seen: list[str] = []
    yield seen
    seen.extend(served.statements[start:])


def _include_sets(spec: ListSpec) -> list[tuple[str, ...]]:
    paths = list(spec.paths)
    combos: list[tuple[str, ...]] = [()]
    for size in range(1, len(paths) + 1):
        combos += list(itertools.combinations(paths, size))
    return combos


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda endpoint: endpoint.path)
async def test_queries_per_page_do_not_grow_with_the_page_size(
    served: Served, endpoint: Endpoint
) -> None:
    params = await _params(served, endpoint)
    headers = _headers(endpoint.headers)
    for included in _include_sets(endpoint.spec):
        counts = {}
        sizes = {}
        for limit in (2, 20):
            query = {**params, "limit": str(limit)}
            if included:
                query["include"] = ",".join(included)
            with _counted(served) as statements:
                response = await served.client.get(endpoint.path, params=query, headers=headers)
            assert response.status_code == 200, (included, response.text)
            counts[limit] = len(statements)
            sizes[limit] = len(response.json()["data"])
        assert counts[2] == counts[20], (included, counts, sizes)
        # The relation is really there on every item.
        for item in response.json()["data"]:
            for path in included:
                if "." not in path:
                    assert path in item


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda endpoint: endpoint.path)
async def test_next_and_prev_walk_the_whole_list_once(served: Served, endpoint: Endpoint) -> None:
    params = await _params(served, endpoint)
    headers = _headers(endpoint.headers)
    whole = await served.client.get(
        endpoint.path, params={**params, "limit": "200"}, headers=headers
    )
    everything = whole.json()["data"]
    assert everything, f"{endpoint.path} has no rows in the seeded database"

    pages: list[list[Any]] = []
    response = await served.client.get(
        endpoint.path, params={**params, "limit": "3"}, headers=headers
    )
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["data"])
        links = body["links"]
        expected_header = ", ".join(
            f'<{links[rel]}>; rel="{rel}"' for rel in ("next", "prev") if links[rel]
        )
        assert response.headers.get("link", "") == expected_header
        if links["next"] is None or len(pages) >= 40:
            break
        response = await served.client.get(links["next"], headers=headers)
    walked = [item for page in pages for item in page]
    assert walked == everything[: len(walked)]
    if len(everything) < 200:
        assert walked == everything

    # And back: prev from the last page gives the pages before it, in order.
    for earlier in reversed(pages[:-1]):
        prev = response.json()["links"]["prev"]
        assert prev is not None
        response = await served.client.get(prev, headers=headers)
        assert response.json()["data"] == earlier
    assert response.json()["links"]["prev"] is None


async def test_a_cursor_only_works_with_the_filters_it_was_issued_for(served: Served) -> None:
    client = served.client
    first = await client.get("/api/v1/properties/1/rooms", params={"limit": 2})
    next_link = first.json()["links"]["next"]
    cursor = httpx.URL(next_link).params["cursor"]

    other_filter = await client.get(
        "/api/v1/properties/1/rooms", params={"cursor": cursor, "status": "in_service"}
    )
    other_path = await client.get("/api/v1/properties/2/rooms", params={"cursor": cursor})
    other_list = await client.get("/api/v1/properties", params={"cursor": cursor})
    tampered = await client.get(
        "/api/v1/properties/1/rooms",
        params={"cursor": cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")},
    )
    for response, complaint in [
        (other_filter, "other filters"),
        (other_path, "other filters"),
        (other_list, "another list"),
        (tampered, "altered"),
    ]:
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"
        assert complaint in response.json()["detail"]
        assert response.json()["parameter"] == "cursor"
    # Changing the page size or the fields keeps the cursor valid.
    resized = await client.get(
        "/api/v1/properties/1/rooms", params={"cursor": cursor, "limit": 5, "fields": "id"}
    )
    assert resized.status_code == 200


async def test_a_guest_cannot_page_with_another_guests_cursor(served: Served) -> None:
    mine = await served.client.get(
        "/api/v1/guests/me/bookings", params={"limit": 1}, headers=guest_headers(GUEST)
    )
    next_link = mine.json()["links"]["next"]
    assert next_link is not None
    theirs = await served.client.get(next_link, headers=guest_headers(GUEST + 1))
    assert theirs.status_code == 400
    assert "other filters" in theirs.json()["detail"]


async def test_fields_select_only_those_columns_and_return_only_those_fields(
    served: Served,
) -> None:
    with _counted(served) as statements:
        response = await served.client.get(
            "/api/v1/bookings",
            params={
                "fields": "check_in,status",
                "include": "room.room_type",
                "fields[room]": "number",
                "fields[room.room_type]": "code",
                "limit": 5,
            },
            headers=staff_headers(),
        )
    assert response.status_code == 200, response.text
    for item in response.json()["data"]:
        assert set(item) == {"check_in", "status", "room"}
        assert set(item["room"]) == {"number", "room_type"}
        assert set(item["room"]["room_type"]) == {"code"}
    page_sql = next(sql for sql in statements if "FROM bookings" in sql)
    # The id (sort key) and room_id (join key) are read; nothing else that was not asked for.
    assert "bookings.check_in" in page_sql and "bookings.room_id" in page_sql
    for unwanted in ("reference", "total_amount", "created_at", "guest_id"):
        assert f"bookings.{unwanted}" not in page_sql
    room_sql = next(sql for sql in statements if "FROM rooms" in sql)
    assert "rooms.floor" not in room_sql and "rooms.number" in room_sql


@pytest.mark.parametrize(
    ("params", "parameter", "hint"),
    [
        ({"limit": "0"}, "limit", "from 1 to 200"),
        ({"limit": "201"}, "limit", "from 1 to 200"),
        ({"limit": "ten"}, "limit", "from 1 to 200"),
        ({"limit": "-1"}, "limit", "from 1 to 200"),
        ({"count": "all"}, "count", "none, exact, estimate"),
        ({"fields": "id,password_hash"}, "fields", "allowed fields: id, email"),
        ({"fields": ""}, "fields", "allowed fields"),
        ({"include": "bookings"}, "include", "nothing on this list"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor", "links.next"),
    ],
)
async def test_malformed_parameters_are_400_problems(
    served: Served, params: dict[str, str], parameter: str, hint: str
) -> None:
    response = await served.client.get("/api/v1/guests", params=params, headers=staff_headers())
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["parameter"] == parameter
    assert hint in body["detail"]


async def test_unknown_relation_fields_are_400_naming_the_allowed_ones(served: Served) -> None:
    response = await served.client.get(
        "/api/v1/properties/1/rooms", params={"include": "room_type", "fields[room_type]": "rate"}
    )
    assert response.status_code == 400
    assert response.json()["parameter"] == "fields[room_type]"
    assert "allowed fields: id, property_id, code, name" in response.json()["detail"]


async def test_totals_are_counted_only_when_asked(served: Served) -> None:
    client = served.client
    plain = await client.get("/api/v1/properties/1/rooms", params={"limit": 5})
    assert "total" not in plain.json()["meta"]
    exact = await client.get("/api/v1/properties/1/rooms", params={"limit": 5, "count": "exact"})
    everything = await client.get("/api/v1/properties/1/rooms", params={"limit": 200})
    assert exact.json()["meta"]["total"] == len(everything.json()["data"])
    assert exact.json()["meta"]["total_method"] == "exact"

    estimate = await client.get(
        "/api/v1/properties/1/rooms", params={"limit": 5, "count": "estimate"}
    )
    meta = estimate.json()["meta"]
    assert isinstance(meta["total"], int) and meta["total"] >= 0
    # SQLite has no planner estimate to give: it answers exactly, and says so.
    assert meta["total_method"] == ("exact" if served.dialect == "sqlite" else "estimate")
