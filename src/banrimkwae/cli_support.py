"""What every command module shares: the consoles, one-line failures, settings, async work."""

from __future__ import annotations

import asyncio
import getpass
import os
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

from banrimkwae.config import Settings, SettingsError, load_settings

console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `error: message` on stderr and exit with `code`."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def cli_actor() -> str:
    """Who changes something from the command line, for the audit log: "cli:<user>"."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        user = str(os.getuid())
    return f"cli:{user}"


def cli_settings() -> Settings:
    """The effective settings; a bad value exits 2 with the one line that names it."""
    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc), 2)


def run_async(
    factory: Callable[[], Coroutine[Any, Any, T]],
    *,
    explain: Mapping[type[Exception], str] | None = None,
) -> T:
    """Run async work; connection and database errors, and exceptions of the `explain` types
    (their text after the given prefix, if any), become one-line failures."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    try:
        return asyncio.run(factory())
    except (OSError, OperationalError, DBAPIError) as exc:
        text = str(exc).strip()
        fail(f"database error: {text.splitlines()[0] if text else type(exc).__name__}")
    except Exception as exc:
        for kind, prefix in (explain or {}).items():
            if isinstance(exc, kind):
                fail(f"{prefix}: {exc}" if prefix else str(exc))
        raise
