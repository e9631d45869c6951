"""The migrated platform tables, read back from the live databases, against the specification.

The table below is the specification's SQL (performance-optimization-and-scalability.md,
"Database Schema") written out column by column. Where a dialect cannot say it the
specification's way, the difference is spelled out in `_expected_family` and `_nullable`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any, NamedTuple

import pytest
from sqlalchemy import (
    JSON,
    TIMESTAMP,
    BigInteger,
    Boolean,
    Date,
    Enum,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeEngine

from banrimkwae.perf.db import create_engine_for_url
from banrimkwae.perf.storage import PARTITIONED_TABLES, CacheStatistic, PlatformBase


class NoDefault:
    """The column has no DEFAULT in the specification."""


class Now:
    """DEFAULT CURRENT_TIMESTAMP."""


NO_DEFAULT = NoDefault()
NOW = Now()


class Col(NamedTuple):
    name: str
    family: str
    nullable: bool = True
    default: object = NO_DEFAULT
    generated: bool = False  # GENERATED ALWAYS AS (...) STORED


def _required(name: str, family: str, default: object = NO_DEFAULT) -> Col:
    return Col(name, family, nullable=False, default=default)


ID = _required("id", "bigint unsigned")

# Columns the platform adds after the specification's own (migration 0003).
EXTENSIONS: dict[str, list[str]] = {
    "api_performance_metrics": ["status_code", "sample_rate"],
    "api_cache_config": [
        "stale_while_revalidate_seconds",
        "stale_if_error_seconds",
        "cache_options",
    ],
    # Migration 0006: the policy, capacity, manual pin and controller lease.
    "auto_scaling_config": [
        "policy",
        "capacity_rps",
        "pinned_instances",
        "pinned_until",
        "leader_id",
        "leader_until",
    ],
    # Migration 0009: what a verified change applied, and its verification.
    "performance_recommendations": [
        "applied_change",
        "applied_at",
        "verify_after",
        "before_value",
        "after_value",
        "verification",
        "verification_note",
        "rolled_back_at",
    ],
}

SPEC: dict[str, list[Col]] = {
    "api_performance_metrics": [
        ID,
        _required("endpoint_path", "varchar(255)"),
        _required("http_method", "varchar(10)"),
        _required("response_time_ms", "int"),
        Col("request_size_bytes", "int"),
        Col("response_size_bytes", "int"),
        _required("cache_hit", "boolean", False),
        _required("database_queries_count", "int", 0),
        _required("database_time_ms", "int", 0),
        Col("memory_usage_mb", "decimal(10,2)"),
        Col("cpu_usage_percent", "decimal(5,2)"),
        Col("timestamp", "timestamp", default=NOW),
        Col("client_id", "bigint unsigned"),
        Col("user_id", "bigint unsigned"),
    ],
    "api_cache_config": [
        ID,
        _required("endpoint_pattern", "varchar(255)"),
        _required("http_methods", "json"),
        _required("cache_ttl_seconds", "int", 300),
        _required("cache_strategy", "enum(simple,tagged,hierarchical)", "simple"),
        Col("cache_key_pattern", "varchar(500)"),
        Col("invalidation_triggers", "json"),
        _required("cache_warming_enabled", "boolean", False),
        _required("compression_enabled", "boolean", True),
        _required("is_active", "boolean", True),
        Col("created_at", "timestamp", default=NOW),
        Col("updated_at", "timestamp", default=NOW),
    ],
    "database_query_performance": [
        ID,
        _required("query_hash", "varchar(64)"),
        _required("query_type", "enum(SELECT,INSERT,UPDATE,DELETE)"),
        _required("table_names", "json"),
        _required("execution_time_ms", "decimal(10,3)"),
        Col("rows_examined", "int"),
        Col("rows_sent", "int"),
        Col("query_text", "text"),
        Col("execution_plan", "json"),
        Col("index_usage", "json"),
        Col("executed_at", "timestamp", default=NOW),
        Col("endpoint_path", "varchar(255)"),
        Col("request_id", "varchar(100)"),
    ],
    "auto_scaling_config": [
        ID,
        _required("service_name", "varchar(100)"),
        _required("min_instances", "int", 2),
        _required("max_instances", "int", 20),
        _required("target_cpu_percent", "decimal(5,2)", Decimal("70.00")),
        _required("target_memory_percent", "decimal(5,2)", Decimal("80.00")),
        _required("target_response_time_ms", "int", 200),
        _required("scale_up_cooldown_seconds", "int", 300),
        _required("scale_down_cooldown_seconds", "int", 600),
        _required("scale_up_threshold_count", "int", 2),
        _required("scale_down_threshold_count", "int", 3),
        _required("is_enabled", "boolean", True),
        Col("created_at", "timestamp", default=NOW),
        Col("updated_at", "timestamp", default=NOW),
    ],
    "scaling_events": [
        ID,
        _required("service_name", "varchar(100)"),
        _required("event_type", "enum(scale_up,scale_down,scale_triggered,scale_failed)"),
        _required("from_instances", "int"),
        _required("to_instances", "int"),
        _required("trigger_metric", "varchar(50)"),
        _required("trigger_value", "decimal(10,2)"),
        _required("threshold_value", "decimal(10,2)"),
        Col("event_details", "json"),
        Col("created_at", "timestamp", default=NOW),
    ],
    "performance_recommendations": [
        ID,
        _required("recommendation_type", "enum(cache,index,query,scaling,configuration)"),
        _required("priority", "enum(low,medium,high,critical)"),
        _required("target_resource", "varchar(255)"),
        Col("current_metric_value", "decimal(15,3)"),
        Col("recommended_metric_value", "decimal(15,3)"),
        _required("description", "text"),
        Col("implementation_steps", "json"),
        Col("expected_improvement", "text"),
        Col("impact_analysis", "json"),
        _required("status", "enum(pending,implementing,completed,rejected)", "pending"),
        Col("created_at", "timestamp", default=NOW),
        Col("updated_at", "timestamp", default=NOW),
        Col("implemented_at", "timestamp"),
    ],
    "cache_statistics": [
        ID,
        _required("cache_key_pattern", "varchar(255)"),
        _required("cache_layer", "enum(application,redis,cdn)"),
        _required("total_requests", "bigint", 0),
        _required("cache_hits", "bigint", 0),
        _required("cache_misses", "bigint", 0),
        Col("hit_ratio", "decimal(5,2)", generated=True),
        Col("avg_response_time_ms", "decimal(10,3)"),
        _required("total_bytes_served", "bigint", 0),
        _required("evictions_count", "bigint", 0),
        _required("date_recorded", "date"),
        Col("created_at", "timestamp", default=NOW),
    ],
}

UNIQUE_KEYS = {
    "api_cache_config": {"uk_endpoint_pattern": ["endpoint_pattern"]},
    "auto_scaling_config": {"uk_service_name": ["service_name"]},
    "cache_statistics": {
        "uk_cache_pattern_layer_date": ["cache_key_pattern", "cache_layer", "date_recorded"]
    },
}

INDEXES = {
    "api_performance_metrics": {
        "idx_endpoint_method": ["endpoint_path", "http_method"],
        "idx_timestamp": ["timestamp"],
        "idx_response_time": ["response_time_ms"],
        "idx_cache_hit": ["cache_hit"],
    },
    "api_cache_config": {"idx_cache_strategy": ["cache_strategy"], "idx_active": ["is_active"]},
    "database_query_performance": {
        "idx_query_hash": ["query_hash"],
        "idx_execution_time": ["execution_time_ms"],
        "idx_executed_at": ["executed_at"],
        "idx_endpoint": ["endpoint_path"],
    },
    "auto_scaling_config": {"idx_enabled": ["is_enabled"]},
    "scaling_events": {
        "idx_service_event": ["service_name", "event_type"],
        "idx_created_at": ["created_at"],
    },
    "performance_recommendations": {
        "idx_type_priority": ["recommendation_type", "priority"],
        "idx_status": ["status"],
        # The specification's idx_created_at: PostgreSQL index names are schema-wide and
        # scaling_events already has one of that name.
        "idx_recommendations_created_at": ["created_at"],
        "idx_recommendations_verify_after": ["verify_after"],
    },
    "cache_statistics": {"idx_hit_ratio": ["hit_ratio"], "idx_date": ["date_recorded"]},
}

TEXT_TYPES = (Text, mysql.LONGTEXT, mysql.MEDIUMTEXT)
TABLES_WITH_UPDATED_AT = ("api_cache_config", "auto_scaling_config", "performance_recommendations")


def _partitioned(dialect: str) -> bool:
    return dialect in ("postgresql", "mariadb")


def _expected_family(dialect: str, column: Col) -> str:
    if column.family == "bigint unsigned" and dialect != "mariadb":
        # Only MariaDB has unsigned integers; SQLite only auto-increments INTEGER PRIMARY KEY.
        return "int" if dialect == "sqlite" and column.name == "id" else "bigint"
    return column.family


def _nullable(dialect: str, table: str, column: Col) -> bool:
    # A partition column is part of the primary key (id, column), hence NOT NULL.
    if _partitioned(dialect) and PARTITIONED_TABLES.get(table) == column.name:
        return False
    return column.nullable


def _family(type_: TypeEngine[Any], column: str, checks: list[str]) -> str:
    """The specification's name for a reflected type."""
    in_check = re.compile(rf"^\(?`?{column}`? IN \((.*)\)\)?$", re.IGNORECASE)
    for check in checks:
        match = in_check.match(check.strip())
        if match and isinstance(type_, String):  # SQLite: an enum is VARCHAR + CHECK IN (...)
            values = [value.strip().strip("'") for value in match.group(1).split(",")]
            return f"enum({','.join(values)})"
    if isinstance(type_, Enum):
        return f"enum({','.join(type_.enums)})"
    if isinstance(type_, JSON) or (
        # MariaDB: JSON is LONGTEXT with a json_valid() check.
        isinstance(type_, TEXT_TYPES) and f"json_valid(`{column}`)" in checks
    ):
        return "json"
    if isinstance(type_, Boolean) or (
        isinstance(type_, mysql.TINYINT) and type_.display_width == 1
    ):
        return "boolean"
    if isinstance(type_, BigInteger):
        return "bigint unsigned" if getattr(type_, "unsigned", False) else "bigint"
    if isinstance(type_, Integer):
        return "int"
    if isinstance(type_, Numeric):
        return f"decimal({type_.precision},{type_.scale})"
    if isinstance(type_, TEXT_TYPES):
        return "text"
    if isinstance(type_, String):
        return f"varchar({type_.length})"
    if isinstance(type_, TIMESTAMP):
        return "timestamp"
    if isinstance(type_, Date):
        return "date"
    return repr(type_)


