"""Query tracking: SQLAlchemy execution hooks -> per-request tallies -> per-endpoint rollups.

`instrument(engine)` listens to every statement the engine runs. A statement run for a
request (a `RequestStats` is current; the listeners fire in the request's own context) adds
to the request's query count and time and to a per-fingerprint tally; statements outside a
request, such as the platform's own flushes, are not counted. The route template is only
known when the request ends, so the metrics middleware calls `finish_request(stats, route)`
then: the tallies merge into the window, repeated fingerprints are flagged as N+1, and slow
statements go to plan capture. In strict mode the statement that crosses the N+1 threshold
raises `NPlusOneError` at once, where the loop that issued it is on the stack.

Each SELECT, INSERT, UPDATE or DELETE run for a request also adds its duration to
`durations`, the cumulative per-operation buckets /metrics exposes as
db_client_operation_duration_seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.config import MonitoringConfig
from banrimkwae.perf.db import Database
from banrimkwae.perf.db.statement_hooks import statement_hooks
from banrimkwae.perf.metrics.context import RequestStats, current_request_stats
from banrimkwae.perf.queries.aggregate import (
    OperationDurations,
    QueryAggregate,
    QueryWindow,
    rollup_rows,
)
from banrimkwae.perf.queries.capture import PlanCapture, SlowStatement
from banrimkwae.perf.queries.fingerprint import OTHER, Fingerprint, Fingerprinter
from banrimkwae.perf.queries.nplusone import NPlusOneError, NPlusOneFlags, is_n_plus_one_candidate
from banrimkwae.perf.storage.models import QueryFingerprintRollup

log = logging.getLogger(__name__)
# Slow statements kept per request for plan capture; more are counted as dropped.
MAX_SLOW_PER_REQUEST = 20
_STOP_CAPTURE_SECONDS = 5.0


@dataclass(slots=True)
class RequestQueries:
    """What one request ran, per fingerprint, until its route is known."""

    tallies: dict[str, QueryAggregate] = field(default_factory=dict)
    slow: list[SlowStatement] = field(default_factory=list)
    error: NPlusOneError | None = None


def _note_tables(stats: RequestStats, fingerprint: Fingerprint) -> None:
    # The response cache's invalidation input: a SELECT reads its tables; any other
    # statement counts as writing every table it names (over-invalidation only).
    if fingerprint.query_type == "SELECT":
        if stats.tables_read is None:
            stats.tables_read = set(fingerprint.tables)
        else:
            stats.tables_read.update(fingerprint.tables)
    elif stats.tables_written is None:
        stats.tables_written = set(fingerprint.tables)
    else:
        stats.tables_written.update(fingerprint.tables)


class QueryTracker:
    def __init__(self, config: MonitoringConfig, store: Database) -> None:
        self.config = config
        self.store = store
        self.fingerprints = Fingerprinter()
        self.window = QueryWindow(max_keys=config.buffer_size)
        self.durations = OperationDurations()
        self.plans = PlanCapture(store)
        self.n_plus_one = NPlusOneFlags()
        self.flush_failures = 0
        self.flushed_rows = 0
        self._instrumented: set[int] = set()
        self._tasks: list[asyncio.Task[None]] = []

    # -- the hot path ------------------------------------------------------------------------

    def instrument(self, engine: AsyncEngine) -> None:
        """Track every statement `engine` runs for a request (once per engine).

        The tracker observes the engine's shared statement hooks (perf/db/statement_hooks.py:
        the dialect's do_execute and its two siblings, not the engine's cursor events, which
        cost about 30 µs per request): outside a request it declines the statement, inside
        one it gets the statement's duration and records it.
        """
        if id(engine.sync_engine) in self._instrumented:
            return
        self._instrumented.add(id(engine.sync_engine))
        dialect_name = engine.dialect.name
        fingerprint_of = self.fingerprints.of
        observe = self.durations.observe
        record = self._record

        def ran(
            stats: RequestStats,
            cursor: Any,
            statement: str,
            parameters: Any,
            _context: Any,
            elapsed_ms: float,
        ) -> None:
            stats.query_count += 1
            stats.query_time_ms += elapsed_ms
            fingerprint = fingerprint_of(statement, dialect_name)
            if fingerprint.query_type != OTHER:
                observe(fingerprint.query_type, elapsed_ms)
                record(stats, engine, fingerprint, statement, parameters, elapsed_ms, cursor)

        statement_hooks(engine).add(current_request_stats, ran)

    def _record(
        self,
        stats: RequestStats,
        engine: AsyncEngine,
        fingerprint: Fingerprint,
        statement: str,
        parameters: Any,
        elapsed_ms: float,
        cursor: Any,
    ) -> None:
        if fingerprint.tables:
            _note_tables(stats, fingerprint)
        queries: RequestQueries | None = stats.queries
        if queries is None:
            queries = stats.queries = RequestQueries()
        key = fingerprint.hash
        tally = queries.tallies.get(key)
        if tally is None:
            tally = queries.tallies[key] = QueryAggregate(fingerprint)
        # rowcount is -1 where the driver does not know (SQLite SELECTs, executemany).
        rowcount: int = cursor.rowcount
        tally.add(elapsed_ms, rowcount if rowcount > 0 else 0)
        if elapsed_ms >= self.config.slow_query_ms:
            slow = SlowStatement(
                engine=engine,
                statement=statement,
                parameters=parameters,
                fingerprint=fingerprint,
                elapsed_ms=elapsed_ms,
                rows=rowcount if rowcount >= 0 else None,
                request_id=stats.request_id,
                executed_at=time.time(),
            )
            self._keep_slow(queries, slow)
        threshold = self.config.n_plus_one_threshold
        if (
            self.config.n_plus_one_strict
            and tally.count == threshold + 1
            and is_n_plus_one_candidate(fingerprint)
        ):
            queries.error = NPlusOneError(fingerprint, tally.count, threshold, stats.request_id)
            raise queries.error

    def _keep_slow(self, queries: RequestQueries, slow: SlowStatement) -> None:
        if len(queries.slow) >= MAX_SLOW_PER_REQUEST:
            self.plans.dropped += 1
            return
        queries.slow.append(slow)

    def finish_request(self, stats: RequestStats, route: str) -> None:
        """Fold the request's statements in under its route template; never raises."""
        queries: RequestQueries | None = stats.queries
        if queries is None:
            return
        stats.queries = None
        threshold = self.config.n_plus_one_threshold
        for tally in queries.tallies.values():
            repeated = tally.count > threshold and is_n_plus_one_candidate(tally.fingerprint)
            if repeated:
                self.n_plus_one.flag(route, tally.fingerprint)
            self.window.add(route, tally, n_plus_one=repeated)
        for slow in queries.slow:
            slow.endpoint = route
            self.plans.submit(slow)
        if queries.error is not None:
            queries.error.endpoint = route

    # -- background work ---------------------------------------------------------------------

    async def flush(self) -> None:
        """Write the window as query_fingerprint_rollups rows; on failure keep it for later."""
        started, aggregates = self.window.swap()
        if not aggregates:
            return
        rows = rollup_rows(started, aggregates, self.config.worker)
        try:
            async with self.store.engine.begin() as connection:
                await connection.execute(insert(QueryFingerprintRollup), rows)
        except Exception:
            self.flush_failures += 1
            log.warning("query rollup flush failed; keeping %d keys", len(rows), exc_info=True)
            self.window.restore(aggregates, started)
            return
        self.flushed_rows += len(rows)

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.config.flush_interval)
            await self.flush()

    def start(self) -> None:
        """Start the rollup flusher and the plan-capture worker."""
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(self._flush_periodically(), name="query-rollup-flusher"),
            asyncio.create_task(self.plans.run(), name="query-plan-capture"),
        ]

    async def stop(self) -> None:
        """Stop both, capture what is queued (bounded in time) and flush the last window."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_STOP_CAPTURE_SECONDS):
                await self.plans.capture_pending()
        await self.flush()
