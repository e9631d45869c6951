"""`banrimkwae config versions|restore`: the stored versions of a configuration, and a restore.

The restore is the admin API's own (perf.admin.versioned.restore_item): a new version and an
audit row, here with the actor "cli:<user>". Workers pick up a restored cache policy within
their reloaders' full check; the scaling controller reads its row every cycle.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from banrimkwae.cli_support import cli_actor, cli_settings, console, run_async

if TYPE_CHECKING:
    from banrimkwae.perf.admin.versioned import VersionedResource


class ConfigKind(enum.StrEnum):
    cache_policy = "cache-policy"
    scaling_config = "scaling-config"


KindArgument = Annotated[ConfigKind, typer.Argument(help="cache-policy or scaling-config.")]
IdArgument = Annotated[int, typer.Argument(min=1, help="The policy's or configuration's id.")]


def _resource(kind: ConfigKind) -> VersionedResource:
    if kind is ConfigKind.cache_policy:
        from banrimkwae.perf.admin.cache_admin import CACHE_POLICIES

        return CACHE_POLICIES
    from banrimkwae.perf.admin.scaling_admin import SCALING_CONFIGS

    return SCALING_CONFIGS


def _run(work: Any) -> Any:
    from banrimkwae.perf.problems import ProblemError

    return run_async(work, explain={ProblemError: ""})


def config_versions(
    kind: KindArgument,
    item_id: IdArgument,
    limit: Annotated[int, typer.Option(min=1, max=200, help="Versions to show.")] = 20,
) -> None:
    """List the stored versions of a cache policy or scaling configuration, newest first."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from banrimkwae.perf.admin.versioned import read_row
    from banrimkwae.perf.admin.versions import StoredVersion, read_versions
    from banrimkwae.perf.db import create_engine_for_url

    resource = _resource(kind)
    settings = cli_settings()

    async def work() -> tuple[list[StoredVersion], int]:
        engine = create_engine_for_url(settings.database_url)
        try:
            async with AsyncSession(engine) as db:
                stored, total = await read_versions(
                    db, resource.kind, item_id, limit=limit, offset=0
                )
                if total == 0:
                    await read_row(db, resource, item_id)  # not found: a one-line failure
                return stored, total
        finally:
            await engine.dispose()

    stored, total = _run(work)
    table = Table("version", "actor", "created", "body", title=f"{resource.noun} {item_id}")
    for entry in stored:
        body = "deleted" if entry.body is None else _summary(entry.body)
        table.add_row(str(entry.version), entry.actor, entry.created_at.isoformat(), body)
    console.print(table)
    if total == 0:
        console.print("no versions yet: the first change stores its state before as version 1")
    elif total > len(stored):
        console.print(f"{len(stored)} of {total} versions shown (--limit)")


def config_restore(
    kind: KindArgument,
    item_id: IdArgument,
    version: Annotated[int, typer.Argument(min=1, help="The version to restore.")],
) -> None:
    """Restore a version of a cache policy or scaling configuration (audited)."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from banrimkwae.perf.admin.versioned import Actor, commit, restore_item
    from banrimkwae.perf.db import create_engine_for_url

    resource = _resource(kind)
    settings = cli_settings()
    actor = Actor(cli_actor())

    async def work() -> int:
        engine = create_engine_for_url(settings.database_url)
        try:
            async with AsyncSession(engine) as db:
                restored = await restore_item(db, resource, item_id, version, actor)
                await commit(db, resource.subject(item_id))
                return restored
        finally:
            await engine.dispose()

    restored = _run(work)
    console.print(
        f"restored {resource.noun} {item_id} to version {version} (now version {restored})"
    )


def _summary(body: dict[str, Any]) -> str:
    text = ", ".join(f"{name}={value}" for name, value in body.items() if value is not None)
    return text if len(text) <= 120 else text[:117] + "..."


def register_config_commands(config_app: typer.Typer) -> None:
    config_app.command("versions")(config_versions)
    config_app.command("restore")(config_restore)
