"""The shard directory: which shard holds each property, read through an in-process cache.

An explicit entry in `shard_directory` (home database) wins over the hash ring. A property's
first write stores the ring's choice as an entry (`place_for_write`), so a later change of the
ring (a shard added) never moves a property that already has bookings: only resharding does.

Reads use the cache (`cache_seconds`, so a process learns of a switch made elsewhere within
that time; the process that switches drops its entry at once). Writes always read the entry
fresh and lock it in the writer's own home transaction: a reshard's switch to `moving` waits
for the writers in flight, and the writers after it are refused (`ShardMoving`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from banrimkwae.perf.db.sharding.ring import HashRing
from banrimkwae.perf.storage.sharding import ShardDirectoryEntry

_table = cast(Table, ShardDirectoryEntry.__table__)
_COLUMNS = (_table.c.property_id, _table.c.shard, _table.c.state, _table.c.target, _table.c.version)
DEFAULT_CACHE_SECONDS = 2.0
# What a refused writer is told to wait: a move's delta copy takes about this long.
RETRY_AFTER_SECONDS = 2


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a property's rows are. `version` 0: no entry yet, the ring's choice."""

    property_id: int
    shard: str
    state: str = "active"
    target: str | None = None
    version: int = 0

    @property
    def stored(self) -> bool:
        return self.version > 0


class ShardMoving(Exception):
    """A write for a property that is being moved between shards: retry shortly."""

    def __init__(self, placement: Placement) -> None:
        super().__init__(
            f"property {placement.property_id} is moving from shard {placement.shard}"
            f" to {placement.target}; retry in {RETRY_AFTER_SECONDS} s"
        )
        self.placement = placement
        self.retry_after = RETRY_AFTER_SECONDS


Executor = AsyncSession | AsyncConnection


def _placement(row: Any) -> Placement:
    return Placement(int(row[0]), str(row[1]), str(row[2]), row[3], int(row[4]))


class Directory:
    def __init__(
        self,
        home: AsyncEngine,
        ring: HashRing,
        *,
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.home = home
        self.ring = ring
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[int, tuple[Placement, float]] = {}

    async def lookup(self, property_id: int) -> Placement:
        """The placement for reads: cached, else the stored entry, else the ring's choice."""
        cached = self._cache.get(property_id)
        if cached is not None and cached[1] > self._clock():
            return cached[0]
        async with self.home.connect() as connection:
            placement = await self._read(connection, property_id)
        return self._remember(placement)

    async def place_for_write(
        self, executor: Executor, property_id: int, *, lock: bool = True
    ) -> Placement:
        """The placement for a write, locked in `executor`'s transaction until it ends
        (`lock=False`: not locked; the caller locks the shard and checks again, see
        `read_fresh`). Stores the ring's choice when the property has no entry yet; raises
        ShardMoving while the property is being moved.
        """
        placement = await self._read(executor, property_id, lock=lock)
        if not placement.stored:
            # Locked: in the caller's transaction; else in one of its own (see _create).
            await self._create(property_id, placement.shard, executor if lock else None)
            placement = await self._read(executor, property_id, lock=lock)
            if not placement.stored:  # a snapshot older than the entry (SQLite): read anew
                placement = await self.read_fresh(property_id)
        self._remember(placement)
        if placement.state == "moving":
            raise ShardMoving(placement)
        return placement

    async def read_fresh(self, property_id: int) -> Placement:
        """The stored placement now, on a connection of its own (no older snapshot)."""
        async with self.home.connect() as connection:
            placement = await self._read(connection, property_id)
        return self._remember(placement)

    async def entries(self) -> list[Placement]:
        async with self.home.connect() as connection:
            rows = await connection.execute(select(*_COLUMNS).order_by(_table.c.property_id))
            return [_placement(row) for row in rows]

    async def start_move(self, property_id: int, target: str) -> Placement:
        """Mark the property `moving` to `target`: waits for writers in flight, refuses new ones.

        Idempotent: a property already moving to `target` stays so (a resumed move).
        """
        async with self.home.begin() as connection:
            current = await self.place_or_create(connection, property_id)
            if current.state == "moving":
                if current.target != target:
                    raise ValueError(
                        f"property {property_id} is already moving to shard {current.target}"
                    )
                return current
            await connection.execute(
                update(_table)
                .where(_table.c.property_id == property_id)
                .values(state="moving", target=target, version=_table.c.version + 1)
            )
            moved = await self._read(connection, property_id)
        self.invalidate(property_id)
        return moved

    async def finish_move(self, property_id: int) -> Placement:
        """Switch the property to its target shard and let its writes in again."""
        async with self.home.begin() as connection:
            current = await self._read(connection, property_id, lock=True)
            if current.state != "moving" or current.target is None:
                raise ValueError(f"property {property_id} is not moving")
            await connection.execute(
                update(_table)
                .where(_table.c.property_id == property_id)
                .values(
                    shard=current.target,
                    state="active",
                    target=None,
                    version=_table.c.version + 1,
                    moved_at=dt.datetime.now(dt.UTC),
                )
            )
            switched = await self._read(connection, property_id)
        self.invalidate(property_id)
        return switched

    async def abort_move(self, property_id: int) -> None:
        async with self.home.begin() as connection:
            await connection.execute(
                update(_table)
                .where(_table.c.property_id == property_id, _table.c.state == "moving")
                .values(state="active", target=None, version=_table.c.version + 1)
            )
        self.invalidate(property_id)

    async def place_or_create(self, executor: Executor, property_id: int) -> Placement:
        placement = await self._read(executor, property_id, lock=True)
        if placement.stored:
            return placement
        await self._create(property_id, placement.shard, executor)
        return await self._read(executor, property_id, lock=True)

    def invalidate(self, property_id: int | None = None) -> None:
        if property_id is None:
            self._cache.clear()
        else:
            self._cache.pop(property_id, None)

    def _remember(self, placement: Placement) -> Placement:
        self._cache[placement.property_id] = (placement, self._clock() + self.cache_seconds)
        return placement

    async def _read(self, executor: Executor, property_id: int, *, lock: bool = False) -> Placement:
        query = select(*_COLUMNS).where(_table.c.property_id == property_id)
        if lock:
            if _dialect(executor) == "sqlite":
                # No row locks in SQLite: a no-op write takes the database's write lock.
                await executor.execute(
                    update(_table)
                    .where(_table.c.property_id == property_id)
                    .values(version=_table.c.version)
                )
            else:
                query = query.with_for_update(read=True)
        row = (await executor.execute(query)).first()
        if row is None:
            return Placement(property_id, self.ring.shard_for(property_id))
        return _placement(row)

    async def _create(self, property_id: int, shard: str, executor: Executor | None = None) -> None:
        """Store a placement: in `executor`'s transaction (savepoint), else in one of its own
        (a request's transaction must not hold the SQLite home database's write lock)."""
        entry = insert(_table).values(
            property_id=property_id, shard=shard, state="active", version=1
        )
        try:
            if executor is None:
                async with self.home.begin() as connection:
                    await connection.execute(entry)
            else:
                async with executor.begin_nested():
                    await executor.execute(entry)
        except IntegrityError:
            pass  # another writer stored it first: its entry is the one


def _dialect(executor: Executor) -> str:
    bind = executor.get_bind() if isinstance(executor, AsyncSession) else executor
    return bind.dialect.name


__all__ = ["DEFAULT_CACHE_SECONDS", "Directory", "Placement", "ShardMoving"]