def _reflect(connection: Connection, table: str) -> dict[str, Any]:
    inspector = inspect(connection)
    checks = [str(check["sqltext"]) for check in inspector.get_check_constraints(table)]
    if connection.dialect.name == "mysql":
        # The inspector leaves out MariaDB's column-level checks, where JSON keeps its own.
        checks += connection.execute(
            text(
                "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
                "WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = :table"
            ),
            {"table": table},
        ).scalars()
    return {
        "columns": inspector.get_columns(table),
        "checks": checks,
        "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
        "unique": {u["name"]: u["column_names"] for u in inspector.get_unique_constraints(table)},
        "indexes": {
            i["name"]: i["column_names"] for i in inspector.get_indexes(table) if not i["unique"]
        },
    }


@pytest.fixture
async def connection(migrated_url: str) -> AsyncIterator[AsyncConnection]:
    """A connection whose writes are rolled back: the shared database stays empty."""
    engine = create_engine_for_url(migrated_url)
    try:
        async with engine.connect() as connection:
            yield connection
            await connection.rollback()
    finally:
        await engine.dispose()


@pytest.mark.parametrize("table", list(SPEC))
async def test_columns_keys_and_indexes_follow_the_specification(
    dialect: str, connection: AsyncConnection, table: str
) -> None:
    reflected = await connection.run_sync(_reflect, table)
    columns = {column["name"]: column for column in reflected["columns"]}

    specified = [column.name for column in SPEC[table]]
    # The specification's columns in its order; the platform's additions only after them.
    assert list(columns)[: len(specified)] == specified
    assert list(columns)[len(specified) :] == EXTENSIONS.get(table, [])
    for column in SPEC[table]:
        found = columns[column.name]
        family = _family(found["type"], column.name, reflected["checks"])
        assert family == _expected_family(dialect, column), column.name
        assert found["nullable"] == _nullable(dialect, table, column), column.name
        if column.name != "id":  # the key's default is its sequence / AUTO_INCREMENT
            has_default = found.get("default") is not None
            assert has_default == (column.default is not NO_DEFAULT), column.name
        computed = found.get("computed")
        stored = computed is not None and computed.get("persisted") is True
        assert stored == column.generated, column.name

    partition_column = PARTITIONED_TABLES.get(table)
    if partition_column and _partitioned(dialect):
        assert reflected["primary_key"] == ["id", partition_column]
    else:
        assert reflected["primary_key"] == ["id"]
    assert reflected["unique"] == UNIQUE_KEYS.get(table, {})
    assert reflected["indexes"] == INDEXES[table]


