"""Request-edge dependencies: the transaction, the settings and the caller's identity."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import nullcontext
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from banrimkwae.config import Settings
from banrimkwae.perf.db import Database, client_key
from banrimkwae.perf.metrics.context import record_identity
from banrimkwae.perf.problems import ProblemError
from banrimkwae.resort.auth import Identity, TokenError, decode_token


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request owns the transaction: commit when the handler returns, roll back on error.

    Services and repositories only flush; nothing below the router commits.
    """
    database: Database = request.app.state.database
    # With read replicas: a client's reads follow its own writes, and a request that may
    # write (not GET/HEAD) reads from the primary too. On SQLite such a request also waits
    # its turn among this process's writers (Database.writing).
    address = request.client.host if request.client else None
    client = client_key(request.headers.get("authorization"), address)
    may_write = request.method not in ("GET", "HEAD")
    writing = database.writing() if may_write else nullcontext()
    async with writing, database.session(client, primary_only=may_write) as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


# The dependencies below are `async def` though nothing in them awaits: FastAPI runs a plain
# `def` dependency in its thread pool, a hand-off that costs more than the work itself.


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# scope="function": commit before the response is sent, so a failed commit is an error answer.
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
AppSettings = Annotated[Settings, Depends(get_settings)]

_bearer = HTTPBearer(auto_error=False, description="A guest or staff bearer token.")


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, detail, headers={"WWW-Authenticate": 'Bearer realm="banrimkwae"'})


async def _identity(
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Identity:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("a bearer token is required")
    try:
        identity = decode_token(credentials.credentials, settings.resolved_token_secret())
    except TokenError as exc:
        raise _unauthorized(str(exc)) from None
    if identity.role == "guest":
        record_identity(user_id=identity.subject)
    return identity


async def authorize_staff(request: Request, settings: Settings) -> None:
    """The platform's authorizer until API keys with roles exist: a staff bearer token."""
    await require_staff(await _identity(settings, await _bearer(request)))


async def current_guest_id(identity: Annotated[Identity, Depends(_identity)]) -> int:
    if identity.role != "guest":
        raise ProblemError(403, "this endpoint is for guests")
    return identity.subject


async def require_staff(identity: Annotated[Identity, Depends(_identity)]) -> Identity:
    if identity.role != "staff":
        raise ProblemError(403, "staff token required")
    return identity


GuestId = Annotated[int, Depends(current_guest_id)]
Staff = Annotated[Identity, Depends(require_staff)]
