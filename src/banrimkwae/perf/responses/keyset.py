"""Keyset (seek) conditions over an ordering that ends with a unique tie-breaker.

Page N costs what page 1 costs: the next page starts where the last one ended, found through
the ordering's index with `WHERE (k1, k2) > (v1, v2)`, instead of reading and discarding the
N-1 pages before it as OFFSET does.

The condition is written out as `k1 >= v1 AND (k1 > v1 OR (k1 = v1 AND k2 > v2))`, which
allows a different direction per key and still lets every dialect seek on k1's index (a row
comparison would force one direction and is not a range predicate on every dialect). Sort
keys must be NOT NULL: a NULL compares neither greater nor smaller and would drop rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import UnaryExpression

from banrimkwae.perf.responses.cursors import Direction

# A mapped attribute (Booking.id) or a Core column (table.c.id).
Column = ColumnElement[Any] | QueryableAttribute[Any]


@dataclass(frozen=True, slots=True)
class SortKey:
    """One key of an ordering: a column and the attribute that holds its value on a row."""

    name: str
    column: Column
    descending: bool = False


def asc(name: str, column: Column) -> SortKey:
    return SortKey(name, column)


def desc(name: str, column: Column) -> SortKey:
    return SortKey(name, column, descending=True)


class Ordering:
    """A named total order: its last key must be unique, so no two rows ever tie."""

    def __init__(self, name: str, *keys: SortKey, last_is_unique: bool = False) -> None:
        if not keys:
            raise ValueError("an ordering needs at least one key")
        if not (last_is_unique or getattr(keys[-1].column, "primary_key", False)):
            raise ValueError(
                f"ordering {name!r} must end with a unique tie-breaker (the primary key):"
                " without one, rows with equal keys are skipped or repeated across pages"
            )
        self.name = name
        self.keys = keys

    @property
    def description(self) -> str:
        return ", ".join(f"{key.name} {'desc' if key.descending else 'asc'}" for key in self.keys)

    def order_by(self, direction: Direction = "next") -> list[UnaryExpression[Any]]:
        """ORDER BY for reading in `direction`: reversed for prev (the rows are flipped back)."""
        return [
            key.column.desc() if key.descending != (direction == "prev") else key.column.asc()
            for key in self.keys
        ]

    def seek(self, values: Sequence[Any], direction: Direction) -> ColumnElement[bool]:
        """Rows strictly after (next) or before (prev) the row whose keys are `values`."""
        if len(values) != len(self.keys):
            raise ValueError(f"ordering {self.name!r} has {len(self.keys)} keys")
        alternatives: list[ColumnElement[bool]] = []
        for index, key in enumerate(self.keys):
            equal_before = [self.keys[before].column == values[before] for before in range(index)]
            alternatives.append(and_(*equal_before, _beyond(key, values[index], direction)))
        condition = or_(*alternatives)
        if len(self.keys) == 1:
            return condition
        # The redundant bound on the first key is what an index range scan starts from.
        first = self.keys[0]
        forward = first.descending == (direction == "prev")
        bound = first.column >= values[0] if forward else first.column <= values[0]
        return and_(bound, condition)

    def values_of(self, row: Any) -> tuple[Any, ...]:
        return tuple(getattr(row, key.name) for key in self.keys)


def _beyond(key: SortKey, value: Any, direction: Direction) -> ColumnElement[bool]:
    ascending_read = key.descending == (direction == "prev")
    condition: ColumnElement[bool] = key.column > value if ascending_read else key.column < value
    return condition


__all__ = ["Column", "Ordering", "SortKey", "asc", "desc"]
