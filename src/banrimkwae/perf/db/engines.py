"""Async engines for the three supported dialects, with their per-dialect connection setup."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from banrimkwae.perf.db.pools import PoolSettings
from banrimkwae.perf.db.replicas import ReplicaConfig, ReplicaRouter
from banrimkwae.perf.db.routing_session import CLIENT, PRIMARY_ONLY, RoutingSession
from banrimkwae.perf.db.sharding.router import ShardSet
from banrimkwae.perf.db.sharding.session import ShardedSession


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # WAL lets readers run beside the single writer; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def create_engine_for_url(
    url: str, *, echo: bool = False, pool: PoolSettings | None = None, **options: Any
) -> AsyncEngine:
    """Create an AsyncEngine with settings suited to the URL's dialect."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo, **options}
    if pool is not None and parsed.get_backend_name() != "sqlite":
        kwargs = {**pool.engine_options(), **kwargs}
    if parsed.get_backend_name() == "sqlite":
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_recycle", 1800)
    if parsed.get_backend_name() == "mysql":
        # Sessions in UTC so TIMESTAMP columns round-trip without a server time zone surprise.
        kwargs.setdefault("connect_args", {"init_command": "SET time_zone = '+00:00'"})
    return create_async_engine(url, **kwargs)


class Database:
    """The primary engine, its replicas (if any) and the session factory; the lifespan owns one.

    With replica URLs, sessions route reads to the replicas (see replicas.py) and
    `start()` begins their health checks; without, everything goes to the one engine.
    """

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool: PoolSettings | None = None,
        replica_urls: Sequence[str] = (),
        replicas: ReplicaConfig | None = None,
        shard_urls: Mapping[str, str] | None = None,
        shard_cache_seconds: float = 2.0,
        **options: Any,
    ) -> None:
        self.url = url
        self.engine = create_engine_for_url(url, echo=echo, pool=pool, **options)
        self.router: ReplicaRouter | None = None
        self.shards: ShardSet | None = None
        if shard_urls:
            # Bookings on the shards, the rest at home (perf.db.sharding); with replicas too,
            # reads could not follow a shard's writes, so the two are not combined.
            if replica_urls:
                raise ValueError("read replicas and shards cannot be configured together")
            shard_engines = {
                name: create_engine_for_url(shard_url, echo=echo, pool=pool, **options)
                for name, shard_url in shard_urls.items()
            }
            self.shards = ShardSet(
                self.engine,
                shard_engines,
                cache_seconds=shard_cache_seconds,
                side=create_engine_for_url(url, echo=echo, pool=pool, **options),
            )
            self.sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(
                expire_on_commit=False,
                autoflush=False,
                sync_session_class=ShardedSession,
                shards=self.shards,
            )
        elif replica_urls:
            if self.engine.dialect.name not in ("postgresql", "mysql"):
                raise ValueError("read replicas need PostgreSQL or MariaDB")
            engines = [
                (replica_url, create_engine_for_url(replica_url, echo=echo, pool=pool, **options))
                for replica_url in replica_urls
            ]
            self.router = ReplicaRouter(self.engine, engines, replicas)
            self.sessions = async_sessionmaker(
                self.engine,
                expire_on_commit=False,
                autoflush=False,
                sync_session_class=RoutingSession,
                router=self.router,
            )
        else:
            self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        # SQLite has one writer at a time. Without this, concurrent write transactions of
        # this process each hold a pooled connection and poll for the lock in SQLite's busy
        # handler, which sleeps up to 100 ms between tries: under load the lock stands free
        # while its waiters sleep. Queued here they start as soon as the one before commits.
        self._write_gate = asyncio.Lock() if self.engine.dialect.name == "sqlite" else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def pools(self) -> dict[str, AsyncEngine]:
        """Every engine by pool name, for the pool metrics."""
        named = {"primary": self.engine}
        if self.router is not None:
            named.update((replica.name, replica.engine) for replica in self.router.replicas)
        if self.shards is not None:
            named.update((f"shard:{name}", engine) for name, engine in self.shards.engines.items())
        return named

    def session(self, client: str | None = None, *, primary_only: bool = False) -> AsyncSession:
        """A session. `client` (see replicas.client_key) keeps that client's reads consistent
        with its own writes; `primary_only` keeps every statement on the primary (for a
        request that may write: its reads then see the rows it is about to change)."""
        if self.router is None:
            return self.sessions()
        return self.sessions(info={CLIENT: client, PRIMARY_ONLY: primary_only})

    def writing(self) -> AbstractAsyncContextManager[object]:
        """Held around a transaction that may write: one at a time in this process on SQLite
        (see `_write_gate`), nothing on the other databases, whose writers lock rows."""
        return self._write_gate if self._write_gate is not None else nullcontext()

    async def start(self) -> None:
        if self.router is not None:
            await self.router.start()

    async def dispose(self) -> None:
        if self.router is not None:
            await self.router.stop()
            for replica in self.router.replicas:
                await replica.engine.dispose()
        if self.shards is not None:
            await self.shards.dispose()
        await self.engine.dispose()
