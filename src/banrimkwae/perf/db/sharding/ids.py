"""Ids unique across every shard: each shard's own auto-increment would repeat the others'.

The next free id of a table is kept in `shard_sequences` (home database). A process takes a
block of ids at once (one short home transaction per block) and hands them out from memory,
so a write costs a home round trip once per `block` rows. Ids then grow per process, not
strictly across processes: "newest first" by id is as exact as the block size.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import cast

from sqlalchemy import Table, column, func, insert, select, table, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from banrimkwae.perf.storage.sharding import ShardSequence

_sequences = cast(Table, ShardSequence.__table__)
DEFAULT_BLOCK = 100


class IdAllocator:
    """Hands out ids of one table, unique over the home database and `shards`."""

    def __init__(
        self,
        home: AsyncEngine,
        shards: Iterable[AsyncEngine],
        table_name: str,
        *,
        block: int = DEFAULT_BLOCK,
    ) -> None:
        if block < 1:
            raise ValueError("block must be at least 1")
        self.home = home
        self.shards = list(shards)
        self.table_name = table_name
        self.block = block
        self._next = 0
        self._end = 0
        self._lock = asyncio.Lock()

    async def next_id(self) -> int:
        async with self._lock:
            if self._next >= self._end:
                self._next, self._end = await self._take_block()
            value = self._next
            self._next += 1
            return value

    async def _take_block(self) -> tuple[int, int]:
        row = _sequences.c.name == self.table_name
        for _attempt in range(2):
            async with self.home.begin() as connection:
                taken = await connection.execute(
                    update(_sequences)
                    .where(row)
                    .values(next_value=_sequences.c.next_value + self.block)
                )
                if taken.rowcount:
                    end = int(
                        await connection.scalar(select(_sequences.c.next_value).where(row)) or 0
                    )
                    return end - self.block, end
            await self._create()
        raise RuntimeError(f"no id sequence for {self.table_name}")  # pragma: no cover

    async def _create(self) -> None:
        """Start the sequence after the largest id anywhere (the table's existing rows)."""
        largest = 0
        for engine in [self.home, *self.shards]:
            async with engine.connect() as connection:
                largest = max(largest, await _largest_id(connection, self.table_name))
        try:
            async with self.home.begin() as connection:
                await connection.execute(
                    insert(_sequences).values(name=self.table_name, next_value=largest + 1)
                )
        except IntegrityError:
            pass  # another process created it first


async def _largest_id(connection: AsyncConnection, table_name: str) -> int:
    rows = table(table_name, column("id"))
    found = await connection.scalar(select(func.max(rows.c.id)))
    return int(found or 0)


__all__ = ["DEFAULT_BLOCK", "IdAllocator"]
