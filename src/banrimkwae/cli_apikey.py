"""`banrimkwae apikey create|list|revoke`: the API keys of the platform's endpoints.

A key is printed once, on stdout alone, so a script can capture it; it is stored only as a
hash. Every creation and revocation is written to the audit log (actor "cli:<user>") in the
same transaction as the change. Errors are one line on stderr and a non-zero exit.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import typer
from rich.table import Table

from banrimkwae.cli_support import T, cli_actor, console, err_console, run_async
from banrimkwae.cli_support import cli_settings as _settings
from banrimkwae.cli_support import fail as _fail

apikey_app = typer.Typer(
    help="API keys for /api/admin and /metrics: viewer, operator or admin.",
    no_args_is_help=True,
)


def _run(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    from banrimkwae.perf.admin.keys import ApiKeyError

    return run_async(work, explain={ApiKeyError: ""})


async def _in_transaction(url: str, work: Callable[[Any], Coroutine[Any, Any, T]]) -> T:
    from banrimkwae.perf.db import create_engine_for_url

    engine = create_engine_for_url(url)
    try:
        async with engine.begin() as connection:
            return await work(connection)
    finally:
        await engine.dispose()


@apikey_app.command("create")
def create(
    role: Annotated[str, typer.Option(help="viewer, operator or admin.")],
    name: Annotated[str | None, typer.Option(help="What or who the key is for.")] = None,
) -> None:
    """Create a key and print it once (only its hash is kept)."""
    from banrimkwae.perf.access import ROLES
    from banrimkwae.perf.admin.keys import create_key

    if role not in ROLES:
        _fail(f"unknown role {role!r}; roles: {', '.join(ROLES)}", 2)
    if name is not None and len(name) > 255:
        _fail("--name is longer than 255 characters", 2)
    settings = _settings()
    actor = cli_actor()
    created = _run(
        lambda: _in_transaction(
            settings.database_url,
            lambda connection: create_key(connection, role=role, name=name, actor=actor),
        )
    )
    err_console.print(
        f"API key [bold]{created.key_id}[/] ({created.role}) created; "
        "it is shown only now, store it safely:",
        highlight=False,
    )
    print(created.key)


@apikey_app.command("list")
def list_(
    active: Annotated[bool, typer.Option("--active", help="Hide revoked keys.")] = False,
) -> None:
    """List keys: id, role, name, creation, last use, revocation (never the keys)."""
    from banrimkwae.perf.admin.keys import list_keys

    settings = _settings()
    keys = _run(
        lambda: _in_transaction(
            settings.database_url,
            lambda connection: list_keys(connection, include_revoked=not active),
        )
    )
    table = Table("key id", "role", "name", "created", "by", "last used", "revoked")
    for key in keys:
        table.add_row(
            key.key_id,
            key.role,
            key.name or "",
            f"{key.created_at:%Y-%m-%d %H:%M}",
            key.created_by,
            f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never",
            f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "",
        )
    console.print(table)


@apikey_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (as `apikey list` shows it).")],
) -> None:
    """Revoke a key: it stops working at once; its row stays for the audit log."""
    from banrimkwae.perf.admin.keys import key_id_of, revoke_key

    # Someone may paste the whole key: its id is the part after the prefix.
    wanted = key_id_of(key_id) or key_id
    settings = _settings()
    actor = cli_actor()
    revoked = _run(
        lambda: _in_transaction(
            settings.database_url,
            lambda connection: revoke_key(connection, wanted, actor=actor),
        )
    )
    console.print(f"API key {revoked.key_id} ({revoked.role}) revoked", highlight=False)
