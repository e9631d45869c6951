"""The ORM Session of a sharded deployment: each statement goes to the home database or to
the one shard the session was routed to.

SQLAlchemy asks `Session.get_bind` for the engine of every statement (its hook for
horizontal partitioning): a statement on a sharded table goes to the session's shard, chosen
by `route_to_property` before the first such statement; a statement that mixes a sharded table
with home tables cannot run anywhere and fails loudly. On commit the shard commits first, then
home: locks taken in the home database (the directory entry, the room type) are released only
once the shard's rows are visible.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import column, select, table, update
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql.util import find_tables

from banrimkwae.perf.db.sharding.directory import Placement, ShardMoving
from banrimkwae.perf.db.sharding.router import ShardSet, merge_slices

if TYPE_CHECKING:
    # Imported for types only: perf.responses imports perf.db (through perf.queries).
    from banrimkwae.perf.responses.keyset import Ordering
    from banrimkwae.perf.responses.listing import Slice

SHARD = "banrimkwae.shard"


class ShardNotChosen(RuntimeError):
    """A statement on a sharded table before the session was routed to a shard."""


class CrossShardStatement(RuntimeError):
    """One statement that reads a sharded table and a home table: no database has both."""


class ShardedSession(Session):
    """A Session over the home engine and the shards of `shards` (from the session factory)."""

    def __init__(self, *args: Any, shards: ShardSet, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shards = shards

    def get_bind(self, mapper: Any = None, clause: Any = None, **kwargs: Any) -> Engine:
        if self._is_sharded(mapper, clause):
            name = self.info.get(SHARD)
            if name is None:
                raise ShardNotChosen("route the session to a property before reading its rows")
            return self.shards.engines[name].sync_engine
        return self.shards.home.sync_engine

    def _is_sharded(self, mapper: Any, clause: Any) -> bool:
        sharded = self.shards.tables
        local = getattr(mapper, "local_table", None)
        if local is not None and local.name in sharded:
            return True
        if clause is None:
            return False
        names = {
            str(getattr(found, "name", "")) for found in find_tables(clause, include_crud=True)
        }
        if not names & sharded:
            return False
        if names - sharded - {""}:
            raise CrossShardStatement(
                f"a statement on {sorted(names)} mixes sharded and home tables"
            )
        return True

    def commit(self) -> None:
        transaction = self._transaction
        if transaction is not None and transaction._parent is None:
            self.flush()
            home = self.shards.home.sync_engine
            # Private structure of SessionTransaction: (connection, transaction, should_commit,
            # autoclose), under both the connection and its engine. The shards' transactions
            # are committed here and marked done, so that the home one commits last.
            for key, entry in list(transaction._connections.items()):
                connection, root, should_commit, autoclose = entry
                if connection.engine is home or not should_commit:
                    continue
                if root.is_active:
                    root.commit()
                transaction._connections[key] = (connection, root, False, autoclose)
        super().commit()


def _sharded(session: AsyncSession) -> ShardedSession | None:
    sync = session.sync_session
    return sync if isinstance(sync, ShardedSession) else None


def is_sharded(session: AsyncSession) -> bool:
    return _sharded(session) is not None


async def route_to_property(
    session: AsyncSession, property_id: int, *, write: bool = False
) -> Placement | None:
    """Send the session's sharded statements to the property's shard (no-op unsharded).

    `write`: the directory entry is locked in the session's home transaction and created from
    the ring on the property's first write; a property being moved raises ShardMoving.
    """
    sync = _sharded(session)
    if sync is None:
        return None
    shards = sync.shards
    directory = shards.directory
    if not write:
        placement = await directory.lookup(property_id)
        _choose(sync, property_id, placement.shard)
        return placement
    # SQLite has no row locks: a locked entry would hold the whole home database's write lock
    # for the request. There the shard's own write lock is taken and the entry read again.
    home_is_sqlite = shards.home.dialect.name == "sqlite"
    placement = await directory.place_for_write(session, property_id, lock=not home_is_sqlite)
    _choose(sync, property_id, placement.shard)
    if shards.engines[placement.shard].dialect.name == "sqlite":
        await session.execute(shard_write_lock(shards, placement.shard))
        if home_is_sqlite:
            again = await directory.read_fresh(property_id)
            if again.state == "moving" or again.shard != placement.shard:
                raise ShardMoving(again)
    return placement


def shard_write_lock(shards: ShardSet, shard: str) -> Any:
    """A write that changes nothing: on SQLite it takes the database's write lock."""
    name = next(iter(sorted(shards.tables)))
    rows = table(name, column("id"))
    return update(rows).where(rows.c.id == -1).values(id=rows.c.id)


