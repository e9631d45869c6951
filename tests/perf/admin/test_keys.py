"""API keys on every dialect: made once, stored as a hash, found, revoked, audited; the CLI."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from banrimkwae import migrate
from banrimkwae.perf.admin.keys import (
    KEY_PREFIX,
    ApiKeyError,
    create_key,
    find_key,
    key_id_of,
    list_keys,
    revoke_key,
)
from banrimkwae.perf.db import create_engine_for_url
from banrimkwae.perf.storage import ApiKey, AuditLog

BANRIMKWAE = str(Path(sys.executable).with_name("banrimkwae"))


@pytest.fixture
async def engine(module_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine_for_url(module_database_url)
    yield engine
    await engine.dispose()


async def test_a_key_is_shown_once_and_only_its_hash_is_stored(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        made = await create_key(connection, role="operator", name="deploy bot", actor="test")

    assert made.key.startswith(f"{KEY_PREFIX}{made.key_id}_")
    assert len(made.key) > 50
    async with engine.connect() as connection:
        row = (
            await connection.execute(select(ApiKey.__table__).where(ApiKey.key_id == made.key_id))
        ).one()
        stored = " ".join(str(value) for value in row)
    assert made.key not in stored
    # The secret itself (urlsafe base64, which may hold "_" too), not its last "_"-piece.
    secret = made.key.removeprefix(f"{KEY_PREFIX}{made.key_id}_")
    assert len(secret) >= 40 and secret not in stored
    assert row.key_hash == hashlib.sha256(made.key.encode()).hexdigest()
    assert (row.role, row.name, row.created_by) == ("operator", "deploy bot", "test")
    assert row.revoked_at is None and row.last_used_at is None


async def test_only_the_exact_key_is_found(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        made = await create_key(connection, role="viewer", name=None, actor="test")
    near_miss = made.key[:-1] + ("A" if made.key[-1] != "A" else "B")
    async with engine.connect() as connection:
        found = await find_key(connection, made.key)
        assert found is not None
        assert (found.info.key_id, found.info.role, found.info.active) == (
            made.key_id,
            "viewer",
            True,
        )
        for wrong in (near_miss, made.key + "x", made.key_id, "bkw_", "", "Bearer x"):
            assert await find_key(connection, wrong) is None, wrong


def test_key_ids_are_read_only_from_well_formed_keys() -> None:
    assert key_id_of("bkw_0123456789ab_secret_with_underscores") == "0123456789ab"
    for malformed in (
        "bkw_0123456789ab",
        "bkw_0123456789AB_x",
        "bkw_short_x",
        "xyz_0123456789ab_x",
    ):
        assert key_id_of(malformed) is None, malformed


async def test_unknown_roles_are_refused(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        with pytest.raises(ApiKeyError, match="unknown role 'root'"):
            await create_key(connection, role="root", name=None, actor="test")


async def test_revoking_keeps_the_row_and_the_key_stops_being_active(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        made = await create_key(connection, role="admin", name="temp", actor="test")
    async with engine.begin() as connection:
        revoked = await revoke_key(connection, made.key_id, actor="test")
    assert revoked.revoked_at is not None and not revoked.active

    async with engine.connect() as connection:
        found = await find_key(connection, made.key)
        listed = {key.key_id: key for key in await list_keys(connection)}
        active = {key.key_id for key in await list_keys(connection, include_revoked=False)}
    assert found is not None and not found.info.active
    assert listed[made.key_id].revoked_at is not None
    assert made.key_id not in active

    async with engine.begin() as connection:
        with pytest.raises(ApiKeyError, match="already revoked"):
            await revoke_key(connection, made.key_id, actor="test")
        with pytest.raises(ApiKeyError, match="no API key with id"):
            await revoke_key(connection, "000000000000", actor="test")


async def test_creation_and_revocation_are_audited_in_their_own_transaction(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as connection:
        made = await create_key(connection, role="viewer", name="audited", actor="cli:alice")
        await revoke_key(connection, made.key_id, actor="cli:bob", address="10.0.0.9")
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(AuditLog.__table__)
                .where(AuditLog.target == f"apikey:{made.key_id}")
                .order_by(AuditLog.id)
            )
        ).all()
    assert [(row.actor, row.action) for row in rows] == [
        ("cli:alice", "apikey.create"),
        ("cli:bob", "apikey.revoke"),
    ]
    created, revoked = rows
    assert created.before is None
    assert created.after == {"key_id": made.key_id, "role": "viewer", "name": "audited",
                             "revoked_at": None}  # fmt: skip
    assert revoked.before["revoked_at"] is None
    assert revoked.after["revoked_at"] is not None
    assert revoked.address == "10.0.0.9"
    assert made.key not in str([tuple(row) for row in rows])

    # A creation that rolls back leaves neither a key nor an audit row.
    async with engine.connect() as connection:
        transaction = await connection.begin()
        rolled_back = await create_key(connection, role="admin", name=None, actor="cli:carol")
        await transaction.rollback()
    async with engine.connect() as connection:
        for table, column in ((ApiKey, ApiKey.key_id), (AuditLog, AuditLog.target)):
            value = rolled_back.key_id if table is ApiKey else f"apikey:{rolled_back.key_id}"
            count = await connection.scalar(select(func.count()).where(column == value))
            assert count == 0


def _cli(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BANRIMKWAE, "apikey", *args],
        env={**os.environ, "COLUMNS": "200", "BANRIMKWAE_DATABASE_URL": url, "USER": "tester"},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_the_command_line_creates_lists_and_revokes(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    await migrate.upgrade(url)

    created = _cli("create", "--role", "operator", "--name", "ci", url=url)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith(KEY_PREFIX) and "\n" not in key
    key_id = key_id_of(key)
    assert key_id is not None and key_id in created.stderr

    listed = _cli("list", url=url)
    assert listed.returncode == 0, listed.stderr
    assert key_id in listed.stdout and "operator" in listed.stdout and "ci" in listed.stdout
    assert key not in listed.stdout
    assert hashlib.sha256(key.encode()).hexdigest() not in listed.stdout

    assert _cli("revoke", key_id, url=url).returncode == 0
    again = _cli("revoke", key_id, url=url)
    assert again.returncode != 0
    assert again.stderr.startswith("error:") and again.stderr.strip().count("\n") == 0
    assert key_id not in _cli("list", "--active", url=url).stdout

    engine = create_engine_for_url(url)
    try:
        async with engine.connect() as connection:
            actions = (
                await connection.execute(
                    select(AuditLog.actor, AuditLog.action).order_by(AuditLog.id)
                )
            ).all()
    finally:
        await engine.dispose()
    assert [tuple(row) for row in actions] == [
        ("cli:tester", "apikey.create"),
        ("cli:tester", "apikey.revoke"),
    ]


@pytest.mark.parametrize(
    "args",
    [("create", "--role", "root"), ("revoke", "ffffffffffff"), ("create",)],
)
async def test_command_line_errors_are_one_line_and_fail(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    await migrate.upgrade(url)
    result = _cli(*args, url=url)
    assert result.returncode != 0
    if args != ("create",):  # a missing option is typer's own usage message
        assert result.stderr.startswith("error:")
        assert result.stderr.strip().count("\n") == 0


def test_an_unmigrated_database_is_a_one_line_error(tmp_path: Path) -> None:
    result = _cli("list", url=f"sqlite+aiosqlite:///{tmp_path}/empty.db")
    assert result.returncode == 1
    assert result.stderr.startswith("error: database error:")
    assert result.stderr.strip().count("\n") == 0
