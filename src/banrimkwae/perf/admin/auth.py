"""The API-key authorizer of the platform's endpoints: who is calling, and may they.

A key comes as `Authorization: Bearer <key>` or `X-API-Key: <key>`. Answers follow RFC 9110:
401 (with WWW-Authenticate) when there is no credential or it is not valid, 403 when a valid
credential's role is too low. Failed attempts are rate-limited per client address
(ratelimit.py): 429 with Retry-After. A bearer token that is not an API key may be vouched
for by the host application (`other_tokens`, e.g. its staff tokens), which perf/ cannot read.

Every check reads the key's row, so a revocation holds from the next request on. The row's
`last_used_at` is written only when it is older than `touch_interval`: one small UPDATE per
key and interval, not one per request.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request

from banrimkwae.perf.access import Role, allows, grant
from banrimkwae.perf.admin.keys import find_key, looks_like_key, touch_key
from banrimkwae.perf.admin.ratelimit import FailureLimiter
from banrimkwae.perf.problems import ProblemError

logger = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
_CHALLENGE = 'Bearer realm="banrimkwae-admin"'


@dataclass(frozen=True, slots=True)
class Principal:
    """A caller the host app recognised. `role` None: known, but no platform role."""

    actor: str
    role: Role | None


# A bearer token that is not an API key -> its principal, or None when it is not valid.
TokenCheck = Callable[[str], Principal | None]


def client_address(request: Request) -> str:
    # The peer address as the server saw it; behind a proxy that is the proxy's, unless
    # the server is told to trust its forwarding headers (uvicorn --forwarded-allow-ips).
    return request.client.host if request.client is not None else "unknown"


def _presented(request: Request) -> str | None:
    key = request.headers.get(API_KEY_HEADER)
    if key:
        return key.strip()
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


def _unauthorized(detail: str, *, invalid: bool) -> ProblemError:
    challenge = f'{_CHALLENGE}, error="invalid_token"' if invalid else _CHALLENGE
    return ProblemError(401, detail, headers={"WWW-Authenticate": challenge})


class ApiKeyAuthorizer:
    """An `Authorizer` (perf.access) over the api_keys table."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        limiter: FailureLimiter | None = None,
        other_tokens: TokenCheck | None = None,
        touch_interval: dt.timedelta = dt.timedelta(minutes=5),
    ) -> None:
        self.engine = engine
        self.limiter = limiter if limiter is not None else FailureLimiter()
        self.other_tokens = other_tokens
        self.touch_interval = touch_interval

    async def __call__(self, request: Request, role: Role) -> None:
        presented = _presented(request)
        if presented is None:
            raise _unauthorized(
                f"an API key is required (Authorization: Bearer or {API_KEY_HEADER})",
                invalid=False,
            )
        address = client_address(request)
        wait = self.limiter.retry_after(address)
        if wait is not None:
            raise ProblemError(
                429,
                f"too many failed authentication attempts; retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        principal = await self._principal(presented)
        if principal is None:
            self.limiter.record_failure(address)
            raise _unauthorized("the credential is not a valid API key", invalid=True)
        if principal.role is None or not allows(principal.role, role):
            raise ProblemError(
                403,
                f"this endpoint needs the {role} role",
                required_role=role,
            )
        grant(request, principal.actor, principal.role)

    async def _principal(self, presented: str) -> Principal | None:
        if not looks_like_key(presented):
            return self.other_tokens(presented) if self.other_tokens is not None else None
        async with self.engine.connect() as connection:
            found = await find_key(connection, presented)
        if found is None or not found.info.active:
            # A revoked key counts as a failure like a wrong one: it is no longer a credential.
            return None
        await self._touch(found.row_id, found.info.last_used_at)
        return Principal(f"apikey:{found.info.key_id}", found.info.role)

    async def _touch(self, row_id: int, last_used: dt.datetime | None) -> None:
        now = dt.datetime.now(dt.UTC)
        if last_used is not None and now - last_used < self.touch_interval:
            return
        try:
            async with self.engine.begin() as connection:
                await touch_key(connection, row_id, now)
        except SQLAlchemyError:
            # Bookkeeping only: a busy database must not turn a valid key away.
            logger.warning("could not record the use of API key row %s", row_id, exc_info=True)
