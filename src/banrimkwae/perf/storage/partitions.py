"""Monthly range partitions of the two high-volume platform tables.

PostgreSQL: declarative partitions, one child table per month named
``api_performance_metrics_p2026_11``, plus a ``_default`` child so an insert never fails.
MariaDB: ``PARTITION BY RANGE (UNIX_TIMESTAMP(column))`` with partitions ``p2026_11`` ... and a
``p_future`` catch-all. SQLite tables are not partitioned.

The migration creates the first months with `partitioning_ddl`; `maintain_partitions` (run by
``banrimkwae db partitions``) adds the months ahead and drops those past retention. Retention
works on whole partitions: MariaDB's oldest month also holds any older row (a range has no
lower bound there), while PostgreSQL keeps such rows in the default partition.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from banrimkwae.perf.storage import PARTITIONED_TABLES

MARIADB_CATCH_ALL = "p_future"
POSTGRES_DEFAULT_SUFFIX = "_default"
_MONTH_SUFFIX = re.compile(r"p(\d{4})_(\d{2})$")


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month in UTC; partitions hold [start, end)."""

    year: int
    month: int

    @classmethod
    def of(cls, moment: dt.datetime) -> Month:
        moment = _as_utc(moment)
        return cls(moment.year, moment.month)

    def shifted(self, months: int) -> Month:
        index = self.year * 12 + (self.month - 1) + months
        return Month(index // 12, index % 12 + 1)

    @property
    def start(self) -> dt.datetime:
        return dt.datetime(self.year, self.month, 1, tzinfo=dt.UTC)

    @property
    def end(self) -> dt.datetime:
        return self.shifted(1).start

    @property
    def suffix(self) -> str:
        return f"p{self.year:04d}_{self.month:02d}"


@dataclass
class PartitionReport:
    """What one maintenance run did.

    Names are what a DBA would type: the child table on PostgreSQL, ``table.partition`` on
    MariaDB.
    """

    dialect: str
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    note: str | None = None


def partition_name(dialect: str, table: str, month: Month) -> str:
    return f"{table}_{month.suffix}" if dialect == "postgresql" else month.suffix


def is_partition_table(name: str) -> bool:
    """True for PostgreSQL child tables of a partitioned table (not part of the models)."""
    for table in PARTITIONED_TABLES:
        rest = name.removeprefix(f"{table}_")
        if rest != name and (rest == "default" or _MONTH_SUFFIX.fullmatch(rest)):
            return True
    return False


def months_from(now: dt.datetime, months_ahead: int) -> list[Month]:
    """The current month of `now` and the `months_ahead` months after it."""
    current = Month.of(now)
    return [current.shifted(offset) for offset in range(months_ahead + 1)]


def partitioning_ddl(dialect: str, table: str, column: str, months: list[Month]) -> list[str]:
    """Statements that partition a freshly created, empty `table` by month of `column`.

    On PostgreSQL the table must have been created with ``PARTITION BY RANGE (column)``.
    """
    if dialect == "postgresql":
        statements = [_pg_create_month(table, column, month) for month in months]
        statements.append(
            f'CREATE TABLE "{table}{POSTGRES_DEFAULT_SUFFIX}" PARTITION OF "{table}" DEFAULT'
        )
        return statements
    if dialect in ("mysql", "mariadb"):
        definitions = [*(_mariadb_month(month) for month in months), _mariadb_catch_all()]
        return [
            f"ALTER TABLE `{table}` PARTITION BY RANGE (UNIX_TIMESTAMP(`{column}`)) "
            f"({', '.join(definitions)})"
        ]
    return []


async def list_partitions(engine: AsyncEngine) -> dict[str, list[str]]:
    """Partitions of each partitioned table, oldest first (empty lists on SQLite)."""
    async with engine.connect() as connection:
        return {
            table: await _existing(connection, engine.dialect.name, table)
            for table in PARTITIONED_TABLES
        }


async def maintain_partitions(
    engine: AsyncEngine, *, now: dt.datetime, months_ahead: int, retention_months: int
) -> PartitionReport:
    """Create the months from now to `months_ahead` ahead; drop months past retention.

    The current month and the `retention_months` before it are kept; a month is dropped only
    whole, once it ended before that. Safe to run any number of times.
    """
    dialect = engine.dialect.name
    report = PartitionReport(dialect=dialect)
    if dialect not in ("postgresql", "mysql", "mariadb"):
        report.note = f"{dialect} tables are not partitioned: nothing to maintain"
        return report
    current = Month.of(now)
    cutoff = current.shifted(-retention_months)
    unpartitioned: list[str] = []
    for table, column in PARTITIONED_TABLES.items():
        async with engine.begin() as connection:
            existing = await _existing(connection, dialect, table)
            if not existing:
                unpartitioned.append(table)
                continue
            months = _months_of(dialect, table, existing)
            expired = [month for month in months if month.end <= cutoff.start]
            missing = _missing_months(months, current, cutoff, months_ahead)
            if dialect == "postgresql":
                await _pg_add_months(connection, table, column, missing)
                await _pg_drop_months(connection, table, expired)
                report.created += [partition_name(dialect, table, m) for m in missing]
                report.dropped += [partition_name(dialect, table, m) for m in expired]
            else:
                await _mariadb_add_months(connection, table, existing, missing)
                await _mariadb_drop_months(connection, table, expired)
                report.created += [f"{table}.{m.suffix}" for m in missing]
                report.dropped += [f"{table}.{m.suffix}" for m in expired]
    if unpartitioned:
        report.note = f"not partitioned, left alone: {', '.join(unpartitioned)}"
    return report


def _missing_months(
    months: list[Month], current: Month, cutoff: Month, months_ahead: int
) -> list[Month]:
    # Months are only appended after the newest one (MariaDB can only split its catch-all);
    # a gap left by a missed run is filled, back to the retention cutoff at most.
    first = current if not months else max(months[-1].shifted(1), cutoff)
    last = current.shifted(months_ahead)
    count = (last.year - first.year) * 12 + last.month - first.month + 1
    return [first.shifted(offset) for offset in range(max(count, 0))]


def _as_utc(moment: dt.datetime) -> dt.datetime:
    # A naive datetime is taken as UTC, the zone every timestamp of the platform is kept in.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _months_of(dialect: str, table: str, partitions: list[str]) -> list[Month]:
    prefix = f"{table}_" if dialect == "postgresql" else ""
    months = []
    for name in partitions:
        match = _MONTH_SUFFIX.fullmatch(name.removeprefix(prefix))
        if name.startswith(prefix) and match:
            months.append(Month(int(match.group(1)), int(match.group(2))))
    return sorted(months)


async def _existing(connection: AsyncConnection, dialect: str, table: str) -> list[str]:
    if dialect == "postgresql":
        result = await connection.execute(
            text(
                "SELECT child.relname FROM pg_inherits "
                "JOIN pg_class child ON child.oid = pg_inherits.inhrelid "
                "JOIN pg_class parent ON parent.oid = pg_inherits.inhparent "
                "JOIN pg_namespace ns ON ns.oid = parent.relnamespace "
                "WHERE parent.relname = :table AND ns.nspname = current_schema()"
            ),
            {"table": table},
        )
        names = [str(name) for name in result.scalars()]
        # Months in order, the default partition last.
        return sorted(names, key=lambda name: (name.endswith(POSTGRES_DEFAULT_SUFFIX), name))
    if dialect in ("mysql", "mariadb"):
        result = await connection.execute(
            text(
                "SELECT PARTITION_NAME FROM information_schema.PARTITIONS "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :table "
                "AND PARTITION_NAME IS NOT NULL ORDER BY PARTITION_ORDINAL_POSITION"
            ),
            {"table": table},
        )
        return [str(name) for name in result.scalars()]
    return []


def _pg_bound(moment: dt.datetime) -> str:
    return f"'{moment.isoformat()}'"


def _pg_create_month(table: str, column: str, month: Month) -> str:
    return (
        f'CREATE TABLE "{partition_name("postgresql", table, month)}" PARTITION OF "{table}" '
        f"FOR VALUES FROM ({_pg_bound(month.start)}) TO ({_pg_bound(month.end)})"
    )


async def _pg_add_months(
    connection: AsyncConnection, table: str, column: str, months: list[Month]
) -> None:
    default = f'"{table}{POSTGRES_DEFAULT_SUFFIX}"'
    for month in months:
        in_month = f'"{column}" >= {_pg_bound(month.start)} AND "{column}" < {_pg_bound(month.end)}'
        waiting = await connection.scalar(
            text(f"SELECT EXISTS (SELECT 1 FROM {default} WHERE {in_month})")
        )
        if not waiting:
            await connection.execute(text(_pg_create_month(table, column, month)))
            continue
        # Rows of this month already sit in the default partition, which would make the new
        # partition's range overlap it: move them across while the default is detached.
        child = f'"{partition_name("postgresql", table, month)}"'
        await connection.execute(text(f'ALTER TABLE "{table}" DETACH PARTITION {default}'))
        await connection.execute(text(_pg_create_month(table, column, month)))
        await connection.execute(
            text(f"INSERT INTO {child} SELECT * FROM {default} WHERE {in_month}")
        )
        await connection.execute(text(f"DELETE FROM {default} WHERE {in_month}"))
        await connection.execute(text(f'ALTER TABLE "{table}" ATTACH PARTITION {default} DEFAULT'))


async def _pg_drop_months(connection: AsyncConnection, table: str, months: list[Month]) -> None:
    for month in months:
        child = f'"{partition_name("postgresql", table, month)}"'
        await connection.execute(text(f'ALTER TABLE "{table}" DETACH PARTITION {child}'))
        await connection.execute(text(f"DROP TABLE {child}"))


def _mariadb_month(month: Month) -> str:
    # Bounds as epoch integers: UNIX_TIMESTAMP('...') would depend on the session time zone.
    return f"PARTITION {month.suffix} VALUES LESS THAN ({int(month.end.timestamp())})"


def _mariadb_catch_all() -> str:
    return f"PARTITION {MARIADB_CATCH_ALL} VALUES LESS THAN MAXVALUE"


async def _mariadb_add_months(
    connection: AsyncConnection, table: str, existing: list[str], months: list[Month]
) -> None:
    if not months:
        return
    definitions = [_mariadb_month(month) for month in months]
    if MARIADB_CATCH_ALL in existing:
        # Splitting the catch-all moves the rows that fall into the new months.
        definitions.append(_mariadb_catch_all())
        statement = (
            f"ALTER TABLE `{table}` REORGANIZE PARTITION {MARIADB_CATCH_ALL} "
            f"INTO ({', '.join(definitions)})"
        )
    else:
        statement = f"ALTER TABLE `{table}` ADD PARTITION ({', '.join(definitions)})"
    await connection.execute(text(statement))


async def _mariadb_drop_months(
    connection: AsyncConnection, table: str, months: list[Month]
) -> None:
    if months:
        names = ", ".join(month.suffix for month in months)
        await connection.execute(text(f"ALTER TABLE `{table}` DROP PARTITION {names}"))


__all__ = [
    "Month",
    "PartitionReport",
    "is_partition_table",
    "list_partitions",
    "maintain_partitions",
    "months_from",
    "partition_name",
    "partitioning_ddl",
]