def _choose(sync: ShardedSession, property_id: int, shard: str) -> None:
    current = sync.info.get(SHARD)
    if current is not None and current != shard:
        raise RuntimeError(
            f"the session is on shard {current}; property {property_id} is on {shard}"
        )
    sync.info[SHARD] = shard


async def next_id(session: AsyncSession, table_name: str) -> int:
    """A new id for a row of a sharded table, unique across the shards."""
    sync = _sharded(session)
    if sync is None:
        raise RuntimeError("next_id needs a sharded session")
    return await sync.shards.allocator(table_name).next_id()


async def locate(session: AsyncSession, table_name: str, row_id: int) -> int | None:
    """The property of the row `row_id` of a sharded table, asked of every shard at once.

    During a move a row is on two shards; both copies name the same property.
    """
    sync = _sharded(session)
    if sync is None:
        raise RuntimeError("locate needs a sharded session")
    sharded = table(table_name, column("id"), column("property_id"))
    query = select(sharded.c.property_id).where(sharded.c.id == row_id)

    async def ask(_name: str, engine: Any) -> int | None:
        async with engine.connect() as connection:
            found = await connection.scalar(query)
            return None if found is None else int(found)

    answers = await sync.shards.scatter(ask)
    return next((found for found in answers.values() if found is not None), None)


async def gather_page(
    session: AsyncSession,
    run: Callable[[AsyncSession], Awaitable[Slice[Any]]],
    ordering: Ordering,
    *,
    limit: int,
    direction: str,
) -> Slice[Any]:
    """Run one keyset page on every shard at once (a session each) and merge the pages.

    A row found on two shards (mid-move) is kept from the shard the directory names for it.
    """
    sync = _sharded(session)
    if sync is None:
        return await run(session)
    shards = sync.shards

    async def on_shard(name: str, _engine: Any) -> Slice[Any]:
        async with AsyncSession(
            sync_session_class=ShardedSession,
            shards=shards,
            info={SHARD: name},
            expire_on_commit=False,
            autoflush=False,
        ) as shard_session:
            return await run(shard_session)

    pages = await shards.scatter(on_shard)
    # Rows are told apart by the ordering's unique key; their property picks the copy to keep.
    unique = ordering.keys[-1].name
    source = {id(row): name for name, page in pages.items() for row in page.rows}
    seen: set[Any] = set()
    twice: set[int] = set()
    for page in pages.values():
        for row in page.rows:
            key = getattr(row, unique)
            if key in seen:
                twice.add(row.property_id)
            seen.add(key)
    owners = {pid: await shards.shard_for(pid) for pid in twice}

    def prefer(kept: Any, other: Any) -> Any:
        return other if source[id(other)] == owners.get(other.property_id) else kept

    return merge_slices(
        list(pages.values()), ordering, limit=limit, direction=direction, prefer=prefer
    )


__all__ = [
    "SHARD",
    "CrossShardStatement",
    "ShardNotChosen",
    "ShardedSession",
    "gather_page",
    "is_sharded",
    "locate",
    "next_id",
    "route_to_property",
    "shard_write_lock",
]
