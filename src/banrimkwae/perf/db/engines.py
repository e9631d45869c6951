"""Async engines for the three supported dialects, with their per-dialect connection setup."""

from __future__ import annotations

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


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # WAL lets readers run beside the single writer; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def create_engine_for_url(url: str, *, echo: bool = False, **options: Any) -> AsyncEngine:
    """Create an AsyncEngine with settings suited to the URL's dialect."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo, **options}
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
    """An engine and its session factory; the app's lifespan owns one."""

    def __init__(self, url: str, *, echo: bool = False, **options: Any) -> None:
        self.url = url
        self.engine = create_engine_for_url(url, echo=echo, **options)
        self.sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False, autoflush=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def dispose(self) -> None:
        await self.engine.dispose()
