"""Index usage analysis: used, unused and duplicate indexes, sequential scans, per dialect.

Where the usage numbers come from:
- PostgreSQL: pg_stat_user_indexes (idx_scan) and pg_stat_user_tables (seq_scan, rows read).
- MariaDB: information_schema.INDEX_STATISTICS when the server counts (`userstat=ON`),
  and otherwise the plans monitoring captured for slow statements.
- SQLite keeps no counters: the captured plans are the only evidence.
Primary keys, unique indexes and indexes that back a constraint (MariaDB needs one for every
foreign key) are never reported unused or duplicate: dropping them changes behaviour.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, inspect, select
from sqlalchemy.ext.asyncio import AsyncConnection

from banrimkwae.perf.storage.models import DatabaseQueryPerformance

# Tables the analysis leaves out: migration bookkeeping.
IGNORED_TABLES = frozenset({"alembic_version"})
# Below this many rows a sequential scan is as good as an index.
SEQ_SCAN_MIN_ROWS = 1000
# Captured slow-statement rows read for plan evidence (the newest ones).
PLAN_ROWS_READ = 20_000


@dataclass(slots=True)
class IndexInfo:
    table: str
    name: str
    columns: tuple[str, ...]
    unique: bool
    # Primary key, unique, or backing a constraint: never reported unused.
    constraint: bool
    # Scans counted by the server, or None where it counts none.
    scans: int | None = None
    # Plans captured by monitoring that read through this index.
    plan_uses: int = 0
    size_bytes: int | None = None
    duplicate_of: str | None = None

    @property
    def status(self) -> str:
        if self.duplicate_of is not None:
            return "duplicate"
        if (self.scans or 0) > 0 or self.plan_uses > 0:
            return "used"
        return "constraint" if self.constraint else "unused"


@dataclass(slots=True)
class TableScans:
    table: str
    rows: int | None
    seq_scans: int | None = None
    seq_rows_read: int | None = None
    index_scans: int | None = None
    # Captured slow-statement plans that read the whole table.
    plan_full_scans: int = 0

    @property
    def seq_scan_heavy(self) -> bool:
        if (self.rows or 0) < SEQ_SCAN_MIN_ROWS:
            return False
        if self.plan_full_scans > 0:
            return True
        return self.seq_scans is not None and self.seq_scans > (self.index_scans or 0)


@dataclass(slots=True)
class IndexReport:
    dialect: str
    # Where the usage numbers come from, for the reader.
    evidence: str
    indexes: list[IndexInfo] = field(default_factory=list)
    tables: list[TableScans] = field(default_factory=list)

    def on(self, table: str) -> list[IndexInfo]:
        return [index for index in self.indexes if index.table == table]

    @property
    def unused(self) -> list[IndexInfo]:
        return [index for index in self.indexes if index.status == "unused"]

    @property
    def duplicates(self) -> list[IndexInfo]:
        return [index for index in self.indexes if index.status == "duplicate"]

    @property
    def seq_scan_heavy(self) -> list[TableScans]:
        return [table for table in self.tables if table.seq_scan_heavy]


async def analyse_indexes(connection: AsyncConnection) -> IndexReport:
    """The usage report of the connection's database (its current schema)."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        report = await _postgres(connection)
    elif dialect in {"mysql", "mariadb"}:
        report = await _mariadb(connection)
    else:
        report = await _sqlite(connection)
    await _add_plan_evidence(connection, report)
    _mark_duplicates(report.indexes)
    report.indexes.sort(key=lambda index: (index.table, index.name))
    report.tables.sort(key=lambda table: table.table)
    return report


