"""Versioned configuration rows: change, delete and restore, each with its version and audit row.

A `VersionedResource` describes one table of configuration (cache policies, scaling
configurations): its fields, the check its consumer would apply, the column that must stay
unique. The functions here are the one code path of every change, whoever makes it (the
admin API, `banrimkwae config restore`, a recommendation applied or rolled back): they add
the row change, the new version and the audit row to the caller's session; `commit` then
commits them together, a unique key broken by the change or by a concurrent one being a 409
problem rather than a lost update. Failures are problems (404, 409, 422), which the API
answers as they are and the command line prints as one line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Table, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from banrimkwae.perf.admin.audit import record_change
from banrimkwae.perf.admin.config_router import not_found
from banrimkwae.perf.admin.versions import latest_version, read_version, record_version
from banrimkwae.perf.problems import ProblemError
from banrimkwae.perf.storage import ConfigVersion


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change: "apikey:<id>", "cli:<user>", "recommend:verifier" ...; and from where."""

    name: str
    address: str | None = None


@dataclass(frozen=True, slots=True)
class VersionedResource:
    kind: str  # "cache_policy": the versions' kind, the audit actions' prefix
    noun: str  # "cache policy": how messages name one
    table: Table
    fields: tuple[str, ...]
    # Fields that may be set to null; any other set to null is a 422.
    nullable: frozenset[str]
    # The body as its consumer would load it (raises a 422 problem otherwise).
    check: Callable[[Mapping[str, Any]], dict[str, Any]]
    unique_field: str
    # How a conflict on the unique field names it: "policy" and "pattern" say
    # "a policy for '/x' exists already" with `pattern` in the problem.
    unique_noun: str
    unique_label: str
    # Plain values of a stored row (Decimal -> float ...), for versions and comparisons.
    plain: Callable[[Any], Any] = lambda value: value

    def body(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return {name: self.plain(row[name]) for name in self.fields}

    def target(self, item_id: int) -> str:
        return f"{self.kind}:{item_id}"

    def subject(self, item_id: int) -> str:
        return f"{self.kind} {item_id}"


async def read_row(
    db: AsyncSession, resource: VersionedResource, item_id: int, *, lock: bool = False
) -> dict[str, Any]:
    query = select(resource.table).where(resource.table.c.id == item_id)
    if lock:
        query = query.with_for_update()
    found = (await db.execute(query)).mappings().first()
    if found is None:
        raise not_found(f"{resource.noun} {item_id}")
    return dict(found)


async def latest_versions(
    db: AsyncSession, resource: VersionedResource, ids: list[int]
) -> dict[int, int]:
    """Item id -> its newest version number (items without versions left out)."""
    table = ConfigVersion.__table__.c
    rows = await db.execute(
        select(table.target_id, func.max(table.version))
        .where(table.kind == resource.kind, table.target_id.in_(ids))
        .group_by(table.target_id)
    )
    return {int(target): int(version) for target, version in rows}


async def current_version(db: AsyncSession, resource: VersionedResource, item_id: int) -> int:
    return await latest_version(db, resource.kind, item_id)


async def _unique(
    db: AsyncSession, resource: VersionedResource, value: Any, item_id: int | None
) -> None:
    column = resource.table.c[resource.unique_field]
    query = select(resource.table.c.id).where(column == value)
    if item_id is not None:
        query = query.where(resource.table.c.id != item_id)
    if await db.scalar(query) is not None:
        raise ProblemError(
            409,
            f"a {resource.unique_noun} for {value!r} exists already",
            title="Conflict",
            **{resource.unique_label: value},
        )


async def _record(
    db: AsyncSession,
    resource: VersionedResource,
    item_id: int,
    *,
    action: str,
    actor: Actor,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    audit_after: Mapping[str, Any] | None = None,
) -> int:
    version = await record_version(
        db, kind=resource.kind, target_id=item_id, body=after, actor=actor.name, before=before
    )
    await record_change(
        db,
        actor=actor.name,
        action=f"{resource.kind}.{action}",
        target=resource.target(item_id),
        before=before,
        after=audit_after if audit_after is not None else after,
        address=actor.address,
    )
    return version


async def create_item(
    db: AsyncSession, resource: VersionedResource, fields: Mapping[str, Any], actor: Actor
) -> int:
    """Insert a new item (version 1); its id."""
    body = resource.check(fields)
    await _unique(db, resource, body[resource.unique_field], None)
    result = cast(CursorResult[Any], await db.execute(insert(resource.table).values(body)))
    assert result.inserted_primary_key is not None
    item_id = int(result.inserted_primary_key[0])
    await _record(db, resource, item_id, action="create", actor=actor, before=None, after=body)
    return item_id


async def change_item(
    db: AsyncSession,
    resource: VersionedResource,
    item_id: int,
    changes: Mapping[str, Any],
    actor: Actor,
) -> int | None:
    """Change the fields given; the new version, or None when nothing changed."""
    nulled = sorted(
        name for name, value in changes.items() if value is None and name not in resource.nullable
    )
    if nulled:
        raise ProblemError(422, f"{nulled[0]} may not be null", title=f"Invalid {resource.noun}")
    before = resource.body(await read_row(db, resource, item_id, lock=True))
    after = resource.check({**before, **changes})
    if after == before:
        return None
    await _unique(db, resource, after[resource.unique_field], item_id)
    await db.execute(update(resource.table).where(resource.table.c.id == item_id).values(after))
    return await _record(
        db, resource, item_id, action="update", actor=actor, before=before, after=after
    )


async def delete_item(
    db: AsyncSession, resource: VersionedResource, item_id: int, actor: Actor
) -> None:
    """Remove the item; its versions stay (a version with a null body records the deletion)."""
    before = resource.body(await read_row(db, resource, item_id, lock=True))
    await db.execute(delete(resource.table).where(resource.table.c.id == item_id))
    await _record(db, resource, item_id, action="delete", actor=actor, before=before, after=None)


async def restore_item(
    db: AsyncSession, resource: VersionedResource, item_id: int, version: int, actor: Actor
) -> int:
    """Make the item what it was at `version` (recreated if deleted since); the new version.

    The restore is a change of its own: a new version, and an audit row naming the version.
    """
    stored = await read_version(db, resource.kind, item_id, version)
    if stored is None:
        raise not_found(f"version {version} of {resource.noun} {item_id}")
    if stored.body is None:
        raise ProblemError(
            409,
            f"version {version} records the {resource.unique_noun}'s deletion; restore another one",
            title="Nothing to restore",
        )
    target = resource.check({name: stored.body.get(name) for name in resource.fields})
    table = resource.table
    current = (
        (await db.execute(select(table).where(table.c.id == item_id).with_for_update()))
        .mappings()
        .first()
    )
    before = resource.body(dict(current)) if current is not None else None
    await _unique(db, resource, target[resource.unique_field], item_id)
    if current is None:
        await db.execute(insert(table).values({"id": item_id, **target}))
    else:
        await db.execute(update(table).where(table.c.id == item_id).values(target))
    return await _record(
        db,
        resource,
        item_id,
        action="restore",
        actor=actor,
        before=before,
        after=target,
        audit_after={"restored_version": version, **target},
    )


async def commit(db: AsyncSession, subject: str) -> None:
    """Commit the change with its version and audit row; a broken unique key is a 409.

    `subject` names what changed in the problem ("cache_policy 3").
    """
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise ProblemError(
            409,
            f"{subject} conflicts with another row or a concurrent change; read it again and retry",
            title="Conflict",
        ) from None
