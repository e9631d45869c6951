"""Versioned configuration: each change to a configuration row stores its body as a version.

Versions are numbered 1, 2, ... per (kind, target id) and written in the transaction of the
change, like its audit row. A row that existed before versioning (seeded by a migration)
gets its state before the first change stored as version 1, so that state can be restored
too. A deletion stores a version whose body is null. Two changes racing for one number
collide on the unique (kind, target_id, version) key: the later one rolls back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import func, insert, null, select
from sqlalchemy.ext.asyncio import AsyncSession

from banrimkwae.perf.storage import ConfigVersion

_ACTOR_LENGTH = 100


@dataclass(frozen=True, slots=True)
class StoredVersion:
    version: int
    body: dict[str, Any] | None
    actor: str
    created_at: dt.datetime


async def latest_version(session: AsyncSession, kind: str, target_id: int) -> int:
    """The newest version number of the target; 0 when it has none."""
    table = ConfigVersion.__table__.c
    found = await session.scalar(
        select(func.max(table.version)).where(table.kind == kind, table.target_id == target_id)
    )
    return int(found or 0)


async def record_version(
    session: AsyncSession,
    *,
    kind: str,
    target_id: int,
    body: Mapping[str, Any] | None,
    actor: str,
    before: Mapping[str, Any] | None = None,
) -> int:
    """Store `body` as the target's next version (in the caller's transaction); its number.

    `before` is the target's state before this change: stored first as version 1 when the
    target has no versions yet (it was created before versioning, or outside the API).
    """
    latest = await latest_version(session, kind, target_id)
    if latest == 0 and before is not None:
        await _insert(session, kind, target_id, 1, before, "baseline")
        latest = 1
    await _insert(session, kind, target_id, latest + 1, body, actor)
    return latest + 1


async def read_versions(
    session: AsyncSession, kind: str, target_id: int, *, limit: int, offset: int
) -> tuple[list[StoredVersion], int]:
    """A page of the target's versions, newest first, and how many there are in all."""
    table = ConfigVersion.__table__.c
    where = (table.kind == kind, table.target_id == target_id)
    total = int(
        await session.scalar(select(func.count()).select_from(ConfigVersion).where(*where)) or 0
    )
    rows = await session.execute(
        select(table.version, table.body, table.actor, table.created_at)
        .where(*where)
        .order_by(table.version.desc())
        .limit(limit)
        .offset(offset)
    )
    return [_stored(dict(row)) for row in rows.mappings()], total


async def read_version(
    session: AsyncSession, kind: str, target_id: int, version: int
) -> StoredVersion | None:
    table = ConfigVersion.__table__.c
    row = (
        (
            await session.execute(
                select(table.version, table.body, table.actor, table.created_at).where(
                    table.kind == kind, table.target_id == target_id, table.version == version
                )
            )
        )
        .mappings()
        .first()
    )
    return _stored(dict(row)) if row is not None else None


async def _insert(
    session: AsyncSession,
    kind: str,
    target_id: int,
    version: int,
    body: Mapping[str, Any] | None,
    actor: str,
) -> None:
    await session.execute(
        insert(ConfigVersion).values(
            kind=kind,
            target_id=target_id,
            version=version,
            # None stays SQL NULL: a deleted target has no body at all.
            body=null() if body is None else to_jsonable_python(dict(body)),
            actor=actor[:_ACTOR_LENGTH],
        )
    )


def _stored(row: Mapping[str, Any]) -> StoredVersion:
    created = row["created_at"]
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    body = row["body"]
    return StoredVersion(
        version=int(row["version"]),
        body=dict(body) if isinstance(body, Mapping) else None,
        actor=str(row["actor"]),
        created_at=created,
    )
