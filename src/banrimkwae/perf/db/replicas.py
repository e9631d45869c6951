"""Read replicas: reads go to a replica picked by a balancing algorithm, writes to the primary.

Routing happens in the ORM Session's `get_bind` (routing_session.py: SQLAlchemy's hook for
choosing an engine per statement), so repositories need no change:

- a flush, an INSERT/UPDATE/DELETE, SELECT ... FOR UPDATE, raw text() and anything without a
  statement go to the primary; once a session has written, all its reads do too; a session
  opened with `primary_only` (the host app's choice for requests that may write) reads
  nothing from replicas;
- a SELECT goes to the replica the session picked at its first read (one per session, so a
  request reads from one consistent place) among those in rotation (see balancing/health);
- read-your-writes: after a client's write commits, its reads go to the primary until a
  replica has replayed past the write's WAL position (PostgreSQL: pg_current_wal_lsn() after
  the commit) or, on other dialects, for `read_your_writes_seconds`;
- no replica in rotation, or the chosen one refusing connections: the primary serves the read,
  and the routing counters say so.

Active checks run in the background every `check_interval`: a replica that cannot answer, or
lags more than `max_lag_seconds`, fails its check. Live statements feed the passive side:
their latency (peak EWMA) and their errors (outlier ejection); a replica's outstanding count
is the sessions (requests) reading from it now.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae.perf.balancing import (
    AlgorithmName,
    Endpoint,
    HealthPolicy,
    HealthTracker,
    make_algorithm,
)
from banrimkwae.perf.db.consistency import RecentWrites
from banrimkwae.perf.db.lag import (
    PG_PRIMARY_LSN,
    LagReading,
    PrimaryPositions,
    parse_lsn,
    read_mariadb_lag,
    read_pg_lag,
)
from banrimkwae.perf.db.statement_hooks import always, statement_hooks

logger = logging.getLogger(__name__)

PRIMARY = "primary"


@dataclass(frozen=True, slots=True)
class ReplicaConfig:
    algorithm: AlgorithmName = "p2c_peak_ewma"
    weights: tuple[int, ...] = ()
    max_lag_seconds: float = 5.0
    check_interval: float = 1.0
    check_timeout: float = 2.0
    read_your_writes_seconds: float = 5.0
    health: HealthPolicy = field(default_factory=HealthPolicy)


@dataclass(eq=False)
class Replica:
    name: str
    url: str
    engine: AsyncEngine
    endpoint: Endpoint
    lag: LagReading = field(default_factory=lambda: LagReading(None, None, "not checked yet"))


class ReplicaRouter:
    def __init__(
        self,
        primary: AsyncEngine,
        replicas: Sequence[tuple[str, AsyncEngine]],
        config: ReplicaConfig | None = None,
    ) -> None:
        self.primary = primary
        self.config = config or ReplicaConfig()
        self.dialect = primary.dialect.name
        weights = self.config.weights
        self.replicas = [
            Replica(
                name=f"replica{index}",
                url=make_url(url).render_as_string(hide_password=True),
                engine=engine,
                endpoint=Endpoint(
                    f"replica{index}", weight=weights[index - 1] if index <= len(weights) else 1
                ),
            )
            for index, (url, engine) in enumerate(replicas, start=1)
        ]
        self._by_engine: dict[Engine, Replica] = {r.engine.sync_engine: r for r in self.replicas}
        self.algorithm = make_algorithm(self.config.algorithm)
        self.health = HealthTracker([r.name for r in self.replicas], self.config.health)
        window = max(self.config.read_your_writes_seconds, self.config.max_lag_seconds)
        self.writes = RecentWrites(window)
        # (target, reason) -> statements routed; the visible side of every fallback.
        self.routed: Counter[tuple[str, str]] = Counter()
        self.checks = 0
        self.primary_positions = PrimaryPositions(keep_seconds=4 * self.config.max_lag_seconds)
        self._task: asyncio.Task[None] | None = None
        for replica in self.replicas:
            self._observe(replica)

    # -- choosing ---------------------------------------------------------------------------
    def choose_reader(self, client: str | None) -> Replica | None:
        """A replica for a session's reads, or None: the primary (the reason is counted)."""
        now = time.monotonic()
        in_rotation = set(self.health.available(now))
        candidates = [r for r in self.replicas if r.name in in_rotation]
        pending, lsn = self.writes.pending(client, now)
        if pending:
            # Only replicas known to have replayed the client's write; without an LSN, none.
            candidates = [
                r
                for r in candidates
                if lsn is not None and r.lag.replay_lsn is not None and r.lag.replay_lsn >= lsn
            ]
            if not candidates:
                self.routed[(PRIMARY, "read_your_writes")] += 1
                return None
        if not candidates:
            self.routed[(PRIMARY, "no_healthy_replica")] += 1
            return None
        chosen = self.algorithm.choose([r.endpoint for r in candidates])
        return next(r for r in candidates if r.endpoint is chosen)

    def replica_failed(self, replica: Replica, error: BaseException) -> None:
        """A replica refused a connection: out of rotation until its check passes again."""
        now = time.monotonic()
        self.health.record_check(replica.name, False, now, f"connect failed: {error}")
        self.routed[(PRIMARY, "replica_failed")] += 1

    def record_write(self, client: str | None, lsn: int | None) -> None:
        if client is not None:
            self.writes.record(client, lsn, time.monotonic())

    def current_lsn(self) -> int | None:
        """The primary's WAL position now (PostgreSQL only), from inside a greenlet."""
        if self.dialect != "postgresql":
            return None
        try:
            with self.primary.sync_engine.connect() as connection:
                value = connection.execute(PG_PRIMARY_LSN).scalar()
        except (DBAPIError, OSError):
            # The write is committed; without its position the client waits out the window.
            logger.warning("could not read the primary's WAL position after a write")
            return None
        return parse_lsn(value)

    # -- passive observation of live statements ---------------------------------------------
    def _observe(self, replica: Replica) -> None:
        # Through the engine's shared statement hooks, like query tracking: a read on a replica
        # then costs what a read on the primary costs (engine-level cursor events would switch
        # on SQLAlchemy's per-connection event dispatch for every begin, commit and execute).
        endpoint = replica.endpoint
        health = self.health

        def ran(
            _token: Any, _cursor: Any, _statement: str, _parameters: Any, _context: Any, ms: float
        ) -> None:
            now = time.monotonic()
            endpoint.latency.observe(ms / 1000.0, now)
            health.record_result(replica.name, True, now)

        def failed(context: Any) -> None:
            # Errors of the statement itself (a syntax error) say nothing about the replica.
            if context.is_disconnect or _is_operational(context.original_exception):
                health.record_result(replica.name, False, time.monotonic())

        statement_hooks(replica.engine).add(always, ran)
        # handle_error is a dialect event: it costs nothing until a statement fails.
        event.listen(replica.engine.sync_engine, "handle_error", failed)

    # -- active checks ----------------------------------------------------------------------
    async def check_once(self) -> None:
        if self.dialect == "postgresql":
            try:
                async with self.primary.connect() as connection:
                    lsn = parse_lsn((await connection.execute(PG_PRIMARY_LSN)).scalar())
                if lsn is not None:
                    self.primary_positions.record(lsn, time.monotonic())
            except (DBAPIError, OSError):
                logger.warning("replica check: the primary did not answer", exc_info=True)
        await asyncio.gather(*(self._check(replica) for replica in self.replicas))
        self.checks += 1

    async def _check(self, replica: Replica) -> None:
        try:
            async with asyncio.timeout(self.config.check_timeout):
                async with replica.engine.connect() as connection:
                    if self.dialect == "postgresql":
                        reading = await read_pg_lag(
                            connection, self.primary_positions, time.monotonic()
                        )
                    else:
                        reading = await read_mariadb_lag(connection)
        except (DBAPIError, OSError, TimeoutError) as exc:
            replica.lag = LagReading(None, None, f"unreachable: {type(exc).__name__}")
            self.health.record_check(replica.name, False, time.monotonic(), replica.lag.problem)
            return
        replica.lag = reading
        now = time.monotonic()
        if reading.lag_seconds is None:
            self.health.record_check(replica.name, False, now, reading.problem)
        elif reading.lag_seconds > self.config.max_lag_seconds:
            shown = "unknown" if math.isinf(reading.lag_seconds) else f"{reading.lag_seconds:.1f}s"
            self.health.record_check(replica.name, False, now, f"lagging {shown}")
        else:
            self.health.record_check(replica.name, True, now)

    async def _check_loop(self) -> None:
        while True:
            try:
                await self.check_once()
            except Exception:  # the loop must outlive any one bad round
                logger.exception("replica check round failed")
            await asyncio.sleep(self.config.check_interval)

    async def start(self) -> None:
        if self._task is None and self.replicas:
            await self.check_once()
            self._task = asyncio.create_task(self._check_loop(), name="replica-checks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # -- what the admin route and /metrics show ---------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        now = time.monotonic()
        health = self.health.snapshot(now)
        return {
            "algorithm": self.algorithm.name,
            "max_lag_seconds": self.config.max_lag_seconds,
            "checks": self.checks,
            "panics": self.health.panics,
            "replicas": [
                {
                    "name": r.name,
                    "url": r.url,
                    **health[r.name],
                    "lag_seconds": _finite(r.lag.lag_seconds),
                    "lag_problem": r.lag.problem,
                    "outstanding": r.endpoint.outstanding,
                    "latency_ewma_ms": round(r.endpoint.latency.value * 1000, 3),
                    "weight": r.endpoint.weight,
                }
                for r in self.replicas
            ],
            "routed": [
                {"target": target, "reason": reason, "count": count}
                for (target, reason), count in sorted(self.routed.items())
            ],
        }

    def metrics(self) -> Mapping[str, Mapping[tuple[str, ...], float]]:
        now = time.monotonic()
        available = set(self.health.available(now))
        lag = {(r.name,): _finite(r.lag.lag_seconds) for r in self.replicas}
        return {
            "routed": {key: float(count) for key, count in self.routed.items()},
            "healthy": {(r.name,): float(r.name in available) for r in self.replicas},
            "lag": {key: value for key, value in lag.items() if value is not None},
        }


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isinf(value) else round(value, 3)


def _is_operational(error: BaseException | None) -> bool:
    return error is not None and type(error).__name__ in {"OperationalError", "InterfaceError"}
