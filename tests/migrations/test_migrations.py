"""The Alembic history on every dialect: a full round trip, and agreement with the models."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from banrimkwae import migrate
from banrimkwae.perf.db import create_engine_for_url
from banrimkwae.perf.storage import PARTITIONED_TABLES, PlatformBase
from banrimkwae.perf.storage.partitions import is_partition_table
from banrimkwae.resort.models import metadata as resort_metadata
from tests.conftest import ScratchDatabases

RESORT_TABLES = set(resort_metadata.tables)
PLATFORM_TABLES = set(PlatformBase.metadata.tables)
PLATFORM_ENUM_TYPES = {
    "cache_strategy",
    "query_type",
    "scaling_event_type",
    "recommendation_type",
    "recommendation_priority",
    "recommendation_status",
    "cache_layer",
}


async def _tables(url: str) -> set[str]:
    """Tables as a user sees them: PostgreSQL's monthly child tables folded into their parent."""
    engine = create_engine_for_url(url)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    return {name for name in names if not is_partition_table(name)} - {"alembic_version"}


async def _postgres_leftovers(url: str) -> set[str]:
    engine = create_engine_for_url(url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(
                text(
                    "SELECT typname FROM pg_type JOIN pg_namespace ns ON ns.oid = typnamespace "
                    "WHERE ns.nspname = current_schema() AND typtype = 'e' "
                    "UNION SELECT proname FROM pg_proc JOIN pg_namespace ns "
                    "ON ns.oid = pronamespace WHERE ns.nspname = current_schema()"
                )
            )
            return {str(name) for name in result.scalars()}
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_and_upgrade_again(
    dialect: str, scratch_databases: ScratchDatabases
) -> None:
    url = await scratch_databases.create(dialect)
    assert await migrate.current_revision(url) is None

    await migrate.upgrade(url)
    assert await _tables(url) == RESORT_TABLES | PLATFORM_TABLES
    assert await migrate.current_revision(url) == migrate.head_revision()
    if dialect == "postgresql":
        assert await _postgres_leftovers(url) >= PLATFORM_ENUM_TYPES

    await migrate.downgrade(url, "0001")
    assert await _tables(url) == RESORT_TABLES
    assert await migrate.current_revision(url) == "0001"

    await migrate.downgrade(url)
    assert await _tables(url) == set()
    assert await migrate.current_revision(url) is None
    if dialect == "postgresql":
        assert await _postgres_leftovers(url) == set()

    await migrate.upgrade(url)
    assert await _tables(url) == RESORT_TABLES | PLATFORM_TABLES
    assert await migrate.current_revision(url) == migrate.head_revision()


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            # PostgreSQL reports each monthly partition as a table; they are not models.
            "include_name": lambda name, type_, _parents: (
                not (type_ == "table" and is_partition_table(name))
            ),
        },
    )
    # A list of MetaData is accepted here as it is for target_metadata (AutogenContext).
    metadata = [resort_metadata, PlatformBase.metadata]
    return list(compare_metadata(context, metadata))  # type: ignore[arg-type]


def _is_partition_key_nullability(difference: Any) -> bool:
    # Intentionally dialect-specific: on PostgreSQL and MariaDB the partition column is part
    # of the primary key (id, column), hence NOT NULL, while the models map `id` alone.
    # (Primary keys themselves are not compared by Alembic.)
    if not isinstance(difference, list) or len(difference) != 1:
        return False
    kind, _schema, table, column, *_rest = difference[0]
    return bool(kind == "modify_nullable" and PARTITIONED_TABLES.get(table) == column)


async def test_migrated_schema_matches_the_models(dialect: str, migrated_url: str) -> None:
    # Server defaults are left out here because each dialect spells them its own way
    # (now() against CURRENT_TIMESTAMP); test_platform_tables checks them by behaviour.
    engine = create_engine_for_url(migrated_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
    finally:
        await engine.dispose()

    unexpected = [d for d in differences if not _is_partition_key_nullability(d)]
    assert unexpected == []
    if dialect == "sqlite":
        assert differences == []


async def test_autogenerate_proposes_no_new_revision(migrated_url: str) -> None:
    # Runs migrations/env.py the way `alembic check` does: raises if a revision is missing.
    await migrate.check(migrated_url)
