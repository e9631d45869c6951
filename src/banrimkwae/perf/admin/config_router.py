"""What the admin API's configuration routes share: query checks, offset pages, versions.

A change to configuration is committed with its audit row and its new version in one
transaction (`commit_change`); a concurrent change that took the same version number makes
the later one a 409 problem rather than a lost update.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from banrimkwae.perf.admin.audit import record_change, request_actor
from banrimkwae.perf.admin.auth import client_address
from banrimkwae.perf.admin.schemas import Links, Meta, Page
from banrimkwae.perf.admin.versions import StoredVersion, record_version
from banrimkwae.perf.problems import ProblemError
from banrimkwae.perf.responses import relative_link

T = TypeVar("T")

# The largest id any of the three databases stores (BIGINT); a larger one is a 422.
MAX_ID = 2**63 - 1
# Version numbers are INTEGER columns.
MAX_VERSION = 2**31 - 1
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_OFFSET = 100_000
LimitParam = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")]
OffsetParam = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")]


class VersionEntry(BaseModel):
    version: int = Field(description="1 for the oldest; each change adds one.")
    body: dict[str, Any] | None = Field(
        description="The configuration after that change; null when the change deleted it."
    )
    actor: str = Field(description='Who made the change; "baseline" for the state before.')
    created_at: dt.datetime


def version_entry(stored: StoredVersion) -> VersionEntry:
    return VersionEntry(
        version=stored.version, body=stored.body, actor=stored.actor, created_at=stored.created_at
    )


def accepts(*names: str) -> Any:
    """A dependency answering query parameters other than `names` with a 400 problem."""

    def check(request: Request) -> None:
        unknown = sorted(set(request.query_params) - set(names))
        if unknown:
            valid = ", ".join(names) if names else "none"
            raise ProblemError(
                400,
                f"unknown query parameter {unknown[0]!r}; valid parameters: {valid}",
                title="Unknown query parameter",
                parameter=unknown[0],
                valid_values=list(names),
            )

    return Depends(check)


def choice(parameter: str, value: str, valid: Sequence[str]) -> str:
    """`value` if it is one of `valid`; otherwise a 400 problem naming the valid ones."""
    if value not in valid:
        raise ProblemError(
            400,
            f"{parameter} {value!r} is not one of: {', '.join(valid)}",
            title="Invalid parameter value",
            parameter=parameter,
            valid_values=list(valid),
        )
    return value


def offset_page(
    data: Sequence[T], request: Request, *, limit: int, offset: int, total: int
) -> Page[T]:
    url = request.url
    return Page[T](
        data=list(data),
        links=Links(
            self=relative_link(url),
            next=relative_link(url.include_query_params(offset=offset + limit))
            if offset + limit < total
            else None,
            prev=relative_link(url.include_query_params(offset=max(offset - limit, 0)))
            if offset > 0
            else None,
        ),
        meta=Meta(limit=limit, offset=offset, count=len(data), total=total),
    )


def aware(moment: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands timestamps back naive; they were stored in UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.UTC)


def not_found(what: str) -> ProblemError:
    return ProblemError(404, f"{what} does not exist", title="Not found")


async def commit_change(
    session: AsyncSession,
    request: Request,
    *,
    kind: str,
    target_id: int,
    action: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    audit_after: Mapping[str, Any] | None = None,
) -> int:
    """Store the new version and the audit row, then commit all; the new version's number.

    A unique key broken by the change itself or by a concurrent one is a 409 problem.
    """
    actor = request_actor(request)
    version = await record_version(
        session, kind=kind, target_id=target_id, body=after, actor=actor, before=before
    )
    await record_change(
        session,
        actor=actor,
        action=action,
        target=f"{kind}:{target_id}",
        before=before,
        after=audit_after if audit_after is not None else after,
        address=client_address(request),
    )
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise ProblemError(
            409,
            f"{kind} {target_id} conflicts with another row or a concurrent change; "
            "read it again and retry",
            title="Conflict",
        ) from None
    return version
