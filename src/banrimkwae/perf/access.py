"""Access to the platform's own endpoints (reports, /metrics): decided by the host app.

The platform defines the roles and asks an `Authorizer` supplied by the application; the
admin issue's API keys plug in here without the report routes changing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

from starlette.requests import Request

Role = Literal["viewer", "operator", "admin"]
# Raises ProblemError(401/403) when the request may not act with `role`; returns otherwise.
Authorizer = Callable[[Request, Role], Awaitable[None]]


async def allow_all(_request: Request, _role: Role) -> None:
    """For tests of the platform alone, and for deployments that protect it upstream."""
