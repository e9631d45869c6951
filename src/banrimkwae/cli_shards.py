"""`banrimkwae db shards` (the directory summary) and `db reshard` (move a property live).

Registered on the `db` group of cli.py by `register_shard_commands(db_app)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from banrimkwae.cli_support import cli_settings, console, err_console, fail, run_async
from banrimkwae.config import Settings

if TYPE_CHECKING:
    from banrimkwae.perf.db import Database
    from banrimkwae.perf.db.sharding import ReshardReport


def _sharded_settings() -> Settings:
    settings = cli_settings()
    if not settings.database_shards:
        fail("sharding is off: set BANRIMKWAE_DATABASE_SHARDS (name=url,...)")
    return settings


def _database(settings: Settings) -> Database:
    from banrimkwae.perf.db import Database

    return Database(
        settings.database_url,
        shard_urls=settings.database_shards,
        shard_cache_seconds=settings.shard_cache_seconds,
    )


def shards() -> None:
    """The shards: properties placed on each (the directory) and the bookings each holds."""
    from banrimkwae.perf.db.sharding import shard_counts

    settings = _sharded_settings()

    async def work() -> tuple[list[Any], dict[str, dict[int, int]]]:
        database = _database(settings)
        try:
            assert database.shards is not None
            return await database.shards.directory.entries(), await shard_counts(database.shards)
        finally:
            await database.dispose()

    entries, counts = run_async(work)
    masked: dict[str, str] = settings.masked()["database_shards"]  # type: ignore[assignment]
    table = Table(title="shards")
    for column in ("shard", "database", "properties", "bookings", "moving"):
        table.add_column(column)
    for name in settings.database_shards:
        placed = [entry for entry in entries if entry.shard == name]
        moving = [f"{entry.property_id}→{entry.target}" for entry in placed if entry.target]
        table.add_row(
            name,
            masked[name],
            f"{len(placed):,}",
            f"{sum(counts[name].values()):,}",
            ", ".join(moving) or "-",
        )
    console.print(table)
    strays = [
        f"{pid} on {name}"
        for name, per_property in counts.items()
        for pid in per_property
        if next((e.shard for e in entries if e.property_id == pid), name) != name
        and not any(e.property_id == pid and e.target == name for e in entries)
    ]
    if strays:
        console.print(
            f"rows left on a shard that does not own them (an unfinished move): {', '.join(strays)}"
            "; run `banrimkwae db reshard` for them again",
            highlight=False,
        )


def reshard(
    property_id: Annotated[int, typer.Option("--property", help="The property to move.", min=1)],
    to: Annotated[str, typer.Option("--to", help="The shard to move it to.")],
    batch: Annotated[int, typer.Option(help="Rows copied or deleted per batch.", min=1)] = 500,
) -> None:
    """Move a property's bookings to another shard while the app runs: copy, switch, verify,
    delete. Run it again to resume a move that was cut off."""
    from sqlalchemy import column, select, table

    from banrimkwae.perf.db.sharding import Resharder, ReshardError, UnknownShard

    settings = _sharded_settings()
    if to not in settings.database_shards:
        fail(f"unknown shard {to!r} (shards: {', '.join(settings.database_shards)})")
    properties = table("properties", column("id"))

    async def work() -> ReshardReport | None:
        database = _database(settings)
        try:
            assert database.shards is not None
            async with database.engine.connect() as connection:
                found = await connection.scalar(
                    select(properties.c.id).where(properties.c.id == property_id)
                )
            if found is None:
                return None
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console,
            ) as progress:
                tasks: dict[str, Any] = {}

                def report(phase: str, done: int, total: int | None) -> None:
                    if phase not in tasks:
                        tasks[phase] = progress.add_task(phase, total=total)
                    progress.update(tasks[phase], completed=done, total=total)

                return await Resharder(database.shards, batch=batch).move(property_id, to, report)
        finally:
            await database.dispose()

    moved = run_async(work, explain={ReshardError: "", UnknownShard: "", ValueError: ""})
    if moved is None:
        fail(f"property {property_id} does not exist")
    if moved.rows == 0 and moved.resumed:
        console.print(
            f"property {property_id} was already on {moved.target}:"
            f" {moved.deleted:,} rows left elsewhere deleted"
        )
        return
    rate = moved.rows / moved.seconds if moved.seconds else 0.0
    console.print(
        f"property {property_id} moved {moved.source} → {moved.target}: {moved.rows:,} bookings"
        f" verified (checksum {moved.checksum[:12]}), {moved.deleted:,} deleted from"
        f" {moved.source}, {moved.seconds:.1f} s ({rate:,.0f} bookings/s)"
        + (" [resumed]" if moved.resumed else ""),
        highlight=False,
    )


def register_shard_commands(db_app: typer.Typer) -> None:
    db_app.command("shards")(shards)
    db_app.command("reshard")(reshard)
