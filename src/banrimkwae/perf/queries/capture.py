"""Slow statements: their plans captured off the request path, then logged without values.

A request hands its slow statements (text, parameters, the engine that ran them) to a bounded
queue and moves on; a full queue drops and counts. One background worker explains each on a
connection of its own, keeps the plan and the index usage, forgets the parameters, and writes
database_query_performance rows in batches with the normalised text only. Plans are reused
per fingerprint for a while, so a hot slow statement is explained once, not on every run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.db import Database
from banrimkwae.perf.queries.fingerprint import Fingerprint
from banrimkwae.perf.queries.plans import EXPLAINABLE, explain, index_usage, scrub, table_aliases
from banrimkwae.perf.storage.models import DatabaseQueryPerformance

log = logging.getLogger(__name__)
_MAX_MS = Decimal("9999999.999")


@dataclass(slots=True)
class SlowStatement:
    """A slow execution as the driver saw it; parameters live only until it is explained."""

    engine: AsyncEngine
    statement: str
    parameters: Any
    fingerprint: Fingerprint
    elapsed_ms: float
    rows: int | None
    request_id: str
    executed_at: float
    endpoint: str | None = None


@dataclass(slots=True)
class _Plan:
    captured_at: float
    plan: Any
    index_usage: list[dict[str, Any]] | None


class PlanCapture:
    def __init__(
        self,
        store: Database,
        *,
        capacity: int = 1000,
        batch_size: int = 50,
        plan_ttl: float = 300.0,
        explain_timeout: float = 5.0,
        write_interval: float = 1.0,
    ) -> None:
        self.store = store
        self.capacity = capacity
        self.batch_size = batch_size
        self.plan_ttl = plan_ttl
        self.explain_timeout = explain_timeout
        # At most one write a second: under load slow statements pile up into one batch
        # instead of a transaction each (on SQLite every write takes the single write lock).
        self.write_interval = write_interval
        self.queue: asyncio.Queue[SlowStatement] = asyncio.Queue(maxsize=capacity)
        self.dropped = 0
        self.explain_failures = 0
        self.write_failures = 0
        self.written = 0
        self._plans: dict[tuple[int, str], _Plan] = {}
        self._unwritten: list[dict[str, Any]] = []

    def submit(self, statement: SlowStatement) -> None:
        try:
            self.queue.put_nowait(statement)
        except asyncio.QueueFull:
            self.dropped += 1

    async def run(self) -> None:
        """The worker: explain and log whatever arrives, batching what has piled up."""
        while True:
            batch = [await self.queue.get()]
            batch.extend(self._take(self.batch_size - 1))
            try:
                await self._process(batch)
            except Exception:
                # Never let one bad statement stop the worker for the life of the process.
                self.explain_failures += len(batch)
                log.exception("slow-query capture failed")
            await asyncio.sleep(self.write_interval)

    async def capture_pending(self) -> None:
        """Explain and log everything queued now (the worker does this continuously)."""
        while batch := self._take(self.batch_size):
            await self._process(batch)
        if self._unwritten:
            await self._process([])

    def _take(self, limit: int) -> list[SlowStatement]:
        taken: list[SlowStatement] = []
        while len(taken) < limit and not self.queue.empty():
            taken.append(self.queue.get_nowait())
        return taken

    async def _process(self, batch: list[SlowStatement]) -> None:
        rows = self._unwritten + [await self._row(item) for item in batch]
        self._unwritten = []
        if not rows:
            return
        try:
            async with self.store.engine.begin() as connection:
                await connection.execute(insert(DatabaseQueryPerformance), rows)
        except Exception:
            self.write_failures += 1
            log.warning("slow-query log write failed; keeping %d rows", len(rows), exc_info=True)
            kept = rows[-self.capacity :]
            self.dropped += len(rows) - len(kept)
            self._unwritten = kept
            return
        self.written += len(rows)

    async def _row(self, item: SlowStatement) -> dict[str, Any]:
        fingerprint = item.fingerprint
        plan = await self._plan(item) if fingerprint.query_type in EXPLAINABLE else None
        return {
            "query_hash": fingerprint.hash,
            "query_type": fingerprint.query_type,
            "table_names": list(fingerprint.tables),
            "execution_time_ms": min(Decimal(f"{item.elapsed_ms:.3f}"), _MAX_MS),
            "rows_sent": item.rows,
            "query_text": fingerprint.text,
            "execution_plan": plan.plan if plan else None,
            "index_usage": plan.index_usage if plan else None,
            "executed_at": dt.datetime.fromtimestamp(item.executed_at, dt.UTC),
            "endpoint_path": item.endpoint,
            "request_id": item.request_id,
        }

    async def _plan(self, item: SlowStatement) -> _Plan | None:
        key = (id(item.engine), item.fingerprint.hash)
        now = time.monotonic()
        cached = self._plans.get(key)
        if cached is not None and now - cached.captured_at < self.plan_ttl:
            return cached
        dialect = item.engine.dialect.name
        parameters = item.parameters
        if isinstance(parameters, list):
            # executemany: one parameter set plans like any other.
            parameters = parameters[0] if parameters else ()
        try:
            async with asyncio.timeout(self.explain_timeout), item.engine.connect() as connection:
                raw = await explain(connection, dialect, item.statement, parameters)
            usage = index_usage(dialect, raw, table_aliases(item.statement, dialect))
        except Exception:
            self.explain_failures += 1
            log.warning("EXPLAIN failed for %s", item.fingerprint.hash, exc_info=True)
            return None
        plan = _Plan(now, scrub(raw), usage)
        if len(self._plans) >= self.capacity:
            self._plans.clear()
        self._plans[key] = plan
        return plan
