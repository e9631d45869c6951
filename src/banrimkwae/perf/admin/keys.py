"""API keys: made once, shown once, kept as a SHA-256, checked in constant time.

A key reads `bkw_<key id>_<secret>`: the prefix lets secret scanners and people recognise
it, the key id (public) finds its row and names it in lists and the audit log, the secret
carries 256 random bits. With that much entropy a fast hash is enough: nobody can guess a
preimage, so a slow password hash (scrypt) would only slow every request down.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace

from sqlalchemy import RowMapping, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from banrimkwae.perf.access import ROLES, Role
from banrimkwae.perf.admin.audit import record_change
from banrimkwae.perf.storage import ApiKey, PlatformBase

KEY_PREFIX = "bkw_"
_KEY_ID_BYTES = 6  # 12 hex characters
_SECRET_BYTES = 32
_KEYS = PlatformBase.metadata.tables[ApiKey.__tablename__]


class ApiKeyError(Exception):
    """A key operation that cannot be done; the message says why in one line."""


@dataclass(frozen=True, slots=True)
class NewKey:
    key_id: str
    key: str  # the whole key: shown once, never stored
    role: Role
    name: str | None


@dataclass(frozen=True, slots=True)
class KeyInfo:
    key_id: str
    role: Role
    name: str | None
    created_at: dt.datetime
    created_by: str
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class VerifiedKey:
    row_id: int
    info: KeyInfo


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_id_of(presented: str) -> str | None:
    """The key id of something shaped like a key, else None."""
    if not presented.startswith(KEY_PREFIX):
        return None
    key_id, separator, secret = presented[len(KEY_PREFIX) :].partition("_")
    if not separator or len(key_id) != 2 * _KEY_ID_BYTES or not secret:
        return None
    return key_id if all(c in "0123456789abcdef" for c in key_id) else None


def looks_like_key(presented: str) -> bool:
    return presented.startswith(KEY_PREFIX)


def _generate() -> tuple[str, str]:
    key_id = secrets.token_hex(_KEY_ID_BYTES)
    return key_id, f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"


def _role(value: str) -> Role:
    for role in ROLES:
        if role == value:
            return role
    raise ApiKeyError(f"unknown role {value!r}; roles: {', '.join(ROLES)}")


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands back naive datetimes; every moment stored here is UTC.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.UTC)


def _info(row: RowMapping) -> KeyInfo:
    created_at = _aware(row["created_at"])
    assert created_at is not None
    return KeyInfo(
        key_id=row["key_id"],
        role=_role(row["role"]),
        name=row["name"],
        created_at=created_at,
        created_by=row["created_by"],
        revoked_at=_aware(row["revoked_at"]),
        last_used_at=_aware(row["last_used_at"]),
    )


def _audited(info: KeyInfo) -> dict[str, object]:
    # What the audit log keeps of a key: never its hash.
    return {
        "key_id": info.key_id,
        "role": info.role,
        "name": info.name,
        "revoked_at": info.revoked_at,
    }


async def _row(connection: AsyncConnection, key_id: str) -> RowMapping | None:
    result = await connection.execute(select(_KEYS).where(_KEYS.c.key_id == key_id))
    return result.mappings().one_or_none()


async def create_key(
    connection: AsyncConnection,
    *,
    role: str,
    name: str | None,
    actor: str,
    address: str | None = None,
) -> NewKey:
    """Insert a key and its audit row in the caller's transaction; the result holds the key."""
    checked = _role(role)
    key_id, key = _generate()
    await connection.execute(
        insert(_KEYS).values(
            key_id=key_id, key_hash=hash_key(key), role=checked, name=name, created_by=actor
        )
    )
    row = await _row(connection, key_id)
    assert row is not None
    await record_change(
        connection,
        actor=actor,
        action="apikey.create",
        target=f"apikey:{key_id}",
        after=_audited(_info(row)),
        address=address,
    )
    return NewKey(key_id=key_id, key=key, role=checked, name=name)


async def list_keys(connection: AsyncConnection, *, include_revoked: bool = True) -> list[KeyInfo]:
    statement = select(_KEYS).order_by(_KEYS.c.created_at, _KEYS.c.id)
    if not include_revoked:
        statement = statement.where(_KEYS.c.revoked_at.is_(None))
    result = await connection.execute(statement)
    return [_info(row) for row in result.mappings()]


async def revoke_key(
    connection: AsyncConnection, key_id: str, *, actor: str, address: str | None = None
) -> KeyInfo:
    """Revoke a key and audit it in the caller's transaction; the row stays for the record."""
    row = await _row(connection, key_id)
    if row is None:
        raise ApiKeyError(f"no API key with id {key_id!r}")
    if row["revoked_at"] is not None:
        raise ApiKeyError(f"API key {key_id} is already revoked")
    before = _info(row)
    now = dt.datetime.now(dt.UTC)
    await connection.execute(update(_KEYS).where(_KEYS.c.id == row["id"]).values(revoked_at=now))
    after = replace(before, revoked_at=now)
    await record_change(
        connection,
        actor=actor,
        action="apikey.revoke",
        target=f"apikey:{key_id}",
        before=_audited(before),
        after=_audited(after),
        address=address,
    )
    return after


async def find_key(connection: AsyncConnection, presented: str) -> VerifiedKey | None:
    """The key `presented` is, revoked or not; None when no stored key matches it."""
    key_id = key_id_of(presented)
    if key_id is None:
        return None
    row = await _row(connection, key_id)
    # Compare digests in constant time, so timing tells nothing about a near miss.
    if row is None or not hmac.compare_digest(row["key_hash"], hash_key(presented)):
        return None
    return VerifiedKey(row_id=row["id"], info=_info(row))


async def touch_key(connection: AsyncConnection, row_id: int, moment: dt.datetime) -> None:
    await connection.execute(update(_KEYS).where(_KEYS.c.id == row_id).values(last_used_at=moment))
