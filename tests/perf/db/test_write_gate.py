"""Database.writing: this process's write transactions queue on SQLite, and only there."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import text

from banrimkwae.perf.db import Database


async def test_write_transactions_take_turns_on_sqlite_only(migrated_url: str) -> None:
    database = Database(migrated_url)
    spans: list[tuple[float, float]] = []

    async def write() -> None:
        async with database.writing(), database.sessions() as session:
            started = time.monotonic()
            await session.execute(text("SELECT 1"))
            await asyncio.sleep(0.2)  # the transaction is still open
            await session.commit()
            spans.append((started, time.monotonic()))

    try:
        await asyncio.gather(write(), write())
    finally:
        await database.dispose()

    first, second = sorted(spans)
    overlapped = second[0] < first[1]
    assert overlapped is (database.dialect != "sqlite")
