"""Merging the shards' keyset pages into one: order, limit, duplicates, both directions."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import column

from banrimkwae.perf.db.sharding import merge_slices
from banrimkwae.perf.responses.keyset import Ordering, desc
from banrimkwae.perf.responses.listing import Slice

NEWEST = Ordering("rows", desc("day", column("day")), desc("id", column("id")), last_is_unique=True)


@dataclass
class Row:
    id: int
    day: int
    shard: str = ""


def rows(shard: str, *pairs: tuple[int, int]) -> list[Row]:
    return [Row(row_id, day, shard) for row_id, day in pairs]


def test_the_merged_page_is_in_list_order_and_cut_at_the_limit() -> None:
    east = Slice(rows("east", (9, 30), (4, 20), (7, 10)), has_more=True)
    west = Slice(rows("west", (8, 30), (5, 25), (3, 10)), has_more=False)
    page = merge_slices([east, west], NEWEST, limit=3)
    assert [(row.day, row.id) for row in page.rows] == [(30, 9), (30, 8), (25, 5)]
    assert page.has_more


def test_a_short_merge_has_no_more_unless_a_shard_has() -> None:
    page = merge_slices(
        [Slice(rows("east", (2, 5)), False), Slice(rows("west", (1, 4)), False)], NEWEST, limit=5
    )
    assert [row.id for row in page.rows] == [2, 1]
    assert not page.has_more


def test_a_previous_page_keeps_the_rows_nearest_the_cursor() -> None:
    # Reading back from a cursor: each shard's rows just before it, already in list order.
    east = Slice(rows("east", (9, 30), (4, 20)), has_more=True)
    west = Slice(rows("west", (8, 28), (5, 25)), has_more=False)
    page = merge_slices([east, west], NEWEST, limit=2, direction="prev")
    assert [row.id for row in page.rows] == [5, 4]
    assert page.has_more


def test_a_row_on_two_shards_appears_once_from_the_preferred_shard() -> None:
    east = Slice(rows("east", (3, 10), (2, 9)), False)
    west = Slice(rows("west", (3, 10)), False)
    page = merge_slices(
        [east, west],
        NEWEST,
        limit=5,
        prefer=lambda kept, other: other if other.shard == "west" else kept,
    )
    assert [(row.id, row.shard) for row in page.rows] == [(3, "west"), (2, "east")]


def test_totals_add_up_when_every_shard_counted() -> None:
    counted = merge_slices(
        [Slice([], False, 3, "exact"), Slice([], False, 4, "exact")], NEWEST, limit=1
    )
    assert (counted.total, counted.total_method) == (7, "exact")
    assert merge_slices([Slice([], False, 3), Slice([], False)], NEWEST, limit=1).total is None
