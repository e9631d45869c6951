"""The shards of a deployment: their engines, the directory, and scatter-gather.

`ShardSet.engine_for(property_id)` answers where one property's rows live. `scatter` runs one
coroutine per shard concurrently; `merge_slices` merges the pages they return into one keyset
page: sorted by the list's ordering, cut at the limit, duplicates (rows caught mid-move on two
shards) kept once.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.db.sharding.directory import DEFAULT_CACHE_SECONDS, Directory
from banrimkwae.perf.db.sharding.ids import IdAllocator
from banrimkwae.perf.db.sharding.ring import DEFAULT_VIRTUAL_NODES, HashRing

if TYPE_CHECKING:
    # Imported for types only: perf.responses imports perf.db (through perf.queries).
    from banrimkwae.perf.responses.keyset import Ordering
    from banrimkwae.perf.responses.listing import Slice

T = TypeVar("T")
# The tables whose rows live on the shards; everything else stays in the home database.
DEFAULT_SHARDED_TABLES = frozenset({"bookings"})


class UnknownShard(ValueError):
    pass


class ShardSet:
    """Named shard engines beside the home engine, and the directory that places properties."""

    def __init__(
        self,
        home: AsyncEngine,
        engines: Mapping[str, AsyncEngine],
        *,
        tables: Iterable[str] = DEFAULT_SHARDED_TABLES,
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
        virtual_nodes: int = DEFAULT_VIRTUAL_NODES,
        side: AsyncEngine | None = None,
    ) -> None:
        """`side`: a second engine on the home database for the directory's and the id
        allocator's own short transactions. A request holds a connection of `home` while it
        asks for those; from the same pool, enough such requests at once would wait for each
        other forever."""
        if not engines:
            raise ValueError("sharding needs at least one shard")
        self.home = home
        self.side = side or home
        self.engines = dict(engines)
        self.tables = frozenset(tables)
        self.directory = Directory(
            self.side,
            HashRing(self.engines, virtual_nodes=virtual_nodes),
            cache_seconds=cache_seconds,
        )
        self._allocators: dict[str, IdAllocator] = {}

    def allocator(self, table_name: str) -> IdAllocator:
        """The id allocator of a sharded table (one per process and table)."""
        found = self._allocators.get(table_name)
        if found is None:
            found = IdAllocator(self.side, self.engines.values(), table_name)
            self._allocators[table_name] = found
        return found

    @property
    def names(self) -> list[str]:
        return list(self.engines)

    def engine(self, name: str) -> AsyncEngine:
        try:
            return self.engines[name]
        except KeyError:
            known = ", ".join(self.engines)
            raise UnknownShard(f"no shard named {name!r} (shards: {known})") from None

    async def shard_for(self, property_id: int) -> str:
        return (await self.directory.lookup(property_id)).shard

    async def engine_for(self, property_id: int) -> AsyncEngine:
        return self.engines[await self.shard_for(property_id)]

    async def scatter(self, run: Callable[[str, AsyncEngine], Awaitable[T]]) -> dict[str, T]:
        """`run` on every shard at once; the answers by shard name."""
        names = list(self.engines)
        answers = await asyncio.gather(*(run(name, self.engines[name]) for name in names))
        return dict(zip(names, answers, strict=True))

    async def dispose(self) -> None:
        for engine in self.engines.values():
            await engine.dispose()
        if self.side is not self.home:
            await self.side.dispose()


def _compare(ordering: Ordering) -> Callable[[Any, Any], int]:
    keys = ordering.keys

    def compare(left: Any, right: Any) -> int:
        for key in keys:
            a, b = getattr(left, key.name), getattr(right, key.name)
            if a != b:
                before = a < b
                return (1 if before else -1) if key.descending else (-1 if before else 1)
        return 0

    return compare


def merge_slices(
    slices: Sequence[Slice[Any]],
    ordering: Ordering,
    *,
    limit: int,
    direction: str = "next",
    prefer: Callable[[Any, Any], Any] | None = None,
) -> Slice[Any]:
    """One page from the shards' pages of the same keyset request.

    Each shard returned up to `limit` rows in list order, right after (next) or right before
    (prev) the cursor. The page is the first `limit` of their merge (next), or the last
    (prev). Rows with the same unique key (its last key: the id) appear once; `prefer(a, b)`
    picks which copy stays (default: the first).
    """
    from banrimkwae.perf.responses.listing import Slice

    unique = ordering.keys[-1].name
    chosen: dict[Any, Any] = {}
    for page in slices:
        for row in page.rows:
            key = getattr(row, unique)
            if key in chosen:
                chosen[key] = prefer(chosen[key], row) if prefer else chosen[key]
            else:
                chosen[key] = row
    merged = sorted(chosen.values(), key=functools.cmp_to_key(_compare(ordering)))
    more = len(merged) > limit or any(page.has_more for page in slices)
    rows = merged[:limit] if direction == "next" else merged[-limit:] if limit else []
    totals = [page.total for page in slices]
    total = sum(t for t in totals if t is not None) if all(t is not None for t in totals) else None
    method = next((page.total_method for page in slices if page.total_method), None)
    return Slice(rows, more, total, method)


__all__ = ["DEFAULT_SHARDED_TABLES", "ShardSet", "UnknownShard", "merge_slices"]
