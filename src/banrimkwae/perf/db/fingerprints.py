"""What monitoring knows of statements: the slow fingerprints and each table's read/write mix.

Slow fingerprints come from database_query_performance (one row per slow execution, the
text already literal-free); the read/write mix per table comes from
query_fingerprint_rollups, which count every statement run for a request.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from banrimkwae.perf.storage.models import DatabaseQueryPerformance, QueryFingerprintRollup

# The newest rows read: enough for a picture, bounded for a large log.
ROWS_READ = 20_000
ADVISABLE = frozenset({"SELECT", "UPDATE", "DELETE"})


@dataclass(slots=True)
class SlowFingerprint:
    hash: str
    query_type: str
    text: str
    tables: tuple[str, ...]
    times_ms: list[float] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.times_ms)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def total_ms(self) -> float:
        return sum(self.times_ms)


@dataclass(slots=True)
class TableTraffic:
    reads: int = 0
    writes: int = 0

    @property
    def write_share(self) -> float:
        total = self.reads + self.writes
        return self.writes / total if total else 0.0


async def slow_fingerprints(connection: AsyncConnection) -> list[SlowFingerprint]:
    """Slow fingerprints, the most time spent first."""
    table = DatabaseQueryPerformance.__table__
    rows = await connection.execute(
        select(
            table.c.query_hash,
            table.c.query_type,
            table.c.query_text,
            table.c.table_names,
            table.c.execution_time_ms,
        )
        .order_by(table.c.id.desc())
        .limit(ROWS_READ)
    )
    found: dict[str, SlowFingerprint] = {}
    for query_hash, query_type, text, tables, elapsed in rows:
        if query_type not in ADVISABLE or not text:
            continue
        entry = found.get(query_hash)
        if entry is None:
            entry = found[query_hash] = SlowFingerprint(
                query_hash, query_type, text, tuple(tables or ())
            )
        entry.times_ms.append(float(elapsed))
    return sorted(found.values(), key=lambda f: f.total_ms, reverse=True)


async def find_fingerprints(connection: AsyncConnection, prefix: str) -> dict[str, str]:
    """Hash -> normalised text of the fingerprints whose hash starts with `prefix`."""
    texts: dict[str, str] = {}
    for model, column in (
        (DatabaseQueryPerformance, DatabaseQueryPerformance.query_text),
        (QueryFingerprintRollup, QueryFingerprintRollup.normalized_text),
    ):
        rows = await connection.execute(
            select(model.query_hash, column).where(model.query_hash.startswith(prefix)).limit(50)
        )
        for query_hash, text in rows:
            if text:
                texts.setdefault(query_hash, text)
    return texts


async def table_traffic(connection: AsyncConnection) -> dict[str, TableTraffic]:
    """Statements run per table, reads and writes apart, from the rollups."""
    table = QueryFingerprintRollup.__table__
    rows = await connection.execute(
        select(table.c.query_type, table.c.table_names, table.c.execution_count)
        .order_by(table.c.id.desc())
        .limit(ROWS_READ * 5)
    )
    traffic: dict[str, TableTraffic] = defaultdict(TableTraffic)
    for query_type, tables, count in rows:
        for name in tables or ():
            if query_type == "SELECT":
                traffic[name].reads += int(count)
            elif query_type in {"INSERT", "UPDATE", "DELETE"}:
                traffic[name].writes += int(count)
    return dict(traffic)