def _sample(family: str) -> object:
    if family.startswith("enum("):
        return family[5:].split(",")[0]
    if family == "json":
        return '["GET"]'  # a JSON document as text is valid input on every dialect
    if family == "date":
        return dt.date(2026, 11, 1)
    if family.startswith(("varchar", "text")):
        return "x"
    return 1


def _required_values(table: str) -> dict[str, object]:
    """Values for the columns an INSERT cannot leave out."""
    return {
        column.name: _sample(column.family)
        for column in SPEC[table]
        if not column.nullable and column.default is NO_DEFAULT and column.name != "id"
    }


@pytest.mark.parametrize("table", list(SPEC))
async def test_server_defaults_fill_the_omitted_columns(
    connection: AsyncConnection, table: str
) -> None:
    # A reflected table carries no Python-side defaults: what comes back is the database's.
    reflected = await connection.run_sync(lambda sync: Table(table, MetaData(), autoload_with=sync))
    # Rows a migration installed (the default cache policies) out of the way; rolled back.
    await connection.execute(reflected.delete())
    await connection.execute(insert(reflected).values(**_required_values(table)))
    row = (await connection.execute(select(reflected))).mappings().one()

    for column in SPEC[table]:
        if column.default is NOW:
            assert isinstance(row[column.name], dt.datetime), column.name
        elif isinstance(column.default, bool):
            assert (column.name, bool(row[column.name])) == (column.name, column.default)
        elif column.default is not NO_DEFAULT:
            assert (column.name, row[column.name]) == (column.name, column.default)


