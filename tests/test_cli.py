"""The command line as a user runs it: real subprocesses, real exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BANRIMKWAE = str(Path(sys.executable).with_name("banrimkwae"))


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BANRIMKWAE, *args],
        env={**os.environ, "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_bad_setting_stops_with_one_line_naming_it() -> None:
    result = run("config", "show", BANRIMKWAE_WORKERS="many")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "BANRIMKWAE_WORKERS" in result.stderr


def test_config_show_masks_secrets() -> None:
    result = run(
        "config",
        "show",
        BANRIMKWAE_TOKEN_SECRET="do-not-print-me",
        BANRIMKWAE_DATABASE_URL="postgresql+asyncpg://u:pw123@h/db",
    )
    assert result.returncode == 0, result.stderr
    assert "do-not-print-me" not in result.stdout
    assert "pw123" not in result.stdout
    assert "BANRIMKWAE_DATABASE_URL" in result.stdout


def test_migrate_then_seed_then_refuse_to_seed_twice(tmp_path: Path) -> None:
    env = {"BANRIMKWAE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db"}
    assert run("migrate", **env).returncode == 0
    seeded = run("seed", "--scale", "small", "--no-progress", **env)
    assert seeded.returncode == 0, seeded.stderr
    assert "bookings" in seeded.stdout
    again = run("seed", "--scale", "small", "--no-progress", **env)
    assert again.returncode != 0
    assert again.stderr.strip().startswith("error:")


def test_unreachable_database_is_a_one_line_error() -> None:
    result = run("migrate", BANRIMKWAE_DATABASE_URL="postgresql+asyncpg://nobody@127.0.0.1:1/x")
    assert result.returncode == 1
    assert result.stderr.startswith("error: database error:")
    assert result.stderr.strip().count("\n") == 0


def test_db_partitions_and_current_on_sqlite(tmp_path: Path) -> None:
    env = {"BANRIMKWAE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/p.db"}
    assert run("migrate", **env).returncode == 0
    current = run("db", "current", **env)
    assert current.returncode == 0
    assert current.stdout.strip() != "none"
    partitions = run("db", "partitions", **env)
    assert partitions.returncode == 0, partitions.stderr
    assert "sqlite" in partitions.stdout.lower()
    downgraded = run("db", "downgrade", "base", **env)
    assert downgraded.returncode == 0
    assert run("db", "current", **env).stdout.strip() == "none"


def test_tokens_from_the_cli_open_the_api(tmp_path: Path) -> None:
    env = {"BANRIMKWAE_TOKEN_SECRET": "cli-secret-0123456789-0123456789-xyz"}
    token = run("token", "staff", **env)
    assert token.returncode == 0
    from banrimkwae.resort.auth import decode_token

    identity = decode_token(token.stdout.strip(), env["BANRIMKWAE_TOKEN_SECRET"])
    assert identity.role == "staff"
    guest = run("token", "guest", "42", **env)
    assert decode_token(guest.stdout.strip(), env["BANRIMKWAE_TOKEN_SECRET"]).subject == 42
