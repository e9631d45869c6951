"""Monthly partitions of the two high-volume platform tables, on the live databases."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae import migrate
from banrimkwae.perf.db import create_engine_for_url
from banrimkwae.perf.storage import (
    PARTITIONED_TABLES,
    ApiPerformanceMetric,
    DatabaseQueryPerformance,
)
from banrimkwae.perf.storage.partitions import (
    Month,
    is_partition_table,
    list_partitions,
    maintain_partitions,
    partition_name,
)
from tests.conftest import ScratchDatabases

CATCH_ALL = {"postgresql": "{table}_default", "mysql": "p_future"}


def _current_month() -> Month:
    return Month.of(dt.datetime.now(dt.UTC))


def _names(engine: AsyncEngine, table: str, months: list[Month]) -> list[str]:
    return [partition_name(engine.dialect.name, table, month) for month in months]


def _reported(engine: AsyncEngine, months: list[Month]) -> list[str]:
    # PostgreSQL partitions are tables of their own; MariaDB's are named within their table.
    if engine.dialect.name == "postgresql":
        return [name for table in PARTITIONED_TABLES for name in _names(engine, table, months)]
    return [f"{table}.{month.suffix}" for table in PARTITIONED_TABLES for month in months]


def _span(first: Month, count: int) -> list[Month]:
    return [first.shifted(offset) for offset in range(count)]


@pytest.mark.parametrize(
    ("month", "offset", "expected"),
    [
        (Month(2026, 11), 0, Month(2026, 11)),
        (Month(2026, 11), 2, Month(2027, 1)),
        (Month(2026, 1), -1, Month(2025, 12)),
        (Month(2026, 11), -25, Month(2024, 10)),
    ],
)
def test_months_roll_over_years(month: Month, offset: int, expected: Month) -> None:
    assert month.shifted(offset) == expected
    assert expected.end == expected.shifted(1).start


def test_partition_tables_are_told_apart_from_model_tables() -> None:
    assert is_partition_table("api_performance_metrics_p2026_11")
    assert is_partition_table("database_query_performance_default")
    assert not is_partition_table("api_performance_metrics")
    assert not is_partition_table("api_cache_config")
    assert not is_partition_table("api_performance_metrics_archive")


async def test_upgrade_creates_this_month_and_the_next_three(migrated_url: str) -> None:
    engine = create_engine_for_url(migrated_url)
    try:
        partitions = await list_partitions(engine)
    finally:
        await engine.dispose()

    dialect = engine.dialect.name
    for table in PARTITIONED_TABLES:
        if dialect == "sqlite":
            assert partitions[table] == []
        else:
            months = _names(engine, table, _span(_current_month(), 4))
            assert partitions[table] == [*months, CATCH_ALL[dialect].format(table=table)]


async def _insert_rows(engine: AsyncEngine, months: list[Month]) -> None:
    async with engine.begin() as connection:
        for month in months:
            moment = month.start + dt.timedelta(days=10)
            await connection.execute(
                insert(ApiPerformanceMetric).values(
                    endpoint_path="/rooms", http_method="GET", response_time_ms=12, timestamp=moment
                )
            )
            await connection.execute(
                insert(DatabaseQueryPerformance).values(
                    query_hash="abc",
                    query_type="SELECT",
                    table_names=["rooms"],
                    execution_time_ms=Decimal("1.500"),
                    executed_at=moment,
                )
            )


async def _months_with_rows(engine: AsyncEngine) -> dict[str, list[Month]]:
    found: dict[str, list[Month]] = {}
    async with engine.connect() as connection:
        for model, column in (
            (ApiPerformanceMetric, ApiPerformanceMetric.timestamp),
            (DatabaseQueryPerformance, DatabaseQueryPerformance.executed_at),
        ):
            moments = (await connection.execute(select(column).order_by(column))).scalars()
            found[model.__tablename__] = [Month.of(moment) for moment in moments if moment]
    return found


async def _rows_in_partition(engine: AsyncEngine, table: str, month: Month) -> int:
    name = partition_name(engine.dialect.name, table, month)
    source = f'"{name}"' if engine.dialect.name == "postgresql" else f"{table} PARTITION ({name})"
    async with engine.connect() as connection:
        return int(await connection.scalar(text(f"SELECT count(*) FROM {source}")) or 0)


async def test_maintenance_adds_months_ahead_and_drops_expired_ones(
    dialect: str, scratch_databases: ScratchDatabases
) -> None:
    url = await scratch_databases.create(dialect)
    await migrate.upgrade(url)
    engine = create_engine_for_url(url)
    current = _current_month()
    expired, kept, not_yet_partitioned = current, current.shifted(3), current.shifted(5)
    try:
        await _insert_rows(engine, [expired, kept, not_yet_partitioned])
        # Six months on: keep that month and the three before it, prepare two ahead.
        later = current.shifted(6).start + dt.timedelta(days=14)

        report = await maintain_partitions(engine, now=later, months_ahead=2, retention_months=3)

        if dialect == "sqlite":
            assert (report.created, report.dropped) == ([], [])
            assert report.note is not None and "not partitioned" in report.note
            assert (await _months_with_rows(engine))["api_performance_metrics"] == [
                expired,
                kept,
                not_yet_partitioned,
            ]
            return

        assert report.created == _reported(engine, _span(current.shifted(4), 5))
        assert report.dropped == _reported(engine, _span(current, 3))
        partitions = await list_partitions(engine)
        for table in PARTITIONED_TABLES:
            catch_all = CATCH_ALL[engine.dialect.name].format(table=table)
            months = _names(engine, table, _span(current.shifted(3), 6))
            assert partitions[table] == [*months, catch_all]
            # Rows that waited in the catch-all now sit in their month's partition.
            assert await _rows_in_partition(engine, table, not_yet_partitioned) == 1
        assert await _months_with_rows(engine) == {
            table: [kept, not_yet_partitioned] for table in PARTITIONED_TABLES
        }

        again = await maintain_partitions(engine, now=later, months_ahead=2, retention_months=3)
        assert (again.created, again.dropped, again.note) == ([], [], None)
        assert await list_partitions(engine) == partitions
    finally:
        await engine.dispose()