async def test_hit_ratio_is_computed_and_stored_by_the_database(
    connection: AsyncConnection,
) -> None:
    day = dt.date(2026, 11, 27)
    await connection.execute(
        insert(CacheStatistic),
        [
            {
                "cache_key_pattern": "rooms:*",
                "cache_layer": "redis",
                "date_recorded": day,
                "total_requests": 4,
                "cache_hits": 3,
            },
            {
                "cache_key_pattern": "guests:*",
                "cache_layer": "redis",
                "date_recorded": day,
                "total_requests": 0,
                "cache_hits": 0,
            },
        ],
    )
    ratios = select(CacheStatistic.cache_key_pattern, CacheStatistic.hit_ratio)
    assert dict((await connection.execute(ratios)).all()) == {
        "rooms:*": Decimal("75.00"),
        "guests:*": Decimal("0.00"),
    }

    await connection.execute(
        update(CacheStatistic)
        .where(CacheStatistic.cache_key_pattern == "rooms:*")
        .values(cache_hits=1)
    )
    rooms = ratios.where(CacheStatistic.cache_key_pattern == "rooms:*")
    assert (await connection.execute(rooms)).one().hit_ratio == Decimal("25.00")


@pytest.mark.parametrize("table", TABLES_WITH_UPDATED_AT)
async def test_updated_at_follows_every_update(
    dialect: str, connection: AsyncConnection, table: str
) -> None:
    long_ago = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    values = _required_values(table)
    changed = next(name for name, value in values.items() if value == "x")
    model_table = PlatformBase.metadata.tables[table]
    await connection.execute(insert(model_table).values(**values, updated_at=long_ago))

    if dialect == "sqlite":
        # SQLite has no ON UPDATE: SQLAlchemy's onupdate sets the column.
        await connection.execute(
            update(model_table).where(model_table.c[changed] == "x").values({changed: "changed"})
        )
    else:
        # PostgreSQL's trigger and MariaDB's ON UPDATE CURRENT_TIMESTAMP cover raw SQL too.
        await connection.execute(
            text(f"UPDATE {table} SET {changed} = 'changed' WHERE {changed} = 'x'")
        )

    # Only the row inserted here: migrations may install rows of their own (cache policies).
    updated_at = await connection.scalar(
        select(model_table.c.updated_at).where(model_table.c[changed] == "changed")
    )
    assert updated_at is not None
    assert updated_at.replace(tzinfo=dt.UTC) > long_ago


async def test_job_runs_keeps_one_row_per_job(connection: AsyncConnection) -> None:
    """Beyond the specification (migration 0011): when each periodic job last ran, and where."""
    reflected = await connection.run_sync(_reflect, "job_runs")
    families = {
        column["name"]: (_family(column["type"], column["name"], []), column["nullable"])
        for column in reflected["columns"]
    }
    assert families == {
        "name": ("varchar(64)", False),
        "last_run_at": ("timestamp", True),
        "holder": ("varchar(100)", True),
    }
    assert reflected["primary_key"] == ["name"]

    job_runs = PlatformBase.metadata.tables["job_runs"]
    await connection.execute(insert(job_runs).values(name="recommendations"))
    with pytest.raises(IntegrityError):
        async with connection.begin_nested():
            await connection.execute(insert(job_runs).values(name="recommendations"))
