"""Alembic environment: the resort and platform metadata, on the connection given or its own.

`banrimkwae.migrate` hands over an open connection in ``config.attributes["connection"]``;
the plain ``alembic`` command line gets none, so an engine is built here from ``-x url=...``
or the application settings.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.operations import ops
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from banrimkwae.perf.db import create_engine_for_url
from banrimkwae.perf.storage import PARTITIONED_TABLES, PlatformBase
from banrimkwae.perf.storage.partitions import is_partition_table
from banrimkwae.resort.models import metadata as resort_metadata

config = context.config
target_metadata = [resort_metadata, PlatformBase.metadata]


def include_name(name: str | None, type_: str, _parent_names: Any) -> bool:
    # PostgreSQL lists each monthly partition as a table of its own; they are not models.
    return not (type_ == "table" and name is not None and is_partition_table(name))


def keep_partition_keys_required(
    _context: MigrationContext, _revision: Any, directives: list[ops.MigrationScript]
) -> None:
    """Drop autogenerate's proposal to make a partition column nullable again.

    The models keep `id` as the mapped primary key, so their partition columns are nullable;
    on PostgreSQL and MariaDB the column is part of the primary key, hence NOT NULL.
    """
    for script in directives:
        for container in [*script.upgrade_ops_list, *script.downgrade_ops_list]:
            for table_ops in container.ops:
                if isinstance(table_ops, ops.ModifyTableOps):
                    table_ops.ops = [op for op in table_ops.ops if not _is_partition_key_op(op)]
            container.ops = [
                op
                for op in container.ops
                if not (isinstance(op, ops.ModifyTableOps) and op.is_empty())
            ]


def _is_partition_key_op(op: ops.MigrateOperation) -> bool:
    return (
        isinstance(op, ops.AlterColumnOp)
        and PARTITIONED_TABLES.get(op.table_name) == op.column_name
        and op.modify_nullable is not None
        and op.modify_type is None
        and op.modify_server_default is False
    )


def _configure_options() -> dict[str, Any]:
    return {
        "target_metadata": target_metadata,
        "include_name": include_name,
        "compare_type": True,
        "process_revision_directives": keep_partition_keys_required,
    }


def _database_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.attributes.get("url")
    if url:
        return str(url)
    from banrimkwae.config import load_settings

    return load_settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=_database_url(), literal_binds=True, **_configure_options())
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        # SQLite can only alter a table by copying it: let autogenerate write batch operations.
        render_as_batch=connection.dialect.name == "sqlite",
        **_configure_options(),
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_own_engine() -> None:
    engine = create_engine_for_url(_database_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_migrations_on)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations_on(connection)
        return
    # Only the command line configures logging; a caller's own logging is left untouched.
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    asyncio.run(_run_with_own_engine())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
