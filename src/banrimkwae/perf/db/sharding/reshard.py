"""Move one property's rows to another shard while the application runs.

copy → switch → verify → delete:
1. copy: the rows are copied in batches while the property still takes writes (best effort).
2. the directory entry becomes `moving`: that waits for the writers in flight (they hold the
   entry's lock) and refuses new writes (503 with Retry-After) for the short rest of the move.
3. the delta: rows written, changed or deleted since their copy are brought over exactly.
4. verify: row count and a checksum of every row, on both shards, must agree.
5. switch: the directory names the target; writes resume there.
6. after a grace period (the directory cache's lifetime, so no process still reads the
   source), the rows are deleted from the source in batches.

Every step can be run again: an interrupted move is resumed by the same command (a `moving`
entry continues; a switched one only deletes what was left on other shards).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import MetaData, Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.db.sharding.router import ShardSet
from banrimkwae.perf.db.sharding.session import shard_write_lock

DEFAULT_BATCH = 500
# (phase, rows done, rows in the phase or None when unknown)
Progress = Callable[[str, int, int | None], None]


class ReshardError(Exception):
    pass


@dataclass(slots=True)
class ReshardReport:
    property_id: int
    source: str
    target: str
    copied: int = 0
    delta: int = 0
    rows: int = 0
    checksum: str = ""
    deleted: int = 0
    resumed: bool = False
    seconds: float = 0.0


def _quiet(_phase: str, _done: int, _total: int | None) -> None:
    return None


class Resharder:
    """Moves properties' rows of `table` (keyed by `key`, unique `id`) between shards."""

    def __init__(
        self,
        shards: ShardSet,
        *,
        table: str = "bookings",
        key: str = "property_id",
        batch: int = DEFAULT_BATCH,
        grace_seconds: float | None = None,
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self.shards = shards
        self.table_name = table
        self.key = key
        self.batch = batch
        self.grace_seconds = (
            shards.directory.cache_seconds if grace_seconds is None else grace_seconds
        )
        self._tables: dict[str, Table] = {}

    async def move(
        self, property_id: int, target: str, progress: Progress = _quiet
    ) -> ReshardReport:
        started = time.perf_counter()
        directory = self.shards.directory
        self.shards.engine(target)  # an unknown shard fails before anything changes
        async with self.shards.home.begin() as connection:
            placement = await directory.place_or_create(connection, property_id)
        report = ReshardReport(property_id, placement.shard, target)
        if placement.state == "moving":
            if placement.target != target:
                raise ReshardError(
                    f"property {property_id} is being moved to shard {placement.target}"
                )
            report.resumed = True
        elif placement.shard == target:
            report.deleted = await self._delete_leftovers(property_id, target, progress)
            if not report.deleted:
                raise ReshardError(f"property {property_id} is already on shard {target}")
            report.resumed = True
            report.seconds = time.perf_counter() - started
            return report
        else:
            report.copied = await self._copy(property_id, placement.shard, target, progress)
            await directory.start_move(property_id, target)
        source = report.source
        await self._drain(source)
        report.delta = await self._sync(property_id, source, target, progress)
        source_rows = await self._rows(source, property_id)
        target_rows = await self._rows(target, property_id)
        source_sum, target_sum = _checksum(source_rows), _checksum(target_rows)
        if len(source_rows) != len(target_rows) or source_sum != target_sum:
            await directory.abort_move(property_id)
            raise ReshardError(
                f"verification failed for property {property_id}: {len(source_rows)} rows"
                f" ({source_sum[:12]}) on {source}, {len(target_rows)} ({target_sum[:12]})"
                f" on {target}; the property stays on {source}"
            )
        report.rows, report.checksum = len(target_rows), target_sum
        await directory.finish_move(property_id)
        progress("switched", report.rows, report.rows)
        await asyncio.sleep(self.grace_seconds)
        report.deleted = await self._delete(source, property_id, progress)
        report.seconds = time.perf_counter() - started
        return report

    async def _drain(self, shard: str) -> None:
        """Wait for the writers still in flight on a SQLite shard (they hold its write lock;
        on the servers, the directory entry's lock already made `start_move` wait)."""
        engine = self.shards.engine(shard)
        if engine.dialect.name == "sqlite":
            async with engine.begin() as connection:
                await connection.execute(shard_write_lock(self.shards, shard))

    async def _table(self, shard: str) -> Table:
        found = self._tables.get(shard)
        if found is None:
            async with self.shards.engine(shard).connect() as connection:
                found = await connection.run_sync(
                    lambda sync: Table(self.table_name, MetaData(), autoload_with=sync)
                )
            self._tables[shard] = found
        return found

    async def _rows(self, shard: str, property_id: int) -> dict[Any, tuple[Any, ...]]:
        table = await self._table(shard)
        query = select(table).where(table.c[self.key] == property_id).order_by(table.c.id)
        async with self.shards.engine(shard).connect() as connection:
            return {row.id: tuple(row) for row in await connection.execute(query)}

    async def _ids(self, shard: str, property_id: int) -> set[Any]:
        table = await self._table(shard)
        query = select(table.c.id).where(table.c[self.key] == property_id)
        async with self.shards.engine(shard).connect() as connection:
            return set((await connection.scalars(query)).all())

    async def _copy(self, property_id: int, source: str, target: str, progress: Progress) -> int:
        """Copy the rows the target lacks, in batches by id (rows may still be written)."""
        table, present = await self._table(source), await self._ids(target, property_id)
        engine, copied, last = self.shards.engine(source), 0, None
        while True:
            query = select(table).where(table.c[self.key] == property_id)
            if last is not None:
                query = query.where(table.c.id > last)
            async with engine.connect() as connection:
                batch = (
                    await connection.execute(query.order_by(table.c.id).limit(self.batch))
                ).all()
            if not batch:
                return copied
            last = batch[-1].id
            missing = [row._asdict() for row in batch if row.id not in present]
            await self._insert(target, missing)
            copied += len(missing)
            progress("copy", copied, None)

    async def _sync(self, property_id: int, source: str, target: str, progress: Progress) -> int:
        """Make the target's rows equal the source's (no writes can happen now)."""
        wanted, held = await self._rows(source, property_id), await self._rows(target, property_id)
        table = await self._table(target)
        names = [column.name for column in (await self._table(source)).columns]
        missing = [
            dict(zip(names, row, strict=True)) for key, row in wanted.items() if key not in held
        ]
        changed = [
            dict(zip(names, row, strict=True))
            for key, row in wanted.items()
            if key in held and held[key] != row
        ]
        extra = [key for key in held if key not in wanted]
        await self._insert(target, missing)
        async with self.shards.engine(target).begin() as connection:
            for values in changed:
                await connection.execute(
                    update(table).where(table.c.id == values["id"]).values(**values)
                )
            for chunk in _chunks(extra, self.batch):
                await connection.execute(delete(table).where(table.c.id.in_(chunk)))
        # Progress counts the rows checked; the answer, the rows that needed a change.
        progress("delta", len(wanted), len(wanted))
        return len(missing) + len(changed) + len(extra)

    async def _insert(self, shard: str, rows: Sequence[dict[str, Any]]) -> None:
        table = await self._table(shard)
        for chunk in _chunks(list(rows), self.batch):
            async with self.shards.engine(shard).begin() as connection:
                await connection.execute(table.insert(), chunk)

    async def _delete(self, shard: str, property_id: int, progress: Progress) -> int:
        table, engine = await self._table(shard), self.shards.engine(shard)
        ids = sorted(await self._ids(shard, property_id))
        deleted = 0
        for chunk in _chunks(ids, self.batch):
            async with engine.begin() as connection:
                await connection.execute(
                    delete(table).where(table.c[self.key] == property_id, table.c.id.in_(chunk))
                )
            deleted += len(chunk)
            progress("delete", deleted, len(ids))
        return deleted

    async def _delete_leftovers(self, property_id: int, owner: str, progress: Progress) -> int:
        """Rows of the property on shards other than its owner: copies from a cut-off move."""
        deleted = 0
        for name in self.shards.names:
            if name != owner:
                deleted += await self._delete(name, property_id, progress)
        return deleted


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _checksum(rows: dict[Any, tuple[Any, ...]]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for key in sorted(rows):
        digest.update(repr(tuple(str(value) for value in rows[key])).encode())
    return digest.hexdigest()


async def shard_counts(
    shards: ShardSet, table: str = "bookings", key: str = "property_id"
) -> dict[str, dict[int, int]]:
    """Rows per property on every shard (for `banrimkwae db shards`)."""
    from sqlalchemy import column, func
    from sqlalchemy import table as table_clause

    rows = table_clause(table, column(key))

    async def count(_name: str, engine: AsyncEngine) -> dict[int, int]:
        query = select(rows.c[key], func.count()).group_by(rows.c[key])
        async with engine.connect() as connection:
            return {int(pid): int(n) for pid, n in await connection.execute(query)}

    return await shards.scatter(count)


__all__ = [
    "DEFAULT_BATCH",
    "Progress",
    "ReshardError",
    "ReshardReport",
    "Resharder",
    "shard_counts",
]