async def existing_indexes(connection: AsyncConnection) -> list[IndexInfo]:
    """The indexes alone (no usage), for the advisor's 'already covered' check."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        return (await _postgres(connection)).indexes
    if dialect in {"mysql", "mariadb"}:
        return (await _mariadb(connection)).indexes
    return (await _sqlite(connection)).indexes


async def _rows(connection: AsyncConnection, sql: str) -> list[Any]:
    return list((await connection.exec_driver_sql(sql)).all())


async def _postgres(connection: AsyncConnection) -> IndexReport:
    report = IndexReport("postgresql", "pg_stat_user_indexes and pg_stat_user_tables")
    for row in await _rows(
        connection,
        """
        SELECT s.relname, s.indexrelname, i.indisunique, i.indisprimary,
               EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid),
               s.idx_scan, pg_relation_size(s.indexrelid),
               ARRAY(SELECT a.attname::text
                     FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
                     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                     ORDER BY k.position)
        FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
        WHERE s.schemaname = current_schema()
        """,
    ):
        table, name, unique, primary, backs_constraint, scans, size, columns = row
        if table in IGNORED_TABLES:
            continue
        report.indexes.append(
            IndexInfo(
                table,
                name,
                tuple(columns),
                bool(unique),
                bool(unique or primary or backs_constraint),
                scans=int(scans or 0),
                size_bytes=int(size),
            )
        )
    for table, rows, seq_scans, seq_read, index_scans in await _rows(
        connection,
        "SELECT relname, n_live_tup, seq_scan, seq_tup_read, idx_scan FROM pg_stat_user_tables"
        " WHERE schemaname = current_schema()",
    ):
        if table not in IGNORED_TABLES:
            report.tables.append(TableScans(table, rows, seq_scans, seq_read, index_scans))
    return report


async def _mariadb(connection: AsyncConnection) -> IndexReport:
    columns: dict[tuple[str, str], list[str]] = {}
    unique: dict[tuple[str, str], bool] = {}
    for table, name, non_unique, column in await _rows(
        connection,
        "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS"
        " WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
    ):
        columns.setdefault((table, name), []).append(column)
        unique[(table, name)] = not non_unique
    # InnoDB needs an index whose leading columns are each foreign key's columns.
    foreign_keys: dict[str, list[tuple[str, ...]]] = {}
    fk_columns: dict[tuple[str, str], list[str]] = {}
    for table, constraint, column in await _rows(
        connection,
        "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE"
        " WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL"
        " ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
    ):
        fk_columns.setdefault((table, constraint), []).append(column)
    for (table, _), fk in fk_columns.items():
        foreign_keys.setdefault(table, []).append(tuple(fk))
    counting = bool(
        await _rows(
            connection,
            "SELECT 1 FROM information_schema.GLOBAL_VARIABLES"
            " WHERE VARIABLE_NAME = 'USERSTAT' AND VARIABLE_VALUE = 'ON'",
        )
    )
    scans: dict[tuple[str, str], int] = {}
    if counting:
        for table, name, rows_read in await _rows(
            connection,
            "SELECT TABLE_NAME, INDEX_NAME, ROWS_READ FROM information_schema.INDEX_STATISTICS"
            " WHERE TABLE_SCHEMA = DATABASE()",
        ):
            scans[(table, name)] = int(rows_read)
    evidence = (
        "information_schema.INDEX_STATISTICS (userstat=ON) and captured plans"
        if counting
        else "captured plans (userstat=OFF: the server counts no index reads)"
    )
    report = IndexReport("mariadb", evidence)
    for (table, name), cols in columns.items():
        if table in IGNORED_TABLES:
            continue
        backs_fk = any(tuple(cols[: len(fk)]) == fk for fk in foreign_keys.get(table, []))
        report.indexes.append(
            IndexInfo(
                table,
                name,
                tuple(cols),
                unique[(table, name)],
                unique[(table, name)] or name == "PRIMARY" or backs_fk,
                scans=scans.get((table, name), 0) if counting else None,
            )
        )
    for table, rows in await _rows(
        connection,
        "SELECT TABLE_NAME, TABLE_ROWS FROM information_schema.TABLES"
        " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'",
    ):
        if table not in IGNORED_TABLES:
            report.tables.append(TableScans(table, None if rows is None else int(rows)))
    return report


async def _sqlite(connection: AsyncConnection) -> IndexReport:
    report = IndexReport("sqlite", "captured plans (SQLite counts no index reads)")
    tables = [
        row[0]
        for row in await _rows(
            connection,
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )
    ]
    for table in tables:
        if table in IGNORED_TABLES:
            continue
        for _, name, is_unique, origin, _partial in await _rows(
            connection, f"PRAGMA index_list('{table}')"
        ):
            info = await _rows(connection, f"PRAGMA index_info('{name}')")
            cols = tuple(str(column) for _, _, column in sorted(info))
            # origin: c = CREATE INDEX, u = UNIQUE constraint, pk = PRIMARY KEY.
            report.indexes.append(
                IndexInfo(table, name, cols, bool(is_unique), bool(is_unique) or origin != "c")
            )
        count = (await _rows(connection, f'SELECT COUNT(*) FROM "{table}"'))[0][0]
        report.tables.append(TableScans(table, int(count)))
    return report


async def _add_plan_evidence(connection: AsyncConnection, report: IndexReport) -> None:
    """Count, per index and per table, the captured plans that used it or scanned it whole."""
    table = cast(Table, DatabaseQueryPerformance.__table__)
    if not await connection.run_sync(lambda sync: inspect(sync).has_table(table.name)):
        return  # a database without the platform tables has no captured plans
    usages = (
        await connection.execute(
            select(table.c.index_usage)
            .where(table.c.index_usage.is_not(None))
            .order_by(table.c.id.desc())
            .limit(PLAN_ROWS_READ)
        )
    ).scalars()
    entries = [entry for usage in usages if isinstance(usage, list) for entry in usage]
    index_uses = Counter((e.get("table"), e.get("index")) for e in entries if e.get("index"))
    full_scans = Counter(e.get("table") for e in entries if e.get("access") == "full_scan")
    for index in report.indexes:
        index.plan_uses = index_uses.get((index.table, index.name), 0)
    for scans in report.tables:
        scans.plan_full_scans = full_scans.get(scans.table, 0)


def _mark_duplicates(indexes: list[IndexInfo]) -> None:
    """An index whose columns lead another index on the same table adds nothing to it."""
    for index in indexes:
        if index.constraint:
            continue
        for other in indexes:
            if other is index or other.table != index.table:
                continue
            covers = other.columns[: len(index.columns)] == index.columns
            # Of two identical plain indexes, the later name is the duplicate.
            same = other.columns == index.columns and not other.constraint
            if covers and (not same or other.name < index.name):
                index.duplicate_of = other.name
                break
