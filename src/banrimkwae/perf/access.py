"""Access to the platform's own endpoints (reports, /metrics): decided by the host app.

The platform defines the roles and asks an `Authorizer` supplied by the application; the
admin issue's API keys plug in here without the report routes changing. A route declares the
role it needs with `RequireRole`, which tests read back to try every route with every role.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from starlette.requests import Request

Role = Literal["viewer", "operator", "admin"]
# Lowest first: each role may do everything the roles before it may.
ROLES: tuple[Role, ...] = ("viewer", "operator", "admin")
# Raises ProblemError(401/403/429) when the request may not act with `role`; returns otherwise,
# after recording what it granted with `grant`.
Authorizer = Callable[[Request, Role], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Grant:
    """Who the authorizer let in and with which role (for redaction and the audit log)."""

    actor: str
    role: Role


def allows(granted: Role, needed: Role) -> bool:
    return ROLES.index(granted) >= ROLES.index(needed)


def grant(request: Request, actor: str, role: Role) -> None:
    request.state.platform_grant = Grant(actor, role)


def granted(request: Request) -> Grant | None:
    """What the authorizer granted this request; None before it ran or when it refused."""
    found = getattr(request.state, "platform_grant", None)
    return found if isinstance(found, Grant) else None


class RequireRole:
    """A route dependency asking the authorizer for `role`; `role` is readable on the route."""

    def __init__(self, authorize: Authorizer, role: Role) -> None:
        self.authorize = authorize
        self.role: Role = role

    async def __call__(self, request: Request) -> None:
        await self.authorize(request, self.role)


async def allow_all(request: Request, _role: Role) -> None:
    """For tests of the platform alone, and for deployments that protect it upstream."""
    grant(request, "upstream", "admin")
