"""Replication lag probes: how far a replica is behind, read from the replica itself.

PostgreSQL: the replica's replay LSN against the primary's WAL positions seen at earlier
checks (see PrimaryPositions); the age of the last replayed transaction only when the primary
cannot be asked. MariaDB: Seconds_Behind_Master
from SHOW REPLICA STATUS, where NULL means replication is not running.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

PG_REPLICA_STATUS = text(
    "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,"
    " EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())"
)
PG_PRIMARY_LSN = text("SELECT pg_current_wal_lsn()::text")


@dataclass(frozen=True, slots=True)
class LagReading:
    lag_seconds: float | None
    replay_lsn: int | None = None
    problem: str = ""


def parse_lsn(value: str | None) -> int | None:
    """'16/B374D848' -> the 64-bit position it names."""
    if not value:
        return None
    high, low = value.split("/")
    return (int(high, 16) << 32) | int(low, 16)


class PrimaryPositions:
    """The primary's WAL position at each check, to tell how long ago a replica's was current.

    A replica that has not replayed the position the primary had at time t is at least
    `now - t` behind: precise to one check interval, and (unlike the age of the last replayed
    transaction) not fooled by a primary that was idle before its latest write.
    """

    def __init__(self, keep_seconds: float) -> None:
        self.keep_seconds = keep_seconds
        self._seen: deque[tuple[int, float]] = deque()

    def record(self, lsn: int, now: float) -> None:
        if not self._seen or lsn > self._seen[-1][0]:
            self._seen.append((lsn, now))
        while len(self._seen) > 1 and now - self._seen[1][1] > self.keep_seconds:
            self._seen.popleft()

    def behind_since(self, replayed: int) -> float | None:
        """When the primary first stood past `replayed` (None: the replica is current)."""
        for lsn, seen in self._seen:
            if lsn > replayed:
                return seen
        return None

    @property
    def known(self) -> bool:
        return bool(self._seen)


def pg_lag(
    in_recovery: bool,
    replay_lsn: str | None,
    replay_age: float | None,
    primary: PrimaryPositions,
    now: float,
) -> LagReading:
    if not in_recovery:
        return LagReading(None, None, "not a standby (promoted?)")
    replayed = parse_lsn(replay_lsn)
    if replayed is None:
        return LagReading(None, None, "no WAL replayed yet")
    if not primary.known:
        # The primary did not answer: the age of the last replayed transaction is all we have.
        age = math.inf if replay_age is None else max(float(replay_age), 0.0)
        return LagReading(age, replayed)
    since = primary.behind_since(replayed)
    return LagReading(0.0 if since is None else max(now - since, 0.0), replayed)


async def read_pg_lag(
    replica: AsyncConnection, primary: PrimaryPositions, now: float
) -> LagReading:
    row = (await replica.execute(PG_REPLICA_STATUS)).one()
    age = None if row[2] is None else float(row[2])
    return pg_lag(bool(row[0]), row[1], age, primary, now)


def mariadb_lag(rows: Sequence[Mapping[str, Any]]) -> LagReading:
    """From the rows of SHOW REPLICA STATUS (one per replication connection)."""
    if not rows:
        return LagReading(None, None, "not a replica (SHOW REPLICA STATUS is empty)")
    worst = 0.0
    for row in rows:
        behind = row.get("Seconds_Behind_Master")
        if behind is None:
            name = row.get("Connection_name") or "default"
            return LagReading(None, None, f"replication {name!r} is not running")
        worst = max(worst, float(behind))
    return LagReading(worst)


async def read_mariadb_lag(replica: AsyncConnection) -> LagReading:
    result = await replica.execute(text("SHOW REPLICA STATUS"))
    return mariadb_lag([dict(row) for row in result.mappings()])
