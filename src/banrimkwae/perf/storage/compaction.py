"""Compaction of time-bucketed rollup tables: aged rows merged into coarser buckets.

A rollup table holds insert-only rows per time bucket and series (an endpoint, a statement
fingerprint ...), one per worker and flush. As rows age, `compact_rollups` merges 1-minute
rows older than a day into 10-minute rows and 10-minute rows older than a week into hourly
rows. What a table's rows mean is described by a `RollupTable`: which columns name a series,
and how the rows of one series and bucket merge into one.

Safe with several workers compacting at once: each batch reads the rows to merge with FOR
UPDATE SKIP LOCKED (SQLite: after taking its single write lock), deletes them and inserts the
merged rows in the same transaction, so every source row is merged by exactly one worker,
exactly once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

# (bucket of the rows merged, bucket they merge into, age from which they merge)
COMPACTION_LEVELS = (
    (60, 600, dt.timedelta(days=1)),
    (600, 3600, dt.timedelta(days=7)),
)
COMPACTION_BATCH = 2000
# The worker name of a row merged from the rows of several workers.
ANY_WORKER = "*"

# Column name -> value, as read from or written to a rollup table.
RowValues = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RollupTable:
    """How the rows of one rollup table merge.

    The table has `id`, `bucket_start`, `bucket_seconds` and `worker` columns. `series` names
    the columns that, with the bucket, identify what a row counts; `merge` turns the rows of
    one series (at least one) into the values of a single row, bucket and worker aside.
    """

    table: Table
    series: tuple[str, ...]
    merge: Callable[[Sequence[RowValues]], dict[str, Any]]


async def compact_rollups(
    engine: AsyncEngine, rollups: RollupTable, now: dt.datetime, *, batch_size: int
) -> int:
    """Merge the aged rows of one rollup table; returns how many rows were merged away."""
    merged = 0
    for source, target, age in COMPACTION_LEVELS:
        # Whole target buckets only, so a bucket is not merged half now and half later.
        cutoff = floor_time(now - age, target)
        # Until a batch finds nothing: with SKIP LOCKED a short batch does not mean the end
        # (MariaDB applies LIMIT before skipping the rows another worker holds).
        while count := await _compact_batch(engine, rollups, source, target, cutoff, batch_size):
            merged += count
    return merged


async def _compact_batch(
    engine: AsyncEngine,
    rollups: RollupTable,
    source: int,
    target: int,
    cutoff: dt.datetime,
    limit: int,
) -> int:
    columns = rollups.table.c
    query = (
        select(rollups.table)
        .where(columns.bucket_seconds == source, columns.bucket_start < cutoff)
        .order_by(columns.bucket_start, columns.id)
        .limit(limit)
    )
    if engine.dialect.name != "sqlite":
        # Rows another worker is merging right now are left to it.
        query = query.with_for_update(skip_locked=True)
    async with merging_transaction(engine) as connection:
        rows: list[RowValues] = [dict(row._mapping) for row in await connection.execute(query)]
        if not rows:
            return 0
        groups: dict[tuple[Any, ...], list[RowValues]] = {}
        for values in rows:
            start = floor_time(values["bucket_start"], target)
            key = (start, *(values[name] for name in rollups.series))
            groups.setdefault(key, []).append(values)
        await connection.execute(
            delete(rollups.table).where(columns.id.in_([values["id"] for values in rows]))
        )
        merged_rows = []
        for (start, *_series), group in groups.items():
            merged = rollups.merge(group)
            # One worker's rows keep its name; rows of several become "*".
            workers = {values["worker"] for values in group}
            merged.update(
                bucket_start=start,
                bucket_seconds=target,
                worker=workers.pop() if len(workers) == 1 else ANY_WORKER,
            )
            merged_rows.append(merged)
        await connection.execute(insert(rollups.table), merged_rows)
        return len(rows)


@contextlib.asynccontextmanager
async def merging_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction for reading rows and replacing them, committed on success."""
    async with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            # SQLite has one writer: take its lock before reading what will be merged.
            await connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            # No gap locks (MariaDB's REPEATABLE READ takes them): compactions of several
            # workers lock only the rows they merge, and cannot deadlock on their inserts.
            await connection.execution_options(isolation_level="READ COMMITTED")
        yield connection
        await connection.commit()


def floor_time(moment: dt.datetime, seconds: int) -> dt.datetime:
    """The start of the `seconds`-long bucket holding `moment`, in UTC."""
    epoch = as_utc(moment).timestamp()
    return dt.datetime.fromtimestamp(epoch - epoch % seconds, dt.UTC)


def as_utc(moment: dt.datetime) -> dt.datetime:
    # SQLite and MariaDB give naive datetimes back; everything is stored in UTC.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


__all__ = [
    "ANY_WORKER",
    "COMPACTION_BATCH",
    "COMPACTION_LEVELS",
    "RollupTable",
    "RowValues",
    "as_utc",
    "compact_rollups",
    "floor_time",
    "merging_transaction",
]
