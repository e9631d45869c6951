"""The audit log: one row per change, written in the transaction of the change itself.

`record_change` only adds the INSERT to the caller's connection or session; the caller
commits both together, so a change that rolls back leaves no audit row, and a change that
commits always has one. Before and after are stored as JSON (datetimes as ISO 8601).
"""

from __future__ import annotations

from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import insert, null
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from starlette.requests import Request

from banrimkwae.perf.access import granted
from banrimkwae.perf.storage import AuditLog

_ACTOR_LENGTH = 100
_ACTION_LENGTH = 100
_TARGET_LENGTH = 255
_ADDRESS_LENGTH = 45


async def record_change(
    connection_or_session: AsyncConnection | AsyncSession,
    *,
    actor: str,
    action: str,
    target: str,
    before: Any = None,
    after: Any = None,
    address: str | None = None,
) -> None:
    """Add an audit row to the caller's transaction (nothing is committed here).

    `actor` names who acted ("apikey:<key id>", "cli:<user>"), `action` what was done
    ("apikey.create"), `target` what it was done to ("apikey:<key id>").
    """
    values = {
        "actor": actor[:_ACTOR_LENGTH],
        "action": action[:_ACTION_LENGTH],
        "target": target[:_TARGET_LENGTH],
        "before": _json(before),
        "after": _json(after),
        "address": address[:_ADDRESS_LENGTH] if address else None,
    }
    await connection_or_session.execute(insert(AuditLog).values(values))


def request_actor(request: Request) -> str:
    """The actor of a change made through the API: whom the authorizer let in."""
    found = granted(request)
    return found.actor if found is not None else "unknown"


def _json(value: Any) -> Any:
    # None stays SQL NULL rather than the JSON value null: "no before" is no value at all.
    return null() if value is None else to_jsonable_python(value)
