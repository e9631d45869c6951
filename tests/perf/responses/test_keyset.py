"""Keyset seeks on every dialect: paging forward and back visits every row exactly once,
in order, whatever the ties and the directions of the keys."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Column, Date, Integer, MetaData, String, Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.responses.keyset import Ordering, SortKey, asc, desc

metadata = MetaData()
items = Table(
    "keyset_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(20), nullable=False),
    Column("day", Date, nullable=False),
)
ROWS = [
    {
        "id": number,
        # Few distinct values: most rows tie on every key but the id.
        "name": random.Random(number).choice(["alpha", "beta", "gamma"]),
        "day": dt.date(2026, 1, 1) + dt.timedelta(days=random.Random(-number).randrange(4)),
    }
    for number in range(1, 48)
]

ORDERINGS = {
    "name, id": Ordering("a", asc("name", items.c.name), asc("id", items.c.id)),
    "day desc, id desc": Ordering("b", desc("day", items.c.day), desc("id", items.c.id)),
    "name, day desc, id": Ordering(
        "c", asc("name", items.c.name), desc("day", items.c.day), asc("id", items.c.id)
    ),
    "id desc": Ordering("d", desc("id", items.c.id)),
}


@pytest.fixture
async def table(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    async with engine.begin() as connection:
        await connection.run_sync(metadata.drop_all)
        await connection.run_sync(metadata.create_all)
        await connection.execute(items.insert(), ROWS)
    yield engine
    async with engine.begin() as connection:
        await connection.run_sync(metadata.drop_all)


def _expected(ordering: Ordering) -> list[int]:
    rows = list(ROWS)
    # Stable sorts from the last key to the first give the full order.
    for key in reversed(ordering.keys):
        rows.sort(key=lambda row: row[key.name], reverse=key.descending)
    return [row["id"] for row in rows]


async def _page(
    engine: AsyncEngine, ordering: Ordering, after: Any, direction: str, limit: int
) -> list[Any]:
    query = select(items).order_by(*ordering.order_by(direction)).limit(limit)  # type: ignore[arg-type]
    if after is not None:
        query = query.where(ordering.seek(ordering.values_of(after), direction))  # type: ignore[arg-type]
    async with engine.connect() as connection:
        rows = list((await connection.execute(query)).all())
    return rows[::-1] if direction == "prev" else rows


@pytest.mark.parametrize("name", sorted(ORDERINGS))
async def test_pages_forward_and_back_visit_every_row_once(table: AsyncEngine, name: str) -> None:
    ordering = ORDERINGS[name]
    expected = _expected(ordering)

    forward: list[int] = []
    pages: list[list[Any]] = []
    after = None
    while True:
        page = await _page(table, ordering, after, "next", 5)
        if not page:
            break
        pages.append(page)
        forward += [row.id for row in page]
        after = page[-1]
    assert forward == expected

    # Back from the last page with prev seeks: the same pages, in reverse.
    before = pages[-1][0]
    for earlier in reversed(pages[:-1]):
        page = await _page(table, ordering, before, "prev", 5)
        assert [row.id for row in page] == [row.id for row in earlier]
        before = page[0]
    assert await _page(table, ordering, before, "prev", 5) == []


def test_an_ordering_needs_a_unique_tie_breaker() -> None:
    with pytest.raises(ValueError, match="unique tie-breaker"):
        Ordering("names", asc("name", items.c.name))
    # Declared unique (a grouped column, say): accepted.
    assert Ordering("names", asc("name", items.c.name), last_is_unique=True).keys


def test_the_seek_starts_with_a_range_on_the_first_key() -> None:
    ordering = ORDERINGS["name, day desc, id"]
    row = {"name": "beta", "day": dt.date(2026, 1, 2), "id": 9}
    sql = str(
        ordering.seek([row["name"], row["day"], row["id"]], "next").compile(
            compile_kwargs={"literal_binds": True}
        )
    )
    assert sql.startswith("keyset_items.name >= 'beta' AND")
    assert "keyset_items.day < '2026-01-02'" in sql
    assert ordering.description == "name asc, day desc, id asc"


def test_sort_keys_read_rows_by_name() -> None:
    ordering = Ordering("x", SortKey("day", items.c.day), SortKey("id", items.c.id))

    class Row:
        day = dt.date(2026, 5, 1)
        id = 3

    assert ordering.values_of(Row()) == (dt.date(2026, 5, 1), 3)
